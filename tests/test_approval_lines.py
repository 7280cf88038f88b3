"""The approval check's place rules against control lines as they are delivered: road red
lines given as centre lines without width, area lines (绿线 蓝线 紫线 黄线) given as closed or
open lines, and buildings only partly on a planning parcel. Every expected number is computed
here with shapely from the geometry drawn here, never by the check.

The hand-drawn situation of tests/approval_fixture.py (x 0..250) plus, 1 km apart along x
(search_m is 100 m), one region per situation: a parcel box(x0, 0, x0 + 100, 100) with the
fixture's setbacks (road 5, site 3, blue 10) and the lines of the situation.
"""

from __future__ import annotations

import psycopg
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Polygon, box

from layers.approval.check import check
from layers.approval.config import load_config
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import SETBACKS, SRID, collection, feature, wkb

ROAD_REQ, SITE_REQ, BLUE_REQ = (SETBACKS["setback_road_m"], SETBACKS["setback_site_m"],
                                SETBACKS["setback_blue_m"])

# region x0 -> lines (code, geometry, line type, type code, width)
REGIONS = {
    # a road red line delivered as its centre line without 红线宽度 (width_missing), 10 m south
    1000: [("R-NOWIDTH", LineString([(950, -10), (1150, -10)]), "道路红线", "HX", None)],
    # the same 2 m south: the centre line itself is closer than the setback
    2000: [("R-NOWIDTH-2", LineString([(1950, -2), (2150, -2)]), "道路红线", "HX", None)],
    # closed rings (CAD polylines) of the area types around box(x0+40, 40, x0+90, 90)
    3000: [("G-RING", box(3040, 40, 3090, 90).exterior, "绿线", "LVX", None)],
    4000: [("B-RING", box(4040, 40, 4090, 90).exterior, "蓝线", "LX", None)],
    5000: [("Z-RING", box(5040, 40, 5090, 90).exterior, "紫线", "ZX", None)],
    6000: [("Y-RING", box(6040, 40, 6090, 90).exterior, "黄线", "HUX", None)],
    # an open 绿线 (the edge of a green strip) along x = x0 + 60
    7000: [("G-OPEN", LineString([(7060, -10), (7060, 110)]), "绿线", "LVX", None)],
    # a road red line polygon (the fixture's kind) for the partly-covered building
    8000: [("R-POLY", box(8000, -20, 8100, 0), "道路红线", "HX", None)],
    # a road with its width south of the site, and a centre line without width 50 m north of
    # it (within search_m of the site)
    9000: [("R-POLY-9", box(9000, -20, 9100, 0), "道路红线", "HX", None),
           ("R-FAR-NOWIDTH", LineString([(8950, 150), (9150, 150)]), "道路红线", "HX", None)],
    # the ring of box(x0+40, 40, x0+90, 90) exported in open pieces: four features (sides),
    # one end 0.4 mm off its neighbour's (within line_join_tolerance_m)
    10000: [("G-S", LineString([(10040, 40), (10090, 40)]), "绿线", "LVX", None),
            ("G-E", LineString([(10090, 40), (10090, 90)]), "绿线", "LVX", None),
            ("G-N", LineString([(10090, 90), (10040, 90.0004)]), "绿线", "LVX", None),
            ("G-W", LineString([(10040, 90), (10040, 40)]), "绿线", "LVX", None)],
    # one feature, a MultiLineString of two open halves
    11000: [("B-HALVES", MultiLineString([[(11040, 40), (11090, 40), (11090, 90)],
                                          [(11040, 40), (11040, 90), (11090, 90)]]),
             "蓝线", "LX", None)],
    # a ring whose northern piece lies beyond search_m (200 m from the site)
    12000: [("Z-NEAR", LineString([(12040, 300), (12040, 40), (12090, 40), (12090, 300)]),
             "紫线", "ZX", None),
            ("Z-FAR", LineString([(12090, 300), (12090, 400), (12040, 400), (12040, 300)]),
             "紫线", "ZX", None)],
    # two halves 5 cm apart at one end: beyond the tolerance, they stay open lines
    13000: [("Y-A", LineString([(13040, 40), (13090, 40), (13090, 90)]), "黄线", "HUX", None),
            ("Y-B", LineString([(13040, 40), (13040, 90), (13089.95, 90)]), "黄线", "HUX",
             None)],
}
# existing buildings (region 14000 has no lines: a parcel only)
NEIGHBOURS = {"E-14000": box(14000, 40, 14060, 90)}
REGIONS[14000] = []
# regions whose parcel covers only y 0..50 (the rest of the site is unplanned land)
HALF_PARCEL = {8000}


