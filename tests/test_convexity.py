"""One convex ring is taken as valid without GEOS (loaders.convexity): GEOS's own
``is_valid`` is the oracle — the fast path may send a valid polygon on to GEOS, never call an
invalid one valid — and the rings every footprint load meets most are taken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from shapely import affinity

from loaders.convexity import convex_rings
from loaders.geometry import prepare

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "li_buildings.gpkg"


def fast(geoms) -> np.ndarray:
    geoms = np.asarray(geoms, dtype=object)
    coords, group = shapely.get_coordinates(geoms, return_index=True)
    got = convex_rings(coords, group, len(geoms))
    wrong = got & ~shapely.is_valid(geoms)
    assert not wrong.any(), [geoms[i].wkt for i in np.flatnonzero(wrong)][:3]
    return got


SQUARE = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])


def test_named_cases() -> None:
    star = shapely.Polygon([(10 * np.cos(a), 10 * np.sin(a)) for a in np.arange(5) * 4 * np.pi / 5])
    cases = {
        "square": (SQUARE, True),
        "clockwise square": (SQUARE.reverse(), True),
        "triangle": (shapely.Polygon([(0, 0), (1, 0), (0, 1)]), True),
        "far from the origin (CGCS2000 zone)": (affinity.translate(SQUARE, 39500000, 3800000),
                                                True),
        "one-part multipolygon": (shapely.MultiPolygon([SQUARE]), True),
        "bow tie": (shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)]), False),
        "pentagram (every turn left, wound twice)": (star, False),
        "square traversed twice": (shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0),
                                                    (10, 0), (10, 10), (0, 10)]), False),
        "L shape (valid, reflex vertex)": (shapely.Polygon([(0, 0), (2, 0), (2, 1), (1, 1),
                                                            (1, 2), (0, 2)]), False),
        "hole": (shapely.Polygon(SQUARE.exterior.coords, [[(2, 2), (3, 2), (3, 3)]]), False),
        "hole starting at the shell's first point": (
            shapely.Polygon(SQUARE.exterior.coords, [[(0, 0), (3, 2), (3, 3)]]), False),
        "repeated point": (shapely.Polygon([(0, 0), (10, 0), (10, 0), (10, 10), (0, 10)]), False),
        "straight vertex": (shapely.Polygon([(0, 0), (5, 0), (10, 0), (10, 10), (0, 10)]), False),
        "two parts": (shapely.MultiPolygon([SQUARE, affinity.translate(SQUARE, 20)]), False),
        "empty": (shapely.Polygon(), False),
        "missing": (None, False),
    }
    got = fast([g for g, _ in cases.values()])
    assert dict(zip(cases, got.tolist())) == {k: v for k, (_, v) in cases.items()}


def test_random_rings_never_invalid() -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    # quadrilaterals of random points: convex, reflex and crossed ones
    pts = rng.uniform(0, 10, (n, 4, 2))
    quads = shapely.polygons(np.concatenate([pts, pts[:, :1]], axis=1))
    got = fast(quads)
    assert 0.2 * n < got.sum() < shapely.is_valid(quads).sum()
    # nearly straight vertices far from the origin: their turn is within rounding
    base = rng.uniform(0, 1e6, (n, 2)) + [500000, 3800000]
    d = rng.normal(size=(n, 2))
    p = np.stack([base, base + d, base + 2 * d + rng.normal(size=(n, 2)) * 1e-9,
                  base + rng.normal(size=(n, 2))], axis=1)
    fast(shapely.polygons(np.concatenate([p, p[:, :1]], axis=1)))
    # regular n-gons, some wound twice (stars), mixed with the rest
    k = rng.integers(3, 12, 2000)
    step = rng.choice([1, 2], 2000)
    rings = [shapely.Polygon([(np.cos(a), np.sin(a)) for a in np.arange(m) * s * 2 * np.pi / m])
             for m, s in zip(k.tolist(), step.tolist()) if not (s == 2 and m % 2 == 0)]
    got = fast(rings)
    assert got.sum() > 0


def test_prepare_keeps_geos_verdicts() -> None:
    """Through the loaders' geometry step: convex rings pass unflagged, the crossed and the
    twice-wound ones are still repaired exactly as before."""
    star = shapely.Polygon([(10 * np.cos(a), 10 * np.sin(a)) for a in np.arange(5) * 4 * np.pi / 5])
    bow = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    geoms = np.array([SQUARE, star, bow, affinity.translate(SQUARE, 50)], dtype=object)
    out = prepare(geoms, None, "polygon")
    assert [f for f in out.flags] == [[], ["geometry_repaired"], ["geometry_repaired"], []]
    assert shapely.is_valid(out.geoms).all()
    assert shapely.equals(out.geoms[1], shapely.make_valid(star))


def test_real_footprints() -> None:
    if not REAL.exists():
        pytest.skip(f"real OSM buildings not found at {REAL}")
    table = pyogrio.read_arrow(REAL, layer="buildings")[1]
    geoms = shapely.from_wkb(table.column("geom").to_numpy(zero_copy_only=False))
    got = fast(geoms)
    quads = shapely.get_num_coordinates(geoms) == 5
    # most quadrilateral footprints are convex: taken without GEOS
    assert got[quads].mean() > 0.9


def test_underflowing_and_non_finite_rings() -> None:
    """Coordinates near 1e-155 make the turn's products underflow: undecided, left to GEOS
    (a thin crossed quadrilateral there was called convex); non-finite coordinates (rejected
    before the check, still in its input) are never taken and raise no warning."""
    import warnings

    crossed = shapely.from_wkt(
        "POLYGON ((1.94029512395183e-156 2.829894555317309e-156, "
        "3.7951604320148897e-156 5.53519086378876e-156, "
        "4.0986184327638986e-156 5.977780309845842e-156, "
        "3.2844398268466325e-156 4.790311674011491e-156, "
        "1.94029512395183e-156 2.829894555317309e-156))")
    rng = np.random.default_rng(11)
    pts = rng.uniform(0, 1e-155, (20000, 4, 2))
    tiny = shapely.polygons(np.concatenate([pts, pts[:, :1]], axis=1))
    with warnings.catch_warnings():  # shapely's own warning of building them
        warnings.simplefilter("ignore")
        inf = shapely.Polygon([(0, 0), (np.inf, 0), (1, 1), (0, 1)])
        nan = shapely.Polygon([(0, 0), (1, 0), (np.nan, 1), (0, 1)])
    huge = affinity.scale(SQUARE, 1e300, 1e300, origin=(0, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fast([crossed, inf, nan, huge, *tiny])
    assert not got[:3].any()
    assert not got[4:].any()  # every tiny ring goes to GEOS
