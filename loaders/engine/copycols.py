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

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from loaders.engine import copybuf

_NONE = type(None)
_INT_RANGE = {"int2": 2 ** 15, "int4": 2 ** 31, "int8": 2 ** 63}
SLICE = 10_000  # rows assembled at a time: the buffers of a slice, not of a whole chunk


def _plain(pgtype: str, col: Sequence[Any], json_type: type, geometry: bool) -> bool:
    """Whether every value of ``col`` is one this path writes exactly as psycopg would."""
    types = set(map(type, col)) - {_NONE}
    if pgtype in _INT_RANGE:
        if not types <= {int}:
            return False
        values = [v for v in col if v is not None]
        lim = _INT_RANGE[pgtype]
        return not values or (min(values) >= -lim and max(values) < lim)
    if pgtype == "float8":
        if not types <= {float}:
            return False
        arr = np.asarray(col, dtype=object)
        return not np.isnan(arr[arr != None].astype(np.float64)).any()  # noqa: E711
    if pgtype == "text":
        return types <= {str}
    if pgtype == "jsonb":
        return types <= {json_type}
    if pgtype == "text[]":
        return types <= {list} and all(type(x) is str for items in col for x in items)
    if geometry:
        return all(issubclass(t, bytes) for t in types)
    return False


def _build(pgtype: str, col: Sequence[Any], geometry: bool) -> copybuf.Field:
    if pgtype in _INT_RANGE or pgtype == "float8":
        return getattr(copybuf, pgtype)(np.asarray(col, dtype=object))
    if pgtype == "text":
        return copybuf.text(np.asarray(col, dtype=object))
    if pgtype == "jsonb":
        return copybuf.jsonb(col)
    if pgtype == "text[]":
        return copybuf.text_array(col)
    return copybuf.binary(col)


def copy_data(columns: dict[str, Sequence[Any]], staging: list[tuple[str, str]], n: int,
              json_type: type, geometry_type: str = "geometry"
              ) -> Iterator[bytes | bytearray] | None:
    """The binary COPY stream of ``n`` rows in parts (header, the rows :data:`SLICE` at a
    time, trailer; written one after the other) for the staging columns ``staging`` ((name,
    type), in COPY order; a column missing from ``columns`` is NULL), or None if a column
    holds a value this path does not write exactly as psycopg (decided for every column
    before any part is made). ``json_type``: the class of pre-serialised JSON texts
    (bulk.JsonText)."""
    if n == 0:
        return None
    for name, pgtype in staging:
        col = columns.get(name)
        if col is not None and (len(col) != n or not _plain(pgtype, col, json_type,
                                                              pgtype == geometry_type)):
            return None
    return _parts(columns, staging, n, geometry_type)


def _parts(columns: dict[str, Sequence[Any]], staging: list[tuple[str, str]], n: int,
           geometry_type: str) -> Iterator[bytes | bytearray]:
    yield copybuf.HEADER
    for a in range(0, n, SLICE):
        m = min(n, a + SLICE) - a
        fields = []
        for name, pgtype in staging:
            col = columns.get(name)
            fields.append(copybuf.text(np.full(m, None, dtype=object)) if col is None else
                          _build(pgtype, col[a:a + m], pgtype == geometry_type))
        yield copybuf.rows(fields, m)[0]
    yield copybuf.TRAILER
