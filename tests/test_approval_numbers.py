"""The approval check's numbers: units in a project attribute's header, an empty height-zone
layer, green under a building, numbers shown beside their limit, a building partly on no
parcel. On the hand-drawn situation of tests/approval_fixture.py (parcel PA box(0,0,100,100):
FAR <= 2.0, density <= 0.40, green >= 0.30, height <= 80 m; zone x 0..50 机场净空 45 m);
every expected number is computed here from the drawn geometry, never by the check."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import box

from cim.errors import InputError
from layers.approval.check import check
from layers.approval.project import build_project, records_from_geojson
from layers.approval.report import render_html
from tests import approval_fixture
from tests.approval_fixture import PARCELS, SRID, collection, feature
from tests.conftest import scratch_db

adb = approval_fixture.adb  # the hand-drawn planning situation, a database per module

SITE = box(0, 0, 100, 100)  # exactly parcel PA
B = box(70, 10, 90, 40)  # 600 m², outside the 45 m zone


def _run(db, fc):
    p = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    return check(db.conninfo, p, db.profile)[0]


def _rule(result, rid):
    return next(r for r in result["results"] if r["id"] == rid)


# --- 1. a unit in an attribute's header ---------------------------------------------------

@pytest.mark.parametrize("header, value, rid, expected", [
    ("计容建筑面积(万㎡)", 2.5, "far", 25_000 / SITE.area),   # 2.5 万㎡ = 25,000 m²: FAR 2.5
    ("计容面积（万平方米）", "2.5", "far", 25_000 / SITE.area),
    ("计容建筑面积(㎡)", 25_000, "far", 25_000 / SITE.area),
    ("计容建筑面积(亩)", 37.5, "far", 37.5 * 10_000 / 15 / SITE.area),  # 1 亩 = 10000/15 m²
    ("计容建筑面积(hm²)", 2.5, "far", 25_000 / SITE.area),    # 1 hm² = 1 ha = 10,000 m²
    ("计容建筑面积(平方公里)", 0.025, "far", 25_000 / SITE.area),  # 1 km² = 1,000,000 m²
    ("建筑高度(mm)", 85_000, "height_parcel", 85.0),          # 85,000 mm = 85 m
    ("建筑高度(米)", 85, "height_parcel", 85.0),
    ("建筑高度(cm)", "8500", "height_parcel", 85.0),
    ("建筑高度(ft)", 300, "height_parcel", 300 * 0.3048),     # 1 ft = 0.3048 m: 91.44 m
    ("建筑高度（英尺）", "300", "height_parcel", 300 * 0.3048),
])
def test_a_header_unit_is_converted(adb, header, value, rid, expected):
    props = {"name": "B", header: value}
    if rid == "far":
        props["height"] = 30
    else:
        props["floors_above"] = 25
    r = _rule(_run(adb, collection(feature("site", SITE), feature("building", B, **props))),
              rid)
    assert r["measured"] == pytest.approx(expected, abs=1e-3)
    assert r["status"] == "fail"  # 2.5 > 2.0; 85 m > 80 m


@pytest.mark.parametrize("header, value", [
    ("建筑高度(层)", 30),      # storeys are no height
    ("建筑高度(F)", 30),
    ("计容建筑面积(m)", 2.5),  # a length is no area
    ("地上层数(m)", 30),       # a length is no floor count
    ("室外地坪标高(㎡)", 40),
])
def test_a_header_unit_that_does_not_fit_is_refused_naming_the_field(adb, header, value):
    props = {"name": "B", "height": 30, "floors_above": 10, header: value}
    if "层数" in header:
        props.pop("floors_above")
    if "高度" in header:
        props.pop("height")
    fc = collection(feature("site", SITE), feature("building", B, **props))
    with pytest.raises(InputError) as e:
        _run(adb, fc)
    msg = str(e.value)
    assert f"field {header!r}" in msg and "feature 2" in msg and "t, " in msg, msg


@pytest.mark.parametrize("header, value", [
    ("计容建筑面积(万)", 2.5),     # 2.5 万 m² read as 2.5 m² (FAR ≈ 0: a pass) before
    ("计容建筑面积(dm²)", 2.5),
    ("建筑高度(dm)", 540),
    ("建筑高度(yd)", 60),
])
def test_a_header_unit_the_reader_does_not_know_is_refused(header, value):
    """Brackets naming no unit field_units.yaml spells are never read as the attribute's
    own unit (the README: a header in any other unit is an input problem naming the field)."""
    fc = collection(feature("site", SITE), feature("building", B, name="B", floors_above=10,
                                                  **{header: value}))
    with pytest.raises(InputError) as e:
        build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    assert f"field {header!r}" in str(e.value) and "feature 2" in str(e.value), str(e.value)


def test_a_header_unit_with_a_unit_in_the_value_is_refused(adb):
    fc = collection(feature("site", SITE), feature("building", B, name="B", floors_above=25,
                                                  **{"建筑高度(mm)": "85000mm"}))
    with pytest.raises(InputError, match="建筑高度"):
        _run(adb, fc)


# --- 2. an empty height-zone layer --------------------------------------------------------

def test_an_empty_height_zone_layer_needs_review(jining_profile):
    with scratch_db("apzones", jining_profile, apply_profile=False) as d:
        approval_fixture.build(d.conninfo)
        with psycopg.connect(d.conninfo) as conn:
            conn.execute("DELETE FROM height_zones")
        res = _run(d, collection(feature("site", SITE),
                                 feature("building", B, floors_above=5, height=18),
                                 feature("green", box(10, 50, 90, 90))))
        r = _rule(res, "height_zones")
        assert r["status"] == "needs_review"
        assert any("no height-limit zones are loaded" in n for n in r["notes"]), r["notes"]
        assert res["summary"]["status"] == "needs_review"


def test_a_loaded_zone_layer_with_no_zone_over_the_buildings_is_not_applicable(adb):
    res = _run(adb, collection(feature("site", SITE),
                               feature("building", B, floors_above=5, height=18)))
    assert _rule(res, "height_zones")["status"] == "not_applicable"


# --- 3. green under a building ------------------------------------------------------------

def test_green_under_a_building_is_not_green(adb):
    green = box(0, 50, 100, 82)  # 3,200 m²
    b = box(60, 55, 80, 75)  # 400 m² standing on it
    expected = (green.area - b.area) / SITE.area
    assert expected == pytest.approx(0.28)
    r = _rule(_run(adb, collection(feature("site", SITE), feature("green", green),
                                   feature("building", b, floors_above=5, height=18))),
              "green_ratio")
    assert (r["status"], r["measured"]) == ("fail", pytest.approx(expected, abs=1e-6))


def test_the_project_summary_shows_the_green_the_ratio_counts(adb):
    """The report's 绿地面积 is the green the ratio counts (2,800 m²), the green drawn in the
    site (3,200 m²) beside it."""
    from layers.approval.report import render_html

    green, b = box(0, 50, 100, 82), box(60, 55, 80, 75)
    res = _run(adb, collection(feature("site", SITE), feature("green", green),
                               feature("building", b, floors_above=5, height=18)))
    p = res["project"]
    assert (p["green_area_m2"], p["green_drawn_m2"]) == (pytest.approx(2800),
                                                         pytest.approx(3200))
    html = render_html(res, None)
    assert "2,800" in html and "3,200" in html


# --- 4. a number shown beside its limit ---------------------------------------------------

def _shown(v):
    return f"{v:,.3f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


@pytest.mark.parametrize("rid, building, expect", [
    ("far", {"counted_area": 20_004.0, "height": 30}, "fail"),      # FAR 2.0004 > 2.0
    ("far", {"counted_area": 20_000.0, "height": 30}, "pass"),      # 2.0 exactly
    ("density", {"floors_above": 1, "height": 5}, "fail"),           # 0.40004 > 0.40
])
def test_a_failed_index_is_never_shown_at_its_limit(adb, rid, building, expect):
    g = box(59.996, 0, 100, 100) if rid == "density" else B  # 4,000.4 m²: 0.40004
    res = _run(adb, collection(feature("site", SITE), feature("building", g, **building)))
    r = _rule(res, rid)
    assert r["status"] == expect
    if expect == "fail":
        assert r["measured"] > r["required"], (r["measured"], r["required"])
    else:
        assert r["measured"] <= r["required"]
    page = render_html(res, None)
    row = page.split(f"<a href='#{rid}'>")[1].split("</tr>")[0]
    cells = row.split("<td>")
    shown_m, shown_r = cells[2].split("</td>")[0], cells[3].split("</td>")[0]
    assert (float(shown_m) > float(shown_r)) if expect == "fail" else \
        (float(shown_m) <= float(shown_r)), (shown_m, shown_r)


def test_a_failed_item_is_never_shown_at_its_limit(adb):
    """An item failed by 0.4 mm or 0.0004 of an index is not shown at its limit; a pass at
    the limit (80.0004 m is 80.000 m to the mm the height rules count) is not shown past it."""
    from layers.approval.config import load_config
    from layers.approval.result import Result

    res = Result(load_config(adb.profile).rules["far"])
    res.item("fail", "a", 2.0004, 2.0)
    res.item("fail", "b", 4.9996, 5.0)  # an at-least limit: a setback 0.4 mm short
    res.item("pass", "c", 2.0000000001, 2.0)
    (a, b, c) = res.items
    assert a["measured"] > a["required"] and b["measured"] < b["required"]
    assert c["measured"] <= c["required"]
    r = _rule(_run(adb, collection(feature("site", SITE),
                                   feature("building", B, floors_above=25, height=80.0004))),
              "height_parcel")
    assert (r["status"], r["measured"], r["required"]) == ("pass", 80.0, 80.0)


# --- 5. a building partly on no parcel ----------------------------------------------------

def test_height_of_a_building_partly_on_no_parcel_needs_review(adb):
    """Parcels cover y 0..100; the building x 172..192, y 80..130 has 20 of its 50 m on PB
    (60 m): 40 % covered, well under the 99 % the indices need."""
    b = box(172, 80, 192, 130)
    covered = b.intersection(PARCELS["PB"][0]).area / b.area
    assert covered == pytest.approx(0.4)
    res = _run(adb, collection(feature("site", box(150, 50, 220, 150)),
                               feature("building", b, name="X", floors_above=10, height=50)))
    hp = _rule(res, "height_parcel")
    assert hp["status"] == "needs_review", (hp["status"], hp["items"])
    assert "40.0%" in hp["items"][0]["note"], hp["items"]


def test_height_of_a_building_partly_on_no_parcel_already_too_tall_fails(adb):
    """The same building at 70 m: taller than PB's 60 m already, which the land without a
    parcel can only lower — a fail, not a review."""
    res = _run(adb, collection(feature("site", box(150, 50, 220, 150)),
                               feature("building", box(172, 80, 192, 130), name="X",
                                       floors_above=20, height=70)))
    hp = _rule(res, "height_parcel")
    assert (hp["status"], hp["measured"], hp["required"]) == ("fail", 70.0, 60.0), hp
    assert "40.0%" in hp["items"][0]["note"], hp["items"]


def test_height_of_a_building_wholly_on_parcels_is_checked(adb):
    b = box(90, 10, 110, 40)  # across PA (80 m) and PB (60 m): the strictest, 60 m
    r = _rule(_run(adb, collection(feature("site", box(0, 0, 200, 100)),
                                   feature("building", b, floors_above=20, height=61))),
              "height_parcel")
    assert (r["status"], r["measured"], r["required"]) == ("fail", 61.0, 60.0)


def test_a_dxf_label_key_with_a_unit_is_converted():
    """A DXF label 建筑高度(mm)=85000 inside the outline is 85 m."""
    from shapely.geometry import Point

    from tests.approval_fixture import to_storage
    recs = [{"layer": "用地红线", "row": 1, "properties": {}, "geometry": to_storage(SITE)},
            {"layer": "建筑", "row": 2, "properties": {}, "geometry": to_storage(B)},
            {"layer": "建筑", "row": 3, "properties": {"Text": "名称=1号楼;建筑高度(mm)=85000;18F"},
             "geometry": to_storage(Point(80, 25))}]
    p = build_project(recs, source="t.dxf", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)
    assert (p.buildings[0].height, p.buildings[0].floors_above) == (85.0, 18)
    recs[2]["properties"]["Text"] = "建筑高度(层)=30"
    with pytest.raises(InputError, match="建筑高度"):
        build_project(recs, source="t.dxf", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)


def test_a_city_field_units_without_a_new_spelling_still_converts_it(jining_profile, tmp_path):
    """A city's field_units.yaml copied before 万㎡ (or km²) was spelled and converted: the
    platform's spellings and conversions are read under the city's, so 计容建筑面积(万㎡) 2.5
    is 25,000 m², never 2.5 m², and 计容建筑面积(平方公里) 0.025 is 25,000 m², not refused."""
    from dataclasses import replace

    import yaml

    from cim.profile import DICTIONARY_DIR
    from tests.approval_fixture import to_storage
    units = yaml.safe_load((DICTIONARY_DIR / "field_units.yaml").read_text(encoding="utf-8"))
    del units["spellings"]["wan_m2"]
    del units["spellings"]["km2"], units["conversions"]["m2"]["km2"]
    old = tmp_path / "field_units.yaml"
    old.write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    prof = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "field_units": old})
    recs = [{"layer": "用地红线", "row": 1, "properties": {}, "geometry": to_storage(SITE)},
            {"layer": "建筑", "row": 2, "properties": {"计容建筑面积(万㎡)": 2.5, "height": 30},
             "geometry": to_storage(B)}]
    p = build_project(recs, source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID,
                      profile=prof)
    assert p.buildings[0].counted_area == pytest.approx(25_000)
    recs[1]["properties"] = {"计容建筑面积(平方公里)": 0.025, "height": 30}
    p = build_project(recs, source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID,
                      profile=prof)
    assert p.buildings[0].counted_area == pytest.approx(25_000)


@pytest.mark.parametrize("props, ok", [
    ({"层数": 20, "地上层数": 18}, False),  # the first one read before: 20 floors, silently
    ({"建筑高度": 54, "高度": 3}, False),
    ({"层数": 18, "地上层数": "18层"}, True),  # the same value twice is fine
    ({"建筑高度(m)": 54, "高度(mm)": 54000}, True),  # the same height in two units
])
def test_two_fields_giving_one_attribute_must_agree(props, ok):
    fc = collection(feature("site", SITE), feature("building", B, name="B", **props))
    args = dict(source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)
    if ok:
        b = build_project(records_from_geojson(fc), **args).buildings[0]
        assert (b.floors_above, b.height) in ((18, None), (None, 54.0))
        return
    with pytest.raises(InputError) as e:
        build_project(records_from_geojson(fc), **args)
    first, second = list(props)
    assert f"{first!r}" in str(e.value) and f"field {second!r}" in str(e.value), str(e.value)
