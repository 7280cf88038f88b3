"""Vector tiles (issue 10, item 3): MVT decoded with mapbox-vector-tile, positions checked
against the survey file transformed by pyproj and the Web Mercator tile formulas written out
here (never PostGIS's), thinning, the feature limit, ETags that follow loads, 304s."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pyogrio
import pyproj
import pytest
import requests
import shapely
from shapely.geometry import shape

from tests.conftest import SAMPLE_BUILDINGS, start_api

EXTENT = 4096
LIMIT = 25  # the feature limit of the small server
LOW = 10  # … and its limit below the detail zoom (buildings: 15)


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Fractional tile column/row of a CRS84 position (the slippy-map formulas)."""
    n = 2 ** z
    x = (lon + 180.0) / 360.0 * n
    r = math.radians(lat)
    y = (1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0 * n
    return x, y


TO_LONLAT = pyproj.Transformer.from_crs("EPSG:4527", "OGC:CRS84", always_xy=True)


def tile_coords(geom, z: int, col: int, row: int):
    """``geom`` (EPSG:4527) in the tile's 0..4096 coordinates, y down as in MVT."""
    def f(c):
        lon, lat = TO_LONLAT.transform(c[:, 0], c[:, 1])
        out = [lonlat_to_tile(a, b, z) for a, b in zip(lon, lat)]
        return [((x - col) * EXTENT, (y - row) * EXTENT) for x, y in out]
    return shapely.transform(geom, lambda c: __import__("numpy").array(f(c)))


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def survey_by_code(db) -> dict:
    """Survey footprints (EPSG:4527) and rows by their platform code in ``db``."""
    df = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    keys = dict(db.rows("SELECT split_part(source_key, ':', 2), code FROM buildings "
                        "WHERE valid_to IS NULL"))
    return {keys[k]: (g, row) for k, g, (_, row) in zip(df["编号"], df.geometry, df.iterrows())
            if k in keys}


@pytest.fixture(scope="module")
def survey(db):
    return survey_by_code(db)


def busiest_tile(geoms, z: int) -> tuple[int, int]:
    """(col, row) of the z tile holding the most footprints' first vertex."""
    counts: dict = {}
    for g in geoms:
        x0, y0 = g.exterior.coords[0][:2] if g.geom_type == "Polygon" else \
            g.geoms[0].exterior.coords[0][:2]
        lon, lat = TO_LONLAT.transform(x0, y0)
        x, y = lonlat_to_tile(lon, lat, z)
        counts[(int(x), int(y))] = counts.get((int(x), int(y)), 0) + 1
    return max(counts, key=counts.get)


def get_tile(base, z, col, row, coll="buildings", **kw):
    path = f"/collections/{coll}/tiles/WebMercatorQuad" if coll else "/tiles/WebMercatorQuad"
    return requests.get(f"{base}{path}/{z}/{row}/{col}", timeout=60, **kw)


def test_buildings_at_their_survey_positions(api, survey):
    """Every footprint wholly inside a z16 tile decodes where pyproj + the tile formulas put
    its survey polygon (within one tile unit), with its code."""
    z = 16
    col, row = busiest_tile([g for g, _ in survey.values()], z)
    r = get_tile(api, z, col, row)
    assert r.status_code == 200 and r.headers["Content-Type"] == \
        "application/vnd.mapbox-vector-tile"
    layer = decode(r.content)["buildings"]
    assert layer["extent"] == EXTENT
    got = {f["properties"]["code"]: shape(f["geometry"]) for f in layer["features"]}
    inside = {code: tile_coords(g, z, col, row) for code, (g, _) in survey.items()}
    inside = {c: g for c, g in inside.items() if shapely.box(0, 0, EXTENT, EXTENT).contains(g)}
    assert len(inside) >= 5
    assert set(inside) <= set(got)
    for code, expected in inside.items():
        assert got[code].hausdorff_distance(expected) <= 1.0, code


def test_pipe_points_forced_2d_at_their_positions(api, db):
    """3D pipe points: 2D features where pyproj puts the stored points (1 tile unit at z18)."""
    z = 18
    pts = db.rows("SELECT code, ST_X(geom), ST_Y(geom) FROM pipe_points "
                  "WHERE valid_to IS NULL ORDER BY id LIMIT 3")
    for code, x, y in pts:
        lon, lat = TO_LONLAT.transform(x, y)
        tx, ty = lonlat_to_tile(lon, lat, z)
        col, row = int(tx), int(ty)
        feats = decode(get_tile(api, z, col, row, "pipe_points").content)["pipe_points"]
        mine = [f for f in feats["features"] if f["properties"]["code"] == code]
        assert len(mine) == 1
        px, py = mine[0]["geometry"]["coordinates"]
        assert abs(px - (tx - col) * EXTENT) <= 1 and abs(py - (ty - row) * EXTENT) <= 1


def test_low_zooms_carry_only_class_fields(api, survey):
    """Below the detail zoom buildings carry code, use and height; from it every attribute."""
    g0 = next(iter(survey.values()))[0]
    lon, lat = TO_LONLAT.transform(*g0.exterior.coords[0][:2]) if g0.geom_type == "Polygon" \
        else TO_LONLAT.transform(*g0.geoms[0].exterior.coords[0][:2])
    keys = {}
    for z in (13, 16):
        x, y = lonlat_to_tile(lon, lat, z)
        feats = decode(get_tile(api, z, int(x), int(y)).content)["buildings"]["features"]
        keys[z] = set().union(*(f["properties"] for f in feats))
    assert keys[13] <= {"code", "use_code", "use_name", "height", "floors_above"}
    assert {"code", "use_code"} <= keys[13]
    assert {"name", "structure", "grid_code", "district_code"} <= keys[16]


def test_identify_by_the_tile_code(api, survey):
    """A tile's `code` is the id of the items path (click-to-identify)."""
    z = 16
    col, row = busiest_tile([g for g, _ in survey.values()], z)
    feat = decode(get_tile(api, z, col, row).content)["buildings"]["features"][0]
    code = feat["properties"]["code"]
    r = requests.get(f"{api}/collections/buildings/items/{code}?f=json", timeout=30)
    assert r.status_code == 200 and r.json()["id"] == code


def test_one_map_tile_has_every_layer(api, db):
    """/tiles/WebMercatorQuad/z/y/x: one source-layer per collection with features there."""
    x, y = db.rows("SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) "
                   "FROM pipe_segments WHERE valid_to IS NULL LIMIT 1")[0]
    lon, lat = TO_LONLAT.transform(x, y)
    tx, ty = lonlat_to_tile(lon, lat, 13)
    r = get_tile(api, 13, int(tx), int(ty), coll=None)
    assert r.status_code == 200
    layers = decode(r.content)
    assert {"admin_divisions", "grid_cells", "pipe_segments"} <= set(layers)
    for name, lay in layers.items():
        assert all("code" in f["properties"] for f in lay["features"]), name
    sub = get_tile(api, 13, int(tx), int(ty), coll=None,
                   params={"collections": "grid_cells"})
    assert set(decode(sub.content)) == {"grid_cells"}


def test_tilejson_and_tilesets(api):
    tj = requests.get(f"{api}/collections/buildings/tiles/WebMercatorQuad?f=tilejson",
                      timeout=30).json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"] == [f"{api}/collections/buildings/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"]
    assert [v["id"] for v in tj["vector_layers"]] == ["buildings"]
    assert 116 < tj["bounds"][0] < tj["bounds"][2] < 117
    one = requests.get(f"{api}/tiles/WebMercatorQuad?f=tilejson", timeout=30).json()
    assert one["tiles"] == [f"{api}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"]
    assert {v["id"] for v in one["vector_layers"]} >= {"buildings", "pipe_segments",
                                                       "components", "grid_cells"}
    sets = requests.get(f"{api}/collections/buildings/tiles", timeout=30).json()
    assert sets["tilesets"][0]["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    meta = requests.get(f"{api}/collections/buildings/tiles/WebMercatorQuad", timeout=30).json()
    item = [lk for lk in meta["links"] if lk["rel"] == "item"][0]
    assert item["href"].endswith("/{tileMatrix}/{tileRow}/{tileCol}") and item["templated"]


@pytest.mark.parametrize("path,status", [
    ("/collections/buildings/tiles/WebMercatorQuad/25/0/0", 404),
    ("/collections/buildings/tiles/WebMercatorQuad/3/8/0", 404),
    ("/collections/buildings/tiles/WebMercatorQuad/3/0/8", 404),
    ("/collections/buildings/tiles/WebMercatorQuad/a/0/0", 400),
    ("/collections/buildings/tiles/WebMercatorQuad/3/-1/0", 400),
    ("/collections/buildings/tiles/WorldCRS84Quad/3/0/0", 404),
    ("/tiles/WebMercatorQuad/3/0/0?collections=nope", 400),
])
def test_bad_tiles_say_why(api, path, status):
    r = requests.get(api + path, timeout=30)
    assert r.status_code == status
    assert r.json()["description"]


def test_empty_tile_is_204(api):
    """A tile of the other side of the world, and one below the layer's minimum zoom."""
    assert get_tile(api, 16, 0, 0).status_code == 204
    assert get_tile(api, 5, 26, 12).status_code == 204  # buildings start at zoom 12


SETTINGS = ("SELECT current_setting('jit'), current_setting('max_parallel_workers_per_gather'), "
            "current_setting('plan_cache_mode'), current_setting('work_mem')")


def test_tile_settings_stay_in_the_tile_transaction(db):
    """Tiles are made without JIT, parallel workers or generic plans, with 16 MB to sort in
    (each cost tens to hundreds of ms a tile on 1,000,000 footprints: docs/benchmarks.md),
    set in the tile request's own transaction: the pooled connection, which the items path
    shares, goes back with the server's settings."""
    from services.pool import Pool
    from services.tiles import _LazyConnection

    pool = Pool(db.conninfo, 1)  # one connection: the same one lent each time
    with pool.connection() as conn:
        before = conn.execute(SETTINGS).fetchone()
    with _LazyConnection(pool) as lazy:
        inside = lazy.get().execute(SETTINGS).fetchone()
    assert inside == ("off", "0", "force_custom_plan", "16MB")
    with pool.connection() as conn:
        assert conn.execute(SETTINGS).fetchone() == before
    assert before[:3] != inside[:3]  # the server's defaults differ (jit on, auto plans)


# -- a small server of its own: feature limit, loads and ETags -----------------------------
@pytest.fixture(scope="module")
def small(jining_profile, tmp_path_factory):
    """A database of its own (profile + sample buildings) served with a feature limit of 25
    and no version reuse, so a load shows at once."""
    from cim.db.engine import drop_database
    from loaders.buildings import load_buildings
    from tests.conftest import make_db, server_url

    d = make_db("tiles", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS, dataset="survey")
    proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("tiles"),
                           tiles_max_features=LIMIT, tiles_low_zoom_features=LOW,
                           tiles_version_ttl=0)
    yield d, base
    proc.terminate()
    proc.wait(10)
    drop_database(server_url(), d.name)


@pytest.mark.parametrize("z,limit", [(14, LOW), (15, LIMIT)])
def test_feature_limit_keeps_the_largest(small, z, limit):
    """A tile with more footprints than the limit (the low-zoom one below the detail zoom):
    the largest (shapely areas of the survey footprints meeting the tile and its 64-unit
    buffer), and a header saying so."""
    d, base = small
    geoms = {c: g for c, (g, _) in survey_by_code(d).items()}
    col, row = busiest_tile(geoms.values(), z)
    buffered = shapely.box(-64, -64, EXTENT + 64, EXTENT + 64)
    meeting = {c: g.area for c, g in geoms.items()
               if tile_coords(g, z, col, row).intersects(buffered)}
    assert len(meeting) > limit
    r = get_tile(base, z, col, row)
    feats = decode(r.content)["buildings"]["features"]
    assert r.headers["Cim-Tile-Thinned"] == "buildings"
    assert {f["properties"]["code"] for f in feats} == \
        set(sorted(meeting, key=meeting.get, reverse=True)[:limit])


def _etag(base, z, col, row, coll="buildings"):
    r = get_tile(base, z, col, row, coll)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"].startswith("public")
    return r.headers["ETag"], r


def test_a_load_changes_its_layers_etag_only(small, tmp_path):
    """An update load (one height changed) and a replace load that only retires (one
    footprint missing) each change the buildings tiles' ETag and content; the grid cells'
    ETag stays; If-None-Match with the current ETag is a 304, with an old one a 200."""
    import geopandas as gpd

    from loaders.buildings import load_buildings

    d, base = small
    by_code = survey_by_code(d)
    z = 16
    col, row = busiest_tile([g for g, _ in by_code.values()], z)
    b1, r = _etag(base, z, col, row)
    g1, _ = _etag(base, z, col, row, "grid_cells")
    m1, _ = _etag(base, z, col, row, None)
    assert get_tile(base, z, col, row, headers={"If-None-Match": b1}).status_code == 304
    assert get_tile(base, z, col, row, None, headers={"If-None-Match": m1}).status_code == 304
    heights = {f["properties"]["code"]: f["properties"].get("height")
               for f in decode(r.content)["buildings"]["features"]}
    target = next(c for c in heights if heights[c] is not None)

    df = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    key = next(k for k in df["编号"]
               if d.scalar("SELECT code FROM buildings WHERE valid_to IS NULL AND "
                           "split_part(source_key, ':', 2) = %s", (k,)) == target)
    df.loc[df["编号"] == key, "建筑高度"] = heights[target] + 7.0
    changed = tmp_path / "changed.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(df, crs="EPSG:4527"), changed)
    rep = load_buildings(d.conninfo, d.profile, changed, dataset="survey")
    assert rep.status == "succeeded"

    b2, r = _etag(base, z, col, row)
    assert b2 != b1
    got = {f["properties"]["code"]: f["properties"].get("height")
           for f in decode(r.content)["buildings"]["features"]}
    assert got[target] == pytest.approx(heights[target] + 7.0)
    assert _etag(base, z, col, row, "grid_cells")[0] == g1
    assert _etag(base, z, col, row, None)[0] != m1
    assert get_tile(base, z, col, row, headers={"If-None-Match": b1}).status_code == 200

    fewer = tmp_path / "fewer.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(df[df["编号"] != key], crs="EPSG:4527"), fewer)
    ids = d.scalar("SELECT max(id) FROM buildings")
    rep = load_buildings(d.conninfo, d.profile, fewer, mode="replace", dataset="survey")
    assert rep.status == "succeeded"
    assert d.scalar("SELECT max(id) FROM buildings") == ids  # only retired, nothing added
    b3, r = _etag(base, z, col, row)
    assert b3 != b2
    assert target not in {f["properties"]["code"]
                          for f in decode(r.content)["buildings"]["features"]}
    assert _etag(base, z, col, row, "grid_cells")[0] == g1
