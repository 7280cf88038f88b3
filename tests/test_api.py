"""The OGC API served by pygeoapi under gunicorn, over HTTP: test coordinates, not status codes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import requests
import shapely
import shapely.ops

from cim.db.engine import drop_database
from tests.conftest import SAMPLE_BUILDINGS, make_db, server_url, start_api

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _items(api, coll="buildings", **params):
    r = requests.get(f"{api}/collections/{coll}/items", params={"f": "json", **params},
                     timeout=30)
    assert r.status_code == 200, r.text
    return r


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


def _survey(db):
    """The surveyed footprints (EPSG:4527, as delivered) of the buildings served, by code."""
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    by_id = dict(zip(survey["编号"], survey.geometry))
    codes = db.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL")
    return {code: by_id[key.split(":", 1)[1]] for key, code in codes}


def _served_coordinates(api, code, crs=None):
    r = requests.get(f"{api}/collections/buildings/items/{code}",
                     params={"f": "json", **({"crs": crs} if crs else {})}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Crs"].strip("<>") == (crs or CRS84)
    return shapely.get_coordinates(shapely.geometry.shape(r.json()["geometry"]))


def test_positions_match_the_survey_to_a_millimetre(api, db):
    """Every vertex, in CRS84, EPSG:4490 (latitude first) and EPSG:4527 (northing first)."""
    survey = _survey(db)
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True)
    back = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4527", always_xy=True)
    codes = sorted(survey)
    for code in (codes[0], codes[len(codes) // 2], codes[-1]):
        orig = shapely.get_coordinates(survey[code])
        lon, lat = to_ll.transform(orig[:, 0], orig[:, 1])
        c84 = _served_coordinates(api, code)
        assert c84.shape == orig.shape
        e, n = back.transform(c84[:, 0], c84[:, 1])
        assert np.hypot(e - orig[:, 0], n - orig[:, 1]).max() < 0.001
        assert np.abs(c84[:, 0] - lon).max() < 1e-8 and np.abs(c84[:, 1] - lat).max() < 1e-8
        c4527 = _served_coordinates(api, code, EPSG + "4527")  # northing, easting
        assert np.hypot(c4527[:, 1] - orig[:, 0], c4527[:, 0] - orig[:, 1]).max() < 0.001
        c4490 = _served_coordinates(api, code, EPSG + "4490")  # latitude, longitude
        assert np.abs(c4490[:, 0] - lat).max() < 1e-8 and np.abs(c4490[:, 1] - lon).max() < 1e-8


def test_bbox_filter_is_exact(api, db):
    """A CRS84 bbox selects the surveyed footprints that meet it, computed with shapely."""
    bbox = (116.605, 35.345, 116.62, 35.36)
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True).transform
    expected = {code for code, g in _survey(db).items()
                if shapely.ops.transform(to_ll, g).intersects(shapely.box(*bbox))}
    fc = _items(api, bbox=",".join(map(str, bbox)), limit=10000).json()
    assert fc["numberMatched"] == len(fc["features"]) == len(expected) > 100
    assert {f["id"] for f in fc["features"]} == expected
    outside = _items(api, bbox="100,20,100.1,20.1").json()
    assert outside["numberMatched"] == 0 and outside["features"] == []


def test_bbox_in_the_storage_crs_follows_its_axis_order(api, db):
    """bbox-crs=EPSG:4527 is given northing first, as EPSG defines the CRS."""
    e0, n0, e1, n1 = 39_463_500, 3_913_000, 39_464_500, 3_914_000
    expected = {code for code, g in _survey(db).items()
                if g.intersects(shapely.box(e0, n0, e1, n1))}
    fc = _items(api, bbox=f"{n0},{e0},{n1},{e1}", limit=10000,
                **{"bbox-crs": EPSG + "4527"}).json()
    assert fc["numberMatched"] == len(expected) > 10
    assert {f["id"] for f in fc["features"]} == expected


def test_cql2_filter_and_paging(api, db):
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", read_geometry=False)
    fc = _items(api, filter="height > 50 AND use_name = '办公'", limit=10000).json()
    expected = {c for c, in db.rows("SELECT code FROM buildings WHERE valid_to IS NULL "
                                    "AND height > 50 AND use_name = '办公'")}
    assert fc["numberMatched"] == len(expected) > 0
    assert {f["id"] for f in fc["features"]} == expected
    assert all(f["properties"]["height"] > 50 and f["properties"]["use_name"] == "办公"
               for f in fc["features"])
    # the survey's own heights: the served ones are over 50 m there too
    heights = dict(zip(survey["编号"], survey["建筑高度"]))
    keys = dict(db.rows("SELECT code, source_key FROM buildings WHERE valid_to IS NULL"))
    assert all(float(heights[keys[c].split(":", 1)[1]]) > 50 for c in expected)
    first20 = [f["id"] for f in _items(api, limit=20).json()["features"]]
    page1 = _items(api, limit=10).json()
    nxt = [lk["href"] for lk in page1["links"] if lk["rel"] == "next"]
    assert len(nxt) == 1
    page2 = requests.get(nxt[0], timeout=30).json()
    assert [f["id"] for f in page1["features"] + page2["features"]] == first20
    assert len(set(first20)) == 20


def test_spatial_cql2_filter_in_crs84(api, db):
    poly = "POLYGON((116.60 35.34, 116.62 35.34, 116.62 35.36, 116.60 35.36, 116.60 35.34))"
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True).transform
    area = shapely.from_wkt(poly)
    expected = {code for code, g in _survey(db).items()
                if shapely.ops.transform(to_ll, g).intersects(area)}
    # pygeoapi 0.21 parses the filter parameter as ECQL: INTERSECTS, not CQL2 S_INTERSECTS
    fc = _items(api, filter=f"INTERSECTS(geometry, {poly})", limit=10000).json()
    assert fc["numberMatched"] == len(expected) > 100
    assert {f["id"] for f in fc["features"]} == expected


def test_unknown_item_is_404(api):
    r = requests.get(f"{api}/collections/buildings/items/000000000000000000?f=json", timeout=30)
    assert r.status_code == 404


def test_property_filters_sorting_and_selection(api, db):
    fc = _items(api, use_name="住宅", sortby="-height", properties="name,height", limit=5).json()
    assert fc["numberMatched"] == db.scalar(
        "SELECT count(*) FROM buildings WHERE valid_to IS NULL AND use_name = '住宅'")
    heights = [f["properties"]["height"] for f in fc["features"]]
    assert heights == sorted(heights, reverse=True)
    assert set(fc["features"][0]["properties"]) == {"code", "name", "height"}


# -- a server of its own: hand-built fixtures, a URL with a password ---------------------
STORAGE_BOX = (39_464_000.0, 3_913_000.0, 39_465_000.0, 3_914_000.0)  # e0, n0, e1, n1
LONLAT_BOX = (116.625, 35.360, 116.632, 35.366)  # lon0, lat0, lon1, lat1
SECRET = "S3cr3t-pw-4711"


def _edge_squares(box, to_storage, step_x: float, step_y: float):
    """0.2 m squares centred 0.15 m inside and outside each edge of ``box`` (x/y order of its
    CRS), at 2 %, 50 % and 98 % along the edge; (key, inside, square in EPSG:4527)."""
    x0, y0, x1, y1 = box
    out = []
    for f in (0.02, 0.5, 0.98):
        x, y = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        for edge, (px, py), (dx, dy) in (("w", (x0, y), (step_x, 0)), ("e", (x1, y), (-step_x, 0)),
                                         ("s", (x, y0), (0, step_y)), ("n", (x, y1), (0, -step_y))):
            for inside, sign in ((True, 1), (False, -1)):
                e, n = to_storage(px + sign * dx, py + sign * dy)
                out.append((f"{edge}{f}{'in' if inside else 'out'}", inside,
                            shapely.box(e - 0.1, n - 0.1, e + 0.1, n + 0.1)))
    return out


def _fixture_squares():
    lat = (LONLAT_BOX[1] + LONLAT_BOX[3]) / 2
    to_gk = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4527", always_xy=True).transform
    deg_lat = 0.15 / 110_900.0  # 0.15 m in degrees at 35.36° N
    deg_lon = 0.15 / (111_320.0 * np.cos(np.radians(lat)))
    storage = [("g" + k, i, s) for k, i, s in
               _edge_squares(STORAGE_BOX, lambda x, y: (x, y), 0.15, 0.15)]
    lonlat = [("l" + k, i, s) for k, i, s in
              _edge_squares(LONLAT_BOX, to_gk, deg_lon, deg_lat)]
    return storage, lonlat


@pytest.fixture(scope="module")
def edge_api(jining_profile, tmp_path_factory):
    """Buildings placed just inside and outside two rectangles, served from a config written
    for a URL with a password."""
    from sqlalchemy.engine import make_url

    from loaders.buildings import load_buildings

    d = make_db("edge", jining_profile)
    home = tmp_path_factory.mktemp("edge")
    storage, lonlat = _fixture_squares()
    gdf = gpd.GeoDataFrame({"编号": [k for k, _, _ in storage + lonlat]},
                           geometry=[s for _, _, s in storage + lonlat], crs="EPSG:4527")
    pyogrio.write_dataframe(gdf, home / "edges.gpkg")
    report = load_buildings(d.conninfo, jining_profile, home / "edges.gpkg")
    assert report.loaded == len(gdf), report
    u = make_url(d.url)
    secret = u.password or SECRET  # the embedded cluster trusts local users: any password works
    url = u.set(password=secret).render_as_string(hide_password=False)
    proc, base = start_api(url, jining_profile, home)
    try:
        yield base, home, secret, storage, lonlat
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


def _selected(base, **params):
    fc = _items(base, limit=10000, **params).json()
    assert fc["numberMatched"] == fc["numberReturned"] == len(fc["features"])
    return fc


def test_generated_files_hold_no_password_and_the_server_works(edge_api):
    base, home, secret, storage, lonlat = edge_api
    fc = _selected(base)
    assert fc["numberMatched"] == len(storage) + len(lonlat)
    for f in home.iterdir():
        if f.is_file() and f.suffix in (".yml", ".yaml", ".log", ".json"):
            assert secret not in f.read_text(encoding="utf-8", errors="replace"), f.name


def _names_of(fc, squares):
    """Map served features to fixture names by position: the square whose centre is within
    1 mm of the served footprint's centre (in the storage CRS)."""
    names = {}
    centres = {k: s.centroid for k, _, s in squares}
    for f in fc["features"]:
        n, e = shapely.geometry.shape(f["geometry"]).centroid.coords[0]
        hit = [k for k, c in centres.items() if np.hypot(c.x - e, c.y - n) < 0.001]
        assert len(hit) == 1, (f["id"], e, n)
        names[hit[0]] = f["id"]
    return set(names)


