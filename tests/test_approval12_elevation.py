"""室外地坪标高 0 against a zone limiting the elevation of the top (限制高程, an airport's
clearance surface): 0 is what a Shapefile written by ArcGIS holds for a number left empty,
and read as the ground's elevation it let a 90 m building on ground some 40 m above the datum
pass a 120 m limit (top 90 m). A pass that rests on a ground elevation of exactly 0 needs
review now (a coastal site may lie at 0: the staff confirm it); a fail stays a fail (the
top is higher still on higher ground). A zone drawn here into the module's own fixture
database; expected tops by arithmetic."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import box

from layers.approval.check import check
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import SRID, collection, feature, wkb

adb = approval_fixture.adb

ZONE, LIMIT = box(300, 0, 400, 100), 120.0
SITE, B = box(300, 0, 400, 100), box(310, 10, 330, 30)


@pytest.fixture(scope="module")
def zdb(adb):
    with psycopg.connect(adb.conninfo) as conn:
        conn.execute("INSERT INTO height_zones (code, zone_type, name, max_elevation, geom) "
                     "VALUES ('Z-ELEV', '机场净空', 'Z-ELEV', %s, "
                     "ST_Multi(ST_GeomFromWKB(%s, 4527)))", (LIMIT, wkb(ZONE)))
    return adb


def _zones(db, height: float, ground: float) -> dict:
    fc = collection(feature("site", SITE), feature("building", B, name="1号楼",
                                                   floors_above=int(height // 3),
                                                   height=height, 室外地坪标高=ground))
    p = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    res = check(db.conninfo, p, db.profile)[0]
    return next(r for r in res["results"] if r["id"] == "height_zones")


def test_a_pass_on_a_ground_elevation_of_0_needs_review(zdb):
    r = _zones(zdb, 90.0, 0.0)
    assert 0.0 + 90.0 <= LIMIT  # premise: it passed on the 0
    assert r["status"] == "needs_review", r
    (item,) = [i for i in r["items"] if "Z-ELEV" in i["zone"]]
    assert item["status"] == "needs_review" and "室外地坪标高" in item["note"]


@pytest.mark.parametrize("height, ground, status", [(90.0, 20.0, "pass"),
                                                    (90.0, 40.0, "fail"),
                                                    (130.0, 0.0, "fail")])
def test_other_grounds_are_checked_as_given(zdb, height, ground, status):
    r = _zones(zdb, height, ground)
    assert status == ("fail" if ground + height > LIMIT else "pass")  # premise
    assert (r["status"], r["measured"], r["required"]) == (status, ground + height, LIMIT)
