"""Tiles as a browser and a proxy see them: revalidation through a compressing proxy, the
TileJSON bounds MapLibre confines its requests to, and which points a thinned tile keeps.

Positions come from pyproj and the slippy-map formulas (tests/test_tiles), never PostGIS's;
the points are built here, so which delivery each belongs to is known by construction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import requests
import shapely

from tests.conftest import make_db, scratch_api
from tests.test_tiles import TO_LONLAT, decode, lonlat_to_tile

X0, Y0 = 39464187.5, 3915955.11  # inside 任城区, 2.5 km from its edges
FAR = (39465914.0, 3911589.0)  # inside 微山县, 4.4 km south
N = 400  # points of each delivery
LOW = 100  # the server's feature limit below the detail zoom (facilities: 14)
Z_LOW = 12


def facilities(path, names, xs, ys):
    gpd.GeoDataFrame({"设施编号": names, "设施名称": names, "设施类型": ["小学"] * len(names)},
                     geometry=shapely.points(xs, ys), crs="EPSG:4527").to_file(path)
    return path


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    """Two deliveries of school points, west of X0 loaded first, then east of it; served
    with a low-zoom limit of LOW."""
    from loaders.city_base import load_base

    work = tmp_path_factory.mktemp("tilescl")
    d = make_db("tilescl", jining_profile)
    rng = np.random.default_rng(7)
    for half, dx in (("W", -400.0), ("E", 400.0)):
        xs, ys = X0 + dx + rng.uniform(-300, 300, N), Y0 + rng.uniform(-300, 300, N)
        rep = load_base(d.conninfo, jining_profile, "facilities",
                        facilities(work / f"{half}.gpkg", [f"{half}{i}" for i in range(N)],
                                   xs, ys))
        assert rep.loaded == N, rep
    with scratch_api(d, work, tiles_low_zoom_features=LOW, tiles_version_ttl=0) as base:
        yield d, base, work


def tile_of(x: float, y: float, z: int) -> tuple[int, int]:
    lon, lat = TO_LONLAT.transform(x, y)
    tx, ty = lonlat_to_tile(lon, lat, z)
    return int(tx), int(ty)


def tile_url(base: str, z: int, col: int, row: int) -> str:
    return f"{base}/collections/facilities/tiles/WebMercatorQuad/{z}/{row}/{col}"


def test_a_weak_etag_revalidates(served):
    """A proxy that gzips the tile (nginx) turns its ETag weak, W/"…", and the browser sends
    that back: If-None-Match compares weakly (RFC 9110 13.1.2), so it is a 304 as the strong
    tag is; another tag is a 200."""
    _, base, _ = served
    col, row = tile_of(X0, Y0, 15)
    r = requests.get(tile_url(base, 15, col, row), timeout=60)
    assert r.status_code == 200
    tag = r.headers["ETag"]
    for sent in (tag, "W/" + tag, f'"other", W/{tag}'):
        again = requests.get(tile_url(base, 15, col, row), headers={"If-None-Match": sent},
                             timeout=60)
        assert again.status_code == 304, sent
        assert again.headers["ETag"] == tag and not again.content
    other = requests.get(tile_url(base, 15, col, row), headers={"If-None-Match": 'W/"x"'},
                         timeout=60)
    assert other.status_code == 200


def test_a_thinned_point_tile_keeps_points_of_both_deliveries(served):
    """800 points in a z12 tile with room for 100: equal in importance, the kept ones are a
    sample of the whole tile, not the first delivery's (ordered by id, every kept point was
    west of X0 and the east delivery vanished from the map at that zoom)."""
    _, base, _ = served
    col, row = tile_of(X0, Y0, Z_LOW)
    r = requests.get(tile_url(base, Z_LOW, col, row), timeout=60)
    assert r.status_code == 200
    assert r.headers["Cim-Tile-Thinned"] == "facilities"
    feats = decode(r.content)["facilities"]["features"]
    assert len(feats) == LOW
    lon, lat = TO_LONLAT.transform(X0, Y0)
    split = (lonlat_to_tile(lon, lat, Z_LOW)[0] - col) * 4096  # X0 in tile units
    west = sum(1 for f in feats if f["geometry"]["coordinates"][0] < split)
    # a uniform sample of 100 of 400 + 400: 50 ± 5 on each side
    assert 25 <= west <= LOW - 25, west
    assert requests.get(tile_url(base, Z_LOW, col, row), timeout=60).content == r.content


def test_tilejson_bounds_take_in_features_loaded_later(served):
    """MapLibre requests no tile outside the TileJSON's bounds, which came from the layers'
    extents when the server started: a school loaded afterwards in the other district (as a
    case reported there joins the live layers) was never drawn until a restart. The bounds
    hold the city (its districts), so the new point's tile is requested and has it."""
    from loaders.city_base import load_base

    d, base, work = served
    rep = load_base(d.conninfo, d.profile, "facilities",
                    facilities(work / "far.gpkg", ["FAR"], [FAR[0]], [FAR[1]]))
    assert rep.loaded == 1, rep
    lon, lat = TO_LONLAT.transform(*FAR)
    for url in (f"{base}/collections/facilities/tiles/WebMercatorQuad?f=tilejson",
                f"{base}/tiles/WebMercatorQuad?f=tilejson&collections=facilities"):
        w, s, e, n = requests.get(url, timeout=30).json()["bounds"]
        assert w <= lon <= e and s <= lat <= n, (url, (w, s, e, n), (lon, lat))
    col, row = tile_of(*FAR, 16)
    r = requests.get(tile_url(base, 16, col, row), timeout=60)
    assert r.status_code == 200
    assert [f["properties"]["name"] for f in decode(r.content)["facilities"]["features"]] \
        == ["FAR"]
