"""City base layers (issue 13): roads, green spaces, facilities and population loaded from
hand-built files whose values are known by construction; bad values rejected naming the row
and the field; a reload of the same file changes nothing; the layers are in the catalog."""

from __future__ import annotations

import json

import geopandas as gpd
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box

from cim.coding.scheme import decode
from loaders.buildings import load_buildings
from loaders.city_base import load_base
from loaders.population import load_population
from tests.conftest import run_cli, scratch_db

CRS = "EPSG:4527"


@pytest.fixture(scope="module")
def bdb(jining_profile):
    with scratch_db("base", jining_profile) as d:
        yield d


def write(tmp_path, name, recs, geoms, crs=CRS):
    path = tmp_path / f"{name}.gpkg"
    gpd.GeoDataFrame(recs, geometry=geoms, crs=crs).to_file(path, driver="GPKG")
    return path


def rejects(db, batch_id):
    return db.rows("SELECT row_number, reason, field, message FROM load_rejects "
                   "WHERE batch_id = %s ORDER BY row_number", (batch_id,))


def current(db, table, cols):
    return {r[0]: r[1:] for r in db.rows(
        f"SELECT source_key, {cols} FROM {table} WHERE valid_to IS NULL")}


def test_roads_by_class_width_and_lanes(bdb, tmp_path):
    x, y = bdb.x0, bdb.y0
    recs = [{"编号": "R1", "道路名称": "太白湖路", "道路等级": "主干路", "红线宽度": "40m", "车道数": 6},
            {"编号": "R2", "道路名称": "圣贤路", "道路等级": "次干道", "红线宽度": "28", "车道数": 4},
            {"编号": "R3", "道路名称": None, "道路等级": "residential", "红线宽度": None, "车道数": None},
            {"编号": "R4", "道路名称": "x", "道路等级": "高速公路", "红线宽度": "12", "车道数": 2},
            {"编号": "R5", "道路名称": "y", "道路等级": "支路", "红线宽度": "宽", "车道数": 2},
            {"编号": "R6", "道路名称": "z", "道路等级": "支路", "红线宽度": "12", "车道数": 3.5},
            {"编号": "R7", "道路名称": "w", "道路等级": "支路", "红线宽度": "0", "车道数": 2}]
    geoms = [LineString([(x - 200, y + 10 * k), (x + 200, y + 10 * k)]) for k in range(7)]
    path = write(tmp_path, "roads", recs, geoms)
    r = load_base(bdb.conninfo, bdb.profile, "roads", path)
    assert (r.read, r.loaded, r.rejected) == (7, 3, 4)
    got = current(bdb, "roads", "name, road_class, road_class_code, red_line_width_m, lanes, "
                              "ST_Length(geom), code, grid_code, ST_GeometryType(geom)")
    assert got["roads:R1"][:5] == ("太白湖路", "主干路", "02", 40.0, 6)
    assert got["roads:R2"][:5] == ("圣贤路", "次干路", "03", 28.0, 4)
    assert got["roads:R3"][:5] == (None, "支路", "04", None, None)
    for key, (*_v, length, code, grid, gtype) in got.items():
        assert length == pytest.approx(400.0, abs=1e-6) and gtype == "ST_MultiLineString"
        d = decode(code, bdb.profile)
        assert (d.layer, d.class_code) == ("roads", got[key][2]) and code[6:8] == "87"
        assert grid == bdb.cell
    assert [(n, reason, f) for n, reason, f, _m in rejects(bdb, r.batch_id)] == [
        (4, "unknown_class", "道路等级"), (5, "bad_value", "红线宽度"), (6, "bad_value", "车道数"),
        (7, "bad_value", "红线宽度")]
    assert "高速公路" in rejects(bdb, r.batch_id)[0][3]
    # the same file again: nothing changes, codes stay
    again = load_base(bdb.conninfo, bdb.profile, "roads", path)
    assert (again.unchanged, again.inserted, again.updated) == (3, 0, 0)
    assert current(bdb, "roads", "code") == {k: (v[6],) for k, v in got.items()}


