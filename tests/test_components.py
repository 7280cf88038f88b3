"""City-management components (城市部件普查): 16-digit codes, grid cells, dictionary classes."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import pytest
import requests
import shapely

from cim.coding.scheme import decode
from cim.numbers import ValueProblem
from cim.profile import read_csv_dictionary
from loaders.components import load_components
from loaders.dates import as_date
from loaders.divisions import create_profile
from tests.conftest import SAMPLES, make_db, run_cli, server_url
from tests.placement_oracle import district_sql, grid_sql

CENSUS = SAMPLES / "components"
UNKNOWN = {"BJ000790": "井盖", "BJ000791": "充电桩", "BJ000792": "快递柜"}
ON_GRID_LINES = ("BJ000793", "BJ000794", "BJ000795", "BJ000796")


def test_census_loads_every_feature_or_rejects_it_with_a_reason(db):
    reports = {r.path.split("/")[-1]: r for r in db.component_reports}
    assert set(reports) == {"components_points.shp", "components_lines.shp",
                            "components_polygons.shp"}
    for r in reports.values():
        assert r.status == "succeeded" and r.read == r.loaded + r.rejected
    pts = reports["components_points.shp"]
    assert pts.rejected_by_reason == {"unknown_class": 3, "outside_area": 1}
    rows = db.rows("SELECT source_key, reason, field, message FROM load_rejects "
                   "WHERE batch_id = %s ORDER BY row_number", (pts.batch_id,))
    unknown = {k.split(":")[1]: m for k, reason, f, m in rows if reason == "unknown_class"}
    assert set(unknown) == set(UNKNOWN)
    for sid, value in UNKNOWN.items():
        assert repr(value) in unknown[sid] or f"“{value}”" in unknown[sid]
    assert {f for _, reason, f, _ in rows if reason == "unknown_class"} == {"部件小类"}
    assert [k.split(":")[1] for k, reason, _, _ in rows if reason == "outside_area"] == \
        ["BJ000797"]
    assert reports["components_lines.shp"].loaded == 7
    assert reports["components_polygons.shp"].loaded == 8


def test_codes_are_16_digits_of_the_containing_district_and_a_dictionary_subclass(db):
    subclasses = {r["code"]: r for r in read_csv_dictionary(
        db.profile.dictionary_path("components"))}
    rows = db.rows(
        "SELECT c.code, c.subclass_code, c.subclass_name, c.major_code, c.district_code, "
        + district_sql("c.geom") + " FROM components c WHERE c.valid_to IS NULL")
    # 798 census points (797 + the bridge BJ000813) less 3 unknown classes and 1 outside
    assert len(rows) == 794 + 7 + 8
    for code, sub, name, major, district, containing in rows:
        assert len(code) == 16 and code.isdigit(), code
        assert code[:6] == district and district == containing, code
        assert code[6:10] == sub and sub in subclasses and subclasses[sub]["name"] == name
        assert major == sub[:2]
        d = decode(code, db.profile)
        assert (d.kind, d.class_code, d.class_name) == ("component", sub, name)
        assert d.serial >= 1
    assert len({r[0] for r in rows}) == len(rows)
    # the census covers at least 20 subclasses of all six major classes
    subs = {r[1] for r in rows}
    assert len(subs) >= 20 and {s[:2] for s in subs} == {"01", "02", "03", "04", "05", "06"}
    # names, aliases and codes of the census all found their subclass
    assert db.scalar("SELECT count(DISTINCT attrs->>'部件小类') FROM components WHERE "
                     "subclass_code = '0101'") >= 2  # 上水井盖, 给水井盖, 0101


def test_every_component_is_in_a_grid_cell_and_boundary_ones_in_a_containing_cell(db):
    assert db.scalar("SELECT count(*) FROM components c WHERE c.valid_to IS NULL AND "
                     "c.grid_code IS DISTINCT FROM " + grid_sql("c.geom", "c.district_code")
                     ) == 0
    assert db.scalar("SELECT count(*) FROM components WHERE left(grid_code, 6) <> "
                     "district_code") == 0
    for sid in ON_GRID_LINES:
        grid, touching = db.rows(
            "SELECT c.grid_code, array_agg(g.code ORDER BY g.code) FROM components c "
            "JOIN grid_cells g ON g.valid_to IS NULL AND ST_Intersects(g.geom, c.geom) "
            "WHERE c.source_key = %s GROUP BY 1", (f"components_points:{sid}",))[0]
        assert len(touching) >= 2, sid  # it really lies on a cell boundary
        assert grid == touching[0]  # deterministically the first containing cell


def test_lines_and_polygons_are_kept(db):
    kinds = dict(db.rows("SELECT GeometryType(geom), count(*) FROM components "
                         "WHERE valid_to IS NULL GROUP BY 1"))
    assert kinds == {"POINT": 794, "LINESTRING": 7, "POLYGON": 8}
    assert db.scalar("SELECT count(*) FROM components WHERE 'geometry_unexpected' = ANY(flags)"
                     ) == 0
    dates = db.rows("SELECT initial_date, change_date FROM components WHERE initial_date "
                    "IS NOT NULL LIMIT 5")
    assert len(dates) == 5


def test_classes_by_code_name_alias_and_number_dates_states(fresh_db, tmp_path):
    p = fresh_db.profile
    pts = [shapely.Point(39464200 + 10 * i, 3915200) for i in range(7)]
    gdf = gpd.GeoDataFrame({
        "部件编码": [f"T{i}" for i in range(7)],
        "小类代码": ["0101", "上水井盖", "给水井盖", "101", "红绿灯", "XX部件", None],
        "完好状态": ["正常", "完好", "损坏", "丢失", "神秘", "完好", "完好"],
        "设置日期": ["2021/5/3", "20200102", "2021年6月7日", "2022-01-01", None, None, None],
        "变更日期": [None, None, None, "2021-01-01", None, None, None],
    }, geometry=pts, crs="EPSG:4527")
    path = tmp_path / "census.gpkg"
    pyogrio.write_dataframe(gdf, path)
    r = load_components(fresh_db.conninfo, p, path)
    assert (r.read, r.loaded, r.rejected) == (7, 5, 2)
    assert r.rejected_by_reason == {"unknown_class": 1, "missing_class": 1}
    got = dict(fresh_db.rows("SELECT attrs->>'部件编码', subclass_code FROM components"))
    assert got == {"T0": "0101", "T1": "0101", "T2": "0101", "T3": "0101", "T4": "0210"}
    states = dict(fresh_db.rows("SELECT attrs->>'部件编码', state FROM components"))
    assert states == {"T0": "完好", "T1": "完好", "T2": "破损", "T3": "丢失", "T4": "神秘"}
    flags = dict(fresh_db.rows("SELECT attrs->>'部件编码', flags FROM components"))
    assert flags["T4"] == ["state_unmapped"] and flags["T3"] == ["change_before_initial"]
    dates = dict(fresh_db.rows("SELECT attrs->>'部件编码', initial_date::text FROM components"))
    assert dates["T0"] == "2021-05-03" and dates["T1"] == "2020-01-02" \
        and dates["T2"] == "2021-06-07"
    msg = fresh_db.scalar("SELECT message FROM load_rejects WHERE batch_id = %s AND "
                          "reason = 'unknown_class'", (r.batch_id,))
    assert "XX部件" in msg
    with pytest.raises(ValueProblem):
        as_date("2021-13-01")


def test_datetime_fields_with_blanks_load(fresh_db, tmp_path):
    """A GeoPackage whose date fields are DateTime with blank cells (read as NaT): the blanks
    are no date, the others their day; a change before the initial date is flagged."""
    import pandas as pd

    pts = [shapely.Point(39464200 + 10 * i, 3915200) for i in range(3)]
    gdf = gpd.GeoDataFrame({
        "部件编码": ["D0", "D1", "D2"], "小类代码": ["0101", "0101", "0101"],
        "设置日期": pd.to_datetime(["2021-05-03 08:30", None, "2022-01-01 00:00"]),
        "变更日期": pd.to_datetime([None, "2020-02-02", "2021-12-31"]),
    }, geometry=pts, crs="EPSG:4527")
    path = tmp_path / "dated.gpkg"
    pyogrio.write_dataframe(gdf, path)
    assert pyogrio.read_info(path)["dtypes"][2].startswith("datetime64")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path)
    assert (r.read, r.loaded, r.rejected) == (3, 3, 0), r.text()
    got = {k: (a, b, f) for k, a, b, f in fresh_db.rows(
        "SELECT attrs->>'部件编码', initial_date::text, change_date::text, flags "
        "FROM components")}
    assert got == {"D0": ("2021-05-03", None, []), "D1": (None, "2020-02-02", []),
                   "D2": ("2022-01-01", "2021-12-31", ["change_before_initial"])}


def test_components_outside_every_grid_cell_are_rejected(tmp_path):
    """A city profile without a unit grid: nothing can get a cell, so nothing loads."""
    from cim.db.engine import drop_database

    prof = create_profile(tmp_path / "profile.yaml", name="济宁市（无网格）", admin_code="370800",
                          storage_crs="EPSG:4527", boundary=SAMPLES / "boundaries.gpkg")
    d = make_db("nogrid", prof)
    try:
        r = load_components(d.conninfo, prof, CENSUS / "components_lines.shp")
        assert r.loaded == 0 and r.rejected == r.read == 7
        assert r.rejected_by_reason == {"no_grid_cell": 7}
        assert d.scalar("SELECT count(*) FROM components") == 0
    finally:
        drop_database(server_url(), d.name)


def test_cli_load_components_json(fresh_db):
    out = run_cli(["load", "components", str(CENSUS / "components_polygons.shp"), "--json"],
                  fresh_db.env(), check=True)
    rep = json.loads(out.stdout)
    assert rep["read"] == rep["loaded"] == 8 and rep["codes_issued"] == 8


def test_api_serves_components(api, db):
    fc = requests.get(f"{api}/collections/components/items",
                      params={"f": "json", "limit": 1000}, timeout=30).json()
    assert fc["numberMatched"] == 809
    types = {f["geometry"]["type"] for f in fc["features"]}
    assert types == {"Point", "LineString", "Polygon"}
    f = fc["features"][0]
    assert len(f["id"]) == 16 and f["properties"]["grid_code"][:6] == f["id"][:6]


def test_values_parsed_once_per_distinct_value_reach_every_row_and_attrs_are_exact(
        fresh_db, tmp_path):
    """What a column-wise converter could get wrong: a bad value parsed once must reject every
    row holding it (each with its own row number); floats in the JSON of the attributes must
    not be rounded; a blank text is no text. Expected values by construction."""
    p = fresh_db.profile
    rows = [("N0", "路灯", "2021-13-01", "x", 0.1 + 0.2),          # bad date: rejected
            ("N1", "0101", "2021-05-12", "ok", 1e-11),
            ("N2", "101", "2021-05-12", "ok", 123456789012345678.0),
            ("N3", "上水井盖", None, " ", -2.5),
            ("N4", "路灯", "2021-13-01", "x", 1.0)]                # the same bad date again
    features = [{"type": "Feature",
                 "geometry": {"type": "Point", "coordinates": [39464200 + 10 * i, 3915200]},
                 "properties": {"编号": sid, "部件小类": cls, "初始日期": day, "备注": note,
                                "测量值": num}}
                for i, (sid, cls, day, note, num) in enumerate(rows)]
    path = tmp_path / "census.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4527"}},
        "features": features}, ensure_ascii=False), encoding="utf-8")
    r = load_components(fresh_db.conninfo, p, path)
    assert (r.read, r.loaded, r.rejected) == (5, 3, 2)
    rejected = fresh_db.rows("SELECT row_number, reason, field, message FROM load_rejects "
                             "WHERE batch_id = %s ORDER BY row_number", (r.batch_id,))
    assert [(n, reason, f) for n, reason, f, _ in rejected] == [
        (1, "bad_value", "初始日期"), (5, "bad_value", "初始日期")]
    assert all("'2021-13-01' is not a valid date" in m for *_, m in rejected)
    got = {k: (sub, note, a) for k, sub, note, a in fresh_db.rows(
        "SELECT attrs->>'编号', subclass_code, note, attrs FROM components")}
    assert {k: v[0] for k, v in got.items()} == {"N1": "0101", "N2": "0101", "N3": "0101"}
    assert got["N3"][1] is None  # a blank note is no note
    # attrs keep what has no column: the delivered class and id, not the note or the date
    assert {k: sorted(v[2]) for k, v in got.items()} == {
        k: ["测量值", "编号", "部件小类"] for k in ("N1", "N2", "N3")}
    assert got["N3"][2]["测量值"] == -2.5
    assert got["N1"][2]["测量值"] == 1e-11  # not rounded to 0.0
    assert got["N2"][2]["测量值"] == 123456789012345678.0


def test_row_hashes_follow_the_recipe_of_the_stored_values(fresh_db, tmp_path):
    """Hashes made for whole batches equal the row-by-row recipe (loaders.hashing.content_hash)
    over the values stored in the layer: a reload finds every feature unchanged. A first load
    leaves them unset; taken from the stored rows (loaders.hashing.stored_hashes) they are the
    recipe's too."""
    import psycopg

    from cim.layerdefs import COMPONENTS
    from loaders.components import HASHED
    from loaders.hashing import content_hash, stored_hashes

    census = gpd.read_file(CENSUS / "components_points.shp", encoding="gbk")
    path = tmp_path / "census.gpkg"
    census.iloc[:1].to_file(path, driver="GPKG")  # a first load of the dataset: no hash
    assert load_components(fresh_db.conninfo, fresh_db.profile, path).loaded == 1
    census.to_file(path, driver="GPKG")  # its next load: the rows it converts are hashed
    r = load_components(fresh_db.conninfo, fresh_db.profile, path)
    assert r.loaded + r.rejected == len(census) and r.loaded > 100, r.text()
    cols = COMPONENTS.column_names()
    rows = fresh_db.rows(f"SELECT id, row_hash, ST_AsBinary(geom), {', '.join(cols)} "
                         "FROM components WHERE valid_to IS NULL ORDER BY code")
    with psycopg.connect(fresh_db.conninfo) as conn:
        taken = stored_hashes(conn, "components", HASHED, [row[0] for row in rows])
    assert sum(row[1] is None for row in rows) == 1
    derived = COMPONENTS.derived_columns()
    for id_, h, wkb, *values in rows:
        # district and grid cell are the writer's joins: never part of the hash
        vals = [None if c in derived else v for c, v in zip(cols, values)]
        expected = content_hash(vals, shapely.from_wkb(bytes(wkb)))
        assert taken[id_] == expected, values
        if h is not None:
            assert h == expected, values



