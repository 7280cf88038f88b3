"""Parsing survey texts and numbers strictly, one value or a whole column at a time: what
every loader's attributes go through, and what the other parsers build on (ids and coordinates
whose digits Excel or a float lost: :mod:`loaders.excel_notation`; years and dates:
:mod:`loaders.dates`; how a column reaches a scalar parser: :mod:`loaders.column_values`;
which source field holds which attribute: :mod:`loaders.field_names`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cim.numbers import ValueProblem, parse_number
from loaders.column_values import (
    arrow_floats,
    as_objects,
    bulk_numbers,
    fallback,
    is_arrow_number,
    is_arrow_text,
    mapped,
)


def is_blank(v: Any) -> bool:
    """No value: None, NaN, a blank text, or pandas' missing markers (a DateTime field's
    blank is read as NaT, which is a datetime: its ``date()`` is NaT again)."""
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    return isinstance(v, str) and v.strip() == ""


def as_text(v: Any, max_len: int = 1000) -> str | None:
    """A text as delivered, trimmed; a whole number stored as a float (a GeoPackage REAL or a
    .dbf N field holding 370811) is its integer's text, not 370811.0 — and refused where the
    float has lost the number's digits (past 2^53)."""
    if is_blank(v):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        if abs(float(v)) >= 2 ** 53:
            raise ValueProblem(f"the number {v!r} is stored as a floating-point number and has "
                               "lost digits; store it as text")
        v = int(v)
    s = str(v).strip()
    if len(s) > max_len:
        raise ValueProblem(f"text of {len(s):,} characters is longer than {max_len:,}")
    if "\x00" in s:
        raise ValueProblem("text contains a NUL character")
    return s


def no_bool(v: Any, what: str) -> None:
    """A true/false value (Excel's TRUE, a GDAL boolean field) is refused where a number or a
    year is expected: Python takes True for 1, and an elevation of TRUE was loaded as 1 m."""
    if isinstance(v, (bool, np.bool_)):
        raise ValueProblem(f'"{bool(v)}" is not {what} (a true/false value)')


def as_float(v: Any, lo: float | None = None, hi: float | None = None, *,
             metres: bool = True, storeys: bool = False) -> float | None:
    """A number; a text may group thousands with commas and end in a metre sign (unless
    ``metres`` is false: a count or a duration, where ``5m`` is no number of seconds), and may
    be typed in full-width forms.

    A comma anywhere else is refused, not dropped: ``1,5`` and ``0,500`` (decimal commas)
    read as 15 and 500, ``12mm`` as 12 metres and ``1_5`` (Python's digit separator) as 15
    were silent errors of ten and a thousand times. A true/false value is no number. A text
    is read by :func:`cim.numbers.parse_number` (the layers read their texts with it too)."""
    if is_blank(v):
        return None
    no_bool(v, "a number")
    if isinstance(v, str):
        f = parse_number(v, metres=metres, storeys=storeys)
    else:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueProblem(f"{v!r} is not a number") from None
    if not math.isfinite(f):
        raise ValueProblem(f"{v!r} is not a finite number")
    if (lo is not None and f < lo) or (hi is not None and f > hi):
        raise ValueProblem(f"{f:g} is outside {lo:g}–{hi:g}")
    return f


def as_int(v: Any, lo: int | None = None, hi: int | None = None, *,
           storeys: bool = False) -> int | None:
    """A whole number: a count or a duration, so no metre sign after it (``5m`` for a
    reporting interval in seconds was read as 5, ``300m`` residents as 300); a count of
    storeys (``storeys``) may end in 层 or F."""
    f = as_float(v, lo, hi, metres=False, storeys=storeys)
    if f is None:
        return None
    if abs(f - round(f)) > 1e-9:
        raise ValueProblem(f"{v!r} is not a whole number")
    return int(round(f))