def test_green_area_from_the_geometry_and_park_types(bdb, tmp_path):
    x, y = bdb.x0, bdb.y0
    recs = [{"编号": "G1", "名称": "社区公园甲", "绿地类型": "社区公园", "面积": 6000.0},
            {"编号": "G2", "名称": "口袋公园", "绿地类型": "G14", "面积": 9000.0},
            {"编号": "G3", "名称": "防护带", "绿地类型": "防护绿地", "面积": None},
            {"编号": "G4", "名称": "草坪", "绿地类型": "草坪", "面积": None},
            {"编号": "G5", "名称": "无类型", "绿地类型": None, "面积": None}]
    geoms = [box(x - 200, y - 200, x - 100, y - 140),  # 100 × 60 = 6000 m²
             box(x, y, x + 50, y + 50),  # 2500 m²
             box(x + 100, y - 200, x + 200, y - 190),  # 1000 m²
             box(x, y - 100, x + 10, y - 90), box(x, y - 80, x + 10, y - 70)]
    r = load_base(bdb.conninfo, bdb.profile, "green", write(tmp_path, "green", recs, geoms))
    assert (r.loaded, r.rejected) == (3, 2)
    got = current(bdb, "green_spaces", "green_type, green_type_code, area_m2, is_park, flags")
    assert got["green:G1"] == ("社区公园", "G12", 6000.0, True, [])
    assert got["green:G2"] == ("游园", "G14", 2500.0, True, ["area_differs"])
    assert got["green:G3"] == ("防护绿地", "G2", 1000.0, False, [])
    assert [(n, reason, f) for n, reason, f, _m in rejects(bdb, r.batch_id)] == [
        (4, "unknown_class", "绿地类型"), (5, "missing_class", "绿地类型")]


def test_green_area_of_a_lonlat_file_is_the_ellipsoidal_area(bdb, tmp_path):
    """A park delivered in CGCS2000 lon/lat: its stored area (in the GK storage CRS) agrees
    with the area on the ellipsoid (pyproj.Geod) to 0.01 %."""
    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4490", always_xy=True)
    ring = [to_ll.transform(bdb.x0 + dx, bdb.y0 + dy)
            for dx, dy in ((0, 0), (180, 0), (180, 120), (0, 120), (0, 0))]
    poly = Polygon(ring)
    expected = abs(pyproj.Geod(ellps="GRS80").geometry_area_perimeter(poly)[0])
    path = write(tmp_path, "park_ll", [{"编号": "P1", "绿地类型": "综合公园"}], [poly],
                 crs="EPSG:4490")
    r = load_base(bdb.conninfo, bdb.profile, "green", path, dataset="ll")
    assert r.loaded == 1
    area = bdb.scalar("SELECT area_m2 FROM green_spaces WHERE source_key = 'll:P1' "
                      "AND valid_to IS NULL")
    assert area == pytest.approx(expected, rel=1e-4)


def test_facilities_typed_by_the_life_circle_dictionary(bdb, tmp_path):
    x, y = bdb.x0, bdb.y0
    site = box(x + 100, y + 100, x + 180, y + 160)
    recs = [{"编号": "F1", "设施名称": "第一幼儿园", "设施类型": "幼儿园", "规模": 180},
            {"编号": "F2", "设施名称": "实验小学", "设施类型": "primary school", "规模": None},
            {"编号": "F3", "设施名称": "第二中学", "设施类型": "初中", "规模": 1200},
            {"编号": "F4", "设施名称": "两处", "设施类型": "菜市场", "规模": None},
            {"编号": "F5", "设施名称": "养老", "设施类型": "养老院", "规模": "-5"},
            {"编号": "F6", "设施名称": "网吧", "设施类型": "网吧", "规模": None}]
    geoms = [Point(x - 50, y - 50), MultiPoint([(x - 60, y - 60)]), site,
             MultiPoint([(x, y), (x + 5, y)]), Point(x, y + 20), Point(x, y + 30)]
    r = load_base(bdb.conninfo, bdb.profile, "facilities",
                  write(tmp_path, "facilities", recs, geoms))
    assert (r.loaded, r.rejected) == (3, 3)
    got = current(bdb, "facilities", "facility_type, facility_type_code, capacity, flags, "
                                     "ST_X(geom), ST_Y(geom), code")
    assert got["facilities:F1"][:6] == ("幼儿园", "kindergarten", 180, [], x - 50, y - 50)
    assert got["facilities:F2"][:6] == ("小学", "primary_school", None, [], x - 60, y - 60)
    assert got["facilities:F3"][:4] == ("中学", "middle_school", 1200, ["point_from_area"])
    assert site.contains(Point(got["facilities:F3"][4:6]))
    assert decode(got["facilities:F1"][6], bdb.profile).class_name == "幼儿园"
    assert [(n, reason, f) for n, reason, f, _m in rejects(bdb, r.batch_id)] == [
        (4, "wrong_geometry_type", "geometry"), (5, "bad_value", "规模"),
        (6, "unknown_class", "设施类型")]  # a geometry's problem names "geometry" (it named none)