def test_codes_delivered_as_real_numbers_are_their_integers(fresh_db, tmp_path):
    """A GeoPackage census whose 主管部门代码 is a REAL column: 370811 is stored as the code
    370811, not "370811.0"; an 18-digit code a float cannot hold is rejected naming the field."""
    _code, x, y = fresh_db.big_cell()
    gdf = gpd.GeoDataFrame({"部件编码": ["R1", "R2"], "部件小类": ["上水井盖"] * 2,
                            "主管部门代码": [370811.0, 1.234567890123457e+17]},
                           geometry=[shapely.Point(x + 5, y + 5), shapely.Point(x + 9, y + 5)],
                           crs="EPSG:4527")
    path = tmp_path / "real_codes.gpkg"
    pyogrio.write_dataframe(gdf, path)
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1), r.text()
    assert fresh_db.rows("SELECT dept_code FROM components WHERE batch_id = %s",
                         (r.batch_id,)) == [("370811",)]
    assert fresh_db.rows("SELECT row_number, field FROM load_rejects WHERE batch_id = %s",
                         (r.batch_id,)) == [(2, "主管部门代码")]


def test_two_class_fields_that_disagree_are_flagged(fresh_db, tmp_path):
    """XLDM 0101 (上水井盖) beside XLMC 路灯: the code's class is kept, the row flagged
    class_conflict, the name kept in attrs as delivered; where they agree, no flag."""
    _code, x, y = fresh_db.big_cell()
    gdf = gpd.GeoDataFrame({"BSM": ["K1", "K2"], "XLDM": ["0101", "0101"],
                            "XLMC": ["路灯", "上水井盖"]},
                           geometry=[shapely.Point(x + 5, y + 5), shapely.Point(x + 9, y + 5)],
                           crs="EPSG:4527")
    path = tmp_path / "two_classes.gpkg"
    pyogrio.write_dataframe(gdf, path)
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded) == (2, 2), r.text()
    got = fresh_db.rows("SELECT source_key, subclass_code, flags, attrs->>'XLMC' FROM components "
                        "WHERE batch_id = %s ORDER BY source_key", (r.batch_id,))
    assert [g[1:] for g in got] == [("0101", ["class_conflict"], "路灯"), ("0101", [], "上水井盖")]


