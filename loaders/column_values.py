"""Running a scalar parser over a whole column fast, the machinery the column parsers of
:mod:`loaders.fields` and :mod:`loaders.dates` share: clean values are converted in bulk by
pandas or NumPy, each distinct value of a text column is parsed once, and only the values bulk
conversion cannot vouch for go through the scalar parser (which converts them or says what is
wrong). An Arrow column as read stays one as far as it can: its texts are encoded and its
numbers cast in Arrow, with no Python value a row. What a value means is the scalar parsers'
to say; this module only decides which values reach them, and how often."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cim.numbers import ValueProblem


def fallback(values: Any, out: np.ndarray, suspects: np.ndarray, parse,
             problems: dict[int, str]) -> None:
    """The values bulk conversion cannot vouch for (``suspects``, row indexes), each by the
    scalar parser ``parse``: its value into ``out``, or its problem into ``problems``."""
    arrow = not isinstance(values, np.ndarray)  # an Arrow column: its Python values
    for i in suspects:
        try:
            out[i] = parse(values[int(i)].as_py() if arrow else values[i])
        except ValueProblem as exc:
            out[i] = None
            problems[int(i)] = str(exc)


def bulk_numbers(values: Any, num: np.ndarray, ok: np.ndarray, blank: np.ndarray,
                 integer: bool, parse) -> tuple[np.ndarray, dict[int, str]]:
    """The numbers ``num`` where ``ok``, the rest neither ok nor blank by ``parse``."""
    out = np.full(len(num), None, dtype=object)
    if integer:
        out[ok] = num[ok].astype(np.int64).astype(object)
    else:
        out[ok] = num[ok].astype(object)
    problems: dict[int, str] = {}
    fallback(values, out, np.flatnonzero(~ok & ~blank), parse, problems)
    return out, problems


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


def arrow_floats(values: Any) -> np.ndarray:
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
    ``values`` may be an Arrow string array (see :func:`loaders.fields.texts`); with ``arrow``
    the values come as an Arrow string array (``parse`` gives texts), taken from the distinct
    ones.
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
