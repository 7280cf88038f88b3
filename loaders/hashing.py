"""The content hash of a feature (``row_hash``): one recipe for every layer.

A reload compares each feature's hash with the current version's: equal means unchanged (no
new version). The hash must therefore depend on the stored content only — never on a
library's internals (pandas' ``hash_pandas_object`` may change between releases and would
then version every feature on the next reload) nor on how a loader happens to hold a value
(``5`` and ``5.0`` in an integer column are the same content).

Recipe (version 1), reproducible with nothing but ``hashlib`` and ``struct``::

    row_hash = SHA-256( field(v1) ‖ field(v2) ‖ … ‖ field(vn) ‖ field(geometry) ), lower-case hex
    field(x) = len(payload(x)) as a 4-byte big-endian unsigned integer ‖ payload(x)

    payload(x), by value:
      NULL (None, NaN, NaT, pandas NA)   b"N"
      bool                               b"B1" / b"B0"
      number (int, float, numpy, Decimal) b"#" + ASCII text: the integer's decimal digits when
                                          the value is integral (5, 5.0 → "5"; -0.0 → "0"),
                                          else Python's shortest round-trip repr of the float
                                          ("18.5", "1e-07", "inf", "-inf")
      text                               b"S" + UTF-8 of the text exactly as stored
      date / datetime / time             b"D" + isoformat() (ASCII)
      bytes                              b"X" + the bytes
      anything else                      b"S" + UTF-8 of str(x)
      geometry                           b"G" + ISO WKB, little-endian (NDR), the geometry's own
                                          dimension (Z kept), no SRID, coordinates as stored
                                          (IEEE-754 doubles); no geometry: b"N"

The values are the layer's own columns in their declared order (``cim/layerdefs.py``) as the
loader stores them; the geometry is the stored one (storage CRS). Changing the recipe
changes every hash: each feature is then versioned once on its next reload. A feature's
``attrs`` and ``flags`` are not in it — a hash of them would change every stored one that has
any, and parsing each row's JSON to hash it canonically cost a pipe load ~1 s — they are
compared beside it (:meth:`loaders.engine.known.Known.same_extras` and the staging writer's
merge, :mod:`loaders.engine.bulk`): a feature is unchanged only when all three are.

Because the hash is the recipe over stored values, it can be taken from the stored row as well
as from the loader's (:func:`stored_hashes`; tests/test_text_and_hash.py and
tests/test_components.py check that the two agree). A first load of a dataset into a layer
that declares its :class:`StoredRecipe` leaves ``row_hash`` NULL: none of its rows is compared
with anything until a reload converts it again, and most never are — hashing them all cost a
million footprints' first load ~2–3 s of CPU (docs/benchmarks.md). A reload that converts
such a row takes its hash from the stored row then, and writes it there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import shapely

NULL = b"\x00\x00\x00\x01N"


def _field(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def _number(v: float | int | Decimal) -> bytes:
    if isinstance(v, (int, np.integer)):
        return b"#" + str(int(v)).encode()
    f = float(v)
    if math.isfinite(f) and f.is_integer():
        return b"#" + str(int(f)).encode()
    return b"#" + float.__repr__(f).encode()


def encode_value(v: Any) -> bytes:
    """``field(v)`` of the recipe: length prefix and typed payload of one column value."""
    if v is None:
        return NULL
    if isinstance(v, str):
        return _field(b"S" + v.encode("utf-8"))
    if isinstance(v, (bool, np.bool_)):
        return _field(b"B1" if v else b"B0")
    if isinstance(v, (int, float, np.integer, np.floating, Decimal)):
        if not isinstance(v, (int, np.integer)) and math.isnan(v):
            return NULL
        return _field(_number(v))
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        if v != v:  # pandas NaT is a datetime that is not equal to itself
            return NULL
        return _field(b"D" + v.isoformat().encode("ascii"))
    if isinstance(v, (bytes, bytearray, memoryview)):
        return _field(b"X" + bytes(v))
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return NULL
    except ImportError:  # pragma: no cover - pandas is a dependency of the loaders
        pass
    return _field(b"S" + str(v).encode("utf-8"))


def geometry_wkb(geoms: Any) -> np.ndarray:
    """Canonical WKB (ISO, little-endian, no SRID) of shapely geometries or (E)WKB bytes;
    None stays None. Vectorised: one array in, one array out."""
    arr = np.asarray(geoms, dtype=object)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    out = np.full(len(arr), None, dtype=object)
    if not len(arr):
        return out
    is_bytes = np.fromiter((isinstance(g, (bytes, bytearray, memoryview)) for g in arr),
                           dtype=bool, count=len(arr))
    g = arr.copy()
    if is_bytes.any():
        g[is_bytes] = shapely.from_wkb([bytes(b) for b in arr[is_bytes]])
    present = ~shapely.is_missing(g)
    if present.any():
        out[present] = shapely.to_wkb(g[present], byte_order=1, flavor="iso",
                                      include_srid=False, output_dimension=3)
    return out


def _geometry_field(wkb: bytes | None) -> bytes:
    return NULL if wkb is None else _field(b"G" + wkb)


def content_hash(values: Sequence[Any], geom: Any) -> str:
    """The row hash of one feature: its column values (declared order) and geometry (a shapely
    geometry, its WKB/EWKB, or None)."""
    wkb = geometry_wkb([geom])[0]
    data = b"".join(encode_value(v) for v in values) + _geometry_field(wkb)
    return hashlib.sha256(data).hexdigest()


def content_hashes(values: dict[str, Iterable[Any]], geoms: Any) -> np.ndarray:
    """Row hashes of a batch: ``values`` maps each column (declared order) to its values,
    ``geoms`` the geometries (or their WKB/EWKB). Same result as :func:`content_hash` row by
    row."""
    return content_hashes_wkb(values, geometry_wkb(geoms))


def content_hashes_wkb(values: dict[str, Iterable[Any]], wkbs: Sequence[bytes | None] | Any
                       ) -> np.ndarray:
    """:func:`content_hashes` with the geometries given as their canonical WKB already (ISO,
    little-endian, no SRID, as :func:`geometry_wkb` gives it; None for no geometry), bytes or
    an Arrow binary array.

    Each column is encoded once per distinct value (repeated class codes, names and numbers
    cost one encoding); the fields of a row are concatenated by Arrow, so that Python only
    runs SHA-256 once a row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wkb_arr = wkbs if isinstance(wkbs, pa.Array) else \
        pa.array(_objects(wkbs), pa.binary(), from_pandas=True)
    n = len(wkb_arr)
    columns = [_encoded_column(col, n) for col in values.values()]
    columns.append(_tagged(wkb_arr, b"G"))
    joined = pc.binary_join_element_wise(*columns, b"")
    bufs = joined.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=joined.offset * 4)
    data = memoryview(bufs[2])
    sha = hashlib.sha256
    return np.array([sha(data[a:b]).hexdigest() for a, b in
                     zip(offsets[:-1].tolist(), offsets[1:].tolist())], dtype=object)


