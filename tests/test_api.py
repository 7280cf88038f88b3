"""The OGC API served by pygeoapi under gunicorn, over HTTP: test coordinates, not status codes."""

from __future__ import annotations

import numpy as np
import pyogrio
import pyproj
import requests
import shapely

from tests.conftest import SAMPLE_BUILDINGS

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _items(api, coll="buildings", **params):
    r = requests.get(f"{api}/collections/{coll}/items", params={"f": "json", **params},
                     timeout=30)
    assert r.status_code == 200, r.text
    return r


def _first_vertex(feature):
    return np.array(shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))[0])


def test_collections_are_listed(api):
    ids = {c["id"] for c in requests.get(f"{api}/collections?f=json", timeout=30)
           .json()["collections"]}
    assert {"buildings", "admin_divisions", "grid_cells"} <= ids
    meta = requests.get(f"{api}/collections/buildings?f=json", timeout=30).json()
    assert meta["storageCrs"] == EPSG + "4527"
    assert {CRS84, EPSG + "4490", EPSG + "4527"} <= set(meta["crs"])


def test_crs84_output_is_longitude_first_inside_jining(api):
    r = _items(api, limit=1000)
    fc = r.json()
    assert fc["numberMatched"] == 1500 and fc["numberReturned"] == 1000
    assert r.headers.get("Content-Crs", "").strip("<>") == CRS84
    coords = np.vstack([shapely.get_coordinates(shapely.geometry.shape(f["geometry"]))
                        for f in fc["features"]])
    assert np.all((coords[:, 0] > 116.0) & (coords[:, 0] < 117.2)), "longitude first"
    assert np.all((coords[:, 1] > 34.9) & (coords[:, 1] < 35.9))


def test_positions_match_the_survey_to_a_millimetre(api, db):
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    by_id = {row["编号"]: row.geometry for _, row in survey.iterrows()}
    back = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4527", always_xy=True)
    for sid in ("JZ000001", "JZ000500", "JZ001499"):
        code = db.scalar("SELECT code FROM buildings WHERE source_key = %s",
                         (f"buildings_survey:{sid}",))
        orig = np.array(shapely.get_coordinates(by_id[sid])[0])
        f84 = requests.get(f"{api}/collections/buildings/items/{code}?f=json", timeout=30).json()
        lon, lat = _first_vertex(f84)
        e, n = back.transform(lon, lat)
        assert np.hypot(e - orig[0], n - orig[1]) < 0.001
        # EPSG:4527 in its own axis order (northing, easting) per OGC API Features Part 2
        r = requests.get(f"{api}/collections/buildings/items/{code}",
                         params={"f": "json", "crs": EPSG + "4527"}, timeout=30)
        assert r.headers["Content-Crs"].strip("<>") == EPSG + "4527"
        n2, e2 = _first_vertex(r.json())
        assert np.hypot(e2 - orig[0], n2 - orig[1]) < 0.001
        assert 39_000_000 < e2 < 40_000_000
        # EPSG:4490 latitude first
        r = requests.get(f"{api}/collections/buildings/items/{code}",
                         params={"f": "json", "crs": EPSG + "4490"}, timeout=30)
        lat2, lon2 = _first_vertex(r.json())
        assert abs(lat2 - lat) < 1e-8 and abs(lon2 - lon) < 1e-8


def test_bbox_filter_is_exact(api, db):
    bbox = (116.605, 35.345, 116.62, 35.36)
    fc = _items(api, bbox=",".join(map(str, bbox)), limit=10000).json()
    expected = db.scalar(
        "SELECT count(*) FROM buildings WHERE valid_to IS NULL AND ST_Intersects(geom, "
        "ST_Transform(ST_Segmentize(ST_MakeEnvelope(%s, %s, %s, %s, 4490), 0.0001), 4527))",
        bbox)
    assert 0 < fc["numberMatched"] == expected == len(fc["features"])
    for f in fc["features"]:
        g = shapely.geometry.shape(f["geometry"])
        assert g.intersects(shapely.box(*bbox))
    outside = _items(api, bbox="100,20,100.1,20.1").json()
    assert outside["numberMatched"] == 0


def test_cql2_filter_and_paging(api, db):
    fc = _items(api, filter="height > 50 AND use_name = '办公'", limit=5).json()
    expected = db.scalar("SELECT count(*) FROM buildings WHERE height > 50 AND use_name = '办公'")
    assert fc["numberMatched"] == expected > 0
    assert all(f["properties"]["height"] > 50 for f in fc["features"])
    page1 = _items(api, limit=10).json()
    nxt = [lk["href"] for lk in page1["links"] if lk["rel"] == "next"]
    assert nxt
    page2 = requests.get(nxt[0], timeout=30).json()
    ids1 = {f["id"] for f in page1["features"]}
    ids2 = {f["id"] for f in page2["features"]}
    assert len(ids2) == 10 and not ids1 & ids2


def test_spatial_cql2_filter_in_crs84(api, db):
    poly = "POLYGON((116.60 35.34, 116.62 35.34, 116.62 35.36, 116.60 35.36, 116.60 35.34))"
    # pygeoapi 0.21 parses the filter parameter as ECQL: INTERSECTS, not CQL2 S_INTERSECTS
    fc = _items(api, filter=f"INTERSECTS(geometry, {poly})", limit=1).json()
    expected = db.scalar(
        "SELECT count(*) FROM buildings WHERE ST_Intersects(geom, ST_Transform("
        "ST_GeomFromText(%s, 4490), 4527))", (poly,))
    assert fc["numberMatched"] == expected > 0


def test_unknown_item_is_404(api):
    r = requests.get(f"{api}/collections/buildings/items/000000000000000000?f=json", timeout=30)
    assert r.status_code == 404


def test_bbox_in_the_storage_crs_follows_its_axis_order(api, db):
    """bbox-crs=EPSG:4527 is given northing first, as EPSG defines the CRS."""
    e0, n0, e1, n1 = 39_463_000, 3_913_000, 39_464_000, 3_914_000
    expected = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL AND "
                         "ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4527))",
                         (e0, n0, e1, n1))
    fc = _items(api, bbox=f"{n0},{e0},{n1},{e1}", **{"bbox-crs": EPSG + "4527"}).json()
    assert expected > 0
    # the box is carried through CRS84 corner by corner: allow the features that touch its edge
    assert abs(fc["numberMatched"] - expected) <= max(2, expected // 50)


def test_property_filters_sorting_and_selection(api, db):
    fc = _items(api, use_name="住宅", sortby="-height", properties="name,height", limit=5).json()
    assert fc["numberMatched"] == db.scalar(
        "SELECT count(*) FROM buildings WHERE valid_to IS NULL AND use_name = '住宅'")
    heights = [f["properties"]["height"] for f in fc["features"]]
    assert heights == sorted(heights, reverse=True)
    assert set(fc["features"][0]["properties"]) == {"code", "name", "height"}
