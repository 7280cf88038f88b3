"""The parcel indices of a site on overlapping parcels (two current parcels drawn over the same
land, e.g. a plan and its revision loaded as two datasets): the share of the site the parcels
cover counts the overlap once. Expected shares are computed here with shapely."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import box

from layers.approval.check import check
from layers.approval.config import load_config
from layers.approval.project import build_project, records_from_geojson
from tests.approval_fixture import SRID, collection, feature, wkb
from tests.conftest import scratch_db

SOUTH = box(0, 0, 100, 50)  # both parcels: the south half of the site only
SITE = box(0, 0, 100, 100)
PARCELS = [  # code, geometry, max_far, min_green_ratio
    ("P1", SOUTH, 2.0, 0.3), ("P2", SOUTH, 2.0, 0.3),
    # a plan and its revision over the same land: FAR 3.0 / 2.0, green 0.30 / 0.35
    ("P3", box(1000, 0, 1100, 100), 3.0, 0.30), ("P4", box(1000, 0, 1100, 100), 2.0, 0.35),
    # half overlapping: P6 (FAR 2.0) over the east half of the site and beyond
    ("P5", box(2000, 0, 2100, 100), 3.0, 0.3), ("P6", box(2050, 0, 2150, 100), 2.0, 0.3),
]


@pytest.fixture(scope="module")
def odb(jining_profile):
    with scratch_db("apoverlap", jining_profile, apply_profile=False) as d:
        with psycopg.connect(d.conninfo) as conn:
            for code, g, far, green in PARCELS:
                conn.execute(
                    "INSERT INTO planning_parcels (code, parcel_code, land_use_code, "
                    "land_use_name, max_far, max_density, min_green_ratio, max_height, geom) "
                    "VALUES (%s, %s, '0701', '城镇住宅用地', %s, 0.4, %s, 80, "
                    "ST_Multi(ST_GeomFromWKB(%s, 4527)))", (code, code, far, green, wkb(g)))
        yield d


def _run(db, site, counted, green=None):
    fc = collection(feature("site", site),
                    feature("building", box(site.bounds[0] + 10, 10, site.bounds[0] + 30, 30),
                            name="B", counted_area=counted, floors_above=3, height=10),
                    *([feature("green", green)] if green is not None else []))
    p = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    return {r["id"]: r for r in check(db.conninfo, p, db.profile)[0]["results"]}


def test_overlapping_parcels_covering_half_the_site_leave_its_indices_to_review(odb):
    cfg = load_config(odb.profile)
    cover = SOUTH.intersection(SITE).area / SITE.area
    assert cover == 0.5 < cfg.parcel_cover_min  # each parcel's share summed would be 1.0
    res = _run(odb, SITE, 600.0)
    for rid in ("far", "density", "green_ratio"):
        r = res[rid]
        assert r["status"] == "needs_review", (rid, r["status"], r["notes"])
        assert any("50.0%" in n for n in r["notes"]), r["notes"]

