"""A load's memory in pages of the ordinary size.

A load allocates and frees arrays of several megabytes batch after batch (columns, COPY rows,
hashes). NumPy asks Linux for transparent huge pages for every array over 4 MB
(``madvise(MADV_HUGEPAGE)``), and with the kernel's usual ``defrag = madvise`` each new
array's first writes had it find 2 MB pages — compacting memory when none was free — and
zero them whole: a fifth of the converters' CPU went to the kernel (``perf record -a``, 1M
footprints), and a reload writing 500 rows here and there into a million's known hashes
touched 88 MB (0.2–0.75 s instead of 3 ms). 1M footprints, nine alternating pairs of first
loads: every pair faster without the advice, by 0.85–3.2 s (mean 1.6 s of 17–20 s).

While a load runs, its process asks for no huge pages: NumPy's advice is off, and on Linux
the process's transparent huge pages are disabled (``prctl(PR_SET_THP_DISABLE)``, inherited
by the converter processes it forks) — which also covers memory an earlier array of the
process was advised on and the allocator hands out again. Both come back as they were when
the last load of the process ends (loads may run at once in a server's threads).
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_PR_SET_THP_DISABLE, _PR_GET_THP_DISABLE = 41, 42
_LOCK = threading.Lock()
_state: dict[str, Any] = {"loads": 0, "numpy": None, "thp_disabled": None}


def small_pages(load: Callable[..., T]) -> Callable[..., T]:
    """``load`` run in pages of the ordinary size (see the module)."""
    @functools.wraps(load)
    def run(*args: Any, **kwargs: Any) -> T:
        _step(+1)
        try:
            return load(*args, **kwargs)
        finally:
            _step(-1)

    return run


def numpy_switch() -> Callable[[bool], bool] | None:
    """NumPy's switch of its huge-page advice (it returns the setting before), if it has one."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:
        try:  # NumPy 1.x
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return None
    return _set_madvise_hugepage


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4  # unused arguments must be 0
    prctl.restype = ctypes.c_int
    return prctl


def _step(step: int) -> None:
    switch, prctl = numpy_switch(), _prctl()
    with _LOCK:
        if step > 0 and _state["loads"] == 0:
            _state["numpy"] = switch(False) if switch else None
            before = prctl(_PR_GET_THP_DISABLE, 0, 0, 0, 0) if prctl else -1
            _state["thp_disabled"] = before if before >= 0 else None
            if before == 0:
                prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0)
        _state["loads"] += step
        if step < 0 and _state["loads"] == 0:
            if switch and _state["numpy"] is not None:
                switch(_state["numpy"])
            if prctl and _state["thp_disabled"] == 0:
                prctl(_PR_SET_THP_DISABLE, 0, 0, 0, 0)
