"""The attribute check's shortcut (``loaders.common._plainly_storable``): a text column
whose buffers show no value past the limit and no zero byte is passed whole; anything else is
checked value by value, so the shortcut never lets a bad value through."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from loaders.common import check_attrs, check_attrs_batch


def _check(values: list, arr: pa.Array | None = None) -> dict:
    arr = pa.array(values, pa.string()) if arr is None else arr
    cols = {"名称": np.array(arr.to_pylist(), dtype=object)}
    got = check_attrs_batch(cols, arrow=pa.record_batch([arr], names=["名称"]))
    want = {i: check_attrs(cols, i) for i in range(len(arr)) if check_attrs(cols, i)}
    assert got == want
    return got


def test_clean_text_passes_and_each_bad_value_is_still_found():
    assert _check(["甲", None, "", "x" * 10_000]) == {}
    assert set(_check(["甲", "a\x00", "乙"])) == {1}  # a NUL in a short text
    assert set(_check(["甲", "x" * 10_001])) == {1}
    # 10,000 characters of three bytes each: past the limit in bytes, not in characters
    assert _check(["乙" * 10_000, "丙"]) == {}


def test_a_slice_is_judged_by_its_own_values():
    whole = pa.array(["a\x00", "x" * 10_001, "甲", "乙", "a\x00b"], pa.string())
    assert _check([], whole.slice(2, 2)) == {}
    assert set(_check([], whole.slice(2, 3))) == {2}  # "a\x00b", the slice's third
    assert set(_check([], whole.slice(1, 2))) == {0}
