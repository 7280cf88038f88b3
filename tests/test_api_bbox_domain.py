"""A bbox far larger than the storage CRS's area (a whole-world box, as clients send when
zoomed out) selects what it covers: projected whole into the Gauss-Krüger zone it was no
rectangle around the data any more, and selected nothing. Expected: every current feature,
counted in SQL; the survey file's count beside it."""

from __future__ import annotations

import csv
import io

import pytest
import requests

ITEMS = "/collections/buildings/items"
E4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"


def _current(db) -> int:
    return db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")


@pytest.mark.parametrize("bbox,crs", [("-180,-90,180,90", None), ("-90,-180,90,180", E4490),
                                      ("-180,-90,-100,180,90,100", None),
                                      ("0,-89,179.9,89", None)])
def test_whole_world_bbox_items(api, db, bbox, crs):
    params = {"f": "json", "bbox": bbox, "skipGeometry": "true", "limit": 10000}
    if crs:
        params["bbox-crs"] = crs
    r = requests.get(api + ITEMS, params=params, timeout=120)
    assert r.status_code == 200, r.text[:300]
    fc = r.json()
    n = _current(db)
    assert n == db.sample_report.loaded > 1000
    assert (fc["numberMatched"], fc["numberReturned"]) == (n, n)


def test_bbox_beyond_the_storage_area_selects_nothing(api):
    r = requests.get(api + ITEMS, params={"f": "json", "bbox": "-10,-10,10,10"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert (r.json()["numberMatched"], r.json()["features"]) == (0, [])


def test_whole_world_bbox_pygeoapi_path(api, db):
    """The provider's bbox (pygeoapi's pages: CSV here) cuts the same way."""
    r = requests.get(api + ITEMS, params={"f": "csv", "bbox": "-180,-90,180,90",
                                          "limit": 10000}, timeout=120)
    assert r.status_code == 200, r.text[:300]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == _current(db)


def test_whole_world_cql2_literal(api, db):
    r = requests.get(api + ITEMS, params={
        "f": "json", "skipGeometry": "true", "limit": 1,
        "filter": "S_INTERSECTS(geometry, POLYGON((-180 -90, 180 -90, 180 90, -180 90, "
                  "-180 -90)))"}, timeout=120)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["numberMatched"] == _current(db)