@dataclass(frozen=True)
class StoredRecipe:
    """Which stored columns a layer's loader hashes, in the recipe's order: ``columns``;
    ``nulled`` of them hashed as None (the derived district and grid cell, which the writer
    fills after the hash is taken)."""

    columns: tuple[str, ...]
    nulled: frozenset[str] = frozenset()


@dataclass
class StoredRows:
    """Stored rows as the recipe reads them: their ids, hashed values by column, geometries
    (ISO WKB, little-endian; None: none) and SRIDs."""

    ids: list[int]
    values: dict[str, list[Any]]
    wkb: list[bytes | None]
    srid: list[int | None]

    def hashes(self, wkb: Sequence[bytes | None] | None = None) -> np.ndarray:
        """Their row hashes; with ``wkb``, of their values with those geometries instead."""
        return content_hashes_wkb(self.values, self.wkb if wkb is None else wkb)


def stored_rows(conn: Any, table: str, recipe: StoredRecipe, ids: Sequence[int]
                ) -> StoredRows:
    """The rows ``ids`` of ``table`` with what the recipe hashes of them."""
    from psycopg import sql

    rows: list[tuple] = []
    if len(ids):
        # binary: each float8 as its double, whatever the server's extra_float_digits
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(sql.SQL(
                "SELECT id, ST_AsBinary(geom, 'NDR'), ST_SRID(geom), {} FROM {} "
                "WHERE id = ANY(%s)").format(
                sql.SQL(", ").join(map(sql.Identifier, recipe.columns)),
                sql.Identifier(table)), (list(ids),)).fetchall()
    values = {c: [None] * len(rows) if c in recipe.nulled else [r[3 + k] for r in rows]
              for k, c in enumerate(recipe.columns)}
    return StoredRows([r[0] for r in rows], values,
                      [bytes(r[1]) if r[1] is not None else None for r in rows],
                      [r[2] for r in rows])


