"""``near A A --distance``: a layer against itself lists each unordered pair once and never a
feature with itself (each pair was listed twice, (x, y) and (y, x): a helper's probe).
Expected pairs from shapely on the hand-drawn city."""

from __future__ import annotations

import itertools

import pytest

from layers.query.area import Area
from layers.query.near import near
from tests import query_fixture
from tests.query_fixture import BUILDINGS, G1, GRID

qdb = query_fixture.qdb  # the hand-drawn city, a database per module


def _unordered(rows) -> list[frozenset]:
    return [frozenset((r["a_code"], r["b_code"])) for r in rows]


def test_a_layer_against_itself_lists_each_pair_once(qdb):
    want = {frozenset((x, y)): gx.distance(gy)
            for (x, (gx, *_a)), (y, (gy, *_b)) in itertools.combinations(BUILDINGS.items(), 2)
            if gx.distance(gy) <= 100}
    assert len(want) >= 3  # B1–B2, B2–B3, B3–B4 … by construction
    rows = near(qdb.conninfo, "buildings", "buildings", distance=100)["rows"]
    assert all(r["a_code"] != r["b_code"] for r in rows)
    got = _unordered(rows)
    assert len(got) == len(set(got))  # once each
    assert {frozenset((r["a_code"], r["b_code"])): r["distance_m"] for r in rows} == \
        pytest.approx(want, abs=1e-6)
    assert all(r["a_code"] < r["b_code"] for r in rows)


def test_a_pair_with_one_feature_in_the_area_is_listed_once(qdb):
    """In grid cell G1 lie B1 and B2; B3 is outside G1 but within 100 m of B2: the pair
    B2–B3 is listed (B2 takes part), once; a pair of two features outside G1 is not."""
    g1 = GRID[G1]
    want = {frozenset((x, y)): gx.distance(gy)
            for (x, (gx, *_a)), (y, (gy, *_b)) in itertools.combinations(BUILDINGS.items(), 2)
            if gx.distance(gy) <= 100 and (gx.intersects(g1) or gy.intersects(g1))}
    rows = near(qdb.conninfo, "buildings", "buildings", distance=100, area=Area(grid=G1))["rows"]
    got = _unordered(rows)
    assert len(got) == len(set(got))
    assert {frozenset((r["a_code"], r["b_code"])): r["distance_m"] for r in rows} == \
        pytest.approx(want, abs=1e-6)


def test_nearest_of_a_layer_against_itself_stays_per_feature(qdb):
    """Each building's nearest other building: one row per building, never itself."""
    rows = near(qdb.conninfo, "buildings", "buildings", nearest=1)["rows"]
    assert sorted(r["a_code"] for r in rows) == sorted(BUILDINGS)
    for r in rows:
        g = BUILDINGS[r["a_code"]][0]
        d = min(o.distance(g) for c, (o, *_x) in BUILDINGS.items() if c != r["a_code"])
        assert r["b_code"] != r["a_code"] and r["distance_m"] == pytest.approx(d, abs=1e-6)
