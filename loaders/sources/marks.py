"""What a reader did to a geometry that the loaders must say of its row — straightened from
a curve by GDAL, read closed from a ring that was not — remembered by the geometry's identity.

The mark has to survive whatever a loader does between reading and ``prepare``: a subset of
the batch taken, rows reordered, a converter given the geometries alone. Held weakly (an
entry goes with its geometry), so nothing outlives the batch, and empty — so never looked
at — unless the process holds such a geometry: a valid delivery pays one truth test a batch.
"""

from __future__ import annotations

import weakref

import numpy as np


class GeometryMarks:
    """Geometries marked by one thing a reader did to them."""

    def __init__(self) -> None:
        self._held: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    def remember(self, geoms: np.ndarray, rows: np.ndarray | list[int]) -> None:
        """Mark ``geoms[rows]`` (None skipped)."""
        for i in np.asarray(rows, dtype=np.int64).tolist():
            g = geoms[i]
            if g is not None:
                self._held[id(g)] = g

    def rows(self, geoms: np.ndarray) -> np.ndarray:
        """Positions in ``geoms`` of the marked geometries (the same objects)."""
        if not self._held or not len(geoms):
            return np.zeros(0, dtype=np.int64)
        known = np.fromiter(list(self._held.keys()), dtype=np.uint64)
        ids = np.fromiter(map(id, geoms), dtype=np.uint64, count=len(geoms))
        cand = np.flatnonzero(np.isin(ids, known))
        return np.array([i for i in cand.tolist() if self._held.get(id(geoms[i])) is geoms[i]],
                        dtype=np.int64)


# read from curves GDAL straightened (loaders.sources.wkb)
STRAIGHTENED = GeometryMarks()
# read closed from a polygon ring that was not (loaders.sources.batch)
CLOSED = GeometryMarks()
