"""Ids and coordinates whose digits were lost on the way: a long number as Excel shows it
(General format, a narrow column: 1.23457E+17, 3.91378E+06) and saved so in a CSV, or an id
stored as a floating-point number past 2^53. The two kinds of value are the ones whose every
digit counts — an 18-digit code told apart from its neighbour's, a coordinate's last metres —
so they are refused by one pattern (:data:`E_NOTATION`), row by row and over a whole column in
Arrow, where a text or a plain number would be read as written."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from cim.numbers import ValueProblem
from cim.text import half_width
from loaders.column_values import as_objects, is_arrow_number, is_arrow_text
from loaders.fields import as_float, as_text, is_blank, no_bool, numbers

# a number as Excel shows it (General format, a narrow column) and saves it in a CSV: the digits
# after the point, an explicit plus, the exponent. 1.23457E+17 is what is left of an 18-digit id
# (two devices' ids alike: an id needs the plus, Excel's, so 2E10 stays an id), 3.91378E+06 of
# a coordinate (its last metres lost). The one pattern of both, in Python and in Arrow (RE2).
E_NOTATION = re.compile(
    r"^\s*[+-]?\d(?:\.(?P<frac>\d*))?[eE](?P<plus>\+?)(?P<exp>\d{1,3})\s*$")


def is_excel_rounded_id(text: str) -> bool:
    """Whether an id's text is a long number as Excel shows it (:data:`E_NOTATION`, its plus)."""
    m = E_NOTATION.match(text)
    return m is not None and m["plus"] == "+"


def excel_rounded(text: str) -> str:
    """The problem of an id typed as Excel shows a long number."""
    return (f"the id {text!r} is a long number as Excel shows it, its digits lost; format "
            "the column as text in Excel before saving")


def as_id(v: Any, max_len: int = 200) -> str | None:
    """An identifier's text: a whole number stored as a float is its integer (Excel's 987.0
    and a GeoPackage REAL 987 are the id 987); a float that cannot hold the id's digits (past
    2^53, or with a fraction) is refused — 1.234567890123457e+17 is no device's id, and two
    18-digit ids round to one float."""
    if isinstance(v, (float, np.floating)) and not is_blank(v) and not float(v).is_integer():
        raise ValueProblem(f"the id {v!r} is stored as a floating-point number and has "
                           "lost digits; store ids as text")
    no_bool(v, "an id")
    if isinstance(v, str) and is_excel_rounded_id(v):
        raise ValueProblem(excel_rounded(v.strip()))
    try:
        return as_text(v, max_len)
    except ValueProblem as exc:  # a whole float past 2^53
        raise ValueProblem(str(exc).replace("the number", "the id")) from None


def excel_rounded_ids(values: np.ndarray | Any) -> dict[int, str]:
    """{row index: problem} of the ids of a column written as Excel shows a long number
    (:func:`is_excel_rounded_id`), found in Arrow (its regex over the column, no Python a
    row; the survey tables' point numbers and pipe ids too): two components' 18-digit codes
    saved as 3.70811E+17 were one id, the second rejected as a duplicate of the first, which
    loaded under a code it never had."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not is_arrow_text(values):
        if isinstance(values, pa.Array) or pd.api.types.infer_dtype(
                values, skipna=True) != "string":
            return {}  # numbers, dates, texts among numbers: as_id is the row's judge
        values = pa.array(values, pa.string(), from_pandas=True)
    # the numbers in E notation in Arrow; the plus looked at in the few found (rejected rows)
    hit = pc.fill_null(pc.match_substring_regex(values, E_NOTATION.pattern), False)
    idx = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
    if not idx.size:
        return {}
    return {int(i): excel_rounded(t.strip()) for i, t in zip(
        idx.tolist(), values.take(idx).to_pylist()) if is_excel_rounded_id(t)}


def _lost(text: str, frac: int, exp: int) -> str:
    return (f"the coordinate {text.strip()!r} is a number as Excel shows it, its last digits "
            f"lost (up to {10 ** (exp - frac) / 2:g} m off); format the column as a number "
            "with its decimals in Excel before saving")


def as_coordinate(v: Any) -> float | None:
    """A coordinate; one written with fewer digits than its whole metres (Excel's 3.91378E+06
    for 3913781.11) is refused — read, it put a survey point or a census component metres, or
    with the zone prefix tens of metres, away from where it was surveyed, and nothing told."""
    if isinstance(v, str):
        m = E_NOTATION.match(half_width(v))
        if m and len(m["frac"] or "") < int(m["exp"]):
            raise ValueProblem(_lost(v, len(m["frac"] or ""), int(m["exp"])))
    return as_float(v)


def lost_coordinates(values: np.ndarray | Any) -> dict[int, str]:
    """{row index: problem} of the texts of a coordinate column that lost their last digits
    (:func:`as_coordinate`), found in Arrow (its regex over the column, no Python a row): a
    census converter whose points are made already rejects those rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if is_arrow_number(values):
        return {}
    if not is_arrow_text(values):
        values = as_objects(values) if isinstance(values, pa.Array) else \
            np.asarray(values, dtype=object)
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind not in ("string", "empty") and not kind.startswith("mixed"):
            return {}  # numbers, dates: nothing written as Excel shows it
        if kind != "string":  # texts among numbers (an Excel column): those texts alone
            at = np.flatnonzero([isinstance(v, str) for v in values])
            return {int(at[i]): p for i, p in lost_coordinates(values[at].astype(str)).items()}
        values = pa.array(values, pa.string(), from_pandas=True)
    text = pc.utf8_normalize(values, "NFKC")  # full-width digits as an IME types them
    m = pc.extract_regex(text, E_NOTATION.pattern)
    frac = pc.utf8_length(pc.struct_field(m, "frac"))
    exp = pc.cast(pc.struct_field(m, "exp"), pa.int32())
    lost = pc.and_(m.is_valid(), pc.fill_null(pc.less(frac, exp), False))
    idx = np.flatnonzero(lost.to_numpy(zero_copy_only=False))
    return {int(i): _lost(t, f, e) for i, t, f, e in zip(
        idx.tolist(), values.take(idx).to_pylist(), frac.take(idx).to_pylist(),
        exp.take(idx).to_pylist())}


def coordinates(values: np.ndarray | Any) -> tuple[np.ndarray, dict[int, str]]:
    """Column version of :func:`as_coordinate`. A coordinate that lost its last digits reads
    as a whole number: only the whole numbers are looked at again, so a table's X and Y cost
    one NumPy pass more."""
    out, problems = numbers(values)
    v = np.asarray(out, dtype=float)
    whole = np.flatnonzero(np.isfinite(v) & (v == np.floor(v)))
    if whole.size:
        if isinstance(values, np.ndarray):
            sub = values[whole]
        else:  # an Arrow column as read stays one
            import pyarrow as pa

            sub = values.take(pa.array(whole))
        for i, p in lost_coordinates(sub).items():
            problems[int(whole[i])] = p
            out[whole[i]] = None
    return out, problems
