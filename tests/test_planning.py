"""Planning control layers (issue 11 item 1): `cim load planning` for parcels, control lines and
height zones — values known by construction from a hand-built GeoPackage, rejects naming row
and field, reloads, the sample plan (zero rejects, fits the streets, buildings and pipes) and
the OGC API collections."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import pytest
import requests
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from cim.coding.scheme import decode
from cim.numbers import ValueProblem
from data_samples.generate.frame import area_frame
from loaders import planning_values as pv
from tests.conftest import SAMPLES, make_db, run_cli, server_url, start_api

PLAN = SAMPLES / "planning" / "planning.gpkg"
X0, Y0, _, _ = area_frame()
BX, BY = X0 + 5000.0, Y0 + 6500.0  # inside the northern district (370811)


def _sq(dx: float, dy: float, s: float = 100.0) -> Polygon:
    return box(BX + dx, BY + dy, BX + dx + s, BY + dy + s)


def write_fixture(path) -> None:
    """Three layers whose answers are known: rows 3-5 of parcels, 4-5 of control lines and
    row 3 of zones are bad on purpose."""
    parcels = gpd.GeoDataFrame({
        "地块编码": ["T-01", "T-02", "T-03", "T-04", "T-05"],
        "用地代码": ["R2", "0901", "B1", "R2", "X9"],
        "用地性质": ["二类居住用地", "商业用地", "商业用地", "二类居住用地", "奇怪用地"],
        "容积率": ["≤2.5", "1.5-3.0", "≥2.0", "2.0", "1.0"],
        "建筑密度": ["35%", "0.4", "30%", "abc", "30%"],
        "绿地率": ["≥30%", "20", "20%", "30%", "30%"],
        "限高": ["H≤54m", "100米", "60", "60", "60"],
        "退道路红线": [5.0, 8.0, 5.0, 5.0, 5.0],
        "退用地红线": ["3", None, "3", "3", "3"],
        "退蓝线": [None, 15.0, None, None, None],
    }, geometry=[MultiPolygon([_sq(100.0 * i, 0)]) for i in range(5)], crs="EPSG:4527")
    lines = gpd.GeoDataFrame({
        "编号": ["L1", "L2", "L3", "L4", "L5"],
        "控制线类型": ["道路红线", "蓝线", "LVX", "橙线", "紫线"],
        "名称": ["测试路", "测试河", "测试公园", "错误", "点"],
        "红线宽度": ["40", None, None, None, None],
    }, geometry=[LineString([(BX, BY - 50), (BX + 500, BY - 50)]), _sq(0, -300, 200),
                 _sq(300, -300), _sq(500, -300), Point(BX, BY - 400)], crs="EPSG:4527")
    zones = gpd.GeoDataFrame({
        "编号": ["Z1", "Z2", "Z3"],
        "限高类型": ["机场净空", "视线通廊", "其他"],
        "名称": ["净空", "视廊", "无限值"],
        "限高": ["≤90m", "24", None],
        "限制高程": [126.0, None, None],
    }, geometry=[MultiPolygon([_sq(0, 200, 300)]), MultiPolygon([_sq(400, 200, 80)]),
                 MultiPolygon([_sq(600, 200, 80)])], crs="EPSG:4527")
    pyogrio.write_dataframe(parcels, path, layer="parcels", driver="GPKG")
    pyogrio.write_dataframe(lines, path, layer="lines", driver="GPKG", geometry_type="Unknown",
                            append=True)
    pyogrio.write_dataframe(zones, path, layer="zones", driver="GPKG", append=True)


def _report(stdout: str) -> dict:
    out = json.loads(stdout)
    return out[0] if isinstance(out, list) else out


@pytest.fixture(scope="module")
def pdb(jining_profile, tmp_path_factory):
    """A database with the hand-built fixture loaded (kind told by the file), then the
    sample plan, buildings and pipes."""
    from cim.db.engine import drop_database

    d = make_db("plan", jining_profile)
    d.fixture = tmp_path_factory.mktemp("plan") / "plan.gpkg"
    write_fixture(d.fixture)
    d.reports = {}
    for layer in ("parcels", "lines", "zones"):
        p = run_cli(["load", "planning", str(d.fixture), "--layer", layer, "--json"], d.env(),
                    check=True)
        d.reports[layer] = _report(p.stdout)
    yield d
    drop_database(server_url(), d.name)


def test_limits_are_parsed_strictly():
    assert pv.parse_limit("≤2.5", pv.FAR) == (2.5, None)
    assert pv.parse_limit("不大于2.5", pv.FAR) == (2.5, None)
    assert pv.parse_limit("1.5-2.5", pv.FAR) == (2.5, None)
    assert pv.parse_limit("1.5~2.5", pv.FAR) == (2.5, None)
    assert pv.parse_limit("30%~35%", pv.GREEN) == (0.3, None)  # a minimum: the lower end
    assert pv.parse_limit("35%", pv.DENSITY) == (0.35, None)
    assert pv.parse_limit("0.35", pv.DENSITY) == (0.35, None)
    assert pv.parse_limit(35, pv.DENSITY) == (0.35, "percent_assumed")  # flagged
    assert pv.parse_limit("H≤24m", pv.HEIGHT) == (24.0, None)
    assert pv.parse_limit("２．５", pv.FAR) == (2.5, None)  # full-width digits
    assert pv.parse_limit(None, pv.FAR) == (None, None)
    for bad, spec, why in [("≥2.5", pv.FAR, "lower bound"), ("≤30%", pv.GREEN, "upper bound"),
                           ("abc", pv.FAR, "not a limit"), ("2.5 3", pv.FAR, "not a limit"),
                           ("3-1", pv.FAR, "backwards"), ("35%", pv.HEIGHT, "percentage"),
                           ("2.5m", pv.FAR, "metres"), ("150%", pv.DENSITY, "outside"),
                           ("-3", pv.SETBACK, "negative")]:
        with pytest.raises(ValueProblem, match=why):
            pv.parse_limit(bad, spec)


def test_parcels_load_with_known_values_and_codes(pdb):
    r = pdb.reports["parcels"]
    assert r["layer"] == "planning_parcels" and r["read"] == 5 and r["loaded"] == 2
    assert r["notes"][0].startswith("kind parcels")
    rows = {row[0]: row[1:] for row in pdb.rows(
        "SELECT parcel_code, land_use_code, land_use_name, max_far, max_density, "
        "min_green_ratio, max_height, setback_road_m, setback_site_m, setback_blue_m, code, "
        "district_code, flags FROM planning_parcels WHERE valid_to IS NULL")}
    assert rows["T-01"][:9] == ("0701", "城镇住宅用地", 2.5, 0.35, 0.30, 54.0, 5.0, 3.0, None)
    assert rows["T-02"][:9] == ("0901", "商业用地", 3.0, 0.4, 0.2, 100.0, 8.0, None, 15.0)
    assert rows["T-02"][11] == ["percent_assumed"] and rows["T-01"][11] == []
    districts = gpd.read_file(SAMPLES / "boundaries.gpkg")
    expected = districts[districts.contains(Point(BX + 50, BY + 50))]["code"].item()
    for lu, code, district in ((v[0], v[9], v[10]) for v in rows.values()):
        assert district == expected and code[:6] == expected
        assert code[6:8] == "84" and code[8:10] == lu[:2] and len(code) == 18
        d = decode(code, pdb.profile)
        assert (d.layer, d.class_code) == ("planning_parcels", lu[:2])


def test_bad_values_are_rejected_naming_row_and_field(pdb):
    batch = pdb.reports["parcels"]["batch_id"]
    rejects = pdb.rows("SELECT row_number, reason, field, message FROM load_rejects "
                       "WHERE batch_id = %s ORDER BY row_number", (batch,))
    assert [(n, reason, f) for n, reason, f, _ in rejects] == [
        (3, "bad_value", "容积率"), (4, "bad_value", "建筑密度"), (5, "unknown_class", "用地代码")]
    assert "'≥2.0'" in rejects[0][3] and "upper limit" in rejects[0][3]
    assert "'abc'" in rejects[1][3] and "'X9'" in rejects[2][3]
    batch = pdb.reports["lines"]["batch_id"]
    assert pdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s "
                    "ORDER BY row_number", (batch,)) == [
        (4, "unknown_class", "控制线类型"), (5, "wrong_geometry_type", "geometry")]
    batch = pdb.reports["zones"]["batch_id"]
    assert pdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s",
                    (batch,)) == [(3, "missing_value", "限高")]


def test_control_lines_and_height_zones_load_with_known_values(pdb):
    assert pdb.reports["lines"]["layer"] == "control_lines"
    rows = {r[0]: r[1:] for r in pdb.rows(
        "SELECT name, line_type, line_type_code, width_m, GeometryType(geom), "
        "round(ST_Area(geom)::numeric, 1), substr(code, 7, 4) FROM control_lines")}
    assert rows == {"测试路": ("道路红线", "HX", 40.0, "LINESTRING", 0, "8501"),
                    "测试河": ("蓝线", "LX", None, "POLYGON", 40000.0, "8503"),
                    "测试公园": ("绿线", "LVX", None, "POLYGON", 10000.0, "8502")}
    assert pdb.reports["zones"]["layer"] == "height_zones"
    assert pdb.rows("SELECT name, zone_type, max_height, max_elevation, substr(code, 7, 4) "
                    "FROM height_zones ORDER BY name") == [
        ("净空", "机场净空", 90.0, 126.0, "8601"), ("视廊", "视线通廊", 24.0, None, "8602")]


def test_reload_unchanged_is_unchanged_and_a_change_is_a_new_version(pdb, tmp_path):
    p = run_cli(["load", "planning", str(pdb.fixture), "--layer", "parcels", "--kind",
                 "parcels", "--json"], pdb.env(), check=True)
    r = _report(p.stdout)
    assert (r["loaded"], r["unchanged"], r["inserted"], r["updated"]) == (2, 2, 0, 0)
    before = dict(pdb.rows("SELECT parcel_code, code FROM planning_parcels "
                           "WHERE valid_to IS NULL"))
    changed = gpd.read_file(pdb.fixture, layer="parcels")
    changed.loc[0, "容积率"] = "≤2.8"
    path = tmp_path / "plan.gpkg"
    pyogrio.write_dataframe(changed, path, layer="parcels", driver="GPKG")
    p = run_cli(["load", "planning", str(path), "--json"], pdb.env(), check=True)
    r = _report(p.stdout)
    assert (r["updated"], r["unchanged"]) == (1, 1)
    hist = pdb.rows("SELECT max_far, valid_to IS NULL, code FROM planning_parcels "
                    "WHERE parcel_code = 'T-01' ORDER BY id")
    assert [(h[0], h[1]) for h in hist] == [(2.5, False), (2.8, True)]
    assert {h[2] for h in hist} == {before["T-01"]}  # the code survives the new version


def test_kind_cannot_be_told_without_planning_fields(pdb, tmp_path):
    path = tmp_path / "x.gpkg"
    gpd.GeoDataFrame({"foo": ["a"]}, geometry=[_sq(0, 0)], crs="EPSG:4527").to_file(path)
    p = run_cli(["load", "planning", str(path)], pdb.env())
    assert p.returncode != 0 and "--kind" in p.stderr and str(path) in p.stderr


def test_the_sample_plan_loads_with_zero_rejects_and_fits_the_district(pdb):
    from loaders.buildings import load_buildings
    from loaders.pipes.load import load_pipes_files

    load_buildings(pdb.conninfo, pdb.profile, SAMPLES / "buildings" / "buildings_survey.shp")
    load_pipes_files(pdb.conninfo, pdb.profile, [SAMPLES / "pipes"])
    counts = {}
    for layer in ("parcels", "control_lines", "height_zones"):
        p = run_cli(["load", "planning", str(PLAN), "--layer", layer, "--json"], pdb.env(),
                    check=True)
        r = _report(p.stdout)
        assert r["rejected"] == 0 and r["loaded"] == r["read"] > 0, r
        counts[layer] = r["loaded"]
    expected = {k: len(pyogrio.read_dataframe(PLAN, layer=k)) for k in counts}
    assert counts == expected
    # the five line types, road red lines as centre lines with a width
    types = dict(pdb.rows("SELECT line_type_code, count(*) FROM control_lines WHERE "
                          "valid_to IS NULL AND name NOT LIKE '测试%%' GROUP BY 1"))
    assert set(types) == {"HX", "LVX", "LX", "ZX", "HUX"}
    assert pdb.scalar("SELECT count(*) FROM control_lines WHERE line_type_code = 'HX' AND "
                      "(width_m IS NULL OR GeometryType(geom) <> 'LINESTRING') AND "
                      "name <> '测试路'") == 0
    red = ("WITH r AS MATERIALIZED (SELECT ST_Buffer(geom, width_m / 2, 'endcap=flat') AS g "
           "FROM control_lines WHERE line_type_code = 'HX' AND name <> '测试路') ")
    # every surveyed pipe runs inside the road red lines; no building stands on a road
    assert pdb.scalar(red + "SELECT count(*) FROM pipe_segments s WHERE s.valid_to IS NULL AND "
                      "NOT ST_Within(s.geom, (SELECT ST_Buffer(ST_Union(r.g), 0.01) FROM r "
                      "WHERE ST_Intersects(r.g, s.geom)))") == 0
    assert pdb.scalar("SELECT count(*) FROM pipe_segments WHERE valid_to IS NULL") > 0
    assert pdb.scalar(red + "SELECT count(*) FROM buildings b JOIN r ON ST_Intersects(r.g, "
                      "b.geom) WHERE ST_Area(ST_Intersection(r.g, ST_MakeValid(b.geom))) "
                      "> 0.01") == 0
    # the surveyed buildings conform to their parcel's FAR, density and height
    bad = pdb.rows(
        "SELECT p.parcel_code FROM planning_parcels p JOIN buildings b ON "
        "ST_Contains(p.geom, ST_PointOnSurface(b.geom)) AND b.valid_to IS NULL "
        "WHERE p.valid_to IS NULL AND p.max_far IS NOT NULL GROUP BY p.parcel_code, p.geom, "
        "p.max_far, p.max_density HAVING sum(ST_Area(b.geom) * b.floors_above) / "
        "ST_Area(p.geom) > p.max_far OR sum(ST_Area(b.geom)) / ST_Area(p.geom) > p.max_density")
    assert bad == []
    assert pdb.scalar("SELECT count(*) FROM buildings b JOIN height_zones z ON "
                      "ST_Intersects(z.geom, b.geom) WHERE b.height > z.max_height") == 0


def test_planning_collections_in_the_ogc_api(pdb, tmp_path):
    proc, base = start_api(pdb.url, pdb.profile, tmp_path)
    try:
        ids = {c["id"] for c in requests.get(base + "/collections?f=json",
                                             timeout=30).json()["collections"]}
        assert {"planning_parcels", "control_lines", "height_zones"} <= ids
        got = requests.get(base + "/collections/planning_parcels/items?f=json&limit=1000",
                           timeout=30).json()
        t01 = [f for f in got["features"] if f["properties"]["parcel_code"] == "T-01"]
        assert t01 and t01[0]["properties"]["max_far"] == 2.8
        assert t01[0]["properties"]["land_use_code"] == "0701"
        lines = requests.get(base + "/collections/control_lines/items?f=json&limit=5",
                             timeout=30).json()
        assert lines["features"] and "line_type" in lines["features"][0]["properties"]
    finally:
        proc.terminate()
        proc.wait(10)



def test_styles_colour_the_control_lines_and_land_uses_by_convention(jining_profile):
    """红线 red, 绿线 green, 蓝线 blue, 紫线 purple, 黄线 yellow; 居住 yellow, 商业 red, 绿地 green."""
    from layers.styles import load_styles

    styles = load_styles(jining_profile)
    lines = {c.value: c.color for c in styles.layer("control_lines").categories}
    assert styles.layer("control_lines").field == "line_type_code"
    red, green, blue = lines["HX"], lines["LVX"], lines["LX"]
    purple, yellow = lines["ZX"], lines["HUX"]
    assert red.r > 200 and red.g < 60 and red.b < 60
    assert green.g > 2 * max(green.r, green.b)
    assert blue.b > 2 * max(blue.r, blue.g)
    assert min(purple.r, purple.b) > 2 * purple.g
    assert min(yellow.r, yellow.g) > 150 and yellow.b < 60
    uses = {c.value: c.color for c in styles.layer("planning_parcels").categories}
    assert styles.layer("planning_parcels").field == "land_use_code"
    res, com, park = uses["0701"], uses["0901"], uses["1401"]
    assert min(res.r, res.g) > 200 and res.b < 100
    assert com.r > 200 and max(com.g, com.b) < 60
    assert park.g > 2 * max(park.r, park.b)
