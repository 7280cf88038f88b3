"""The source keys a load has accepted so far that are no current key of the layer: the
duplicates of a delivery are judged in row order, across the converter processes
(:class:`loaders.engine.direct.DirectConverter`).

Held as the keys' string hashes in sorted NumPy runs, not as a set of Python strings. With a
set, a first load's converter took every key of the delivery — its own and, unpickled, the
other process's — and the writer unpickled and pickled each batch's key list again to forward
it: set inserts and resizes, a million strings made three times, ~0.25 s a million a process.
The converters are forked from the writer's process, so Python's string hash (its secret is
drawn once per interpreter) is the same in each. A hash met before is only a candidate: the
earlier key's text (each part's keys kept joined, parsed only on such a hit) decides, so a
hash collision never makes a duplicate. Each key keeps the file row that took it, so that a
duplicate's reject names the row it repeats (looked up only on a duplicate).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

_SEP = "\0"  # no key holds it: keys are written to text columns, which refuse NUL


@dataclass
class Part:
    """Keys accepted together (a batch's), as sent to the other converter processes."""

    hashes: np.ndarray  # int64, the keys' string hashes in the keys' order
    text: bytes  # the keys joined by NUL, UTF-8
    count: int
    rows: np.ndarray | None = None  # int64, the file row that took each key (-1: unknown)


def part(keys: list[str], rows: np.ndarray | None = None) -> Part:
    return Part(_hashes(keys), _SEP.join(keys).encode("utf-8", "surrogatepass"), len(keys),
                rows)


def _hashes(keys: list[str]) -> np.ndarray:
    return np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))


class SeenKeys:
    """Keys taken so far (:meth:`take`, :meth:`add`); :meth:`fresh` tells new ones."""

    def __init__(self) -> None:
        # sorted runs of (hash, key number); merged while the newer is as large as the older
        # (few runs to search, each key moved a few times)
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._bases: list[int] = []  # the first key number of each part
        self._texts: list[bytes] = []
        self._rows: list[np.ndarray | None] = []
        self._decoded: dict[int, list[str]] = {}
        self._last: tuple[list[str], np.ndarray] | None = None
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def fresh(self, keys: list[str]) -> np.ndarray:
        """Whether each key is new: not taken before and not earlier in ``keys`` (the first
        of equal keys is new). Takes nothing."""
        n = len(keys)
        out = np.ones(n, dtype=bool)
        if n == 0:
            return out
        h = _hashes(keys)
        self._last = (keys, h)  # take() of the same list (the usual case) reuses them
        hs = np.sort(h)
        shared = np.zeros(n, dtype=bool)
        shared[1:] = hs[1:] == hs[:-1]
        for rh, _ in self._runs:
            pos = np.minimum(np.searchsorted(rh, hs), len(rh) - 1)
            shared |= rh[pos] == hs
        if not shared.any():
            return out
        # a hash met twice: decided by the texts, in row order
        texts: dict[int, set[str]] = {}
        for i in np.flatnonzero(np.isin(h, hs[shared])).tolist():
            hv = int(h[i])
            seen = texts.get(hv)
            if seen is None:
                seen = texts[hv] = set(self._texts_of(hv))
            if keys[i] in seen:
                out[i] = False
            else:
                seen.add(keys[i])
        return out

    def take(self, keys: list[str], rows: np.ndarray | None = None) -> Part:
        """Take ``keys`` (new ones, see :meth:`fresh`; ``rows``: the file row of each); the
        part to send the others."""
        last, self._last = self._last, None
        if last is not None and last[0] is keys:
            p = Part(last[1], _SEP.join(keys).encode("utf-8", "surrogatepass"), len(keys),
                     rows)
        else:
            p = part(keys, rows)
        self.add(p)
        return p

    def add(self, p: Part) -> None:
        """Take a part another converter process accepted."""
        if p.count == 0:
            return
        order = np.argsort(p.hashes, kind="stable")
        run = (p.hashes[order], self.count + order)
        self._bases.append(self.count)
        self._texts.append(p.text)
        self._rows.append(p.rows)
        self.count += p.count
        while self._runs and len(self._runs[-1][0]) <= len(run[0]):
            older = self._runs.pop()
            h = np.concatenate([older[0], run[0]])
            o = np.argsort(h, kind="stable")  # two sorted runs: merged in one pass
            run = (h[o], np.concatenate([older[1], run[1]])[o])
        self._runs.append(run)

    def first_row(self, key: str) -> int:
        """The file row that took ``key`` (-1: not taken, or its row unknown)."""
        hv = hash(key)
        for rh, at in self._runs:
            lo, hi = np.searchsorted(rh, hv, "left"), np.searchsorted(rh, hv, "right")
            for g in at[lo:hi].tolist():
                if self._key(g) == key:
                    p = bisect.bisect_right(self._bases, g) - 1
                    rows = self._rows[p]
                    return int(rows[g - self._bases[p]]) if rows is not None else -1
        return -1

    def _texts_of(self, hv: int) -> list[str]:
        out = []
        for rh, at in self._runs:
            lo, hi = np.searchsorted(rh, hv, "left"), np.searchsorted(rh, hv, "right")
            out += [self._key(int(g)) for g in at[lo:hi]]
        return out

    def _key(self, number: int) -> str:
        p = bisect.bisect_right(self._bases, number) - 1
        keys = self._decoded.get(p)
        if keys is None:
            keys = self._decoded[p] = self._texts[p].decode("utf-8", "surrogatepass").split(_SEP)
        return keys[number - self._bases[p]]
