"""The risk list (issue 13 item 4) on a hand-built fixture whose grades are known by
construction.

Storage metres (EPSG:4527) relative to (X0, Y0), in 任城区 and 微山县. The test's own rules and matrix
(below) fix the numbers: a gas pipe scores base 1 + 铸铁 ZT 2 + age ≥ 30 years 2 + 中压 1 = 6,
clamped to 5; PE 2020 低压 scores 1; a 废弃 pipe is skipped. Consequence = 1, + 2 when a 小学
stands within 100 m of the pipe. Matrix: likelihood 5 → 黄 at consequence 1, 橙 at 3;
likelihood 1 or 2 → 蓝 at consequence 1.

    y=800  GC  PE 2020 低压            (0..100, 800)
    y=540            S_out (50, 540)   140 m from GB
    y=400  GB  ZT 1980 中压            (0..100, 400)
    y=60             S_in (50, 60)     60 m from GA (added before the 2nd assessment)
    y=0    GA  ZT 1980 中压 (0..100)   GD ZT 1980 废弃 (300..400, 0)
"""

from __future__ import annotations

import json

import psycopg
import pytest
import shapely
from shapely.geometry import LineString, Point

from tests.conftest import run_cli
from tests.risk_fixture import gas_rule, insert_pipe

X0, Y0 = 39_463_600.0, 3_913_100.0
PIPES = {  # code: (line, material_code, year, pressure, status, owner)
    "GA": (LineString([(0, 0), (100, 0)]), "ZT", 1980, "中压", "0", "燃气公司甲"),
    "GB": (LineString([(0, 400), (100, 400)]), "ZT", 1980, "中压", "0", "燃气公司乙"),
    "GC": (LineString([(0, 800), (100, 800)]), "PE", 2020, "低压", "0", "燃气公司丙"),
    "GD": (LineString([(300, 0), (400, 0)]), "ZT", 1980, "中压", "1", "燃气公司丁"),
}
S_IN, S_OUT = Point(50, 60), Point(50, 540)
RADIUS = 100.0

LIKELIHOOD = {"base": 1, "material": {"ZT": 2, "PE": 0}, "material_default": 1,
              "age": [{"min_years": 30, "add": 2}], "pressure": [{"names": ["中压"], "add": 1}],
              "status": {"0": 0}}
RULES = gas_rule(LIKELIHOOD, exclude_status=["1"], min_likelihood=1)
MATRIX = """
consequence:
  radius_m: 100
  base: 1
  max: 5
  facilities: {types: [小学], add: 2}
levels:
  重大: {color: 红, rgb: "230,0,18", deadline_days: 30}
  较大: {color: 橙, rgb: "255,128,0", deadline_days: 90}
  一般: {color: 黄, rgb: "245,200,0", deadline_days: 180}
  低: {color: 蓝, rgb: "0,112,192", deadline_days: 365}
matrix:
  1: [低, 低, 低, 低, 一般]
  2: [低, 低, 一般, 一般, 较大]
  3: [低, 一般, 一般, 较大, 较大]
  4: [低, 一般, 较大, 较大, 重大]
  5: [一般, 较大, 较大, 重大, 重大]
"""


def storage(g):
    return shapely.affinity.translate(g, X0, Y0)


def _insert_school(conninfo: str, code: str, p: Point) -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute("INSERT INTO facilities (code, name, facility_type, facility_type_code, "
                     "geom) VALUES (%s, %s, '小学', 'primary_school', "
                     "ST_GeomFromWKB(%s, 4527))", (code, code, shapely.to_wkb(storage(p))))


def _points(conninfo: str) -> dict[str, dict]:
    with psycopg.connect(conninfo, row_factory=psycopg.rows.dict_row) as conn:
        return {r["asset_code"] or r["code"]: r for r in conn.execute(
            "SELECT * FROM risk_points WHERE valid_to IS NULL")}


