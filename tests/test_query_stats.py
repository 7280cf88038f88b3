"""Statistics on the hand-drawn city: shares from shapely; totals add up to the layer."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from cim.errors import InputError
from layers.query.stats import run, stats
from tests import query_fixture
from tests.conftest import run_cli
from tests.query_fixture import BUILDINGS, DISTRICTS, GRID, PIPES

qdb = query_fixture.qdb  # the hand-drawn city, a database per module


def expected(features: dict, units: dict, unit_of, class_of, measure) -> dict:
    """(unit, class) → [count by assigned unit, measure split by intersection]."""
    out: dict = defaultdict(lambda: [0, 0.0])
    for f in features.values():
        g = f[0]
        out[(unit_of(f), class_of(f))][0] += 1
        inside = 0.0
        for u, ug in units.items():
            m = measure(g.intersection(ug))
            if m > 0:
                out[(u, class_of(f))][1] += m
                inside += m
        if measure(g) - inside > 1e-9:
            out[(None, class_of(f))][1] += measure(g) - inside
    return dict(out)


def same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in want.items()}
    assert {k: v[1] for k, v in got.items()} == \
        pytest.approx({k: v[1] for k, v in want.items()}, abs=1e-6)


def test_pipes_per_grid_cell_and_class(qdb):
    res = json.loads(run_cli(["query", "stats", "pipe_segments", "--by", "grid", "--class",
                              "pipe_class", "--json"], qdb.env(), check=True).stdout)
    got = {(r["unit_code"], r["class"]): (r["count"], r["length_m"]) for r in res["rows"]}
    want = expected(PIPES, GRID, lambda f: f[2], lambda f: f[1], lambda g: g.length)
    same(got, want)
    assert all(r["area_m2"] is None for r in res["rows"])
    # totals add up to the layer
    assert sum(r["count"] for r in res["rows"]) == len(PIPES)
    assert sum(r["length_m"] for r in res["rows"]) == \
        pytest.approx(sum(g.length for g, *_r in PIPES.values()), abs=1e-6)
    # P4 runs 50 m beyond the grid: the remainder row
    assert got[(None, "01")] == (0, pytest.approx(50.0))


def test_buildings_per_district(qdb):
    res = stats(qdb.conninfo, "buildings", by="district")
    got = {(r["unit_code"], r["class"]): (r["count"], r["area_m2"]) for r in res["rows"]}
    want = expected(BUILDINGS, DISTRICTS, lambda f: f[2], lambda f: None, lambda g: g.area)
    same(got, want)
    assert sum(r["count"] for r in res["rows"]) == len(BUILDINGS)  # not the retired one
    assert sum(r["area_m2"] for r in res["rows"]) == \
        pytest.approx(sum(g.area for g, *_r in BUILDINGS.values()))
    assert all(r["length_m"] is None for r in res["rows"])
    assert run(qdb.conninfo, {"layer": "buildings", "by": "district"}) == res


def test_bad_inputs(qdb):
    with pytest.raises(InputError, match="--by"):
        stats(qdb.conninfo, "buildings", by="street")
    with pytest.raises(InputError, match="no column 'nope'"):
        stats(qdb.conninfo, "buildings", class_field="nope")
    with pytest.raises(InputError, match="not assigned"):
        stats(qdb.conninfo, "grid_cells", by="grid")
