"""A load's memory in pages of the ordinary size (loaders.engine.pages): no huge-page advice
from NumPy and, on Linux, the process's transparent huge pages off while a load runs; both
as they were once the last load of the process ends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from cim.config import PROJECT_ROOT
from loaders.engine import pages


def numpy_advice() -> bool:
    """Whether NumPy asks for huge pages for its large arrays in this process now (its
    switch, read by setting it and putting it back)."""
    switch = pages.numpy_switch()
    if switch is None:
        pytest.skip("this NumPy has no huge-page switch")
    now = switch(False)
    switch(now)
    return bool(now)


def thp_enabled() -> bool | None:
    """Whether this process may have transparent huge pages (/proc/self/status
    ``THP_enabled``; None where the kernel does not say)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("THP_enabled:"):
                    return line.split()[1] == "1"
    except OSError:
        pass
    return None


def mappings_of(a) -> list[dict[str, str]]:
    """The /proc/self/smaps entries (field → value; ``VmFlags``, ``AnonHugePages`` …) of the
    mappings the memory of array ``a`` overlaps (an advice can split a mapping in two)."""
    start = a.__array_interface__["data"][0]
    end = start + a.nbytes
    out: list[dict[str, str]] = []
    entry: dict[str, str] | None = None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(maxsplit=1)[0]
            if "-" in head and all(c in "0123456789abcdef-" for c in head):
                lo, hi = (int(x, 16) for x in head.split("-"))
                entry = {} if lo < end and start < hi else None
                if entry is not None:
                    out.append(entry)
            elif entry is not None and ":" in head:
                entry[head.rstrip(":")] = line.split(":", 1)[1].strip()
    return out


# in a fresh interpreter, whose memory no earlier array was advised on, with the allocator's
# defaults (64 MB arrays: each a mapping of its own): how much of a written array is backed by
# huge pages before a load, in one, in one that fails, and after
_SCRIPT = """
import numpy as np
from loaders.engine.pages import small_pages
from tests.test_pages import mappings_of

def huge_kb(a):  # AnonHugePages of the mappings the array overlaps
    return sum(int(m["AnonHugePages"].split()[0]) for m in mappings_of(a))

def written():
    a = np.empty(64 << 20, dtype=np.uint8)
    a[:] = 1
    return a

seen = []

@small_pages
def load(fail):
    seen.append(huge_kb(written()))
    if fail:
        raise ValueError("a failed load")

before = huge_kb(written())
load(False)
try:
    load(True)
except ValueError:
    pass
print(before, seen[0], seen[1], huge_kb(written()))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="not Linux")
def test_a_load_gets_no_huge_pages_and_gives_them_back():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MALLOC_", "NUMPY_MADVISE"))}
    out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=PROJECT_ROOT, env=env,
                         check=True, capture_output=True, text=True, timeout=60).stdout
    before, ok, failed, after = (int(x) for x in out.split())
    if before == 0:
        pytest.skip("no huge pages here even when asked (THP off, or none free)")
    assert (ok, failed) == (0, 0)
    assert after > 0  # a failed load gave them back too


def test_loads_in_threads_give_the_advice_back_when_the_last_ends():
    """Two loads of one process at once (a server's threads): no huge pages until the last of
    them ends, then NumPy's setting and the process's as they were."""
    switch = pages.numpy_switch()
    if switch is None:
        pytest.skip("this NumPy has no huge-page switch")
    own = switch(True)  # a known setting to come back to
    thp = thp_enabled()
    try:
        a_in, b_in, a_go, b_go = (threading.Event() for _ in range(4))
        seen: dict[str, tuple] = {}

        @pages.small_pages
        def load(name: str, inside: threading.Event, go: threading.Event) -> None:
            inside.set()
            go.wait(10)
            seen[name] = (numpy_advice(), thp_enabled())

        a = threading.Thread(target=load, args=("a", a_in, a_go))
        b = threading.Thread(target=load, args=("b", b_in, b_go))
        a.start()
        a_in.wait(10)
        b.start()
        b_in.wait(10)
        a_go.set()  # a ends first, b still runs
        a.join(10)
        seen["between"] = (numpy_advice(), thp_enabled())
        b_go.set()
        b.join(10)
        off = (False, None if thp is None else False)
        assert seen == {"a": off, "between": off, "b": off}
        assert (numpy_advice(), thp_enabled()) == (True, thp)
    finally:
        switch(own)
