"""How the planning and city-base loaders read what institutes deliver (a review's findings):
footnote marks are no digits, 不小于 is a lower bound, one unit sign only, a negative text reads
as the number, a bare 1 in a fraction column is flagged, a width is no range, composite and
disagreeing land uses are flagged with the delivered values kept, collections of lines load as
lines, declared green areas are read with their unit. Values known by construction; the
loaders' cases on a real PostGIS."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import GeometryCollection, LineString, Point, box

from cim.numbers import ValueProblem
from loaders import planning_values as pv
from loaders.city_base import load_base
from loaders.planning import load_planning
from tests.conftest import scratch_db

CRS = "EPSG:4527"


# -- the value parser (no database) ---------------------------------------------------------

@pytest.mark.parametrize("value, spec", [
    ("45①", pv.HEIGHT), ("24①", pv.HEIGHT), ("≤2.5①", pv.FAR), ("2.5¹", pv.FAR),
    ("2.5²", pv.FAR), ("H≤24m①", pv.HEIGHT), ("35%①", pv.DENSITY), ("⒉5", pv.FAR),
    ("①", pv.FAR), ("100³", pv.HEIGHT)])
def test_a_footnote_mark_is_no_digit(value, spec):
    """NFKC read 45① as 451 and 2.5² as 2.52; the half-width forms only: refused."""
    with pytest.raises(ValueProblem, match="not a limit"):
        pv.parse_limit(value, spec)


def test_lower_and_upper_bound_words_are_read_longest_first():
    """小于 inside 不小于 made 不小于35% "no limit"; every word is matched whole."""
    assert pv.parse_limit("不小于35%", pv.GREEN) == (0.35, None)
    assert pv.parse_limit("不少于35%", pv.GREEN) == (0.35, None)
    assert pv.parse_limit("不低于35%", pv.GREEN) == (0.35, None)
    assert pv.parse_limit("大于等于35%", pv.GREEN) == (0.35, None)
    assert pv.parse_limit("35%以上", pv.GREEN) == (0.35, None)
    assert pv.parse_limit("不小于5米", pv.SETBACK) == (5.0, None)
    assert pv.parse_limit("≥5m", pv.SETBACK) == (5.0, None)
    for upper in ("不大于2.5", "不超过2.5", "不高于2.5", "小于等于2.5", "≤2.5", "2.5以下"):
        assert pv.parse_limit(upper, pv.FAR) == (2.5, None), upper
    with pytest.raises(ValueProblem, match="lower bound"):
        pv.parse_limit("不小于2.5", pv.FAR)
    with pytest.raises(ValueProblem, match="upper bound"):
        pv.parse_limit("不大于35%", pv.GREEN)
    with pytest.raises(ValueProblem, match="both"):
        pv.parse_limit("≤80m以上", pv.HEIGHT)


@pytest.mark.parametrize("value", ["80mm", "80mmm", "80米米", "80m米", "24h", "hhh24", "≤24≤",
                                   "24mh", "≤2.5=", "80m(檐口)"])
def test_one_unit_sign_and_one_label_at_most(value):
    with pytest.raises(ValueProblem):
        pv.parse_limit(value, pv.HEIGHT)


def test_units_and_labels_once_still_read():
    for v in ("80", "80m", "80 m", "80米", "８０ｍ", "H≤80m", "h<=80", "80m以下", "≤ 80 m"):
        assert pv.parse_limit(v, pv.HEIGHT) == (80.0, None), v
    assert pv.parse_limit("30-40%", pv.DENSITY) == (0.4, None)
    assert pv.parse_limit("30%-40%", pv.GREEN) == (0.3, None)
    with pytest.raises(ValueProblem, match="first end only"):
        pv.parse_limit("30%-40", pv.DENSITY)


def test_a_negative_text_reads_as_the_number():
    assert pv.parse_limit("-5", pv.ELEVATION) == pv.parse_limit(-5.0, pv.ELEVATION) == (-5.0,
                                                                                        None)
    assert pv.parse_limit("-5m", pv.ELEVATION) == (-5.0, None)
    assert pv.parse_limit("－5", pv.ELEVATION) == (-5.0, None)  # full-width minus
    for v in ("-3", -3.0):
        with pytest.raises(ValueProblem, match="negative"):
            pv.parse_limit(v, pv.SETBACK)


def test_a_bare_one_in_a_fraction_column_is_flagged():
    """1 could be 100 % or 1 %: read as the fraction 1 and flagged, text and number alike;
    1.5 and 100 are percentages (flagged as before); 1% and 100% are what they say."""
    for v in ("1", "1.0", 1, 1.0):
        assert pv.parse_limit(v, pv.DENSITY) == (1.0, pv.FRACTION_ASSUMED), v
        assert pv.parse_limit(v, pv.GREEN) == (1.0, pv.FRACTION_ASSUMED), v
    assert pv.parse_limit("1.5", pv.DENSITY) == (0.015, pv.PERCENT_ASSUMED)
    assert pv.parse_limit("100", pv.DENSITY) == (1.0, pv.PERCENT_ASSUMED)
    assert pv.parse_limit("100%", pv.DENSITY) == (1.0, None)
    assert pv.parse_limit("1%", pv.DENSITY) == (0.01, None)
    assert pv.parse_limit("0.35", pv.DENSITY) == (0.35, None)
    assert pv.parse_limit("1", pv.FAR) == (1.0, None)  # no fraction: nothing to assume
    # a bare range on one scale: 30-40 is 30 %–40 %, 0.5-1 fractions (kept 1: flagged)
    assert pv.parse_limit("30-40", pv.GREEN) == (0.3, pv.PERCENT_ASSUMED)
    assert pv.parse_limit("0.5-1", pv.DENSITY) == (1.0, pv.FRACTION_ASSUMED)


def test_a_width_is_one_number():
    assert pv.parse_limit("40", pv.WIDTH) == (40.0, None)
    assert pv.parse_limit("40米", pv.WIDTH) == (40.0, None)
    for v, why in (("30-40", "not a range"), ("≤40", "not a limit"), ("≥40", "not a limit")):
        with pytest.raises(ValueProblem, match=why):
            pv.parse_limit(v, pv.WIDTH)


def test_declared_areas_with_their_units():
    for v in ("10000", 10000.0, "10,000", "10000㎡", "10000m2", "10000m²", "10000平方米",
              "15亩", "1公顷", "1ha", "１００００㎡"):
        assert pv.parse_area(v) == pytest.approx(10000.0), v
    assert pv.parse_area("1.0", "ha") == pv.parse_area(1.0, "ha") == pytest.approx(10000.0)
    assert pv.parse_area(15, "mu") == pytest.approx(10000.0)
    assert pv.parse_area("15亩", "ha") == pytest.approx(10000.0)  # the value's own unit
    assert pv.parse_area(None) is None
    for v, header, why in (("9999m", None, "length"), ("10000mm", None, "length"),
                           ("10000", "m", "no unit of area"), ("-5", None, "outside"),
                           ("abc", None, "not an area"), (True, None, "not an area"),
                           ("1,0", None, "not an area")):
        with pytest.raises(ValueProblem, match=why):
            pv.parse_area(v, header)
    units = pv.platform_area_units()  # the units of field_units.yaml, as the core reads them
    assert [units.header(h) for h in ("面积(公顷)", "面积（亩）", "面积【㎡】", "面积",
                                      "限高(层)", "容积率(上限)", "限高(M)", "面积(万㎡)")] == [
        "ha", "mu", "m2", None, "storeys", None, "m", "wan_m2"]
    with pytest.raises(ValueProblem, match="no unit of area"):
        pv.parse_area("10", "storeys")


# -- the loaders on a real PostGIS ----------------------------------------------------------

@pytest.fixture(scope="module")
def rdb(jining_profile):
    with scratch_db("planread", jining_profile) as d:
        yield d


def _write(path, layer, recs, geoms, **kw):
    pyogrio.write_dataframe(gpd.GeoDataFrame(recs, geometry=geoms, crs=CRS), path,
                            layer=layer, driver="GPKG", **kw)
    return path


def _rejects(db, batch_id):
    return db.rows("SELECT row_number, reason, field, message FROM load_rejects "
                   "WHERE batch_id = %s ORDER BY row_number", (batch_id,))


def _squares(db, n, size=20.0, dy=0.0):
    return [box(db.x0 - 200 + 25 * k, db.y0 + dy, db.x0 - 200 + 25 * k + size,
                db.y0 + dy + size) for k in range(n)]


def test_parcel_limits_as_written(rdb, tmp_path):
    recs = {"地块编码": ["K01", "K02", "K03", "K04", "K05", "K06", "K07", "K08"],
            "用地代码": ["R2"] * 8,
            "容积率": ["≤2.5①", "2.5", "2.5", "2.5", "2.5", "2.5", "2.5²", "2.5"],
            "建筑密度": ["30%", "30%", "30%", "30%", "1", "1.5", "30%", "30%"],
            "绿地率": ["35%", "35%", "不小于35%", "35%", "35%", "35%", "35%", "不低于30%"],
            "限高": ["80", "24①", "80", "80mm", "80", "80", "80", "H≤80m"],
            "退道路红线": ["5", "5", "不小于5米", "5", "5", "5", "5", "5m"]}
    path = _write(tmp_path / "limits.gpkg", "parcels", recs, _squares(rdb, 8))
    r = load_planning(rdb.conninfo, rdb.profile, path, kind="parcels")
    assert (r.read, r.loaded, r.rejected) == (8, 4, 4)
    assert [(n, reason, f) for n, reason, f, _m in _rejects(rdb, r.batch_id)] == [
        (1, "bad_value", "容积率"), (2, "bad_value", "限高"), (4, "bad_value", "限高"),
        (7, "bad_value", "容积率")]
    got = {row[0]: row[1:] for row in rdb.rows(
        "SELECT parcel_code, max_far, max_density, min_green_ratio, max_height, "
        "setback_road_m, flags FROM planning_parcels WHERE valid_to IS NULL AND "
        "parcel_code LIKE 'K%%'")}
    assert got == {"K03": (2.5, 0.3, 0.35, 80.0, 5.0, []),
                   "K05": (2.5, 1.0, 0.35, 80.0, 5.0, ["fraction_assumed"]),
                   "K06": (2.5, 0.015, 0.35, 80.0, 5.0, ["percent_assumed"]),
                   "K08": (2.5, 0.3, 0.3, 80.0, 5.0, [])}


def test_land_use_composite_conflicting_and_unknown_are_flagged(rdb, tmp_path):
    rows = [("L01", "R2(B1)", None, "0701", ["land_use_mixed"]),
            ("L02", "R2 B1", None, "0701", ["land_use_mixed"]),
            ("L03", "B1B2", None, "0901", ["land_use_mixed"]),
            ("L04", "R2/B1", None, "0701", ["land_use_mixed"]),
            ("L05", "0701", "商业用地", "0701", ["land_use_conflict"]),
            ("L06", None, "商业用地(R2)", "0701", ["land_use_conflict"]),
            ("L07", "R2", "商业用地", "0701", ["land_use_conflict"]),
            ("L08", "M1", "二类居住用地", "1001", ["land_use_conflict"]),
            ("L09", "B11", "商业用地", "0901", ["land_use_code_generalised"]),  # B11 is B1's
            ("L24", "Z9", "商业用地", "0901", ["land_use_code_unknown"]),
            ("L10", "R2", "奇怪用地", "0701", ["land_use_name_unknown"]),
            ("L11", "R2(B1)", "商业用地", "0701", ["land_use_mixed"]),  # the name: its B1
            ("L12", "R2", "二类居住用地", "0701", []),
            ("L13", None, "二类居住用地(R2)", "0701", []),
            ("L14", "07", "城镇住宅用地", "07", []),  # the name within the code's class
            ("L15", None, None, None, ["land_use_missing"]),
            ("L17", "R22", None, "0702", []),  # GB 50137 codes of land_use.csv's gb50137 column
            ("L18", "RB", "城镇社区服务设施用地", "0702", []),
            # a known code with a word the dictionary has not: the code, flagged (rejected)
            ("L19", "R2(二类居住)", None, "0701", ["land_use_name_unknown"]),
            ("L20", "B1(现状)", None, "0901", ["land_use_name_unknown"]),
            ("L21", "M1(保留)", None, "1001", ["land_use_name_unknown"]),
            # a third-level code the dictionary does not list: its parent's class, flagged
            ("L22", "070102", None, "0701", ["land_use_code_generalised"]),
            ("L23", "R21", None, "0701", ["land_use_code_generalised"]),
            ("L16", "X9", "奇怪用地", None, None)]
    recs = {"地块编码": [r[0] for r in rows], "用地代码": [r[1] for r in rows],
            "用地性质": [r[2] for r in rows], "容积率": ["2.0"] * len(rows)}
    path = _write(tmp_path / "uses.gpkg", "parcels", recs, _squares(rdb, len(rows), 15, 120))
    r = load_planning(rdb.conninfo, rdb.profile, path, kind="parcels")
    assert (r.read, r.loaded, r.rejected) == (24, 23, 1)
    assert [(n, reason, f) for n, reason, f, _m in _rejects(rdb, r.batch_id)] == [
        (24, "unknown_class", "用地代码")]
    got = {row[0]: row[1:] for row in rdb.rows(
        "SELECT parcel_code, land_use_code, flags, attrs->'用地代码', attrs->'用地性质' "
        "FROM planning_parcels WHERE valid_to IS NULL AND parcel_code LIKE 'L%%'")}
    for code, lu_code, lu_name, expected, flags in rows[:-1]:
        # the column: the primary (or the code's) class; attrs: both as delivered
        assert got[code] == (expected, flags, lu_code, lu_name), code


def test_a_red_line_width_range_is_rejected_and_collections_of_lines_load(rdb, tmp_path):
    x, y = rdb.x0 - 200, rdb.y0 - 200

    def line(k):
        return LineString([(x, y + 8 * k), (x + 300, y + 8 * k)])

    area = box(x, y + 100, x + 100, y + 150)
    recs = {"编号": ["W1", "W2", "W3", "W4", "W5", "W6", "W7"],
            "控制线类型": ["道路红线", "道路红线", "蓝线", "道路红线", "绿线", "紫线", "道路红线"],
            "红线宽度": ["30-40", "40", None, "40", None, None, "≤40"]}
    geoms = [line(0), line(1), GeometryCollection([line(2), line(3)]),
             GeometryCollection([line(4), Point(x, y)]),
             GeometryCollection([area, line(5)]), GeometryCollection([Point(x, y)]), line(6)]
    path = _write(tmp_path / "lines.gpkg", "lines", recs, geoms, geometry_type="Unknown")
    r = load_planning(rdb.conninfo, rdb.profile, path, kind="control_lines")
    assert (r.read, r.loaded, r.rejected) == (7, 4, 3)
    rej = _rejects(rdb, r.batch_id)
    assert [(n, reason, f) for n, reason, f, _m in rej] == [
        (1, "bad_value", "红线宽度"), (6, "wrong_geometry_type", "geometry"),
        (7, "bad_value", "红线宽度")]
    assert "range" in rej[0][3] and "'30-40'" in rej[0][3]
    got = {row[0]: row[1:] for row in rdb.rows(
        "SELECT attrs->>'编号', width_m, flags, GeometryType(geom), "
        "round(ST_Length(geom)::numeric, 3)::float, round(ST_Area(geom)::numeric, 3)::float "
        "FROM control_lines WHERE valid_to IS NULL")}
    assert got == {"W2": (40.0, [], "LINESTRING", 300.0, 0.0),
                   "W3": (None, [], "MULTILINESTRING", 600.0, 0.0),
                   "W4": (40.0, ["collection_parts_dropped"], "LINESTRING", 300.0, 0.0),
                   "W5": (None, ["collection_parts_dropped"], "POLYGON", 0.0, 5000.0)}


def test_height_zone_elevation_as_text_and_as_number(rdb, tmp_path):
    x, y = rdb.x0 + 100, rdb.y0 - 200
    for name, value in (("ztext", "-5"), ("znum", -5.0)):
        path = _write(tmp_path / f"{name}.gpkg", "zones",
                      {"编号": [name], "限高类型": ["机场净空"], "限制高程": [value]},
                      [box(x, y, x + 50, y + 50)])
        r = load_planning(rdb.conninfo, rdb.profile, path, kind="height_zones")
        assert (r.loaded, r.rejected) == (1, 0), _rejects(rdb, r.batch_id)
    assert sorted(rdb.rows("SELECT attrs->>'编号', max_elevation FROM height_zones WHERE "
                           "valid_to IS NULL")) == [("znum", -5.0), ("ztext", -5.0)]


def test_roads_from_collections_of_lines(rdb, tmp_path):
    x, y = rdb.x0 - 200, rdb.y0 + 200

    def line(k):
        return LineString([(x, y + 10 * k), (x + 400, y + 10 * k)])

    recs = {"编号": ["R1", "R2", "R3"], "道路等级": ["主干路"] * 3, "红线宽度": ["30"] * 3}
    geoms = [GeometryCollection([line(0), line(1)]), GeometryCollection([line(2), Point(x, y)]),
             GeometryCollection([Point(x, y)])]
    path = _write(tmp_path / "roads.gpkg", "roads", recs, geoms, geometry_type="Unknown")
    r = load_base(rdb.conninfo, rdb.profile, "roads", path)
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1)
    assert [(n, reason) for n, reason, _f, _m in _rejects(rdb, r.batch_id)] == [
        (3, "wrong_geometry_type")]
    assert sorted(rdb.rows(
        "SELECT attrs->>'编号', flags, GeometryType(geom), ST_NumGeometries(geom), "
        "round(ST_Length(geom)::numeric, 3)::float FROM roads WHERE valid_to IS NULL")) == [
        ("R1", [], "MULTILINESTRING", 2, 800.0),
        ("R2", ["collection_parts_dropped"], "MULTILINESTRING", 1, 400.0)]


def test_green_declared_areas_with_their_units(rdb, tmp_path):
    """40 × 40 m = 1600 m² = 2.4 亩 = 0.16 公顷: each written so agrees with the geometry."""
    x, y = rdb.x0 + 20, rdb.y0 - 100

    def sq(k):
        return box(x + 45 * (k % 4), y + 45 * (k // 4), x + 45 * (k % 4) + 40,
                   y + 45 * (k // 4) + 40)

    values = ["1600", "1600㎡", "1600m2", "2.4亩", "0.16公顷", "1,600", "10000", "1600m"]
    recs = {"编号": [f"A{k}" for k in range(len(values))], "绿地类型": ["游园"] * len(values),
            "面积": values}
    r = load_base(rdb.conninfo, rdb.profile, "green",
                  _write(tmp_path / "green.gpkg", "green", recs, [sq(k) for k in range(8)]))
    assert (r.read, r.loaded, r.rejected) == (8, 7, 1)
    (n, reason, field, msg), = _rejects(rdb, r.batch_id)
    assert (n, reason, field) == (8, "bad_value", "面积") and "length" in msg
    got = dict(rdb.rows("SELECT attrs->>'编号', flags FROM green_spaces WHERE valid_to IS "
                        "NULL AND source_key LIKE 'green:%%'"))
    assert got == {**{f"A{k}": [] for k in range(6)}, "A6": ["area_differs"]}
    # a header naming the unit: bare values are in it
    for name, header, values in (("ha", "面积(公顷)", [0.16, 1.0]),
                                 ("mu", "面积（亩）", ["2.4", "15"])):
        path = _write(tmp_path / f"{name}.gpkg", "green",
                      {"编号": ["H1", "H2"], "绿地类型": ["游园"] * 2, header: values},
                      [sq(8), sq(9)])
        r = load_base(rdb.conninfo, rdb.profile, "green", path)
        assert (r.loaded, r.rejected) == (2, 0), _rejects(rdb, r.batch_id)
        assert sorted(rdb.rows("SELECT attrs->>'编号', flags FROM green_spaces WHERE "
                               "valid_to IS NULL AND source_key LIKE %s", (f"{name}:%",))) == [
            ("H1", []), ("H2", ["area_differs"])]


def test_green_areas_in_units_the_field_units_file_names(rdb, tmp_path):
    """The declared area's units are field_units.yaml's (one table for the loaders, the
    approval check and this reader): 万㎡, which the planning reader's own table lacked, read
    面积(万㎡) 0.16 as 0.16 m² (area_differs on a 1600 m² site) and refused 0.16万㎡. A city's
    copy of the file adds a unit without a release (are, 100 m²), and keeps the platform's
    newer spellings (a copy without 万㎡)."""
    from dataclasses import replace

    import yaml

    from cim.profile import DICTIONARY_DIR

    x, y = rdb.x0 + 20, rdb.y0 - 400

    def sq(k):  # 40 × 40 m = 1600 m² = 0.16 万㎡ = 16 are
        return box(x + 45 * k, y, x + 45 * k + 40, y + 40)

    path = _write(tmp_path / "wan.gpkg", "green",
                  {"编号": ["W1", "W2"], "绿地类型": ["游园"] * 2, "面积(万㎡)": [0.16, 1.6]},
                  [sq(0), sq(1)])
    r = load_base(rdb.conninfo, rdb.profile, "green", path)
    assert (r.loaded, r.rejected) == (2, 0), _rejects(rdb, r.batch_id)
    assert sorted(rdb.rows("SELECT attrs->>'编号', flags FROM green_spaces WHERE valid_to IS "
                           "NULL AND source_key LIKE 'wan:%%'")) == [
        ("W1", []), ("W2", ["area_differs"])]
    path = _write(tmp_path / "wanv.gpkg", "green",
                  {"编号": ["V1", "V2"], "绿地类型": ["游园"] * 2,
                   "面积": ["0.16万㎡", "0.16万平方米"]}, [sq(2), sq(3)])
    r = load_base(rdb.conninfo, rdb.profile, "green", path)
    assert (r.loaded, r.rejected) == (2, 0), _rejects(rdb, r.batch_id)
    assert rdb.scalar("SELECT count(*) FROM green_spaces WHERE valid_to IS NULL AND "
                      "source_key LIKE 'wanv:%%' AND flags = '{}'") == 2
    # hm² (= ha) and km² spelled in field_units.yaml: 0.16 hm² and 0.0016 km² are 1600 m²
    path = _write(tmp_path / "hmv.gpkg", "green",
                  {"编号": ["H1", "H2", "H3"], "绿地类型": ["游园"] * 3,
                   "面积": ["0.16hm²", "0.0016平方公里", "0.0016km2"]}, [sq(7), sq(8), sq(9)])
    r = load_base(rdb.conninfo, rdb.profile, "green", path)
    assert (r.loaded, r.rejected) == (3, 0), _rejects(rdb, r.batch_id)
    assert rdb.scalar("SELECT count(*) FROM green_spaces WHERE valid_to IS NULL AND "
                      "source_key LIKE 'hmv:%%' AND flags = '{}'") == 3

    # a city's copy: 公亩 (are) added, spelled and converted there; 万㎡ not spelled in it
    units = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(encoding="utf-8"))
    units["spellings"]["are"] = ["公亩", "are"]
    units["spellings"].pop("wan_m2")
    units["spellings"].pop("km2")  # a copy made before km² was spelled and converted
    units["conversions"]["m2"].pop("km2")
    units["conversions"]["m2"]["are"] = 100
    own = tmp_path / "field_units.yaml"
    own.write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    prof = replace(rdb.profile, dictionaries={**rdb.profile.dictionaries, "field_units": own})
    prof.__dict__.pop("field_aliases", None)
    path = _write(tmp_path / "are.gpkg", "green",
                  {"编号": ["A1", "A2", "A3", "A4"], "绿地类型": ["游园"] * 4,
                   "面积": ["16公亩", "0.16万㎡", "16亩", "0.0016平方公里"]},
                  [sq(4), sq(5), sq(6), sq(10)])
    r = load_base(rdb.conninfo, prof, "green", path)
    assert (r.loaded, r.rejected) == (4, 0), _rejects(rdb, r.batch_id)
    assert sorted(rdb.rows("SELECT attrs->>'编号', flags FROM green_spaces WHERE valid_to IS "
                           "NULL AND source_key LIKE 'are:%%'")) == [
        ("A1", []), ("A2", []), ("A3", ["area_differs"]), ("A4", [])]  # 16 亩 = 10,667 m²


def test_a_mark_of_no_requirement_is_no_limit():
    """控规 tables write /, —, 不限 where an index does not apply (a green parcel's 容积率)."""
    for v in ("/", "／", " / ", "—", "——", "-", "－", "无", "不限", "不作要求"):
        assert pv.parse_limit(v, pv.FAR) == (None, pv.NOT_REQUIRED), v
    for v in ("—5", "/2.5", "N/A", "无2.5"):  # a mark with a number, or another word: no
        with pytest.raises(ValueProblem, match="not a limit"):
            pv.parse_limit(v, pv.FAR)


def test_parcels_with_an_index_that_does_not_apply_load(rdb, tmp_path):
    """A green parcel's 容积率 "/" rejected the parcel whole, its land use, height and green
    ratio with it (the approval check then found no parcel there); it loads without that
    limit, flagged, and its other indices are read."""
    recs = {"地块编码": ["N1", "N2", "N3", "N4"], "用地代码": ["G1", "G1", "R2", "G1"],
            "容积率": ["/", "—", "2.5", "不限"], "绿地率": ["70%", "/", "35%", "70%"],
            "限高": ["12", "—", "60", "/"]}
    path = _write(tmp_path / "notreq.gpkg", "parcels", recs, _squares(rdb, 4, 15, 170))
    r = load_planning(rdb.conninfo, rdb.profile, path, kind="parcels")
    assert (r.loaded, r.rejected) == (4, 0), _rejects(rdb, r.batch_id)
    got = {k: (far, green, h, flags) for k, far, green, h, flags in rdb.rows(
        "SELECT parcel_code, max_far, min_green_ratio, max_height, flags FROM "
        "planning_parcels WHERE valid_to IS NULL AND source_key LIKE 'notreq:%%'")}
    assert got == {"N1": (None, 0.7, 12.0, [pv.NOT_REQUIRED]),
                   "N2": (None, None, None, [pv.NOT_REQUIRED]),
                   "N3": (2.5, 0.35, 60.0, []),
                   "N4": (None, 0.7, None, [pv.NOT_REQUIRED])}


def test_a_header_unit_after_a_label_or_before_a_qualifier():
    """面积（单位：公顷） and 限高(厘米)(规划) name their unit: it was read from the last
    brackets only, whole, so both were read as no unit — areas in ha as m², heights in cm as
    m — while the field matched its alias (norm_name takes two groups off)."""
    units = pv.platform_area_units()
    assert [units.header(h) for h in (
        "面积（单位：公顷）", "面积(单位:亩)", "面积(单位为万㎡)", "面积(㎡)(规划)",
        "面积(规划)(公顷)", "面积(规划)", "面积(规划)(现状)")] == [
        "ha", "mu", "wan_m2", "m2", "ha", None, None]


def test_parcel_and_green_headers_with_a_unit_label_or_a_qualifier(rdb, tmp_path):
    from cim.errors import InputError

    # a height in cm under a qualifier: refused naming the field (800 was read as 800 m)
    recs = {"地块编码": ["Q1"], "用地代码": ["R2"], "建筑限高(厘米)(规划)": ["800"]}
    path = _write(tmp_path / "qcm.gpkg", "parcels", recs, _squares(rdb, 1, 15, 220))
    with pytest.raises(InputError) as e:
        load_planning(rdb.conninfo, rdb.profile, path, kind="parcels")
    assert e.value.field == "建筑限高(厘米)(规划)" and "cm" in e.value.message
    # 40 × 40 m = 0.16 公顷 under 面积（单位：公顷）: agrees with the geometry
    x, y = rdb.x0 + 20, rdb.y0 - 500
    path = _write(tmp_path / "hal.gpkg", "green",
                  {"编号": ["U1", "U2"], "绿地类型": ["游园"] * 2, "面积（单位：公顷）": [0.16, 1600]},
                  [box(x, y, x + 40, y + 40), box(x + 50, y, x + 90, y + 40)])
    r = load_base(rdb.conninfo, rdb.profile, "green", path)
    assert (r.loaded, r.rejected) == (2, 0), _rejects(rdb, r.batch_id)
    assert sorted(rdb.rows("SELECT attrs->>'编号', flags FROM green_spaces WHERE valid_to IS "
                           "NULL AND source_key LIKE 'hal:%%'")) == [
        ("U1", []), ("U2", ["area_differs"])]


def test_grouped_thousands_read_as_the_fields_read_them():
    # refused before, while every other number field of a delivery read 1,200 as 1200
    assert pv.parse_limit("1,200", pv.ELEVATION) == (1200.0, None)
    assert pv.parse_limit("≤1,200.5m", pv.ELEVATION) == (1200.5, None)
    assert pv.parse_limit("１，２００", pv.ELEVATION) == (1200.0, None)  # full-width
    assert pv.parse_limit("1,000-1,200", pv.ELEVATION) == (1200.0, None)
    for v in ("1,5", "1,20", "12,34"):  # a decimal comma or a list: no number
        with pytest.raises(ValueProblem):
            pv.parse_limit(v, pv.FAR if v == "1,5" else pv.ELEVATION)
