"""The district and grid cell of a feature, placed mostly without measuring it.

:meth:`loaders.engine.places.AreaIndex.place` decides a feature that an area covers without
measuring its shares (an axis-aligned box by bounds, a district by a raster of the cells it
covers, the rest by GEOS). Whatever the path, the answer is the rule's: an area covering the
feature (boundary included), the lowest index when several do (of grid cells, one of the
feature's own district first); else the area holding the
larger share of it (area, length or points, of its normalized geometry, in parts of
``SHARE_PARTS`` rounded), a grid cell of the feature's own district first, then the lowest
index; an area only touching it (no share, not covering it within 1 mm) holds none; none
holding it: -1. The expected answers are computed here, one feature and one
area at a time with shapely — never with the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from loaders.engine import places
from loaders.engine.places import SHARE_PARTS, AreaIndex, Areas


def _districts() -> list[shapely.Geometry]:
    """In a 100 × 100 world, integral coordinates: an L (non-convex), a box sharing an edge
    with it, a many-vertex disc with a hole overlapping the box, a triangle overlapping the L
    (higher index: the L wins where both hold). The top-left corner is in none."""
    ell = shapely.Polygon([(0, 0), (60, 0), (60, 30), (30, 30), (30, 60), (0, 60)])
    box = shapely.box(60, 0, 100, 50)
    disc = shapely.Point(70, 70).buffer(28, 32).difference(shapely.Point(75, 75).buffer(5, 8))
    tri = shapely.Polygon([(10, 10), (50, 10), (10, 50)])
    return [ell, box, disc, tri]


def _grid() -> list[shapely.Geometry]:
    """A box drawn across the line between the L and the box district (first: the lowest
    index; the box district's by its larger share, so the L's features it covers keep the
    L's own cell), 10 × 10 boxes over 0–80 sharing edges, a few missing (gaps), a triangle and
    a diamond beside them, and one box overlapping four cells (last: they win)."""
    cells = [shapely.box(50, 1, 80, 9)]
    cells += [shapely.box(x, y, x + 10, y + 10) for y in range(0, 80, 10)
             for x in range(0, 80, 10) if (x, y) not in {(30, 30), (50, 10), (70, 70)}]
    cells.append(shapely.Polygon([(80, 0), (90, 0), (80, 10)]))
    cells.append(shapely.Polygon([(90, 20), (95, 25), (90, 30), (85, 25)]))
    cells.append(shapely.box(15, 15, 25, 25))
    return cells


def _features(rng: np.random.Generator, n: int) -> list[shapely.Geometry]:
    """Points, lines and polygons on a lattice of 0.5 (many on a boundary: grid lines every
    10, district edges), some larger ones crossing district borders, a few off the lattice."""
    def lattice(size: int) -> np.ndarray:
        return rng.integers(-10, 211, size) / 2.0  # -5 … 105

    out: list[shapely.Geometry] = []
    for _ in range(n):
        kind = rng.integers(0, 6)
        x, y = lattice(2)
        if kind == 0:  # a point, often on a grid line
            if rng.random() < 0.3:
                x = float(rng.integers(0, 11) * 10)
            out.append(shapely.Point(x, y))
        elif kind == 1:  # a small box
            w, h = rng.integers(1, 17, 2) / 2.0
            out.append(shapely.box(x, y, x + w, y + h))
        elif kind == 2:  # a line of 2–4 vertices, sometimes along a grid line
            steps = rng.integers(-16, 17, (rng.integers(1, 4), 2)) / 2.0
            if rng.random() < 0.2:
                y = float(rng.integers(0, 11) * 10)
                steps[:, 1] = 0.0
            pts = np.cumsum(np.vstack([[x, y], steps]), axis=0)
            line = shapely.LineString(pts)
            out.append(line if line.length > 0 else shapely.Point(x, y))
        elif kind == 3:  # a triangle
            d = rng.integers(-12, 13, (2, 2)) / 2.0
            tri = shapely.Polygon([(x, y), (x + d[0, 0], y + d[0, 1]),
                                   (x + d[1, 0], y + d[1, 1])])
            out.append(tri if tri.area > 0 else shapely.Point(x, y))
        elif kind == 4:  # a rotated square, off the lattice
            out.append(shapely.Polygon(shapely.Point(x, y).buffer(rng.uniform(0.5, 4), 1)
                                       .exterior.coords))
        else:  # a larger L: its point on surface often misses, its share decides
            s = float(rng.integers(4, 30))
            out.append(shapely.Polygon([(x, y), (x + s, y), (x + s, y + 2), (x + 2, y + 2),
                                        (x + 2, y + s), (x, y + s)]))
    return out


def _share(f: shapely.Geometry, a: shapely.Geometry) -> int:
    """The share of feature ``f`` that area ``a`` holds, in parts of the feature, rounded."""
    g = shapely.normalize(f if f.is_valid else shapely.make_valid(f))
    dim = shapely.get_dimensions(g)

    def size(x):
        return x.area if dim == 2 else x.length if dim == 1 else \
            float(shapely.get_num_coordinates(x))
    total = size(g)
    return math.floor(size(g.intersection(a)) / total * SHARE_PARTS + 0.5) if total > 0 else 0


def _rule(f, areas, group_of=None, group: int = -1) -> int:
    """The rule for one feature, area by area: the lowest covering (one of the feature's
    ``group`` first); else the larger share (a share > 0 in an area of the feature's ``group``
    first), the lowest index; else -1."""
    if f is None or f.is_empty:
        return -1
    covering = [i for i, a in enumerate(areas) if a.covers(f)]
    if covering:
        own = [i for i in covering if group >= 0 and group_of is not None
               and group_of[i] == group]
        return (own or covering)[0]
    ranked = []
    for i, a in enumerate(areas):
        if a.intersects(f):
            s = _share(f, a)
            if s <= 0 and not a.buffer(1e-3).covers(f):
                continue  # only touching it (an edge or a point in common): holds none
            own = group >= 0 and group_of is not None and group_of[i] == group and s > 0
            ranked.append((not own, -s, i))
    return min(ranked)[2] if ranked else -1


def _grid_districts(districts, grid) -> list[int]:
    """Each grid cell's district: the rule's, the cell taken as a feature."""
    return [_rule(c, districts) for c in grid]


def _expected(feats, districts, grid) -> tuple[np.ndarray, np.ndarray]:
    """The rule, feature by feature and area by area."""
    owner = _grid_districts(districts, grid)
    dist = [_rule(f, districts) for f in feats]
    cell = [_rule(f, grid, owner, d) for f, d in zip(feats, dist)]
    return np.array(dist), np.array(cell)


def _index(districts, grid) -> AreaIndex:
    codes = [f"3708{i:02d}" for i in range(len(districts))]
    owner = [codes[d] if d >= 0 else "" for d in _grid_districts(districts, grid)]
    return AreaIndex(Areas(codes, np.array(districts, dtype=object),
                           [f"g{i:03d}" for i in range(len(grid))], np.array(grid, dtype=object),
                           owner))


def _reversed(feats) -> list[shapely.Geometry]:
    """The scene's lines digitised the other way."""
    return [shapely.reverse(f) for f in feats
            if f is not None and shapely.get_type_id(f) == 1]


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(12)
    districts, grid = _districts(), _grid()
    feats = _features(rng, 4000)
    # in the L, covered by its own cell and by the cross-line cell of the box district
    feats += [shapely.Point(57, 3), shapely.box(51, 2, 55, 8),
              shapely.LineString([(52, 4), (58.5, 7)])]
    feats += _reversed(feats) + [None, shapely.from_wkt("POLYGON EMPTY"),
                                 shapely.from_wkt("POINT EMPTY")]
    return districts, grid, feats, _expected(feats, districts, grid)


def test_the_scene_has_what_the_shortcut_must_get_right(scene):
    """Premises: ties on shared edges and in overlaps (several areas cover a feature),
    features no area covers that a share places — some only touching (every share 0), some
    whose share is tied — grid cells preferred by district, features outside every district
    and grid cell, lines whose point on surface (an end, for two vertices) lies in an area
    other than the rule's, and lines digitised both ways."""
    districts, grid, feats, (dist, cell) = scene
    live = [f for f in feats if f is not None and not f.is_empty]
    assert sum(sum(a.covers(f) for a in districts) > 1 for f in live) > 50
    assert sum(sum(a.covers(f) for a in grid) > 1 for f in live) > 100
    uncovered = [f for f in live if not any(a.covers(f) for a in grid)]
    shares = [sorted((_share(f, a) for a in grid if a.intersects(f)), reverse=True)
              for f in uncovered]
    assert sum(len(s) > 1 and s[0] > 0 for s in shares) > 500  # a share decides
    assert sum(len(s) > 1 and s[0] == s[1] > 0 for s in shares) > 20  # tied: lowest index
    assert sum(bool(s) and s[0] == 0 for s in shares) > 10  # only touching
    by_share = [d for f, d in zip(feats, dist) if d >= 0 and f is not None
                and not any(a.covers(f) for a in districts)]
    assert len(by_share) > 100
    assert (dist < 0).sum() > 100 and (cell < 0).sum() > 300
    owner = _grid_districts(districts, grid)
    preferred = [i for i, (f, d) in enumerate(zip(feats, dist)) if cell[i] >= 0 and
                 _rule(f, grid) != cell[i]]
    assert len(preferred) > 5 and all(owner[cell[i]] == dist[i] for i in preferred)
    # covered by the cross-line cell (index 0, the box district's) and by an L's own cell
    assert owner[0] == 1
    across = [i for i, f in enumerate(feats) if f is not None and not f.is_empty
              and grid[0].covers(f) and dist[i] == 0]
    assert len(across) > 3 and all(cell[i] != 0 and owner[cell[i]] == 0 for i in across)
    pos_elsewhere = [i for i, f in enumerate(feats) if f is not None and
                     shapely.get_type_id(f) == 1 and cell[i] >= 0 and
                     not grid[cell[i]].intersects(shapely.point_on_surface(f))]
    assert len(pos_elsewhere) > 20
    kinds = shapely.get_type_id(np.array(feats, dtype=object))
    assert {0, 1, 3} <= set(kinds.tolist())


def test_a_line_is_placed_alike_digitised_either_way(scene):
    districts, grid, feats, _ = scene
    lines = [f for f in feats if f is not None and shapely.get_type_id(f) == 1]
    idx = _index(districts, grid)
    fwd = idx.place(np.array(lines, dtype=object))
    back = idx.place(shapely.reverse(np.array(lines, dtype=object)))
    assert np.array_equal(fwd[0], back[0]) and np.array_equal(fwd[1], back[1])


@pytest.mark.parametrize("raster, after", [(256, 4096), (16, 0), (5, 0), (64, 300)])
def test_place_gives_the_rule_s_answers(scene, monkeypatch, raster, after):
    """Every path (box by bounds, raster — coarse ones, whose cell edges fall on the
    features' lattice — GEOS covers, shares) against the rule, in batches (a raster appears
    once an area has been asked enough)."""
    districts, grid, feats, (dist, cell) = scene
    monkeypatch.setattr(places._Covers, "RASTER", raster)
    monkeypatch.setattr(places._Covers, "RASTER_AFTER", after)
    idx = _index(districts, grid)
    geoms = np.array(feats, dtype=object)
    got = [idx.place(geoms[a:a + 700]) for a in range(0, len(geoms), 700)]
    gd = np.concatenate([d for d, _ in got])
    gg = np.concatenate([g for _, g in got])
    assert np.flatnonzero(gd != dist).tolist() == []
    assert np.flatnonzero(gg != cell).tolist() == []
    if after == 0:  # the rasters were used: every non-box district has one
        assert set(idx.dcov.rasters) == {0, 2, 3}


def _small(rng: np.random.Generator, n: int) -> list[shapely.Geometry]:
    """Footprint-like features: boxes of 0.5–2, points and short lines, on the lattice."""
    x, y = rng.integers(0, 200, (2, n)) / 2.0
    w, h = rng.integers(1, 5, (2, n)) / 2.0
    kind = rng.integers(0, 3, n)
    return [shapely.box(a, b, a + c, b + d) if k == 0 else shapely.Point(a, b) if k == 1
            else shapely.LineString([(a, b), (a + c, b - d)])
            for a, b, c, d, k in zip(x, y, w, h, kind)]


def test_place_measures_few(monkeypatch):
    """Most features are decided without measuring their shares (one tree or both asked:
    15 % of the features for districts — most of them in no district, only asked whether one
    meets them — 9 % for grid cells), and a tree not asked gives None."""
    districts, grid = _districts(), _grid()
    feats = _small(np.random.default_rng(7), 3000)
    dist, cell = _expected(feats, districts, grid)
    monkeypatch.setattr(places._Covers, "RASTER_AFTER", 0)
    idx = _index(districts, grid)
    geoms = np.array(feats, dtype=object)
    asked = []
    shares = AreaIndex.shares

    def counted(cov, geoms, *args, **kw):
        asked.append(len(geoms))
        return shares(cov, geoms, *args, **kw)

    monkeypatch.setattr(AreaIndex, "shares", staticmethod(counted))
    d, g = idx.place(geoms, districts=True, grid=False)
    assert g is None and np.array_equal(d, dist) and sum(asked) < 0.2 * len(geoms)
    asked.clear()
    d, g = idx.place(geoms, districts=False, grid=True)
    assert d is None and sum(asked) < 0.12 * len(geoms)
    asked.clear()
    d, g = idx.place(geoms)
    assert np.array_equal(d, dist) and np.array_equal(g, cell)
    assert len(asked) == 2 and sum(asked) < 0.3 * len(geoms)


def test_place_without_areas_places_nothing():
    geoms = np.array([shapely.Point(1, 1), shapely.box(0, 0, 2, 2)], dtype=object)
    idx = AreaIndex(Areas([], np.array([], dtype=object), [], np.array([], dtype=object)))
    d, g = idx.place(geoms)
    assert d.tolist() == [-1, -1] and g.tolist() == [-1, -1]
    d, g = _index(_districts(), _grid()).place(np.array([], dtype=object))
    assert len(d) == 0 and len(g) == 0
