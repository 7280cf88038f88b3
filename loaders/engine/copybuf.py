"""Binary COPY buffers assembled from whole columns, without a Python call per row.

PostgreSQL's binary COPY row is ``int16 field count`` then, per field, ``int32 length`` (-1 for
NULL) and the field's bytes in the type's binary format. psycopg's ``write_row`` builds that
row by row (~7 µs a row); here every field becomes ``length ‖ payload`` pieces of whole
columns and Arrow's ``binary_join_element_wise`` concatenates them row by row in C. The join
costs mostly per row and piece, so the pieces of the same width on every row (length
headers, numbers without NULL, payloads of one length: hashes, codes, districts) are NumPy
arrays merged with their neighbours into one piece first: a 50,000-row batch of buildings
takes a few tens of milliseconds.

Fields: :func:`text` (text, varchar; :func:`text_take` for a column of few distinct values),
:func:`binary` (bytea-like payloads: EWKB for geometry, whose binary input accepts (E)WKB),
:func:`jsonb` (jsonb binary format: version 1, then the JSON text), :func:`int2` /
:func:`int4` / :func:`int8` / :func:`float8` (big-endian), :func:`date` (days since
2000-01-01), :func:`text_array` (text[] binary array format). :func:`rows` joins them into one
buffer (a bytearray) and gives where each row starts, so that a fixed-width field may be
patched in place later (codes allocated after the buffer was built, :func:`patch`).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
TEXT_OID = 25

# The pieces of one field: length headers, then payloads. A piece of the same width on every
# row is an (n, width) uint8 array: :func:`rows` merges neighbouring ones (a header, a number,
# the next header) into one before the join, whose cost is mostly per row and piece.
Piece = pa.Array | np.ndarray
Field = list[Piece]


def _fixed_binary(raw, width: int, n: int) -> pa.Array:
    """A binary array of ``n`` values of ``width`` bytes each from their contiguous bytes
    (no copy: only the offsets are made)."""
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.BinaryArray.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                        pa.py_buffer(raw)])


def _fixed(values: np.ndarray, width: int) -> np.ndarray:
    """A fixed-width piece: the bytes of each value (big-endian numbers) as (n, width)."""
    return np.ascontiguousarray(values).view(np.uint8).reshape(len(values), width)


def _repeat(raw: bytes, n: int) -> np.ndarray:
    """A fixed-width piece holding the same bytes on every row."""
    return np.frombuffer(raw * n, np.uint8).reshape(n, len(raw))


def _headers(lengths: np.ndarray) -> np.ndarray:
    return _fixed(np.asarray(lengths, ">i4"), 4)


def _objects(values) -> np.ndarray:
    """A 1-D object array of ``values`` (bytes are kept whole, never split into items)."""
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        return values
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _variable(arr: pa.Array, prefix: bytes = b"") -> Field:
    lens = pc.fill_null(pc.binary_length(arr), -1).to_numpy(zero_copy_only=False)
    lens = np.where(lens >= 0, lens + len(prefix), -1)
    payload = pc.fill_null(arr.cast(pa.binary()), b"")
    if prefix and not arr.null_count:  # the prefix on every row: a fixed piece
        n = len(arr)
        return [_headers(lens), _repeat(prefix, n), payload]
    if prefix:
        payload = pc.binary_join_element_wise(
            _fixed_binary(prefix * len(arr), len(prefix), len(arr)), payload, b"")
        payload = pc.if_else(pc.is_valid(arr), payload, b"")
    return [_headers(lens), _uniform(payload)]


def _uniform(payload: pa.Array) -> Piece:
    """A payload of the same length on every row (a hash, a code, a district; all NULL: none)
    as a fixed-width piece, a view of its bytes; else as it is."""
    n = len(payload)
    if isinstance(payload, pa.ChunkedArray) or not n or payload.null_count:
        return payload
    bufs = payload.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=payload.offset * 4)
    width = int(offsets[1] - offsets[0])
    if offsets[-1] - offsets[0] != n * width or (np.diff(offsets) != width).any():
        return payload
    if width == 0:
        return np.zeros((n, 0), dtype=np.uint8)
    return np.frombuffer(bufs[2], dtype=np.uint8, count=n * width,
                         offset=int(offsets[0])).reshape(n, width)


def strings(values: Sequence | np.ndarray | pa.Array) -> pa.Array:
    """An Arrow string array of str/None values (an Arrow array as it is)."""
    return values if isinstance(values, (pa.Array, pa.ChunkedArray)) else \
        pa.array(_objects(values), pa.string(), from_pandas=True)


def text(values: Sequence | np.ndarray | pa.Array) -> Field:
    """A text field from str/None values (or an Arrow string array)."""
    return _variable(strings(values))


def text_take(uniques: Sequence, index: np.ndarray) -> Field:
    """A text field of ``uniques[index]`` (index -1: NULL): a column of few distinct values (a
    prefix, a layer name, a district) built from its distinct values, without a Python string
    per row."""
    index = np.asarray(index, dtype=np.int64)
    return text(strings(uniques).take(pa.array(index, mask=index < 0)))


def binary(values: Sequence | np.ndarray) -> Field:
    """A field from bytes/None values, sent as they are (EWKB to a geometry column)."""
    arr = values if isinstance(values, pa.Array) else \
        pa.array(_objects(values), pa.binary(), from_pandas=True)
    return _variable(arr)


def jsonb(values: Sequence | np.ndarray | pa.Array) -> Field:
    """A jsonb field from JSON texts (None = NULL; or an Arrow string array): jsonb's binary
    format is 1, then the text."""
    arr = values if isinstance(values, pa.Array) else \
        pa.array(_objects(values), pa.string(), from_pandas=True)
    return _variable(arr, prefix=b"\x01")


def _numbers(values: Sequence | np.ndarray, dtype: str) -> Field:
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) \
        or values.dtype == object else values
    n = len(arr)
    if arr.dtype == object:
        null = pd.isna(arr)
        num = np.zeros(n, dtype=dtype)
        if (~null).any():
            num[~null] = arr[~null].astype(np.float64 if dtype[-2] == "f" else np.int64)
    else:
        null = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(n, dtype=bool)
        num = np.where(null, 0, arr).astype(dtype)
    width = np.dtype(dtype).itemsize
    if not null.any():
        return [_headers(np.full(n, width)), _fixed(num, width)]
    payload = pc.if_else(pa.array(~null), _fixed_binary(num.tobytes(), width, n), b"")
    return [_headers(np.where(null, -1, width)), payload]


def int2(values) -> Field:
    return _numbers(values, ">i2")


_DAYS_1970_TO_2000 = 10957


def _days(values: np.ndarray) -> np.ndarray:
    """Days since 1970 of date values. NumPy turns a Python date into datetime64 in ~0.6 µs:
    a census's two date columns cost 1.2 s a million rows. Its dates repeat (a survey's few
    hundred days): each distinct ``datetime.date`` is turned once (pandas' hash table tells
    them apart in C); other values (Timestamps, datetimes) one by one as before."""
    codes, uniq = pd.factorize(values)
    if len(uniq) < len(values) and all(type(u) is dt.date for u in uniq):
        return np.array(list(uniq), dtype="datetime64[D]").astype(np.int64)[codes]
    return np.array(values.tolist(), dtype="datetime64[D]").astype(np.int64)


def date(values) -> Field:
    """A date field from datetime.date/Timestamp/None values: days since 2000-01-01."""
    arr = _objects(values)
    null = pd.isna(arr)
    days = np.zeros(len(arr), dtype=">i4")
    if (~null).any():
        days[~null] = _days(arr[~null]) - _DAYS_1970_TO_2000
    if not null.any():
        return [_headers(np.full(len(arr), 4)), _fixed(days, 4)]
    payload = pc.if_else(pa.array(~null), _fixed_binary(days.tobytes(), 4, len(arr)), b"")
    return [_headers(np.where(null, -1, 4)), payload]


def int4(values) -> Field:
    return _numbers(values, ">i4")


def int8(values) -> Field:
    return _numbers(values, ">i8")


def float8(values) -> Field:
    return _numbers(values, ">f8")


_EMPTY_TEXT_ARRAY = struct.pack(">iii", 0, 0, TEXT_OID)


def _text_array(items: list[str]) -> bytes:
    if not items:
        return _EMPTY_TEXT_ARRAY
    out = [struct.pack(">iiiii", 1, 0, TEXT_OID, len(items), 1)]
    for s in items:
        b = s.encode("utf-8")
        out.append(struct.pack(">i", len(b)) + b)
    return b"".join(out)


def text_array(values: Sequence[list[str]]) -> Field:
    """A text[] field from lists of str (an empty list is '{}', never NULL): a Python call
    for the non-empty lists only (most rows have none)."""
    n = len(values)
    if not any(values):  # no list (C-level): every row the same 12 bytes, a fixed piece
        return [_headers(np.full(n, len(_EMPTY_TEXT_ARRAY))), _repeat(_EMPTY_TEXT_ARRAY, n)]
    full = np.flatnonzero(np.fromiter(map(len, values), dtype=np.int64, count=n))
    out = np.full(n, _EMPTY_TEXT_ARRAY, dtype=object)
    for i in full.tolist():
        out[i] = _text_array(values[i])
    return binary(out)


def rows(fields: list[Field], n: int, *, copy: bool = True
         ) -> tuple[bytearray | memoryview, np.ndarray]:
    """(COPY data without header and trailer, start offset of each row). The data is a
    bytearray copied once out of Arrow's buffer, so that the writer patches it in place; with
    ``copy`` false, a view of Arrow's buffer — the join's own output, fresh for each call and
    writable (a converter process sends it through its pipe as it is: the writer receives its
    own bytearray; the copy cost a converter ~0.5 GB of fresh pages a million footprints)."""
    if n == 0:
        return bytearray(), np.zeros(0, dtype=np.int64)
    count = _repeat(struct.pack(">h", len(fields)), n)
    pieces: list[Piece] = []
    run: list[np.ndarray] = []
    for p in [count, *[p for f in fields for p in f]]:
        if isinstance(p, np.ndarray):
            run.append(p)
            continue
        if run:
            pieces.append(_run(run, n))
            run = []
        pieces.append(p)
    if run:
        pieces.append(_run(run, n))
    joined = pc.binary_join_element_wise(*pieces, b"") if len(pieces) > 1 else pieces[0]
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    bufs = joined.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=joined.offset * 4)
    view = memoryview(bufs[2])[offsets[0]:offsets[-1]]
    return bytearray(view) if copy else view, (offsets[:-1] - offsets[0]).astype(np.int64)


def _run(run: list[np.ndarray], n: int) -> pa.Array:
    """Neighbouring fixed-width pieces as one binary piece: each piece's rows as one void
    item of its width, copied into a field of a record of them all (some times faster than
    concatenating narrow uint8 columns)."""
    run = [np.ascontiguousarray(p) for p in run if p.shape[1]]
    if len(run) <= 1:
        joined = run[0] if run else np.zeros((n, 0), dtype=np.uint8)
    else:
        rec = np.empty(n, dtype=np.dtype({"names": [f"f{i}" for i in range(len(run))],
                                          "formats": [f"V{p.shape[1]}" for p in run]}))
        for i, p in enumerate(run):
            rec[f"f{i}"] = p.view(f"V{p.shape[1]}").ravel()
        joined = rec.view(np.uint8).reshape(n, -1)
    return _fixed_binary(joined, joined.shape[1], n)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers (the last ``width`` of them): a
    (n, width) array of ASCII. One column per pass, right to left, in 32-bit integers when
    the values fit (64-bit division is several times slower: this runs on the writer's
    critical path)."""
    rest = np.asarray(values, dtype=np.int64)
    if len(rest) and 0 <= rest.min() and rest.max() < 2**32:
        rest = rest.astype(np.uint32)
    out = np.empty((len(rest), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        q = rest // 10
        out[:, k] = rest - q * 10 + 48
        rest = q
    return out


def patch(buf: bytearray | np.ndarray, positions: np.ndarray, values: np.ndarray) -> None:
    """Write fixed-width ASCII ``values`` (a (n, width) uint8 array, as :func:`digits` gives)
    at ``positions`` of ``buf``."""
    if not len(positions):
        return
    width = values.shape[1]
    target = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf
    target[(positions[:, None] + np.arange(width)).ravel()] = values.ravel()
