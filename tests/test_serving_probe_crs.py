"""A CRS by another of its names, in every format (review 9). ``crs``/``bbox-crs`` took CRS84's
other names (OGC:CRS84, its URN) on the GeoJSON path only: pygeoapi's HTML, CSV and JSON-LD
pages refused them (400), and an EPSG CRS was refused by its CURIE or URN on every path
(``crs=EPSG:4527``), though ``filter-crs`` takes them. Expected features come from SQL on the
session database (PostGIS's own box, densified and projected), never from the server."""

from __future__ import annotations

import csv
import io
import re

import pytest
import requests

from tests.test_api13_errors import said

EPSG4527 = "http://www.opengis.net/def/crs/EPSG/0/4527"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
LON0, LAT0, LON1, LAT1 = 116.60, 35.34, 116.62, 35.36


def _codes(r: requests.Response, fmt: str) -> set[str]:
    assert r.status_code == 200, r.text[:300]
    if fmt == "json":
        return {f["id"] for f in r.json()["features"]}
    if fmt == "jsonld":
        return {f["@id"].rsplit("/", 1)[1] for f in r.json()["features"]}
    if fmt == "csv":
        return {row["code"] for row in csv.DictReader(io.StringIO(r.content.decode()))}
    body = r.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    return set(re.findall(r'<a href="[^"]*/items/([^"]+)" title=', body))


@pytest.mark.parametrize("fmt", ["json", "html", "csv", "jsonld"])
@pytest.mark.parametrize("name", ["EPSG:4490", "urn:ogc:def:crs:EPSG::4490", "[EPSG:4490]",
                                  "https://www.opengis.net/def/crs/EPSG/0/4490", EPSG4490])
def test_a_lat_lon_bbox_by_any_name_of_its_crs(api, db, fmt, name):
    expected = {c for c, in db.rows(
        "SELECT code FROM buildings WHERE valid_to IS NULL AND ST_Intersects(geom, "
        "ST_Transform(ST_Segmentize(ST_MakeEnvelope(%s, %s, %s, %s, 4490), 0.0001), 4527))",
        (LON0, LAT0, LON1, LAT1))}
    assert 10 < len(expected) < 1000
    r = requests.get(f"{api}/collections/buildings/items", timeout=60, params={
        "f": fmt, "limit": 1000, "bbox-crs": name,
        "bbox": f"{LAT0},{LON0},{LAT1},{LON1}"})  # EPSG:4490: latitude first
    assert _codes(r, fmt) == expected


@pytest.mark.parametrize("fmt", ["json", "html", "csv", "jsonld"])
@pytest.mark.parametrize("name", ["OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"])
def test_crs84_by_another_name_in_every_format(api, db, fmt, name):
    n = db.scalar("SELECT count(*) FROM sensors WHERE valid_to IS NULL")
    r = requests.get(f"{api}/collections/sensors/items", timeout=60, params={
        "f": fmt, "limit": n, "crs": name, "bbox-crs": name,
        "bbox": "115,34,118,37"})
    assert len(_codes(r, fmt)) == n
    assert r.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"


@pytest.mark.parametrize("name", ["EPSG:4527", "urn:ogc:def:crs:EPSG::4527"])
def test_storage_crs_by_its_curie_gives_stored_coordinates_northing_first(api, db, name):
    stored = {c: (n, e) for c, n, e in db.rows(
        "SELECT code, ST_Y(geom), ST_X(geom) FROM sensors WHERE valid_to IS NULL")}
    for fmt in ("json", "csv"):
        r = requests.get(f"{api}/collections/sensors/items", timeout=60,
                         params={"f": fmt, "limit": len(stored), "crs": name})
        assert r.status_code == 200, r.text[:300]
        assert r.headers["Content-Crs"] == f"<{EPSG4527}>"
        if fmt == "json":
            got = {f["id"]: f["geometry"]["coordinates"][:2] for f in r.json()["features"]}
        else:
            got = {row["code"]: (float(row["x"]), float(row["y"]))
                   for row in csv.DictReader(io.StringIO(r.content.decode()))}
        assert got.keys() == stored.keys()
        assert all(abs(got[c][0] - stored[c][0]) < 1e-3 and abs(got[c][1] - stored[c][1]) < 1e-3
                   for c in stored)


def test_other_names_that_are_no_advertised_crs_are_still_refused(api):
    for name in ("EPSG:4326", "EPSG:4527]", "[EPSG:4527", "EPSG:45270"):
        for fmt in ("json", "csv"):
            r = requests.get(f"{api}/collections/sensors/items", timeout=60,
                             params={"f": fmt, "crs": name})
            assert r.status_code == 400 and "crs" in r.json()["description"], (name, r.text)


def test_blank_property_names_are_passed_over_in_every_format(api):
    """``properties=name,,height``: GeoJSON passed the blank over, pygeoapi's pages were a
    400 (unknown properties)."""
    cols = {}
    for fmt in ("json", "csv"):
        r = requests.get(f"{api}/collections/buildings/items", timeout=60,
                         params={"f": fmt, "limit": 3, "properties": "name,,height"})
        assert r.status_code == 200, r.text[:300]
        cols[fmt] = (set(r.json()["features"][0]["properties"]) if fmt == "json" else
                     set(next(csv.DictReader(io.StringIO(r.content.decode())))))
    assert cols["json"] == cols["csv"] - {"wkt"} == {"code", "name", "height"}
    assert "wkt" in cols["csv"]  # the geometry of every CSV row (its last column)


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_a_storage_crs_bbox_given_easting_first_is_a_400_saying_so(api, db, fmt):
    """EPSG:4527's first axis is northing; a box typed easting first (x/y habit) selected
    nothing and said nothing (an empty CSV). Its corners from the stored footprints."""
    n0, e0, n1, e1 = db.rows("SELECT ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e) FROM "
                             "(SELECT ST_Extent(geom) e FROM buildings) q")[0]
    url = f"{api}/collections/buildings/items"
    right = requests.get(url, timeout=60, params={
        "f": fmt, "limit": 1, "bbox-crs": EPSG4527, "bbox": f"{n0},{e0},{n1},{e1}"})
    assert right.status_code == 200
    wrong = requests.get(url, timeout=60, params={
        "f": fmt, "limit": 1, "bbox-crs": EPSG4527, "bbox": f"{e0},{n0},{e1},{n1}"})
    assert wrong.status_code == 400 and "northing" in said(wrong)