@pytest.fixture(scope="module")
def scenario(jining_profile, tmp_path_factory):
    """Three assessments and a manual point on the fixture; what each stage saw."""
    from cim.db.engine import drop_database
    from tests.conftest import make_db, server_url

    d = make_db("risk", jining_profile)
    tmp = tmp_path_factory.mktemp("risk")
    (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp / "matrix.yaml").write_text(MATRIX, encoding="utf-8")
    cfg = ["--rules", str(tmp / "rules.yaml"), "--matrix", str(tmp / "matrix.yaml")]
    with psycopg.connect(d.conninfo) as conn:
        for code, (line, mat, year, pressure, status, owner) in PIPES.items():
            insert_pipe(conn, code, storage(line), subclass="03", material_code=mat,
                        year_built=year, pressure=pressure, status_code=status, owner=owner)
    _insert_school(d.conninfo, "S_OUT", S_OUT)
    s = {"db": d, "cfg": cfg, "tmp": tmp}

    def assess():
        proc = run_cli(["risk", "assess", "--year", "2026", "--json", *cfg], d.env(),
                       check=True)
        return json.loads(proc.stdout), _points(d.conninfo)

    s["first"] = assess()
    _insert_school(d.conninfo, "S_IN", S_IN)
    s["second"] = assess()
    proc = run_cli(["risk", "add", "--type", "0301", "--point", f"{Y0 + 300},{X0 + 600}",
                    "--crs", "EPSG:4527", "--likelihood", "2", "--unit", "区住建局", "--json",
                    *cfg], d.env(), check=True)
    s["manual"] = json.loads(proc.stdout)
    with psycopg.connect(d.conninfo) as conn:  # GC is taken out of service
        conn.execute("UPDATE pipe_segments SET valid_to = now() WHERE code = 'GC'")
    s["third"] = assess()
    yield s
    drop_database(server_url(), d.name)


def test_fixture_distances_are_as_drawn():
    assert S_IN.distance(PIPES["GA"][0]) == 60 < RADIUS
    assert S_OUT.distance(PIPES["GB"][0]) == 140 > RADIUS
    assert S_IN.distance(PIPES["GB"][0]) > RADIUS and S_OUT.distance(PIPES["GC"][0]) > RADIUS


def test_pipes_graded_by_material_age_pressure_status(scenario):
    result, pts = scenario["first"]
    assert set(pts) == {"GA", "GB", "GC"}  # GD is 废弃: no risk point
    ga, gc = pts["GA"], pts["GC"]
    assert (ga["likelihood"], ga["consequence"], ga["level"], ga["color"]) == (5, 1, "一般", "黄")
    assert (gc["likelihood"], gc["consequence"], gc["level"], gc["color"]) == (1, 1, "低", "蓝")
    assert ga["responsible_unit"] == ga["measure_unit"] == "燃气公司甲"
    assert ga["measure"] == "更新改造" and ga["measure_status"] == "待落实"
    assert ga["source"] == "rule" and ga["risk_type_code"] == "0101"
    assert ga["domain_code"] == "01" and ga["domain"] == "城市生命线"
    assert result["by_level"] == {"重大": 0, "较大": 0, "一般": 2, "低": 1}


def test_codes_are_platform_feature_codes(scenario):
    d = scenario["db"]
    _, pts = scenario["first"]
    for asset, p in pts.items():
        # the district holding the middle of the pipe (the fixture straddles 任城区/微山县)
        mid = storage(PIPES[asset][0]).interpolate(0.5, normalized=True)
        district = d.scalar("SELECT code FROM admin_divisions WHERE valid_to IS NULL AND "
                            "level = 3 AND ST_Contains(geom, ST_GeomFromText(%s, 4527))",
                            (mid.wkt,))
        c = p["code"]
        assert len(c) == 18 and c.isdigit()
        assert (c[:6], c[6:8], c[8:10]) == (district, "91", "01")
    # GA GB GC and the manual point: the three assessments issued no other code
    assert d.scalar("SELECT count(*) FROM code_registry WHERE layer = 'risk_points'") == 4
    proc = run_cli(["code", "explain", pts["GA"]["code"], "--json"], d.env(), check=True)
    explained = json.loads(proc.stdout)
    assert explained["layer"] == "risk_points" and explained["exists"] is True


