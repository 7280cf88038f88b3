"""Years and dates as surveys type them (1995, 199506, '1995年', 2021/5/12, 2021年5月12日,
full-width digits), one value or a whole column at a time. They are apart from the number
parsers because a year is not any whole number: a range of years, a date's digits run on
(2021-05-123) or an exponent ('1e3') must be refused where a number parser would read one, and
a loader keeps what a value says beyond its year (:func:`beyond_year`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from cim.numbers import ValueProblem
from cim.text import half_width
from loaders.column_values import (
    arrow_floats,
    as_objects,
    bulk_numbers,
    fallback,
    is_arrow_number,
)
from loaders.fields import is_blank, no_bool

_YEAR_RANGE = re.compile(r"\s*[-/.~～至到—–]\s*\d{3,}")


def as_year(v: Any) -> int | None:
    if is_blank(v):
        return None
    no_bool(v, "a year")
    # four digits, or a year-month's six (199506) or a date's eight (19950601); not the first
    # four of 12345
    m = re.match(r"^\s*(\d{4})(?:\d{2}|\d{4})?(?!\d)", str(v))
    if not m:
        raise ValueProblem(f"{v!r} is not a year")
    # a year and its month or day (2023.5, 2021-05-12, 2023年5月) is that year; a range of
    # years (2023-2024, 1990～1995, 2019至2020) is none of them
    if _YEAR_RANGE.match(str(v), m.end()):
        raise ValueProblem(f"{v!r} is a range of years, not a year")
    y = int(m.group(1))
    if not 1000 <= y <= 2100:
        raise ValueProblem(f"year {y} is implausible")
    return y


# a date as typed, with a time after it at most (a date column keeps the day of a date-time);
# anything else after the day is not read away: 2021-05-123, 2021-05-12至2022-01-01
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
                   r"(?:(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def as_date(v: Any) -> dt.date | None:
    """A date: a date value, 2021-05-12, 2021/5/12, 2021.05.12, 20210512, 2021年5月12日, each
    with a time after it at most (full-width digits read as theirs)."""
    if is_blank(v):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    no_bool(v, "a date")
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    s = half_width(str(v)).strip()
    m = _DATE.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if not m:
        raise ValueProblem(f"{str(v).strip()!r} is not a date (expected e.g. 2021-05-12)")
    try:
        d = dt.date(*(int(g) for g in m.groups()))
    except ValueError:
        raise ValueProblem(f"{s!r} is not a valid date") from None
    if not 1900 <= d.year <= 2100:
        raise ValueProblem(f"date {s!r} is implausible")
    return d


def years(values: np.ndarray | Any) -> tuple[np.ndarray, dict[int, str]]:
    """Column version of :func:`as_year`: whole numbers 1000–2100 in bulk, the rest (dates as
    text, '1995年' …) through the scalar parser. ``values`` may be an Arrow column as read."""
    if not isinstance(values, np.ndarray):
        if is_arrow_number(values):
            num = arrow_floats(values)
            ok = np.isfinite(num) & (num >= 1000) & (num <= 2100) & (np.floor(num) == num)
            return bulk_numbers(values, num, ok, np.isnan(num), True, as_year)
        values = as_objects(values)
    s = pd.Series(values, dtype=object)
    blank = s.isna().to_numpy()
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(num) & (num >= 1000) & (num <= 2100) & (np.floor(num) == num)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "mixed", "mixed-integer"):
        ok &= s.str.match(r"^\s*\d{4}\s*$", na=True).to_numpy(dtype=bool)  # '1e3': no year
    elif kind not in ("integer", "floating", "mixed-integer-float", "empty"):
        ok[:] = False  # true/false values, dates …: each by the scalar parser
    out = np.full(len(s), None, dtype=object)
    out[ok] = num[ok].astype(np.int64).astype(object)
    problems: dict[int, str] = {}
    fallback(values, out, np.flatnonzero(~ok & ~blank), as_year, problems)
    return out, problems


def beyond_year(values: np.ndarray | Any) -> np.ndarray:
    """Whether each value says more than the year :func:`years` reads off it — a date
    (2005-06-01, 20050601), a year-month, '2005年' — so that a loader keeps it as typed beside
    its year column (a bare year, 2005 or '2005', is the column's value itself)."""
    if not isinstance(values, np.ndarray):
        if is_arrow_number(values):
            num = arrow_floats(values)
            whole = (num >= 1000) & (num <= 2100) & (np.floor(num) == num)
            return np.isfinite(num) & ~whole
        values = as_objects(values)
    s = pd.Series(values, dtype=object)
    bare = s.isna() | s.map(lambda v: isinstance(v, (int, float, np.integer, np.floating))
                            and not isinstance(v, (bool, np.bool_)) and 1000 <= v <= 2100
                            and float(v).is_integer())
    text = s.map(lambda v: isinstance(v, str))
    bare |= text & s.astype(str).str.match(r"^\s*\d{4}(?:\.0*)?\s*$")
    return ~bare.to_numpy(dtype=bool)
