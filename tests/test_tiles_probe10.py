"""Vector tiles of real OSM buildings of Liechtenstein (../shared/data/real/li_buildings.gpkg)
over HTTP, stored in EPSG:2056: what a tile must hold comes from the stored rows projected to
EPSG:3857 with pyproj and cut with shapely, never from PostGIS."""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import requests
import shapely
from pyproj import Transformer

from tests.conftest import make_db, profile_around, real_file, scratch_api

R = 6378137.0 * math.pi


@pytest.fixture(scope="module")
def li_tiles(tmp_path_factory):
    from loaders.buildings import load_buildings

    src = real_file("li_buildings.gpkg")
    d = tmp_path_factory.mktemp("li_tiles")
    profile = profile_around(src, "buildings", d, name="Liechtenstein (tiles)",
                             admin_code="990300", crs="EPSG:2056")
    db = make_db("tilesp10", profile)
    r = load_buildings(db.conninfo, profile, src, source_layer="buildings", processes=0)
    assert r.rejected == 0, r.text()
    rows = db.rows("SELECT code, ST_AsBinary(geom), use_name FROM buildings "
                   "WHERE valid_to IS NULL")
    to_3857 = Transformer.from_crs(2056, 3857, always_xy=True)
    db.codes = np.array([c for c, _, _ in rows])
    db.use = {c: u for c, _, u in rows}
    db.g3857 = np.array([shapely.transform(shapely.segmentize(shapely.from_wkb(bytes(w)), 2),
                                           lambda c: np.column_stack(to_3857.transform(
                                               c[:, 0], c[:, 1]))) for _, w, _ in rows])
    with scratch_api(db, d) as base:
        db.base = base
        yield db


def _box(z: int, col: int, row: int) -> shapely.Polygon:
    w = 2 * R / 2 ** z
    return shapely.box(-R + col * w, R - (row + 1) * w, -R + (col + 1) * w, R - row * w)


@pytest.mark.parametrize("digits", ["１６", "١٦", "۱۶"])
def test_tile_numbers_in_other_scripts_are_a_400(li_tiles, digits):
    """Full-width (１６) and Arabic-Indic digits matched the tile path's ``\\d`` and int()
    read them: the tile was served under a second URL (another cache entry, a 204 for z16's
    empty corner) where the README promises a 400 for a z/y/x that is not a number."""
    for path in (f"/collections/buildings/tiles/WebMercatorQuad/{digits}/0/0",
                 f"/collections/buildings/tiles/WebMercatorQuad/16/{digits}/0",
                 f"/tiles/WebMercatorQuad/16/0/{digits}"):
        r = requests.get(li_tiles.base + path, timeout=30)
        assert r.status_code == 400, (path, r.status_code)
        assert "non-negative integers" in r.json()["description"]


def test_buildings_across_tile_edges_keep_their_chinese_class(li_tiles):
    """The four z16 tiles around a corner by a building that a tile edge cuts: every building
    that meets a tile is in it (clipped, not dropped), with its 用途 as stored."""
    db = li_tiles
    w = 2 * R / 2 ** 16
    x0, _, x1, _ = shapely.bounds(db.g3857).T
    cut = np.flatnonzero(np.floor((x0 + R) / w) != np.floor((x1 + R) / w))
    i = cut[np.argmax(shapely.area(db.g3857[cut]))]  # the largest the edge cuts
    cy = shapely.centroid(db.g3857[i]).y
    col, row = int((x1[i] + R) // w), round((R - cy) / w)  # the corner at (col, row)
    tree = shapely.STRtree(db.g3857)
    across = 0
    for c, r in ((col - 1, row - 1), (col, row - 1), (col - 1, row), (col, row)):
        box = _box(16, c, r)
        want = set(db.codes[tree.query(box, predicate="intersects")])
        across += sum(1 for i in tree.query(box, predicate="intersects")
                      if not shapely.within(db.g3857[i], box))
        resp = requests.get(f"{db.base}/collections/buildings/tiles/WebMercatorQuad/16/{r}/{c}",
                            timeout=30)
        if not want:
            assert resp.status_code == 204
            continue
        assert resp.status_code == 200
        feats = mapbox_vector_tile.decode(resp.content)["buildings"]["features"]
        got = {f["properties"]["code"] for f in feats}
        margin = shapely.buffer(box, w * 64 / 4096, join_style="mitre")  # the tile's buffer
        assert want <= got <= set(db.codes[tree.query(margin, predicate="intersects")])
        assert all(f["properties"].get("use_name") == db.use[f["properties"]["code"]]
                   for f in feats)
    assert across > 0  # some building really crosses an edge