def test_school_within_radius_raises_the_level(scenario):
    _, pts = scenario["second"]
    assert (pts["GA"]["consequence"], pts["GA"]["level"], pts["GA"]["color"]) == (3, "较大", "橙")
    # the school 140 m from GB is outside the radius: GB stays as it was
    assert (pts["GB"]["consequence"], pts["GB"]["color"]) == (1, "黄")
    assert pts["GA"]["attrs"]["consequence"]["exposure"]["facilities"] == ["小学"]


def test_codes_stable_and_level_history_kept(scenario):
    d = scenario["db"]
    (r1, p1), (r2, p2) = scenario["first"], scenario["second"]
    assert {k: v["code"] for k, v in p1.items()} == {k: v["code"] for k, v in p2.items()}
    assert r2["changes"] == {"inserted": 0, "updated": 1, "unchanged": 2, "retired": 0}
    code = p1["GA"]["code"]
    proc = run_cli(["risk", "history", code, "--json"], d.env(), check=True)
    hist = json.loads(proc.stdout)
    assert [(h["run_id"], h["color"]) for h in hist][:2] == [(r1["run_id"], "黄"),
                                                             (r2["run_id"], "橙")]
    # the regraded point has two versions, one current
    assert d.rows("SELECT level, valid_to IS NULL FROM risk_points WHERE code = %s "
                  "ORDER BY id", (code,)) == [("一般", False), ("较大", True)]


def test_manual_point_survives_reassessment(scenario):
    d = scenario["db"]
    m = scenario["manual"]
    assert (m["likelihood"], m["consequence"], m["color"]) == (2, 1, "蓝")
    r3, p3 = scenario["third"]
    assert m["code"] in p3 and p3[m["code"]]["source"] == "manual"
    assert p3[m["code"]]["responsible_unit"] == "区住建局"
    assert r3["manual"] == 1
    x, y = d.rows("SELECT ST_X(geom), ST_Y(geom) FROM risk_points WHERE code = %s",
                  (m["code"],))[0]
    assert (round(x, 3), round(y, 3)) == (X0 + 600, Y0 + 300)


def test_the_list_names_a_points_axes(scenario):
    """`risk list --json` gave x and y: a surveyor's X is the northing. Each point now has its
    easting and northing in the storage CRS and its lon/lat in CGCS2000 degrees (pyproj on
    the spot the fixture added, northing first on the command line)."""
    from pyproj import Transformer

    d, m = scenario["db"], scenario["manual"]
    proc = run_cli(["risk", "list", "--json"], d.env(), check=True)
    got = {r["code"]: r for r in json.loads(proc.stdout)}[m["code"]]
    assert "x" not in got and "y" not in got
    assert (round(got["easting"], 3), round(got["northing"], 3)) == (X0 + 600, Y0 + 300)
    lon, lat = Transformer.from_crs(4527, 4490, always_xy=True).transform(X0 + 600, Y0 + 300)
    assert got["lon"] == pytest.approx(lon, abs=1e-9)
    assert got["lat"] == pytest.approx(lat, abs=1e-9)
    assert 116 < got["lon"] < 117.5 and 35 < got["lat"] < 35.6  # 济宁


def test_rule_point_of_a_retired_asset_is_retired(scenario):
    d = scenario["db"]
    r3, p3 = scenario["third"]
    assert "GC" not in p3 and {"GA", "GB"} <= set(p3)
    assert r3["changes"]["retired"] == 1
    code = scenario["first"][1]["GC"]["code"]
    assert d.scalar("SELECT count(*) FROM risk_points WHERE code = %s AND valid_to IS NOT NULL",
                    (code,)) == 1


