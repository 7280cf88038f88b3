"""The district and grid cell of a feature, placed mostly without its point on surface.

:meth:`loaders.engine.places.AreaIndex.place` decides a feature that one area alone meets by
bounding box and that this area covers without computing the feature's point on surface (an
axis-aligned box by bounds, a district by a raster of the cells it covers, the rest by GEOS).
Whatever the path, the answer is the rule's: the area holding the point on surface (boundary
included), the lowest index when several hold it; for districts, a point missing every
district gives the district holding the larger share of the feature, then the lowest index.
The expected answers are computed here, one feature and one area at a time, from shapely's
point on surface — never with the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from loaders.engine import places
from loaders.engine.places import AreaIndex, Areas


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
    """10 × 10 boxes over 0–80 sharing edges, a few missing (gaps), a triangle and a
    diamond beside them, and one box overlapping four cells (last: they win)."""
    cells = [shapely.box(x, y, x + 10, y + 10) for y in range(0, 80, 10)
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


def _expected(feats, districts, grid) -> tuple[np.ndarray, np.ndarray]:
    """The rule, feature by feature and area by area."""
    dist, cell = [], []
    for f in feats:
        if f is None or f.is_empty:
            dist.append(-1)
            cell.append(-1)
            continue
        pos = shapely.point_on_surface(f)
        d = [i for i, a in enumerate(districts) if a.intersects(pos)]
        if not d:  # the larger share of the feature, then the lowest index
            shares = [(-a.intersection(f).area, i) for i, a in enumerate(districts)
                      if a.intersects(f)]
            d = [min(shares)[1]] if shares else []
        dist.append(d[0] if d else -1)
        g = [i for i, a in enumerate(grid) if a.intersects(pos)]
        cell.append(g[0] if g else -1)
    return np.array(dist), np.array(cell)


def _index(districts, grid) -> AreaIndex:
    return AreaIndex(Areas([f"3708{i:02d}" for i in range(len(districts))],
                           np.array(districts, dtype=object),
                           [f"g{i:03d}" for i in range(len(grid))], np.array(grid, dtype=object)))


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(12)
    districts, grid = _districts(), _grid()
    feats = _features(rng, 4000) + [None, shapely.from_wkt("POLYGON EMPTY"),
                                    shapely.from_wkt("POINT EMPTY")]
    return districts, grid, feats, _expected(feats, districts, grid)


def test_the_scene_has_what_the_shortcut_must_get_right(scene):
    """Premises: ties on shared edges and in overlaps, points missing every district that a
    share places, features outside every district and grid cell."""
    districts, grid, feats, (dist, cell) = scene
    pos = [shapely.point_on_surface(f) if f is not None and not f.is_empty else None
           for f in feats]
    held = [sum(a.intersects(p) for a in districts) if p is not None else 0 for p in pos]
    cells = [sum(a.intersects(p) for a in grid) if p is not None else 0 for p in pos]
    assert sum(h > 1 for h in held) > 50 and sum(c > 1 for c in cells) > 200
    by_share = [i for i, (h, d) in enumerate(zip(held, dist)) if h == 0 and d >= 0]
    assert len(by_share) > 30
    assert (dist < 0).sum() > 100 and (cell < 0).sum() > 300
    kinds = shapely.get_type_id(np.array(feats, dtype=object))
    assert {0, 1, 3} <= set(kinds.tolist())


@pytest.mark.parametrize("raster, after", [(256, 4096), (16, 0), (5, 0), (64, 300)])
def test_place_gives_the_rule_s_answers(scene, monkeypatch, raster, after):
    """Every path (box by bounds, raster — coarse ones, whose cell edges fall on the
    features' lattice — GEOS covers, point on surface) against the rule, in batches (a
    raster appears once an area has been asked enough)."""
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


def test_place_asks_the_point_on_surface_of_few(monkeypatch):
    """Most features are decided without their point on surface (one tree or both asked,
    once for both), and a tree not asked gives None."""
    districts, grid = _districts(), _grid()
    feats = _small(np.random.default_rng(7), 3000)
    dist, cell = _expected(feats, districts, grid)
    monkeypatch.setattr(places._Covers, "RASTER_AFTER", 0)
    idx = _index(districts, grid)
    geoms = np.array(feats, dtype=object)
    asked = []
    pos = shapely.point_on_surface

    def counted(g):
        asked.append(len(g))
        return pos(g)

    monkeypatch.setattr(places.shapely, "point_on_surface", counted)
    d, g = idx.place(geoms, districts=True, grid=False)
    assert g is None and np.array_equal(d, dist) and sum(asked) < 0.15 * len(geoms)
    asked.clear()
    d, g = idx.place(geoms, districts=False, grid=True)
    assert d is None and np.array_equal(g, cell) and sum(asked) < 0.2 * len(geoms)
    asked.clear()
    d, g = idx.place(geoms)
    assert np.array_equal(d, dist) and np.array_equal(g, cell)
    assert len(asked) == 1 and asked[0] < 0.25 * len(geoms)  # once, for the union


def test_place_without_areas_places_nothing():
    geoms = np.array([shapely.Point(1, 1), shapely.box(0, 0, 2, 2)], dtype=object)
    idx = AreaIndex(Areas([], np.array([], dtype=object), [], np.array([], dtype=object)))
    d, g = idx.place(geoms)
    assert d.tolist() == [-1, -1] and g.tolist() == [-1, -1]
    d, g = _index(_districts(), _grid()).place(np.array([], dtype=object))
    assert len(d) == 0 and len(g) == 0
