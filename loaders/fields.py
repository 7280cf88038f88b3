"""Parsing survey values strictly: texts, ids, numbers, years and dates, one value or a
whole column at a time (which source field holds which attribute: :mod:`loaders.field_names`)."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from cim.numbers import ValueProblem, parse_number
from cim.text import half_width


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
    _no_bool(v, "an id")
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


def _no_bool(v: Any, what: str) -> None:
    """A true/false value (Excel's TRUE, a GDAL boolean field) is refused where a number or a
    year is expected: Python takes True for 1, and an elevation of TRUE was loaded as 1 m."""
    if isinstance(v, (bool, np.bool_)):
        raise ValueProblem(f'"{bool(v)}" is not {what} (a true/false value)')


def as_float(v: Any, lo: float | None = None, hi: float | None = None, *,
             metres: bool = True) -> float | None:
    """A number; a text may group thousands with commas and end in a metre sign (unless
    ``metres`` is false: a count or a duration, where ``5m`` is no number of seconds), and may
    be typed in full-width forms.

    A comma anywhere else is refused, not dropped: ``1,5`` and ``0,500`` (decimal commas)
    read as 15 and 500, ``12mm`` as 12 metres and ``1_5`` (Python's digit separator) as 15
    were silent errors of ten and a thousand times. A true/false value is no number. A text
    is read by :func:`cim.numbers.parse_number` (the layers read their texts with it too)."""
    if is_blank(v):
        return None
    _no_bool(v, "a number")
    if isinstance(v, str):
        f = parse_number(v, metres=metres)
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


def as_int(v: Any, lo: int | None = None, hi: int | None = None) -> int | None:
    """A whole number: a count or a duration, so no metre sign after it (``5m`` for a
    reporting interval in seconds was read as 5, ``300m`` residents as 300)."""
    f = as_float(v, lo, hi, metres=False)
    if f is None:
        return None
    if abs(f - round(f)) > 1e-9:
        raise ValueProblem(f"{v!r} is not a whole number")
    return int(round(f))


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


_YEAR_RANGE = re.compile(r"\s*[-/.~～至到—–]\s*\d{3,}")


def as_year(v: Any) -> int | None:
    if is_blank(v):
        return None
    _no_bool(v, "a year")
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
    _no_bool(v, "a date")
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


# -- whole columns -------------------------------------------------------------------------
# The scalar parsers above define what a value means; these apply them to a whole column fast:
# clean values are converted in bulk by pandas, and only the values bulk conversion cannot
# vouch for go through the scalar parser (which converts them or says what is wrong).

def _fallback(values: Any, out: np.ndarray, suspects: np.ndarray, parse,
              problems: dict[int, str]) -> None:
    arrow = not isinstance(values, np.ndarray)  # an Arrow column: its Python values
    for i in suspects:
        try:
            out[i] = parse(values[int(i)].as_py() if arrow else values[i])
        except ValueProblem as exc:
            out[i] = None
            problems[int(i)] = str(exc)


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
    _fallback(values, out, np.arange(len(values)), lambda v: as_text(v, max_len), problems)
    return out, problems


# what the bulk path of :func:`numbers` takes as a number (bool, an int, is not one)
_NUMBER_TYPES = (int, float, np.integer, np.floating)


def numbers(values: np.ndarray | Any, lo: float | None = None, hi: float | None = None,
            integer: bool = False) -> tuple[np.ndarray, dict[int, str]]:
    """Column version of :func:`as_float` / :func:`as_int`: (values, {row index: problem}).
    ``values`` may be an Arrow column as read (:meth:`loaders.sources.read.Batch.for_parser`):
    numbers are then checked in NumPy straight from it."""
    parse = (lambda v: as_int(v, lo, hi)) if integer else (lambda v: as_float(v, lo, hi))
    if not isinstance(values, np.ndarray):
        if is_arrow_text(values):
            return mapped(values, parse)
        if is_arrow_number(values):
            num = _arrow_floats(values)
            return _bulk(values, num, _in_range(num, np.isfinite(num), lo, hi, integer),
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
    return _bulk(values, num, _in_range(num, ok, lo, hi, integer), blank, integer, parse)


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


def _bulk(values: Any, num: np.ndarray, ok: np.ndarray, blank: np.ndarray, integer: bool,
          parse) -> tuple[np.ndarray, dict[int, str]]:
    """The numbers ``num`` where ``ok``, the rest neither ok nor blank by ``parse``."""
    out = np.full(len(num), None, dtype=object)
    if integer:
        out[ok] = num[ok].astype(np.int64).astype(object)
    else:
        out[ok] = num[ok].astype(object)
    problems: dict[int, str] = {}
    _fallback(values, out, np.flatnonzero(~ok & ~blank), parse, problems)
    return out, problems


def years(values: np.ndarray | Any) -> tuple[np.ndarray, dict[int, str]]:
    """Column version of :func:`as_year`: whole numbers 1000–2100 in bulk, the rest (dates as
    text, '1995年' …) through the scalar parser. ``values`` may be an Arrow column as read."""
    if not isinstance(values, np.ndarray):
        if is_arrow_number(values):
            num = _arrow_floats(values)
            ok = np.isfinite(num) & (num >= 1000) & (num <= 2100) & (np.floor(num) == num)
            return _bulk(values, num, ok, np.isnan(num), True, as_year)
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
    _fallback(values, out, np.flatnonzero(~ok & ~blank), as_year, problems)
    return out, problems


def beyond_year(values: np.ndarray | Any) -> np.ndarray:
    """Whether each value says more than the year :func:`years` reads off it — a date
    (2005-06-01, 20050601), a year-month, '2005年' — so that a loader keeps it as typed beside
    its year column (a bare year, 2005 or '2005', is the column's value itself)."""
    if not isinstance(values, np.ndarray):
        if is_arrow_number(values):
            num = _arrow_floats(values)
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


# kinds whose values pandas may group by equality without merging values that read differently
# (1, 1.0 and True are equal in Python; a column of one kind never mixes them)
_ONE_KIND = ("string", "empty", "integer", "boolean")


def distinct(values: np.ndarray | Any) -> tuple[np.ndarray, list[Any]]:
    """(codes, uniques): each row's index into the distinct values of the column, -1 where the
    value is missing (None, NaN). Values of different types stay apart (1, 1.0, '1'). An
    Arrow string array (a text column as read) is encoded in Arrow."""
    if not isinstance(values, np.ndarray):
        if is_arrow_text(values):
            return arrow_distinct(values)
        values = as_objects(values)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in _ONE_KIND:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        return codes, list(uniques)
    codes = np.empty(len(values), dtype=np.intp)
    index: dict[tuple[type, Any], int] = {}
    uniques: list[Any] = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            codes[i] = -1
            continue
        try:
            key = (type(v), v)
            hit = index.get(key)
        except TypeError:  # unhashable: a value of its own
            key, hit = None, None
        if hit is None:
            hit = len(uniques)
            uniques.append(v)
            if key is not None:
                index[key] = hit
        codes[i] = hit
    return codes, uniques


def is_arrow_text(values: Any) -> bool:
    """Whether ``values`` is an Arrow string array (a text column as read)."""
    import pyarrow as pa

    return isinstance(values, pa.Array) and (pa.types.is_string(values.type)
                                             or pa.types.is_large_string(values.type))


def is_arrow_number(values: Any) -> bool:
    """Whether ``values`` is an Arrow integer or floating-point array."""
    import pyarrow as pa

    return isinstance(values, pa.Array) and (pa.types.is_integer(values.type)
                                             or pa.types.is_floating(values.type))


def as_objects(values: Any) -> np.ndarray:
    """An Arrow column as an object array of its values as read: an integer column with
    nulls stays integers (pandas would make them floats: 1995 read as the text '1995.0')."""
    out = np.empty(len(values), dtype=object)
    out[:] = values.to_pylist()
    return out


def _arrow_floats(values: Any) -> np.ndarray:
    """An Arrow number column as float64, NaN where null. Unchecked: an integer past 2⁵³ (a
    sentinel 9999999999999999) is rounded as pandas rounds it, then refused by its range —
    a checked cast raised, and the whole load failed for one value."""
    import pyarrow as pa

    return values.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)


def arrow_distinct(values: Any) -> tuple[np.ndarray, list[Any]]:
    """:func:`distinct` of an Arrow string array: (codes, uniques), -1 where null."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(values)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.intp)
    return codes, enc.dictionary.to_pylist()


def mapped(values: np.ndarray | Any, parse, arrow: bool = False
           ) -> tuple[np.ndarray | Any, dict[int, str]]:
    """Column version of any scalar parser: (values, {row index: problem}).

    ``parse`` runs once per distinct value (:func:`distinct`; a missing value is parsed as
    None) and its result, or its :class:`ValueProblem`, is given to every row holding it.
    ``values`` may be an Arrow string array (see :func:`texts`); with ``arrow`` the values
    come as an Arrow string array (``parse`` gives texts), taken from the distinct ones.
    """
    codes, uniques = distinct(values)
    table = np.empty(len(uniques) + 1, dtype=object)
    bad: dict[int, str] = {}
    for k, v in enumerate([*uniques, None]):
        try:
            table[k] = parse(v)
        except ValueProblem as exc:
            table[k] = None
            bad[k if k < len(uniques) else -1] = str(exc)
    problems: dict[int, str] = {}
    if bad:
        for i in np.flatnonzero(np.isin(codes, list(bad))):
            problems[int(i)] = bad[int(codes[i])]
    if arrow:
        import pyarrow as pa

        at = np.where(codes < 0, len(uniques), codes)  # -1: the missing value's slot
        return pa.array(table.tolist(), pa.string()).take(pa.array(at)), problems
    return table[codes], problems
