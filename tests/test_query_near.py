"""Proximity on the hand-drawn city: distances from shapely (planar, in plan) on the fixture."""

from __future__ import annotations

import json

import pytest

from cim.errors import InputError
from layers.query.area import Area
from layers.query.near import near, run
from tests import query_fixture
from tests.conftest import run_cli
from tests.query_fixture import BUILDINGS, G1, PIPES

qdb = query_fixture.qdb  # the hand-drawn city, a database per module


def pairs(distance: float) -> dict:
    return {(bc, pc): bg.distance(pg) for bc, (bg, *_r) in BUILDINGS.items()
            for pc, (pg, *_s) in PIPES.items() if bg.distance(pg) <= distance}


def test_within_distance(qdb):
    res = json.loads(run_cli(["query", "near", "buildings", "pipe_segments", "--distance", "10",
                              "--json"], qdb.env(), check=True).stdout)
    got = {(r["a_code"], r["b_code"]): r["distance_m"] for r in res["rows"]}
    want = pairs(10)
    assert got == pytest.approx(want, abs=1e-6)
    # P3 lies 5 m east of B1 in plan, 40 m above it in z: plan distance
    assert got[("B1", "P3")] == pytest.approx(5.0)
    assert ("B1", "P1") not in got  # 20 m
    assert [r["a_code"] for r in res["rows"]] == sorted(r["a_code"] for r in res["rows"])


def test_nearest_k(qdb):
    res = near(qdb.conninfo, "buildings", "pipe_segments", nearest=2)
    got = {}
    for r in res["rows"]:
        got.setdefault(r["a_code"], []).append((r["b_code"], r["distance_m"]))
    for bc, (bg, *_r) in BUILDINGS.items():
        want = sorted(((pc, bg.distance(pg)) for pc, (pg, *_s) in PIPES.items()),
                      key=lambda t: (t[1], t[0]))[:2]
        assert [c for c, _ in got[bc]] == [c for c, _ in want], bc
        assert [d for _, d in got[bc]] == pytest.approx([d for _, d in want], abs=1e-6)
    # nearest within a distance: only those within it
    res = near(qdb.conninfo, "buildings", "pipe_segments", distance=10, nearest=1)
    assert {r["a_code"] for r in res["rows"]} == {b for b, _ in pairs(10)}


def test_same_layer_and_area(qdb):
    res = near(qdb.conninfo, "pipe_segments", "pipe_segments", nearest=1)
    assert all(r["a_code"] != r["b_code"] for r in res["rows"])
    assert len(res["rows"]) == len(PIPES)
    got = run(qdb.conninfo, {"a": "buildings", "b": "pipe_segments", "distance": 30,
                             "grid": G1})
    grid_g1 = query_fixture.GRID[G1]
    want = {k: v for k, v in pairs(30).items() if BUILDINGS[k[0]][0].intersects(grid_g1)}
    assert {(r["a_code"], r["b_code"]): r["distance_m"] for r in got["rows"]} == \
        pytest.approx(want, abs=1e-6)
    with pytest.raises(InputError, match="--distance"):
        near(qdb.conninfo, "buildings", "pipe_segments", area=Area())
