"""Footprints across tile edges: a planner's building over the edge of two (or four) tiles is
in each of them, clipped to the tile with its 64-unit buffer, and the pieces inside the tiles
add up to the footprint, with no gap along the edge, at the detail zoom and at low zooms
(simplified). Footprints are built here in EPSG:3857 around a z16 tile edge, stored in
EPSG:4527 (pyproj), and compared with shapely on the source, never with PostGIS."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import requests
import shapely
from shapely.geometry import shape

from tests.conftest import make_db, scratch_api
from tests.test_tiles import decode

R = 6378137.0 * math.pi
TO_3857 = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:3857", always_xy=True)
TO_4527 = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4527", always_xy=True)
X0, Y0 = 39464187.5, 3915955.11  # inside 任城区
Z = 16


def proj(g, t):
    return shapely.transform(g, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def tile_box(z: int, col: int, row: int):
    w = 2 * R / 2 ** z
    return shapely.box(-R + col * w, R - (row + 1) * w, -R + (col + 1) * w, R - row * w)


def tile_of(x: float, y: float, z: int) -> tuple[int, int]:
    w = 2 * R / 2 ** z
    return int((x + R) // w), int((R - y) // w)


def from_tile(g, z: int, col: int, row: int):
    """Tile units (0..4096, y down) → EPSG:3857."""
    w = 2 * R / 2 ** z
    return shapely.transform(g, lambda c: np.column_stack(
        [-R + col * w + c[:, 0] / 4096 * w, R - row * w - c[:, 1] / 4096 * w]))


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    from loaders.buildings import load_buildings

    x, y = TO_3857.transform(X0, Y0)
    tb = tile_box(Z, *tile_of(x, y, Z))
    cx, cy = (tb.bounds[0] + tb.bounds[2]) / 2, (tb.bounds[1] + tb.bounds[3]) / 2
    ex, ny = tb.bounds[2], tb.bounds[3]  # the tile's right and top edges
    w = tb.bounds[2] - tb.bounds[0]
    shapes = {
        "right": shapely.box(ex - 30, cy - 20, ex + 30, cy + 20),
        "top": shapely.box(cx - 25, ny - 15, cx + 25, ny + 15),
        "corner": shapely.box(ex - 20, ny - 20, ex + 20, ny + 20),
        "courtyard": shapely.box(ex - 40, cy - 150, ex + 40, cy - 70).difference(
            shapely.box(ex - 20, cy - 130, ex + 20, cy - 90)),
        "u_shape": shapely.box(ex - 60, cy + 60, ex + 60, cy + 140).difference(
            shapely.box(ex - 30, cy + 80, ex + 60, cy + 120)),
        "three_tiles": shapely.box(tb.bounds[0] + 0.5 * w, cy - 260, ex + 1.3 * w, cy - 250),
    }
    stored = {k: proj(g, TO_4527) for k, g in shapes.items()}
    work = tmp_path_factory.mktemp("tilesedge")
    gpd.GeoDataFrame({"编号": list(stored), "建筑用途": ["住宅"] * len(stored)},
                     geometry=list(stored.values()), crs="EPSG:4527").to_file(work / "e.gpkg")
    d = make_db("tilesedge", jining_profile)
    rep = load_buildings(d.conninfo, jining_profile, work / "e.gpkg")
    assert rep.loaded == len(stored), rep
    codes = dict(d.rows("SELECT split_part(source_key, ':', 2), code FROM buildings "
                        "WHERE valid_to IS NULL"))
    with scratch_api(d, work) as base:
        # the source in EPSG:3857 as stored: the EPSG:4527 coordinates back through pyproj
        yield base, {codes[k]: proj(g, TO_3857) for k, g in stored.items()}


@pytest.mark.parametrize("z", [16, 14, 12])
def test_a_footprint_across_tile_edges_is_whole(served, z):
    base, src = served
    unit = 2 * R / 2 ** z / 4096
    tiles = set()
    for g in src.values():
        c0, r0 = tile_of(g.bounds[0], g.bounds[3], z)
        c1, r1 = tile_of(g.bounds[2], g.bounds[1], z)
        tiles |= {(c, r) for c in range(c0, c1 + 1) for r in range(r0, r1 + 1)}
    pieces: dict[str, list] = {code: [] for code in src}
    crossing = 0
    for col, row in sorted(tiles):
        r = requests.get(f"{base}/collections/buildings/tiles/WebMercatorQuad/{z}/{row}/{col}",
                         timeout=60)
        assert r.status_code == 200, (col, row, r.status_code)
        got = {f["properties"]["code"]: shape(f["geometry"])
               for f in decode(r.content)["buildings"]["features"]}
        tb = tile_box(z, col, row)
        buffered = tb.buffer(64 * unit, join_style="mitre")
        for code, g in src.items():
            if not g.intersects(tb):
                continue
            assert code in got, f"{code} missing from {z}/{row}/{col}"
            assert got[code].is_valid, (code, shapely.is_valid_reason(got[code]))
            dec = from_tile(got[code], z, col, row)
            # clipped to the tile and its buffer, within a unit (four when simplified)
            tol = (1.0 if z >= 16 else 4.0) * unit
            assert dec.hausdorff_distance(g.intersection(buffered)) <= tol, (code, z, col, row)
            pieces[code].append(dec.intersection(tb))
            crossing += not tb.contains(g)
    if z == Z:  # each footprint crosses an edge of the z16 tiles (each piece counted)
        assert crossing >= len(src)
    for code, g in src.items():
        whole = shapely.union_all(pieces[code])
        # what is missing or extra: at most the rounding to tile units along the outline
        assert g.difference(whole).area <= g.length * unit, code
        assert whole.difference(g).area <= g.length * unit, code
