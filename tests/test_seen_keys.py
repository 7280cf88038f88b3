"""Duplicate source keys told by their hashes (loaders.engine.seenkeys): checked against a
plain set of strings walked in row order, with real hashes and with hashes forced to collide
(then only the texts can tell keys apart)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from loaders.engine import seenkeys
from loaders.engine.seenkeys import SeenKeys, part


def reference(batches: list[list[str]]) -> list[list[bool]]:
    seen: set[str] = set()
    out = []
    for keys in batches:
        row = []
        for k in keys:
            row.append(k not in seen)
            seen.add(k)
        out.append(row)
    return out


def walk(batches: list[list[str]], two_processes: bool) -> list[list[bool]]:
    """Batches taken in turn by two SeenKeys (as two converters: each takes its own batches'
    new keys and adds the other's parts) or by one."""
    procs = [SeenKeys(), SeenKeys()] if two_processes else [SeenKeys()]
    out = []
    for j, keys in enumerate(batches):
        me = procs[j % len(procs)]
        new = me.fresh(keys)
        out.append(new.tolist())
        p = me.take([k for k, f in zip(keys, new) if f])
        for other in procs:
            if other is not me:
                other.add(p)
    return out


def batches_of(rng: random.Random, n_batches: int, size: int, pool: int) -> list[list[str]]:
    keys = [f"buildings_1000000_0:JZ{i:07d}" for i in range(pool)] + ["", "中文:甲", "a\nb"]
    return [[rng.choice(keys) for _ in range(size)] for _ in range(n_batches)]


@pytest.mark.parametrize("two", [False, True])
def test_row_order_against_a_set(two: bool) -> None:
    rng = random.Random(3)
    batches = batches_of(rng, 12, 400, 3000)
    assert walk(batches, two) == reference(batches)
    # (the fixture has duplicates, within and across batches)
    assert sum(not f for row in reference(batches) for f in row) > 500


@pytest.mark.parametrize("two", [False, True])
def test_colliding_hashes_told_by_text(monkeypatch: pytest.MonkeyPatch, two: bool) -> None:
    monkeypatch.setattr(seenkeys, "_hashes", lambda keys: np.fromiter(
        (len(k) % 3 for k in keys), dtype=np.int64, count=len(keys)))
    rng = random.Random(5)
    batches = batches_of(rng, 8, 200, 500)
    assert walk(batches, two) == reference(batches)


def test_unique_keys_stay_new() -> None:
    s = SeenKeys()
    for b in range(20):
        keys = [f"k{b}:{i}" for i in range(1000)]
        assert s.fresh(keys).all()
        s.take(keys)
    assert len(s) == 20_000
    assert not s.fresh(["k3:999", "k19:0"]).any()
    assert part(["x", "y"]).count == 2


@pytest.mark.parametrize("two", [False, True])
def test_a_taken_key_s_first_row_is_found_across_processes(two: bool) -> None:
    """Each key's first file row, as a dict in row order finds it, from either process."""
    rng = random.Random(5)
    batches = batches_of(rng, 8, 300, 1500)
    procs = [SeenKeys(), SeenKeys()] if two else [SeenKeys()]
    first: dict[str, int] = {}
    row = 0
    for j, keys in enumerate(batches):
        me = procs[j % len(procs)]
        new = me.fresh(keys)
        rows = np.arange(row + 1, row + 1 + len(keys), dtype=np.int64)
        for k, r in zip(keys, rows.tolist()):
            first.setdefault(k, r)
        row += len(keys)
        p = me.take([k for k, f in zip(keys, new) if f], rows[new])
        for other in procs:
            if other is not me:
                other.add(p)
    for s in procs:
        assert {k: s.first_row(k) for k in first} == first
        assert s.first_row("never taken") == -1
    # a part without rows (a delivery of records): taken, its row unknown
    s = SeenKeys()
    s.take(["a"])
    assert s.first_row("a") == -1