def test_list_by_level_and_counts_per_unit(scenario):
    from layers.query.stats import stats

    d = scenario["db"]
    proc = run_cli(["risk", "list", "--level", "橙", "--json"], d.env(), check=True)
    assert [r["asset_code"] for r in json.loads(proc.stdout)] == ["GA"]
    proc = run_cli(["risk", "list", "--by", "grid", "--json"], d.env(), check=True)
    rows = json.loads(proc.stdout)
    assert sum(r["total"] for r in rows) == 3  # GA, GB and the manual point
    got = stats(d.conninfo, "risk_points", by="district", class_field="level")["rows"]
    assert {(r["class"], r["count"]) for r in got} == {("较大", 1), ("一般", 1), ("低", 1)}


def test_risk_points_are_in_the_catalog(scenario):
    from layers.catalog import catalog

    entry = next(e for e in catalog(scenario["db"].conninfo) if e.layer.name == "risk_points")
    assert entry.count == 3 and entry.srid == 4527


def test_report_written(scenario, tmp_path):
    d = scenario["db"]
    out = tmp_path / "risk.html"
    run_cli(["risk", "assess", "--year", "2026", "--report", str(out), *scenario["cfg"]],
            d.env(), check=True)
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and "燃气公司甲" in html and html.count("<circle") == 3


