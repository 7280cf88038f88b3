"""The approval rules tell a control line's type by its standard code (line_type_code: HX
LVX LX ZX HUX), not by the name a city's control_lines.csv gives it: a city that named its
road red line 规划道路红线 and its blue line 河道蓝线 had every road and blue-line setback
"not applicable" ("no 道路红线 within 100 m", which was false) and no building within a blue
line. The planning situation of tests/approval_fixture.py with those names; the expected
values are its own, by construction (a building 2 m from the road, one inside the blue line)."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import box

from layers.approval.check import check
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import SRID, collection, feature

adb = approval_fixture.adb


@pytest.fixture(scope="module")
def renamed(adb):
    with psycopg.connect(adb.conninfo) as conn:
        conn.execute("UPDATE control_lines SET line_type = '规划道路红线' WHERE code = 'L-ROAD'")
        conn.execute("UPDATE control_lines SET line_type = '河道蓝线' WHERE code = 'L-BLUE'")
    return adb


def _rule(db, fc, rid):
    p = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    return next(r for r in check(db.conninfo, p, db.profile)[0]["results"] if r["id"] == rid)


def test_road_setback_of_a_renamed_red_line(renamed):
    a = box(10, 2, 30, 30)  # 2 m north of the road's band (y 0)
    r = _rule(renamed, collection(feature("site", box(0, 0, 100, 100)),
                                  feature("building", a, name="A", floors_above=10, height=30)),
              "setback_road")
    assert (r["status"], r["measured"], r["required"]) == ("fail", 2.0, 5.0)


def test_a_building_within_a_renamed_blue_line(renamed):
    b = box(225, 10, 240, 30)
    r = _rule(renamed, collection(feature("site", box(205, 0, 260, 100)),
                                  feature("building", b, floors_above=2, height=8)),
              "overlap_blue")
    assert r["status"] == "fail"
    assert r["measured"] == pytest.approx(b.intersection(box(230, 0, 250, 100)).area)