def test_a_blank_name_shows_its_subclass_flagged(fresh_db, tmp_path):
    """A blank 部件名称 stores the subclass's name (the map shows it), flagged name_from_class;
    a census without the field gets no flag a row."""
    _code, x, y = fresh_db.big_cell()
    pts = [shapely.Point(x + 5, y + 5), shapely.Point(x + 9, y + 5)]
    gdf = gpd.GeoDataFrame({"BSM": ["N1", "N2"], "部件小类": ["上水井盖"] * 2,
                            "部件名称": ["一号井盖", None]}, geometry=pts, crs="EPSG:4527")
    path = tmp_path / "names.gpkg"
    pyogrio.write_dataframe(gdf, path)
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert fresh_db.rows("SELECT name, flags FROM components WHERE batch_id = %s "
                         "ORDER BY source_key", (r.batch_id,)) == [
        ("一号井盖", []), ("上水井盖", ["name_from_class"])]
    path2 = tmp_path / "no_names.gpkg"
    pyogrio.write_dataframe(gdf.drop(columns=["部件名称"]), path2)
    r2 = load_components(fresh_db.conninfo, fresh_db.profile, path2, processes=0,
                         dataset="no_names")
    assert fresh_db.rows("SELECT DISTINCT name, flags FROM components WHERE batch_id = %s",
                         (r2.batch_id,)) == [("上水井盖", [])]