def stored_hashes(conn: Any, table: str, recipe: StoredRecipe, ids: Sequence[int]
                  ) -> dict[int, str]:
    """The row hash of stored rows (``ids`` of ``table``), by the recipe over their stored
    values and geometry (ISO WKB, little-endian): what the loader gives the same content."""
    got = stored_rows(conn, table, recipe, ids)
    return dict(zip(got.ids, got.hashes().tolist())) if got.ids else {}


def _objects(values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        return values
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _tagged(payloads, tag: bytes):
    """field(tag ‖ payload) per row of an Arrow binary array; NULL where it is null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(payloads)
    lens = pc.fill_null(pc.binary_length(payloads), -1).to_numpy(zero_copy_only=False)
    heads = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(4), n, [None, pa.py_buffer(np.asarray(lens + len(tag), ">u4").tobytes())]
    ).cast(pa.binary())
    body = pc.binary_join_element_wise(
        heads, pa.array(np.full(n, tag, dtype=object), pa.binary()), payloads, b"")
    return pc.fill_null(body, NULL)


# columns whose values compare equal exactly when their encodings are equal (5 == 5.0 and both
# encode as "#5"): encoded once per distinct value
_FACTORIZABLE = {"string", "integer", "floating", "mixed-integer-float", "empty"}


def _encoded_column(col: Iterable[Any], n: int):
    import pandas as pd
    import pyarrow as pa

    if isinstance(col, pa.Array):  # a text column kept in Arrow for the COPY buffer
        col = col.to_numpy(zero_copy_only=False)
    arr = _objects(col if hasattr(col, "__len__") else list(col))
    if len(arr) != n:
        raise ValueError(f"a column has {len(arr)} values for {n} geometries")
    kind = pd.api.types.infer_dtype(arr, skipna=True)
    if kind == "string":
        texts = _encoded_texts(arr)
        if texts is not None:
            return texts
    if kind in _FACTORIZABLE or (kind == "date" and _plain_dates(arr)):
        codes, uniques = pd.factorize(arr)
        enc = np.empty(len(uniques) + 1, dtype=object)
        enc[:-1] = _encoded_floats(uniques) if kind == "floating" else \
            [encode_value(u) for u in uniques]
        enc[-1] = NULL  # code -1: None, NaN
        return pa.array(enc[codes], pa.binary())
    return pa.array(_objects(_encode_column(arr, n)), pa.binary())


def _encoded_texts(arr: np.ndarray):
    """:func:`encode_value` of a column of texts (None where missing) as an Arrow binary
    array, each distinct text tagged in Arrow (``S`` and its UTF-8); None if a text cannot be
    written as UTF-8 (the row by row path then says so as it always did)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    codes, uniques = pd.factorize(arr)
    try:
        utf8 = pa.array(uniques, pa.string()).cast(pa.binary())
    except (pa.ArrowException, UnicodeError):
        return None
    fields = _tagged(utf8, b"S").take(pa.array(codes, mask=codes < 0))
    return pc.fill_null(fields, NULL)


_FLOATS = {float, np.float64, np.float32, np.float16}


def _encoded_floats(uniques: Any) -> list[bytes]:
    """:func:`encode_value` of distinct values; for floats (not NaN: the factorised values of
    a floating column) its number text made for the whole column at once: a whole value as its
    integer, else ``float.__repr__``."""
    if not (isinstance(uniques, np.ndarray) and uniques.dtype.kind == "f") and \
            not set(map(type, uniques)) <= _FLOATS:
        return [encode_value(u) for u in uniques]
    f = np.asarray(uniques, dtype=np.float64)  # encode_value writes float(v) of any float
    whole = np.isfinite(f) & (f == np.floor(f))
    small = whole & (np.abs(f) < 2.0 ** 62)  # exact in int64
    texts = np.empty(len(f), dtype=object)
    texts[small] = list(map(str, f[small].astype(np.int64).tolist()))
    texts[whole & ~small] = [str(int(v)) for v in f[whole & ~small].tolist()]
    texts[~whole] = list(map(float.__repr__, f[~whole].tolist()))
    return [(len(t) + 1).to_bytes(4, "big") + b"#" + t.encode() for t in texts.tolist()]


def _plain_dates(arr: np.ndarray) -> bool:
    """Whether every value is a ``datetime.date`` (no datetime: an aware one can equal another
    of another zone and encode otherwise) or missing: equal dates encode equal."""
    import pandas as pd

    return all(type(v) is dt.date for v in arr[pd.notna(arr)].tolist())


def _encode_column(col: Iterable[Any], n: int) -> list[bytes]:
    out: list[bytes] = []
    cache: dict[tuple[type, Any], bytes] = {}
    for v in col:
        try:
            key = (type(v), v, getattr(v, "tzinfo", None))  # 00:00Z == 08:00+08
            hit = cache.get(key)
        except TypeError:  # unhashable: encode without the cache
            key, hit = None, None
        if hit is None:
            hit = encode_value(v)
            if key is not None and hit is not NULL:  # NaN/NA are never found again
                cache[key] = hit
        out.append(hit)
    if len(out) != n:
        raise ValueError(f"a column has {len(out)} values for {n} geometries")
    return out


# -- the source fingerprint (``source_hash``, migration 0009) --------------------------------
_FP_KEY = "cim-source-fp-v1"  # 16 bytes: pandas' hash key


def source_fingerprints(columns: Any, wkb: np.ndarray | None, context: str) -> np.ndarray:
    """A 64-bit fingerprint of each raw source row as read (int64): every attribute and the
    geometry's WKB as read, mixed with ``context`` (what else decides the conversion: mapping,
    source CRS, dictionaries, converter version). ``columns``: the Arrow record batch as read
    (its geometry column included; ``wkb`` None), or the batch's column arrays with ``wkb``.

    Unlike :func:`content_hash` it may depend on a library's internals (pandas' vectorised
    ``hash_array``): a fingerprint only lets a reload skip rows it would convert to the same
    content. If pandas changed its hash, every row would be converted once — never versioned,
    the content hash decides for converted rows. A row is compared with its own key's stored
    fingerprint only, so 64 bits leave a chance of 2⁻⁶⁴ per changed row of missing a change."""
    from pandas.util import hash_array

    if wkb is None:
        arrays = [_arrow_hashes(columns.column(name)) for name in sorted(columns.schema.names)]
        n = columns.num_rows
    else:
        arrays = [_with_nulls(np.asarray(wkb, dtype=object))]
        for _, v in sorted(columns.items()):
            v = np.asarray(v)
            arrays.append(_with_nulls(np.where(pd_isna(v), None, v) if v.dtype == object
                                      else v))
        n = len(wkb)
    ctx = int.from_bytes(hashlib.blake2b(context.encode(), digest_size=8).digest(), "little")
    h = np.full(n, ctx, dtype=np.uint64)
    mult = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for c, nulls in arrays:
            hc = c if c.dtype == np.uint64 else hash_array(c, hash_key=_FP_KEY,
                                                           categorize=False)
            if nulls is not None:  # a null apart from any value (pandas hashes None as
                hc ^= np.where(nulls, _FP_NULL, np.uint64(0))  # "None", a null int as 0)
            h = (h * mult) ^ hc
    return h.view(np.int64)


# what a null's hash is marked with (see source_fingerprints)
_FP_NULL = np.uint64(0x9E3779B97F4A7C15)


def _with_nulls(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    return values, (pd_isna(values) if values.dtype == object else None)


def _arrow_hashes(arr: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_fingerprint_array`, with text hashed already (uint64) from its UTF-8 bytes:
    ``hash_array`` hashes a text by its UTF-8 encoding, so its hash is the bytes' hash, and
    no text is made a Python string only to be encoded again. A column of few distinct values
    (a use or structure: a handful in 50,000 rows) is hashed once per distinct value (Arrow's
    dictionary encoding), then taken per row — the same hashes, since ``hash_array`` hashes
    each element on its own; a column of mostly distinct values (an id) row by row, where
    the dictionary only cost its building (50,000 ids: 8.7 → 2.1 ms)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pandas.util import hash_array

    t = arr.type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        # bytes (the geometry's WKB) are as many as the rows: hashed row by row, without a
        # dictionary that would hold every one (50,000 footprints: 36 → 9 ms)
        return _fingerprint_array(arr)
    nulls = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    as_bytes = pa.large_binary() if pa.types.is_large_string(t) else pa.binary()
    head = arr.slice(0, _SAMPLE)
    if len(head) and pc.count_distinct(head).as_py() * 2 > len(head):
        values = np.asarray(arr.cast(as_bytes).to_numpy(zero_copy_only=False), dtype=object)
        return hash_array(values, hash_key=_FP_KEY, categorize=False), nulls
    enc = pc.dictionary_encode(arr)
    uniques = np.empty(len(enc.dictionary) + 1, dtype=object)
    uniques[:-1] = enc.dictionary.cast(as_bytes).to_numpy(zero_copy_only=False)
    uniques[-1] = None  # the null's slot: hashed as the row-wise path hashes a None
    hashed = hash_array(uniques, hash_key=_FP_KEY, categorize=False)
    idx = pc.fill_null(enc.indices, len(uniques) - 1).to_numpy(zero_copy_only=False)
    return hashed[idx.astype(np.int64)], nulls


# the rows a text column's distinct values are counted in, to choose how to hash it
_SAMPLE = 1000


def _fingerprint_array(arr: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """An Arrow column as a NumPy array ``hash_array`` takes on its fast path — numbers and
    times as int64/float64, text and bytes as objects — and where its nulls are (None: none
    to mark; a float null is NaN)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    nulls = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_temporal(t):
        values = pc.fill_null(arr.cast(pa.int64()) if not pa.types.is_temporal(t)
                              else arr.view(pa.int64()) if t.bit_width == 64
                              else arr.cast(pa.int32()).cast(pa.int64()), 0)
        return values.to_numpy(zero_copy_only=False).astype(np.int64), nulls
    if pa.types.is_floating(t):
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False), None  # null: NaN
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
            or pa.types.is_large_binary(t):
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object), nulls
    if isinstance(t, pa.ExtensionType):
        return _fingerprint_array(arr.storage)
    return np.asarray([None if v is None else repr(v) for v in arr.to_pylist()],
                      dtype=object), nulls


def pd_isna(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.isna(values)