def arrow_texts(values: np.ndarray | Any, max_len: int = 1000) -> tuple[Any, dict[int, str]]:
    """:func:`texts` as an Arrow string array, built from the distinct texts (a COPY buffer is
    built from it without a Python string a row: ~4 ms a text column of a 50,000-row batch)."""
    import pyarrow as pa

    if not isinstance(values, np.ndarray):
        if is_arrow_text(values):
            return mapped(values, lambda v: as_text(v, max_len), arrow=True)
        values = as_objects(values)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return mapped(values, lambda v: as_text(v, max_len), arrow=True)
    out, problems = texts(values, max_len)
    return pa.array(out, pa.string()), problems


def texts(values: np.ndarray | Any, max_len: int = 1000) -> tuple[np.ndarray, dict[int, str]]:
    """Column version of :func:`as_text`: (values, {row index: problem}). A column of texts is
    parsed once per distinct text (survey columns repeat their values); any other column
    value by value (a whole float is its integer's text: :func:`as_text`). ``values`` may be an Arrow string array
    as read (:meth:`loaders.sources.read.Batch.for_parser`): its distinct texts are found in
    Arrow, and no Python string is made per row."""
    if not isinstance(values, np.ndarray):
        if is_arrow_text(values):
            return mapped(values, lambda v: as_text(v, max_len))
        values = as_objects(values)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return mapped(values, lambda v: as_text(v, max_len))
    out = np.full(len(values), None, dtype=object)
    problems: dict[int, str] = {}
    fallback(values, out, np.arange(len(values)), lambda v: as_text(v, max_len), problems)
    return out, problems


# what the bulk path of :func:`numbers` takes as a number (bool, an int, is not one)
_NUMBER_TYPES = (int, float, np.integer, np.floating)


def numbers(values: np.ndarray | Any, lo: float | None = None, hi: float | None = None,
            integer: bool = False, storeys: bool = False) -> tuple[np.ndarray, dict[int, str]]:
    """Column version of :func:`as_float` / :func:`as_int` (``storeys``: a count of storeys,
    3层): (values, {row index: problem}). ``values`` may be an Arrow column as read
    (:meth:`loaders.sources.read.Batch.for_parser`): numbers are then checked in NumPy
    straight from it."""
    parse = (lambda v: as_int(v, lo, hi, storeys=storeys)) if integer \
        else (lambda v: as_float(v, lo, hi))
    if not isinstance(values, np.ndarray):
        if is_arrow_text(values):
            return mapped(values, parse)
        if is_arrow_number(values):
            num = arrow_floats(values)
            return bulk_numbers(values, num,
                                _in_range(num, np.isfinite(num), lo, hi, integer),
                                np.isnan(num), integer, parse)
        values = as_objects(values)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        # texts (a CSV or Excel column): each distinct one by the scalar parser itself —
        # pandas reads some texts Python does not ('+1e 3' as 1000) and rounds some
        # exponents otherwise
        return mapped(values, parse)
    s = pd.Series(values, dtype=object)
    blank = s.isna().to_numpy()
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(num)
    if kind not in ("integer", "floating", "mixed-integer-float"):
        # texts, true/false values (pandas reads True as 1), dates … among numbers: only
        # numbers are vouched for in bulk, the rest goes to the scalar parser
        ok &= np.fromiter((isinstance(v, _NUMBER_TYPES) and not isinstance(v, bool)
                           for v in values), dtype=bool, count=len(values))
    return bulk_numbers(values, num, _in_range(num, ok, lo, hi, integer), blank, integer,
                        parse)


def _in_range(num: np.ndarray, ok: np.ndarray, lo: float | None, hi: float | None,
              integer: bool) -> np.ndarray:
    """``ok`` where ``num`` is within lo–hi (and whole, with ``integer``)."""
    if lo is not None:
        ok &= num >= lo
    if hi is not None:
        ok &= num <= hi
    if integer:
        ok &= np.floor(num) == num
    return ok