def test_bad_matrix_names_file_and_key(jining_profile, tmp_path):
    from cim.errors import ConfigError
    from layers.risk.config import load_config

    bad = tmp_path / "m.yaml"
    bad.write_text(MATRIX.replace("color: 红", "color: 紫"), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(jining_profile, None, bad)
    assert str(bad) in str(exc.value) and "levels.重大.color" in str(exc.value)


def test_shipped_files_load(jining_profile):
    from layers.risk.config import load_config

    cfg = load_config(jining_profile)
    assert len({t.domain_code for t in cfg.types.values()}) == 7
    assert {r.type for r in cfg.rules} <= set(cfg.types)
    assert cfg.matrix.level(5, 5) == ("重大", "红") and cfg.matrix.level(1, 1) == ("低", "蓝")


def test_ogc_api_collection_and_processes(scenario):
    from layers.processes import all_processes
    from services.config import pygeoapi_config

    d = scenario["db"]
    cfg = pygeoapi_config(d.url, d.conninfo, d.profile, "http://127.0.0.1:5000")
    assert cfg["resources"]["risk_points"]["title"]["zh"] == "风险点"
    procs = all_processes()
    got = procs["risk-list"]["run"](d.conninfo, {"level": "橙"})
    proc = run_cli(["risk", "list", "--level", "橙", "--json"], d.env(), check=True)
    assert got["points"] == json.loads(proc.stdout)  # the CLI's JSON (dates as text)
    counts = procs["risk-list"]["run"](d.conninfo, {"by": "district"})["counts"]
    assert sum(r["total"] for r in counts) == 3
    assert procs["risk-assess"]["writes"] is True


KINDS_RULES = """
rules:
  - id: low
    type: "0701"
    kind: low_point
    threshold_m: null
    radius_m: 100
    percentile: 0.05
    min_drop_m: 0.3
    cluster_m: 50
    default_unit: 排水主管部门
    likelihood: 3
    measure: 汛前排查
  - id: slope
    type: "0103"
    kind: reverse_slope
    where: {pipe_class: ["02"]}
    tolerance_m: 0.01
    owner_fields: [owner]
    default_unit: 排水主管部门
    likelihood: 3
    measure: 整改倒坡
  - id: septic
    type: "0401"
    kind: near
    layer: components
    where: {subclass_code: ["0302"]}
    near_layer: buildings
    distance_m: 15
    owner_fields: [owner_name, dept_name]
    default_unit: 环卫
    likelihood: 3
    adjust: {state: {破损: 1}}
    measure: 定期清掏
"""


def test_low_points_reverse_slope_and_septic_tanks(fresh_db, tmp_path):
    """Known by construction: a 5×5 grid of pipe points 20 m apart at 36.0 m with its centre
    at 35.5 m and a point 10 m from it at 35.6 m (within 100 m: 26 points, 5th percentile
    35.6 + 0.25 × 0.4 = 35.7, median 36.0: both low, one cluster, the centre the lowest);
    a drain rising 0.2 m from start to end and one falling; a 化粪池 10 m from a building
    (broken: likelihood 3 + 1) and one 100 m away."""
    d = fresh_db
    ox, oy = X0 + 2000, Y0 + 2000

    def pt(x, y, z=0.0):
        return shapely.to_wkb(Point(ox + x, oy + y, z) if z else Point(ox + x, oy + y))

    with psycopg.connect(d.conninfo) as conn:
        for i in range(5):
            for j in range(5):
                ground = 35.5 if (i, j) == (2, 2) else 36.0
                conn.execute(
                    "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, "
                    "subclass_code, feature_code, ground_elevation, geom) VALUES (%s, %s, '02', "
                    "'排水', '01', '52000000', %s, ST_GeomFromWKB(%s, 4527))",
                    (f"P{i}{j}", f"P{i}{j}", ground, pt(i * 20, j * 20, 34.0)))
        conn.execute(
            "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
            "feature_code, ground_elevation, geom) VALUES ('PX', 'PX', '02', '排水', '01', "
            "'52000000', 35.6, ST_GeomFromWKB(%s, 4527))", (pt(50, 40, 34.0),))
        for code, z0, z1 in (("D_UP", 30.0, 30.2), ("D_DOWN", 30.2, 30.0)):
            insert_pipe(conn, code, LineString([(ox + 300, oy), (ox + 340, oy)]),
                        pipe_class="02", start_elevation=z0, end_elevation=z1, owner="排水处")
        conn.execute("INSERT INTO buildings (code, geom) VALUES ('B1', ST_Multi("
                     "ST_GeomFromWKB(%s, 4527)))",
                     (shapely.to_wkb(shapely.box(ox + 500, oy, ox + 520, oy + 20)),))
        for code, x, state, sub, name, owner in (
                ("SEP_NEAR", 530, "破损", "0302", "化粪池", "物业公司"),
                ("SEP_FAR", 620, "完好", "0302", "化粪池", "物业公司"),
                ("MH_GAS", 700, "破损", "0111", "燃气井盖", "燃气公司")):
            conn.execute(
                "INSERT INTO components (code, subclass_code, subclass_name, major_code, "
                "state, owner_name, district_code, grid_code, geom) VALUES (%s, %s, %s, "
                "left(%s, 2), %s, %s, '370811', '370811001001001', "
                "ST_GeomFromWKB(%s, 4527))", (code, sub, name, sub, state, owner, pt(x, 10)))
    rules = tmp_path / "rules.yaml"
    rules.write_text(KINDS_RULES, encoding="utf-8")
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(MATRIX, encoding="utf-8")
    proc = run_cli(["risk", "assess", "--json", "--rules", str(rules), "--matrix", str(matrix)],
                   d.env(), check=True)
    assert json.loads(proc.stdout)["rules"]["low"] == {"candidates": 1, "points": 1}
    pts = _points(d.conninfo)
    assert set(pts) == {"P22", "D_UP", "SEP_NEAR"}
    assert pts["P22"]["risk_type_code"] == "0701"
    assert pts["P22"]["responsible_unit"] == "排水主管部门"
    assert pts["D_UP"]["risk_type_code"] == "0103" and pts["D_UP"]["responsible_unit"] == "排水处"
    assert (pts["SEP_NEAR"]["likelihood"], pts["SEP_NEAR"]["responsible_unit"]) == (4, "物业公司")
    # by hand on an asset: the owner of the 燃气井盖 is its responsible unit; kept by
    # reassessing
    proc = run_cli(["risk", "add", "--type", "0402", "--asset", "MH_GAS", "--json",
                    "--rules", str(rules), "--matrix", str(matrix)], d.env(), check=True)
    added = json.loads(proc.stdout)
    assert (added["asset_code"], added["responsible_unit"]) == ("MH_GAS", "燃气公司")
    # a missing manhole cover is no risk of a septic tank (risk_types.csv 0402 asset_where:
    # the 井盖 subclasses of 01 公用设施); nothing is written
    before = d.scalar("SELECT count(*) FROM risk_points")
    proc = run_cli(["risk", "add", "--type", "0402", "--asset", "SEP_FAR", "--json",
                    "--rules", str(rules), "--matrix", str(matrix)], d.env())
    assert proc.returncode == 3, proc.stderr
    assert "SEP_FAR" in proc.stderr and "subclass_code 0302" in proc.stderr \
        and "risk_types.csv asset_where" in proc.stderr, proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == before
    run_cli(["risk", "assess", "--rules", str(rules), "--matrix", str(matrix)], d.env(),
            check=True)
    after = {p["code"]: p for p in _points(d.conninfo).values()}
    assert after[added["code"]]["asset_code"] == "MH_GAS"
    assert after[added["code"]]["source"] == "manual"


@pytest.mark.parametrize("args, words", [
    (["--type", "9999", "--point", "116.6,35.4"], ["--type", "9999"]),
    (["--type", "0301"], ["--asset", "--point"]),
    (["--type", "0301", "--asset", "370811999999999999"], ["370811999999999999"]),
    (["--type", "0301", "--point", "1,2", "--unit", "x"], ["outside every district"]),
])
def test_bad_manual_points_are_refused(scenario, args, words):
    d = scenario["db"]
    before = d.scalar("SELECT count(*) FROM risk_points")
    proc = run_cli(["risk", "add", *args, *scenario["cfg"]], d.env())
    assert proc.returncode == 3, proc.stderr
    assert all(w in proc.stderr for w in words), proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == before


def test_measure_progress_is_kept_by_reassessment(fresh_db, tmp_path):
    """A point's measure status and deadline, set by hand, survive an assessment that finds
    the point unchanged (same level)."""
    d = fresh_db
    line = storage(LineString([(0, 0), (100, 0)]))
    with psycopg.connect(d.conninfo) as conn:
        insert_pipe(conn, "G1", line, subclass="03", start_point_code="a",
                    end_point_code="b", material_code="ZT", year_built=1980, pressure="中压",
                    status_code="0", owner="燃气公司")
    (tmp_path / "r.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "m.yaml").write_text(MATRIX, encoding="utf-8")
    cfg = ["--rules", str(tmp_path / "r.yaml"), "--matrix", str(tmp_path / "m.yaml")]
    run_cli(["risk", "assess", "--year", "2026", *cfg], d.env(), check=True)
    code = _points(d.conninfo)["G1"]["code"]
    proc = run_cli(["risk", "measure", code, "--status", "落实中", "--deadline", "2027-01-31",
                    "--measure", "专项整治", "--json"], d.env(), check=True)
    assert json.loads(proc.stdout)["measure_status"] == "落实中"
    proc = run_cli(["risk", "assess", "--year", "2026", "--json", *cfg], d.env(), check=True)
    assert json.loads(proc.stdout)["changes"]["unchanged"] == 1
    g1 = _points(d.conninfo)["G1"]
    assert (g1["code"], g1["measure_status"], str(g1["deadline"])) == (code, "落实中",
                                                                      "2027-01-31")
    assert (g1["measure"], g1["measure_unit"]) == ("专项整治", "燃气公司")
    assert d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (code,)) == 2
    proc = run_cli(["risk", "measure", "370811910100009999", "--status", "x"], d.env())
    assert proc.returncode == 3 and "370811910100009999" in proc.stderr


def test_sample_risks_served_as_items_and_tiles(api, db):
    """The session database's sample risk list (conftest assesses it): OGC API items carry the
    level and colour, and a low-zoom vector tile carries them with the code (what the one
    map's four colours classify by)."""
    import mapbox_vector_tile
    import requests

    from tests.test_tiles import TO_LONLAT, get_tile, lonlat_to_tile

    assert db.risk_result["total"] > 0
    assert db.risk_result["total"] == db.scalar("SELECT count(*) FROM risk_points WHERE "
                                                "valid_to IS NULL")
    code, x, y, level, color = db.rows(
        "SELECT code, ST_X(geom), ST_Y(geom), level, color FROM risk_points "
        "WHERE valid_to IS NULL ORDER BY code LIMIT 1")[0]
    got = requests.get(f"{api}/collections/risk_points/items/{code}?f=json", timeout=60).json()
    assert (got["properties"]["level"], got["properties"]["color"]) == (level, color)
    z = 12
    tx, ty = lonlat_to_tile(*TO_LONLAT.transform(x, y), z)
    tile = mapbox_vector_tile.decode(get_tile(api, z, int(tx), int(ty), "risk_points").content)
    mine = [f["properties"] for f in tile["risk_points"]["features"]
            if f["properties"]["code"] == code]
    assert len(mine) == 1 and (mine[0]["level"], mine[0]["color"]) == (level, color)
    # the README's filter by colour
    flt = requests.get(f"{api}/collections/risk_points/items", timeout=60, params={
        "f": "json", "limit": 1000, "filter": f"color='{color}' OR color='紫'"}).json()
    assert {f["properties"]["color"] for f in flt["features"]} == {color}
    assert len(flt["features"]) == db.scalar("SELECT count(*) FROM risk_points WHERE "
                                             "valid_to IS NULL AND color = %s", (color,))


def test_text_output(scenario):
    d = scenario["db"]
    _, pts = scenario["second"]
    out = run_cli(["risk", "list"], d.env(), check=True).stdout
    assert out.splitlines()[0].startswith(pts["GA"]["code"] + " 橙 较大")  # most severe first
    assert out.splitlines()[-1] == "3 risk points"
    out = run_cli(["risk", "list", "--by", "district"], d.env(), check=True).stdout
    assert sum(int(line.rsplit(" ", 1)[1]) for line in out.splitlines()) == 3
    out = run_cli(["risk", "history", pts["GA"]["code"]], d.env(), check=True).stdout
    assert [line.split()[-1] for line in out.splitlines()][:2] == ["黄", "橙"]


def test_pressure_from_survey_text_and_unknown_fields(jining_profile, tmp_path):
    """Pressure by the MPa written in the text (kPa converted), unknown year and material
    scored by the rule's defaults: hand-computed from RULES plus one MPa tier."""
    from layers.risk.config import load_rules, load_types
    from layers.risk.score import pipe_likelihood, pressure_mpa

    assert (pressure_mpa("0.3MPa"), pressure_mpa("400 kPa"), pressure_mpa("中压")) == \
        (0.3, 0.4, None)
    p = tmp_path / "r.yaml"
    p.write_text(gas_rule({**LIKELIHOOD, "pressure": [{"names": ["中压"], "add": 1},
                                                       {"min_mpa": 0.35, "add": 2}]},
                          exclude_status=["1"], min_likelihood=1), encoding="utf-8")
    rule = load_rules(p, load_types(jining_profile))[0]
    # base 1 + material unknown 1 + age unknown 0 + 0.4 MPa 2 = 4
    lk, f = pipe_likelihood(rule, {"pressure": "0.4MPa", "status_code": "0"}, 2026)
    assert (lk, f["material"], f["age"], f["pressure"]) == (4, 1, 0, 2)
    # 0.3 MPa is under the tier: base 1 + PE 0 + 6 years 0 = 1
    assert pipe_likelihood(rule, {"pressure": "0.3 MPa", "material_code": "PE",
                                  "year_built": 2020}, 2026)[0] == 1
    assert pipe_likelihood(rule, {"status_code": "1"}, 2026)[0] is None  # 废弃
