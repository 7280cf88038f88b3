"""Binary COPY data of staged rows built column by column (:mod:`loaders.engine.copybuf`).

The staged writer's ``copy_rows`` (:mod:`loaders.engine.bulk`) sends rows through psycopg's
``write_row``: a Python call and a dumper call per value, ~1 s per 200,000 rows of a wide
layer. When every column holds plain values of its type, the same bytes are assembled from
whole columns instead; the fields are exactly what psycopg's binary dumpers write for those
values (int4/int8 big-endian, float8 IEEE big-endian, text UTF-8, jsonb version 1 then the
text, text[] a one-dimensional array without NULLs, geometry the EWKB as given). Anything else
— another type, a NaN float (copybuf would write NULL), an int out of range, a list with a
non-text item — and :func:`copy_data` returns None: the caller writes row by row as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from loaders.engine import copybuf

_NONE = type(None)
_INT_RANGE = {"int2": 2 ** 15, "int4": 2 ** 31, "int8": 2 ** 63}


def _ints(pgtype: str, col: Sequence[Any], types: set) -> copybuf.Field | None:
    if not types <= {int}:
        return None
    values = [v for v in col if v is not None]
    lim = _INT_RANGE[pgtype]
    if values and (min(values) < -lim or max(values) >= lim):
        return None
    return getattr(copybuf, pgtype)(np.asarray(col, dtype=object))


def _floats(col: Sequence[Any], types: set) -> copybuf.Field | None:
    if not types <= {float}:
        return None
    arr = np.asarray(col, dtype=object)
    nums = arr[arr != None].astype(np.float64)  # noqa: E711
    if np.isnan(nums).any():  # psycopg sends NaN, copybuf NULL
        return None
    return copybuf.float8(arr)


def _text_arrays(col: Sequence[Any], types: set) -> copybuf.Field | None:
    if types != {list} or not all(type(x) is str for items in col for x in items):
        return None
    return copybuf.text_array(col)


def _field(pgtype: str, col: Sequence[Any], json_type: type, geometry: bool
           ) -> copybuf.Field | None:
    types = set(map(type, col)) - {_NONE}
    if pgtype in _INT_RANGE:
        return _ints(pgtype, col, types)
    if pgtype == "float8":
        return _floats(col, types)
    if pgtype == "text":
        return copybuf.text(np.asarray(col, dtype=object)) if types <= {str} else None
    if pgtype == "jsonb":
        return copybuf.jsonb(col) if types <= {json_type} else None
    if pgtype == "text[]":
        return _text_arrays(col, types)
    if geometry:
        return copybuf.binary(col) if all(issubclass(t, bytes) for t in types) else None
    return None


def copy_data(columns: dict[str, Sequence[Any]], staging: list[tuple[str, str]], n: int,
              json_type: type, geometry_type: str = "geometry") -> bytes | None:
    """The whole binary COPY stream (header, rows, trailer) of ``n`` rows for the staging
    columns ``staging`` ((name, type), in COPY order; a column missing from ``columns`` is
    NULL), or None if a column holds a value this path does not write exactly as psycopg.
    ``json_type``: the class of pre-serialised JSON texts (bulk.JsonText)."""
    if n == 0:
        return None
    fields = []
    for name, pgtype in staging:
        col = columns.get(name)
        if col is None:
            fields.append(copybuf.text(np.full(n, None, dtype=object)))
            continue
        if len(col) != n:
            return None
        f = _field(pgtype, col, json_type, pgtype == geometry_type)
        if f is None:
            return None
        fields.append(f)
    data, _ = copybuf.rows(fields, n)
    return copybuf.HEADER + bytes(data) + copybuf.TRAILER
