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
from shapely.geometry import box

from loaders import planning_values as pv
from loaders.fields import ValueProblem
from loaders.planning import load_planning
from tests.conftest import make_db, server_url

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
    assert pv.parse_area("1.0", "公顷") == pv.parse_area(1.0, "公顷") == pytest.approx(10000.0)
    assert pv.parse_area(15, "亩") == pytest.approx(10000.0)
    assert pv.parse_area("15亩", "公顷") == pytest.approx(10000.0)  # the value's own unit
    assert pv.parse_area(None) is None
    for v, header, why in (("9999m", None, "length"), ("10000mm", None, "length"),
                           ("10000", "m", "no unit of area"), ("-5", None, "outside"),
                           ("abc", None, "not an area"), (True, None, "not an area"),
                           ("1,0", None, "not an area")):
        with pytest.raises(ValueProblem, match=why):
            pv.parse_area(v, header)
    assert [pv.header_unit(h) for h in ("面积(公顷)", "面积（亩）", "面积【㎡】", "面积",
                                        "限高(层)", "容积率(上限)", "限高(M)")] == [
        "公顷", "亩", "㎡", None, "层", None, "m"]


# -- the loaders on a real PostGIS ----------------------------------------------------------

@pytest.fixture(scope="module")
def rdb(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("planread", jining_profile)
    d.cell, d.x0, d.y0 = d.big_cell()
    yield d
    drop_database(server_url(), d.name)


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