def test_bbox_in_the_storage_crs_is_that_exact_rectangle(edge_api):
    """bbox-crs=EPSG:4527 is northing first (the CRS's axis order, OGC API Features Part 2)."""
    base, _, _, storage, lonlat = edge_api
    e0, n0, e1, n1 = STORAGE_BOX
    box = shapely.box(*STORAGE_BOX)
    everything = storage + lonlat
    expected = {k for k, _, s in everything if s.intersects(box)}
    assert expected == {k for k, inside, _ in storage if inside}  # the fixture is as built
    fc = _selected(base, bbox=f"{n0},{e0},{n1},{e1}", **{"bbox-crs": EPSG + "4527"},
                   crs=EPSG + "4527")
    assert _names_of(fc, everything) == expected


@pytest.mark.parametrize("crs", [CRS84, EPSG + "4490", None])
def test_bbox_in_lonlat_is_that_exact_rectangle(edge_api, crs):
    base, _, _, storage, lonlat = edge_api
    lon0, lat0, lon1, lat1 = LONLAT_BOX
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True).transform
    box = shapely.box(*LONLAT_BOX)
    everything = storage + lonlat
    expected = {k for k, _, s in everything if shapely.ops.transform(to_ll, s).intersects(box)}
    assert expected == {k for k, inside, _ in lonlat if inside}
    if crs == EPSG + "4490":  # latitude first, as EPSG defines CGCS2000
        params = {"bbox": f"{lat0},{lon0},{lat1},{lon1}", "bbox-crs": crs}
    else:
        params = {"bbox": f"{lon0},{lat0},{lon1},{lat1}", **({"bbox-crs": crs} if crs else {})}
    fc = _selected(base, crs=EPSG + "4527", **params)
    assert _names_of(fc, everything) == expected