@pytest.fixture(scope="module")
def ldb(adb):
    with psycopg.connect(adb.conninfo) as conn:
        for x0, lines in REGIONS.items():
            g = box(x0, 0, x0 + 100, 50 if x0 in HALF_PARCEL else 100)
            conn.execute(
                "INSERT INTO planning_parcels (code, parcel_code, land_use_code, "
                "land_use_name, max_far, max_density, min_green_ratio, max_height, "
                "setback_road_m, setback_site_m, setback_blue_m, geom) VALUES (%s, %s, "
                "'0701', '城镇住宅用地', 2.0, 0.4, 0.3, 80, %s, %s, %s, "
                "ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                (f"P{x0}", f"P{x0}", ROAD_REQ, SITE_REQ, BLUE_REQ, wkb(g)))
            for code, lg, lt, ltc, w in lines:
                conn.execute("INSERT INTO control_lines (code, line_type, line_type_code, "
                             "name, width_m, geom) VALUES (%s, %s, %s, %s, %s, "
                             "ST_GeomFromWKB(%s, 4527))", (code, lt, ltc, code, w, wkb(lg)))
        for code, g in NEIGHBOURS.items():
            conn.execute("INSERT INTO buildings (code, height, geom) VALUES "
                         "(%s, 20, ST_Multi(ST_GeomFromWKB(%s, 4527)))", (code, wkb(g)))
        conn.execute("ANALYZE")
    return adb


adb = approval_fixture.adb  # the hand-drawn planning situation, a database per module


def _run(db, x0, *buildings):
    fc = collection(feature("site", box(x0, 0, x0 + 100, 100)),
                    *[feature("building", b, name=n, floors_above=3, height=10)
                      for n, b in buildings])
    p = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    return check(db.conninfo, p, db.profile)[0]


def _rule(result, rid):
    return next(r for r in result["results"] if r["id"] == rid)


def _item(r, what):
    return next(i for i in r["items"] if i["what"] == what)


# -- 1. a road red line given as a centre line without width ------------------------------

def test_setback_from_a_centre_line_without_width_needs_review(ldb):
    b = box(1020, 1, 1040, 20)
    centre = REGIONS[1000][0][1]
    assert centre.distance(b) == pytest.approx(11.0)  # > 5 m, but the road's edge is unknown
    r = _rule(_run(ldb, 1000, ("B", b)), "setback_road")
    assert r["status"] == "needs_review", (r["status"], r["measured"], r["items"])
    it = _item(r, "B")
    assert it["status"] == "needs_review" and it["required"] == ROAD_REQ
    assert "width" in it["note"] and "R-NOWIDTH" in it["note"]


def test_a_centre_line_already_closer_than_the_setback_fails(ldb):
    # the edge of the road is no farther from the building than its centre line
    b = box(2020, 1, 2040, 20)
    d = REGIONS[2000][0][1].distance(b)
    assert d == pytest.approx(3.0) and d < ROAD_REQ
    r = _rule(_run(ldb, 2000, ("B", b)), "setback_road")
    assert (r["status"], r["measured"], r["required"]) == ("fail", d, ROAD_REQ)


def test_a_far_centre_line_without_width_does_not_decide(ldb):
    """A centre line without width farther from a building than the setback plus half the
    widest red line (the rules file's centre_line_max_width_m) leaves it to the other lines;
    a nearer one still needs review."""
    half = load_config(ldb.profile).rules["setback_road"].params["centre_line_max_width_m"] / 2
    poly, centre = REGIONS[9000][0][1], REGIONS[9000][1][1]
    south = box(9020, 10, 9040, 30)  # 10 m from the road's edge, 120 m from the centre line
    north = box(9060, 60, 9080, 99)  # 51 m from the centre line, 60 m from the road's edge
    assert (poly.distance(south), centre.distance(south)) == pytest.approx((10.0, 120.0))
    assert (centre.distance(north), poly.distance(north)) == pytest.approx((51.0, 60.0))
    assert centre.distance(south) >= ROAD_REQ + half > centre.distance(north) > ROAD_REQ
    r = _rule(_run(ldb, 9000, ("south", south), ("north", north)), "setback_road")
    s, n = _item(r, "south"), _item(r, "north")
    assert (s["status"], s["required"]) == ("pass", ROAD_REQ), s
    assert s["measured"] == pytest.approx(poly.distance(south))
    assert n["status"] == "needs_review" and "R-FAR-NOWIDTH" in n["note"], n
    assert r["status"] == "needs_review"


def test_a_far_centre_line_without_width_nearest_as_drawn_passes(ldb):
    # the nearest line as drawn is the centre line, 56 m away: beyond 5 m + half the widest
    # red line, the road's edge is at least 6 m away whatever its width
    half = load_config(ldb.profile).rules["setback_road"].params["centre_line_max_width_m"] / 2
    b = box(9060, 80, 9080, 94)
    d = REGIONS[9000][1][1].distance(b)
    assert d == pytest.approx(56.0) and d >= ROAD_REQ + half
    assert REGIONS[9000][0][1].distance(b) == 80.0
    r = _rule(_run(ldb, 9000, ("B", b)), "setback_road")
    assert (r["status"], r["required"]) == ("pass", ROAD_REQ), r["items"]
    assert r["measured"] == pytest.approx(d)
    assert "R-FAR-NOWIDTH" == _item(r, "B")["line"]


# -- 2. a closed line of an area type is the area it encloses -----------------------------

@pytest.mark.parametrize("x0, rid", [(3000, "overlap_green"), (4000, "overlap_blue"),
                                     (5000, "overlap_purple"), (6000, "overlap_yellow")])
def test_a_closed_area_line_encloses_its_area(ldb, x0, rid):
    ring = REGIONS[x0][0][1]
    area = Polygon(ring)
    inside = box(x0 + 50, 50, x0 + 70, 70)   # wholly inside the ring, touching nothing
    across = box(x0 + 80, 50, x0 + 100, 60)  # half inside
    assert inside.intersection(ring).is_empty
    r = _rule(_run(ldb, x0, ("in", inside), ("across", across)), rid)
    want_in, want_across = inside.intersection(area).area, across.intersection(area).area
    assert (want_in, want_across) == (400.0, 100.0)
    assert r["status"] == "fail", (r["status"], r["items"])
    assert r["measured"] == pytest.approx(want_in + want_across)
    assert _item(r, "in")["measured"] == pytest.approx(want_in)
    assert _item(r, "across")["measured"] == pytest.approx(want_across)


def test_a_building_inside_a_closed_blue_line_fails_its_setback(ldb):
    ring = REGIONS[4000][0][1]
    inside = box(4055, 55, 4075, 75)  # 15 m from the ring (> 10), but in the water area
    assert ring.distance(inside) == pytest.approx(15.0) and 15.0 > BLUE_REQ
    r = _rule(_run(ldb, 4000, ("in", inside)), "setback_blue")
    assert (r["status"], r["measured"]) == ("fail", Polygon(ring).distance(inside))
    assert r["measured"] == 0.0


def test_a_building_outside_a_closed_area_line_passes(ldb):
    out = box(3010, 10, 3030, 30)
    r = _rule(_run(ldb, 3000, ("out", out)), "overlap_green")
    assert (r["status"], r["measured"]) == ("pass", 0.0)


@pytest.mark.parametrize("x0, rid", [(10000, "overlap_green"), (11000, "overlap_blue"),
                                     (12000, "overlap_purple")])
def test_open_pieces_that_close_a_ring_enclose_its_area(ldb, x0, rid):
    """Pieces whose ends meet (within line_join_tolerance_m) closing a ring are its area:
    several features, one feature's parts, a ring partly beyond search_m."""
    tol = load_config(ldb.profile).line_join_tolerance_m
    ps = [lg for _, lg, *_ in REGIONS[x0]]
    ring = Polygon([(x0 + 40, 40), (x0 + 90, 40), (x0 + 90, 90 if x0 != 12000 else 400),
                    (x0 + 40, 90 if x0 != 12000 else 400)])
    assert not any(q.is_closed for p in ps for q in getattr(p, "geoms", [p]))  # all open
    assert all(ring.exterior.buffer(tol).covers(p) for p in ps)  # together they draw it
    inside, across = box(x0 + 50, 50, x0 + 70, 70), box(x0 + 80, 50, x0 + 100, 60)
    assert all(inside.distance(p) > 1 for p in ps)  # no piece touches it: as lines, a pass
    r = _rule(_run(ldb, x0, ("in", inside), ("across", across)), rid)
    assert r["status"] == "fail", (r["status"], r["items"])
    assert _item(r, "in")["measured"] == pytest.approx(inside.intersection(ring).area)
    assert _item(r, "across")["measured"] == pytest.approx(across.intersection(ring).area,
                                                           abs=0.01)


def test_a_building_inside_a_blue_ring_of_pieces_fails_its_setback(ldb):
    inside = box(11055, 55, 11075, 75)
    assert REGIONS[11000][0][1].distance(inside) == 15.0 > BLUE_REQ
    r = _rule(_run(ldb, 11000, ("in", inside)), "setback_blue")
    assert (r["status"], r["measured"]) == ("fail", 0.0), r["items"]


def test_pieces_farther_apart_than_the_tolerance_stay_lines(ldb):
    tol = load_config(ldb.profile).line_join_tolerance_m
    a, b = REGIONS[13000][0][1], REGIONS[13000][1][1]
    assert shapely.Point(a.coords[-1]).distance(shapely.Point(b.coords[-1])) > tol
    inside = box(13050, 50, 13070, 70)
    r = _rule(_run(ldb, 13000, ("in", inside)), "overlap_yellow")
    assert (r["status"], r["measured"]) == ("pass", 0.0), r["items"]


# -- 3. an open line: crossing it is within, touching it is not ----------------------------

@pytest.mark.parametrize("east, status", [
    (7060.0, "pass"),     # the east wall on the line
    (7060.0004, "pass"),  # 0.4 mm across: at millimetres, on the line
    (7060.002, "fail"),   # 2 mm across
    (7080.0, "fail"),     # 20 m across
])
def test_touching_an_open_green_line_is_no_intrusion(ldb, east, status):
    line = REGIONS[7000][0][1]
    b = box(7040, 20, east, 40)
    r = _rule(_run(ldb, 7000, ("B", b)), "overlap_green")
    assert r["status"] == status, (r["status"], r["measured"], r["items"])
    want = line.intersection(b).length if status == "fail" else 0.0
    assert (status == "pass") or want == pytest.approx(20.0)
    assert r["measured"] == pytest.approx(want)


# -- 4. a building partly on land with no parcel ------------------------------------------

def test_setbacks_of_a_building_partly_on_no_parcel_need_review(ldb):
    cfg = load_config(ldb.profile)
    parcel = box(8000, 0, 8100, 50)
    b = box(8020, 30, 8040, 80)  # 40 % on the parcel
    cover = b.intersection(parcel).area / b.area
    assert cover == pytest.approx(0.4) and cover < cfg.parcel_cover_min
    res = _run(ldb, 8000, ("B", b))
    for rid in ("setback_road", "setback_site"):
        r = _rule(res, rid)
        assert r["status"] == "needs_review", (rid, r["status"], r["items"])
        assert "40.0%" in _item(r, "B")["note"], _item(r, "B")["note"]


def test_setbacks_of_a_building_covered_enough_are_checked(ldb):
    cfg = load_config(ldb.profile)
    parcel = box(8000, 0, 8100, 50)
    b = box(8020, 30, 8040, 50.1)  # 99.5 % on the parcel
    assert b.intersection(parcel).area / b.area >= cfg.parcel_cover_min
    res = _run(ldb, 8000, ("B", b))
    road = _rule(res, "setback_road")
    assert (road["status"], road["measured"], road["required"]) == ("pass", 30.0, ROAD_REQ)


def test_a_building_partly_on_no_parcel_already_short_of_its_parcels_setback_fails(ldb):
    # the unplanned part can only add to the strictest setback: 2 m < 5 m fails whatever it is
    parcel, road = box(8000, 0, 8100, 50), REGIONS[8000][0][1]
    b = box(8020, 2, 8040, 80)
    assert b.intersection(parcel).area / b.area == pytest.approx(48 / 78)
    d = road.distance(b)
    assert d == 2.0 and d < ROAD_REQ
    r = _rule(_run(ldb, 8000, ("B", b)), "setback_road")
    assert (r["status"], r["measured"], r["required"]) == ("fail", d, ROAD_REQ)
    assert "61.5%" in _item(r, "B")["note"]


def test_a_city_rules_copy_without_the_widest_red_line_takes_the_platforms(tmp_path):
    import yaml

    from cim.profile import DICTIONARY_DIR

    raw = yaml.safe_load((DICTIONARY_DIR / "approval_rules.yaml").read_text(encoding="utf-8"))
    want = raw["rules"]["setback_road"].pop("centre_line_max_width_m")
    old = tmp_path / "rules.yaml"
    old.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_config(None, old).rules["setback_road"].params["centre_line_max_width_m"] == want
    raw["rules"]["setback_road"]["centre_line_max_width_m"] = "wide"
    old.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    from cim.errors import ConfigError

    with pytest.raises(ConfigError, match="centre_line_max_width_m"):
        load_config(None, old)


@pytest.mark.parametrize("into, status", [(0.0, "pass"), (0.0004, "pass"), (0.002, "fail")])
def test_a_wall_against_an_area_line_or_a_building_is_no_overlap_at_millimetres(ldb, into,
                                                                                status):
    """A wall drawn 0.4 mm into a closed 绿线 area (along 40 m: 0.016 m²) or an existing
    building (along 30 m: 0.012 m²) is on its edge at millimetres — above the 0.01 m² area
    tolerance, a fail before; 2 mm in is an overlap."""
    ring = Polygon(REGIONS[3000][0][1])
    b = box(3010, 45, 3040 + into, 85)
    want = b.intersection(ring).area
    assert want == pytest.approx(40 * into)
    r = _rule(_run(ldb, 3000, ("B", b)), "overlap_green")
    assert (r["status"], r["measured"]) == (status, pytest.approx(want if status == "fail"
                                                                  else 0.0))
    e = NEIGHBOURS["E-14000"]
    b = box(14060 - into, 50, 14080, 80)
    want = b.intersection(e).area
    assert want == pytest.approx(30 * into)
    r = _rule(_run(ldb, 14000, ("B", b)), "existing_buildings")
    assert (r["status"], r["measured"]) == (status, pytest.approx(want if status == "fail"
                                                                  else 0.0))