def test_population_per_building_and_per_grid_cell(bdb, tmp_path):
    x, y = bdb.x0 + 60, bdb.y0 - 150
    foot = [box(x, y, x + 20, y + 12), box(x + 40, y, x + 60, y + 12), box(x + 80, y, x + 95, y + 15)]
    bpath = write(tmp_path, "blds", [{"编号": "B1", "建筑用途": "住宅", "地上层数": 6},
                                     {"编号": "B2", "建筑用途": "住宅", "地上层数": 18},
                                     {"编号": "B3", "建筑用途": "商业", "地上层数": 2}], foot)
    assert load_buildings(bdb.conninfo, bdb.profile, bpath).loaded == 3
    codes = dict(bdb.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL "
                          "AND source_key LIKE 'blds:%%'", ()))
    b1, b2, b3 = codes["blds:B1"], codes["blds:B2"], codes["blds:B3"]
    recs = [{"建筑编码": b1, "网格编码": None, "常住人口": 120, "年份": 2025},
            {"建筑编码": b2, "网格编码": None, "常住人口": "360", "年份": 2025},
            {"建筑编码": b3, "网格编码": None, "常住人口": 4, "年份": 2025},
            {"建筑编码": None, "网格编码": bdb.cell, "常住人口": 5000, "年份": 2025},
            {"建筑编码": b1[:-1] + ("9" if b1[-1] != "9" else "8"), "网格编码": None,
             "常住人口": 10, "年份": 2025},
            {"建筑编码": b2, "网格编码": None, "常住人口": "many", "年份": 2025},
            {"建筑编码": b2, "网格编码": None, "常住人口": 10, "年份": 2025},
            {"建筑编码": None, "网格编码": None, "常住人口": 10, "年份": 2025},
            {"建筑编码": b1, "网格编码": None, "常住人口": 10, "年份": "去年"}]
    centre = [f.centroid for f in foot]
    geoms = [centre[0], centre[1], centre[2], Point(bdb.x0, bdb.y0), centre[0], centre[1],
             Point(x + 2000, y), centre[0], centre[0]]
    path = write(tmp_path, "pop", recs, geoms)
    r = load_population(bdb.conninfo, bdb.profile, path)
    assert (r.loaded, r.rejected) == (4, 5)
    got = {(k, c): (n, yr, f) for k, c, n, yr, f in bdb.rows(
        "SELECT unit_kind, unit_code, residents, year, flags FROM population "
        "WHERE valid_to IS NULL")}
    assert got == {("building", b1): (120, 2025, []), ("building", b2): (360, 2025, []),
                   ("building", b3): (4, 2025, ["not_residential"]),
                   ("grid", bdb.cell): (5000, 2025, [])}
    # the stored shape is the unit's own: the footprint, the grid cell
    assert bdb.scalar("SELECT bool_and(ST_Equals(p.geom, b.geom)) FROM population p JOIN "
                      "buildings b ON b.code = p.unit_code AND b.valid_to IS NULL "
                      "WHERE p.valid_to IS NULL") is True
    assert bdb.scalar("SELECT ST_Equals(p.geom, g.geom) FROM population p JOIN grid_cells g "
                      "ON g.code = p.unit_code AND g.valid_to IS NULL WHERE p.unit_kind = "
                      "'grid' AND p.valid_to IS NULL") is True
    assert [(n, reason, f) for n, reason, f, _m in rejects(bdb, r.batch_id)] == [
        (5, "unknown_unit", "建筑编码"), (6, "bad_value", "常住人口"),
        (7, "unit_mismatch", "建筑编码"), (8, "missing_value", "建筑编码"),
        (9, "bad_value", "年份")]
    again = load_population(bdb.conninfo, bdb.profile, path)
    assert (again.unchanged, again.inserted, again.updated) == (4, 0, 0)


def test_population_codes_stored_as_floats_are_refused(bdb, tmp_path):
    code = bdb.scalar("SELECT code FROM buildings WHERE valid_to IS NULL LIMIT 1")
    path = write(tmp_path, "popf", [{"建筑编码": float(code), "常住人口": 3}],
                 [Point(bdb.x0, bdb.y0)])
    r = load_population(bdb.conninfo, bdb.profile, path, year=2024)
    (n, reason, field, msg), = rejects(bdb, r.batch_id)
    assert (n, reason, field) == (1, "bad_value", "建筑编码") and "floating-point" in msg


def test_a_file_without_a_type_field_is_refused_before_loading(bdb, tmp_path):
    path = write(tmp_path, "things", [{"名称": "a"}], [Point(bdb.x0, bdb.y0)])
    p = run_cli(["load", "facilities", str(path)], bdb.env())
    assert p.returncode != 0 and "设施类型" in p.stderr and "things.gpkg" in p.stderr
    assert bdb.scalar("SELECT count(*) FROM load_batches WHERE source_path LIKE '%%things.gpkg'", ()) == 0


