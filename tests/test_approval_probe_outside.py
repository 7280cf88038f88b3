"""A building drawn beyond the site's red line fails inside_site, and still stands over what
lies out there: the check read the pipes and height zones around the site only, so a
building over the DN300 water main (tests/approval_fixture.py, x = 61.15) outside the site
passed the pipe clearance ("no pipe within reach") and a 46 m one in the 45 m airport zone
(x 0..50) outside the site had no zone over it. Expected values from the fixture's drawn
geometry with shapely."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, box

from layers.approval.check import check
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import PIPE_X, SRID, ZONES, collection, feature

adb = approval_fixture.adb

SITE = box(70, 0, 100, 100)           # 8.85 m east of the main: beyond its 5.5 m reach
BUILDING = box(40, 10, 80, 40)        # 30 m of it west of the site, over the main and the zone


def _results(adb) -> dict:
    fc = collection(feature("site", SITE),
                    feature("building", BUILDING, name="1号楼", floors_above=15, height=46))
    p = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    return {r["id"]: r for r in check(adb.conninfo, p, adb.profile)[0]["results"]}


def test_a_building_beyond_the_red_line_is_checked_against_the_pipe_under_it(adb):
    r = _results(adb)
    assert r["inside_site"]["status"] == "fail"
    assert r["inside_site"]["measured"] == pytest.approx(BUILDING.difference(SITE).area)
    pipe = LineString([(PIPE_X, 0), (PIPE_X, 100)])
    # over it: 0 m (it was 0 m less half the DN300, a clearance of −0.15 m)
    expected = max(0.0, BUILDING.distance(pipe) - 300 / 2000)
    assert BUILDING.intersects(pipe) and expected == 0.0  # premise
    c = r["pipe_clearance"]
    assert (c["status"], c["measured"], c["required"]) == ("fail", expected, 3.0)
    assert c["items"][0]["pipe"] == "W1"
    # the map shows where the main runs under it, not a zero-length line
    (f,) = c["geometry"]["features"]
    assert f["geometry"]["type"] == "LineString"
    ys = [xy[1] for xy in f["geometry"]["coordinates"]]
    assert max(ys) - min(ys) > 0.0002  # ~30 m of latitude: y 10..40 under the building


def test_a_building_beyond_the_red_line_is_held_to_the_height_zone_it_stands_in(adb):
    zone, _, limit = ZONES["Z-AIR"]
    assert BUILDING.intersection(zone).area > 0 and not SITE.intersects(zone)
    h = _results(adb)["height_zones"]
    assert (h["status"], h["measured"], h["required"]) == ("fail", 46.0, limit)
