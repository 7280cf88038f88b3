"""Graph algorithms on whole NumPy columns, shared by the loaders (a pipe survey's topology
report) and the query library (network analysis): one connected-components routine."""

from __future__ import annotations

import numpy as np


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component labels of ``n`` vertices joined by the edges ``a[i]``–``b[i]``:
    each vertex's label is the lowest vertex number of its component.

    Min-label hooking with pointer jumping in numpy (no Python loop per edge): each round
    hooks the larger root of every edge that still joins two labels under the smaller, then
    compresses the labels to roots; the labels only decrease, so it ends, in a few rounds.
    ``components(4, np.array([0, 2]), np.array([1, 3]))`` → ``[0, 0, 2, 2]``.
    """
    labels = np.arange(n)
    if not len(a):
        return labels
    while True:
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        m = np.minimum(la, lb)
        np.minimum.at(labels, la, m)
        np.minimum.at(labels, lb, m)
        while True:
            nxt = labels[labels]
            if np.array_equal(nxt, labels):
                break
            labels = nxt