def test_cli_loads_and_the_layers_are_in_the_catalog(bdb, tmp_path):
    path = write(tmp_path, "主干路", [{"编号": "C1", "道路名称": "北环路"}],
                 [LineString([(bdb.x0 - 100, bdb.y0 + 100), (bdb.x0 + 100, bdb.y0 + 100)])])
    out = json.loads(run_cli(["load", "roads", str(path), "--json"], bdb.env(),
                             check=True).stdout)
    assert (out["loaded"], out["rejected"]) == (1, 0)
    assert bdb.scalar("SELECT road_class FROM roads WHERE source_key = '主干路:C1'") == "主干路"
    rows = json.loads(run_cli(["layers", "--json"], bdb.env(), check=True).stdout)
    by = {r["name"]: r for r in rows}
    assert {"roads", "green_spaces", "facilities", "population"} <= set(by)
    assert by["roads"]["title_zh"] == "道路中心线" and by["roads"]["count"] >= 4
    assert by["facilities"]["geometry_type"].upper().startswith("POINT")


def test_the_sample_base_layers_load_without_rejects_and_serve_the_north_better(bdb):
    """The sample district's base layers (data_samples/generate/city_base.py) load with zero
    rejects; the northern district is better served by parks than the southern one (the
    share of residential buildings within 500 m of a park ≥ 5,000 m², computed here with
    shapely on the sample files, not by the platform)."""
    import pyogrio

    from tests.conftest import SAMPLES

    base = SAMPLES / "base"
    reports = [load_base(bdb.conninfo, bdb.profile, k, base / f"{f}.gpkg")
               for k, f in (("roads", "roads"), ("green", "green_spaces"),
                            ("facilities", "facilities"))]
    reports.append(load_population(bdb.conninfo, bdb.profile, base / "population.gpkg"))
    for r in reports:
        assert r.status == "succeeded" and r.rejected == 0 and r.loaded == r.read > 0, r.path
    parks = pyogrio.read_dataframe(base / "green_spaces.gpkg")
    big = shapely.union_all(parks[parks["绿地类型"].isin(["综合公园", "社区公园", "游园"])
                                  & (parks.area >= 5000)].geometry.buffer(500).to_numpy())
    blds = pyogrio.read_dataframe(SAMPLES / "buildings" / "buildings_survey.shp", encoding="GBK")
    homes = blds[blds["建筑用途"] == "住宅"].geometry.centroid
    dist = pyogrio.read_dataframe(SAMPLES / "boundaries.gpkg", layer="districts")
    share = {}
    for code, poly in zip(dist["code"], dist.geometry):
        inside = homes[homes.within(poly)]
        share[code] = float(inside.within(big).mean())
    assert share["370811"] > 0.5 and share["370826"] < 0.25, share
    kinds = pyogrio.read_dataframe(base / "facilities.gpkg")["设施类型"].value_counts()
    assert {"幼儿园", "小学", "中学", "医院", "菜市场", "应急避难场所"} <= set(kinds.index)


def test_the_base_layers_are_ogc_api_collections_with_their_values(bdb, tmp_path):
    """Served over HTTP by the platform's app: each base layer is a collection, and a
    facility's item carries its type and capacity as loaded."""
    import requests

    from tests.conftest import start_api

    path = write(tmp_path, "api", [{"编号": "A1", "设施类型": "幼儿园", "规模": 180}],
                 [Point(bdb.x0 + 5, bdb.y0 + 5)])
    assert load_base(bdb.conninfo, bdb.profile, "facilities", path).loaded == 1
    proc, base = start_api(bdb.url, bdb.profile, tmp_path)
    try:
        ids = {c["id"] for c in requests.get(base + "/collections?f=json",
                                             timeout=30).json()["collections"]}
        assert {"roads", "green_spaces", "facilities", "population"} <= ids
        code = bdb.scalar("SELECT code FROM facilities WHERE source_key = 'api:A1' "
                          "AND valid_to IS NULL")
        item = requests.get(f"{base}/collections/facilities/items/{code}?f=json", timeout=30)
        assert item.status_code == 200, item.text
        props = item.json()["properties"]
        assert (props["facility_type"], props["facility_type_code"], props["capacity"]) == \
            ("幼儿园", "kindergarten", 180)
    finally:
        proc.terminate()
        proc.wait(10)


def test_population_from_a_statistics_table_with_an_empty_wkt_column(bdb, tmp_path):
    """A CSV of 网格编码 / 常住人口 with an empty WKT column and no CRS loads: the unit gives the
    geometry."""
    path = tmp_path / "pop_table.csv"
    path.write_text(f"网格编码,常住人口,年份,WKT\n{bdb.cell},321,2024,\n", encoding="utf-8")
    r = load_population(bdb.conninfo, bdb.profile, path)
    assert (r.loaded, r.rejected) == (1, 0)
    assert bdb.scalar("SELECT residents FROM population WHERE unit_code = %s AND year = 2024 "
                      "AND valid_to IS NULL", (bdb.cell,)) == 321
