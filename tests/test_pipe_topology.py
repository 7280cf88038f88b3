"""The load report's network measures (loaders.pipes.topology._components), on whole columns:
against networks whose answer is known by construction and a breadth-first search written
here, one node at a time."""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np
import pytest

from loaders.pipes.topology import _components


def _bfs(edges: list[tuple[int, int]]) -> dict:
    adj: dict[int, list[int]] = defaultdict(list)
    degree: dict[int, int] = defaultdict(int)
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
        degree[a] += 1
        degree[b] += 1
    comp: dict[int, int] = {}
    for start in degree:
        if start in comp:
            continue
        comp[start] = start
        todo = deque([start])
        while todo:
            x = todo.popleft()
            for y in adj[x]:
                if y not in comp:
                    comp[y] = start
                    todo.append(y)
    size: dict[int, int] = defaultdict(int)
    for a, _ in edges:
        size[comp[a]] += 1
    return {"segments": len(edges), "nodes": len(degree),
            "connected_components": len(set(comp.values())),
            "largest_component_segments": max(size.values(), default=0),
            "dangling_ends": sum(1 for d in degree.values() if d == 1)}


def _measure(edges: list[tuple[int, int]], n: int) -> dict:
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    return _components(a, b, n)


@pytest.mark.parametrize("edges, n, want", [
    ([], 3, (0, 0, 0, 0, 0)),
    # a chain whose node numbers go up and down: one component, two dangling ends
    ([(5, 2), (2, 7), (7, 0), (0, 9), (9, 1)], 10, (5, 6, 1, 5, 2)),
    # a star and, apart, a self-loop (degree 2, not dangling) and a doubled pipe
    ([(0, 1), (0, 2), (0, 3), (4, 4), (5, 6), (6, 5)], 7, (6, 7, 3, 3, 3)),
])
def test_networks_known_by_construction(edges, n, want):
    got = _measure(edges, n)
    assert (got["segments"], got["nodes"], got["connected_components"],
            got["largest_component_segments"], got["dangling_ends"]) == want
    assert all(type(v) is int for v in got.values())  # the report is JSON


def test_random_networks_agree_with_a_breadth_first_search():
    rng = np.random.default_rng(12)
    for _ in range(400):
        n = int(rng.integers(1, 60))
        edges = [tuple(int(x) for x in rng.integers(0, n, 2))
                 for _ in range(int(rng.integers(0, 80)))]
        assert _measure(edges, n) == _bfs(edges), edges
    # one long pipe run numbered at random: many hooking rounds would show here
    perm = rng.permutation(50_000)
    edges = list(zip(perm[:-1].tolist(), perm[1:].tolist()))
    assert _measure(edges, 50_000) == _bfs(edges)