def test_empty_layers_advertise_the_active_citys_area(tmp_path):
    """A city other than Jining: its empty layers cover its own districts, never Jining's."""
    from loaders.divisions import create_profile, load_districts
    from services.config import pygeoapi_config

    # 泰安市 泰山区/岱岳区 in CGCS2000 3° GK by central meridian 117° E (EPSG:4548)
    boxes = [shapely.box(600_000, 4_000_000, 610_000, 4_010_000),
             shapely.box(610_000, 4_000_000, 620_000, 4_012_000)]
    gpd.GeoDataFrame({"XZQDM": ["370902", "370911"], "XZQMC": ["泰山区", "岱岳区"]},
                     geometry=boxes, crs="EPSG:4548").to_file(tmp_path / "taian.gpkg")
    profile = create_profile(tmp_path / "taian.yaml", name="泰安市", admin_code="370900",
                             storage_crs="EPSG:4548", boundary=tmp_path / "taian.gpkg")
    # independent: the districts' bounding box, densified and taken to lon/lat by pyproj
    to_ll = pyproj.Transformer.from_crs("EPSG:4548", "EPSG:4490", always_xy=True)
    outline = shapely.segmentize(shapely.box(*shapely.union_all(boxes).bounds).exterior, 10)
    expected = shapely.LineString(np.column_stack(
        to_ll.transform(*shapely.get_coordinates(outline).T))).bounds
    jining = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True) \
        .transform_bounds(39_460_000, 3_909_500, 39_468_000, 3_918_500)
    d = make_db("taian", profile, apply_profile=False)
    try:
        for applied in (False, True):  # the boundary file, then the districts as loaded
            if applied:
                load_districts(d.conninfo, profile, mode="replace")
            cfg = pygeoapi_config(d.url, d.conninfo, profile, "http://127.0.0.1:1")
            for name, res in cfg["resources"].items():
                bbox = res["extents"]["spatial"]["bbox"]  # admin_divisions once loaded: its own
                assert np.allclose(bbox, expected, atol=2e-6), (name, applied, bbox)
                assert not shapely.box(*bbox).intersects(shapely.box(*jining)), name
    finally:
        drop_database(server_url(), d.name)


@pytest.mark.parametrize("name", ["OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84",
                                  "https://www.opengis.net/def/crs/OGC/1.3/CRS84"])
def test_crs84_by_any_of_its_names_in_crs_and_bbox_crs(api, name):
    """A client may name CRS84 by its CURIE, URN or https URI (cim.crs.is_crs84): the items
    answer as for the advertised http URI (the same features, longitude first) instead of a
    400; the response names it by the advertised URI."""
    box = "116.55,35.35,116.65,35.45"
    want = _items(api, limit=1000, bbox=box).json()
    r = _items(api, limit=1000, bbox=box, **{"bbox-crs": name, "crs": name})
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Crs", "").strip("<>") == CRS84
    got = r.json()
    assert got["numberMatched"] == want["numberMatched"] > 0
    assert [f["id"] for f in got["features"]] == [f["id"] for f in want["features"]]
