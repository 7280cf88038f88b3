"""Lon/lat (CRS84) of data stored in a CRS on another datum than CGCS2000: real OSM buildings
of Liechtenstein (../shared/data/real) stored in EPSG:2056 (CH1903+). CRS84 was computed
through CGCS2000 (EPSG:4490), for which PROJ knows no operation from CH1903+ and drops the
datum: every feature was served 176 m off, and a CRS84 bbox selected other features. The
expected values come from the delivery read in EPSG:4326 by GDAL, independently."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely

from cim.crs import lonlat_srid
from cim.db.engine import drop_database
from tests.conftest import make_db, profile_around, real_file, server_url


def test_lonlat_srid_follows_the_datum():
    assert lonlat_srid(4527) == 4490  # CGCS2000 zones: its own lon/lat, the same numbers
    assert lonlat_srid(4548) == 4490
    assert lonlat_srid(2056) == 4326  # CH1903+: WGS 84 through its transformation
    assert lonlat_srid(2383) == 4326  # Xian 1980


@pytest.fixture(scope="module")
def swiss(tmp_path_factory):
    from loaders.buildings import load_buildings

    src = real_file("li_buildings.gpkg")
    d = tmp_path_factory.mktemp("li")
    profile = profile_around(src, "buildings", d, name="Liechtenstein (test)",
                             admin_code="990300", crs="EPSG:2056")
    db = make_db("lonlat", profile)
    r = load_buildings(db.conninfo, profile, src, source_layer="buildings", processes=0)
    assert r.loaded > 3000, r.text()
    db.src = src
    yield db
    drop_database(server_url(), db.name)


def _source_first_vertices(src) -> dict[str, tuple[float, float]]:
    df = pyogrio.read_dataframe(src, layer="buildings")
    assert df.crs.to_epsg() == 4326
    out = {}
    def text(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            return None
        return str(int(v)) if isinstance(v, float) else str(v).strip()

    for oid, way, g in zip(df["osm_id"], df["osm_way_id"], df.geometry):
        key = text(oid) or f"osm_way_id={text(way)}"
        out[key] = tuple(shapely.get_coordinates(g)[0])
    return out


def test_query_library_serves_wgs84_lonlat(swiss):
    from layers.query.aoi import aoi
    from layers.query.area import Area

    src = _source_first_vertices(swiss.src)
    # a box around Vaduz in CRS84
    res = aoi(swiss.conninfo, Area(bbox=(9.515, 47.130, 9.535, 47.150)), "buildings",
              features=True)
    feats = res["layers"]["buildings"]["features"]
    assert len(feats) > 20
    keys = dict(swiss.rows("SELECT code, split_part(source_key, ':', 2) FROM buildings "
                           "WHERE valid_to IS NULL"))
    off = [np.hypot(*(np.array(f["geometry"]["coordinates"][0][0][0])
                      - np.array(src[keys[f["id"]]]))) for f in feats]
    assert max(off) < 1e-7, max(off)  # degrees: ~1 cm (176 m was ~2e-3)


def test_catalog_extent_is_the_delivery_in_wgs84(swiss):
    import pyproj

    from layers.catalog import catalog

    (entry,) = [e for e in catalog(swiss.conninfo) if e.layer.name == "buildings"]
    # the catalog's box: the storage extent (EPSG:2056), densified, in lon/lat — computed here
    # with pyproj from the delivery
    df = pyogrio.read_dataframe(swiss.src, layer="buildings").to_crs("EPSG:2056")
    box = shapely.segmentize(shapely.box(*df.total_bounds).exterior, 100)
    to_ll = pyproj.Transformer.from_crs("EPSG:2056", "EPSG:4326", always_xy=True)
    want = shapely.LineString(np.column_stack(
        to_ll.transform(*shapely.get_coordinates(box).T))).bounds
    assert np.allclose(entry.bbox_lonlat, want, atol=1e-6), (entry.bbox_lonlat, want)


def test_items_api_serves_wgs84_lonlat(swiss, tmp_path, monkeypatch):
    from services.app import create_app
    from services.settings import ServeSettings

    monkeypatch.setenv("CIM_DATABASE_URL", swiss.url)
    app = create_app(ServeSettings(home=tmp_path, profile=swiss.profile.path,
                                   host="127.0.0.1", port=5996))
    c = app.test_client()
    src = _source_first_vertices(swiss.src)
    r = c.get("/collections/buildings/items?f=json&limit=50&bbox=9.515,47.130,9.535,47.150")
    assert r.status_code == 200, r.data[:300]
    fc = r.get_json()
    assert len(fc["features"]) == 50
    keys = dict(swiss.rows("SELECT code, split_part(source_key, ':', 2) FROM buildings "
                           "WHERE valid_to IS NULL"))
    for f in fc["features"]:
        first = np.array(f["geometry"]["coordinates"][0][0][0])
        assert np.hypot(*(first - np.array(src[keys[f["id"]]]))) < 1e-7, f["id"]


def test_the_collections_offer_wgs84_not_cgcs2000_lonlat(swiss):
    from services.config import pygeoapi_config

    cfg = pygeoapi_config(swiss.url, swiss.conninfo, swiss.profile, "http://127.0.0.1:1")
    crs = cfg["resources"]["buildings"]["providers"][0]["crs"]
    assert crs[1].endswith("/EPSG/0/4326") and not any(c.endswith("/4490") for c in crs)
