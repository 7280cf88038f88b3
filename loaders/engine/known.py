"""What a direct write is told before it converts: the layer's current versions and
registered codes of the delivery's dataset (:class:`Known`). The current districts and grid
cells it places rows in are :mod:`loaders.engine.places`'."""

from __future__ import annotations

import hashlib
import mmap
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from cim.errors import DatabaseError
from cim.layerdefs import LayerDef
from loaders import jsonb
from loaders.engine import conversions, samegeom
from loaders.engine.keyread import EarlyKeys, read_keys
from loaders.hashing import StoredRecipe

# what joins a row's keys left out of the attrs comparison (see Known.same_extras)
SEP = "\x1f"


@dataclass
class Known:
    """What the layer holds for the delivery's dataset when the load starts, compactly (a
    million features: the keys in one Arrow array, ids and fingerprints in NumPy arrays).

    A key is found by its source fingerprint where the caller has one and a single current
    version holds it (a reload's unchanged rows: integers hashed, the key compared), else by
    its text on the server (the layer's source-key index; a reload's changed and new rows).
    No hash table of a million texts is built (a pandas index of the keys took 0.2–0.4 s to
    build, on a reload's critical path, and ~0.5 µs a look-up) and no Python object made of
    each key: the converter processes share the keys' memory with the load's process, and
    comparing Python objects writes their reference counts, copying every page they lie in
    (90 MB more in each process).

    The current versions' content hashes and codes are read for the keys a load converts
    only (:meth:`fill`): a reload that leaves 99 % of its rows unconverted by their
    fingerprint never needs theirs. Keys coded before but without a current version (a
    retired feature returning) are looked up in the registry for the keys a batch does not
    find here (``returning``), only when the registry holds any key of the dataset."""

    keys: pa.Array | list  # the current versions' source keys (Arrow text): row → key
    row_hash: np.ndarray  # "S64": hash of the current version once filled; b"" otherwise
    code: np.ndarray  # "S24": its code once filled
    # the current version's source fingerprint (int64; 0: none kept) and its flags where it has
    # any: what a reload reports for a row it skips unconverted (migration 0009)
    source_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    flags: dict[int, list[str]] = field(default_factory=dict)
    filled: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # (key, row hash, code, id, SHA-256 of attrs::text or None where {}) of the current
    # versions of the keys given
    details: Callable[[list[str]], list[tuple[str, str, str, int, Any]]] | None = None
    # key → registered code of the keys given that were coded before (None: the registry holds
    # no key of the dataset, so no key can return)
    returning: Callable[[list[str]], dict[str, str]] | None = None
    lookup: Any = None  # _Lookup: fingerprints and ids → rows (see positions)
    # id → row hash taken from the stored rows of ids given: for current versions a first load
    # left unhashed (loaders.hashing.stored_hashes); None: the layer's rows are always hashed
    rehash: Callable[[list[int]], dict[int, str]] | None = None
    # the rows whose hash was taken so (the load writes it: see DirectConverter's refresh)
    rehashed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # (ids, converted geometries as ISO WKB, content hashes) → id → stored hash of the rows
    # that differ from their current versions only in how the geometry is written
    # (loaders.engine.samegeom); None: the layer's hash decides alone
    same_but_written: Callable[[list[int], list, list[str]], dict[int, str]] | None = None
    # what reads the stored rows for both (its reads kept for one batch); None: no recipe
    stored: samegeom.StoredReader | None = None
    # the SHA-256 of the current version's ``attrs::text`` (b"": {}) once filled, its
    # ``attrs_skip`` keys left out; and the ids, of those given with their attrs texts and the
    # keys to leave out of each, whose current version holds other attrs (see same_extras)
    attrs_digest: np.ndarray = field(default_factory=lambda: np.zeros(0, "S32"))
    attrs_differ: Callable[[list[int], list[str], list[str]], set[int]] | None = None
    attrs_skip: tuple[str, ...] = ()
    _flagged: np.ndarray | None = None  # the rows of ``flags``, sorted (see flagged)
    # key → row (-1: none) of the batch's keys this process looked up by text (see _by_text)
    _text_rows: dict[str, int] = field(default_factory=dict)
    # each row's id, and whether its content is that of the load's conversion (written or
    # verified under its digest: loaders.engine.fingerprint); None: every row's is
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    converted_now: np.ndarray | None = None

    def of_this_conversion(self, rows: np.ndarray) -> np.ndarray:
        """Whether each of ``rows`` holds the content the load's conversion would write for
        an unchanged source row (a row may be skipped only then)."""
        if self.converted_now is None:
            return np.ones(len(rows), dtype=bool)
        return self.converted_now[rows]

    @property
    def current(self) -> int:
        """How many keys have a current version."""
        return len(self.keys)

    @classmethod
    def empty(cls) -> Known:
        return cls([], np.zeros(0, "S64"), np.zeros(0, "S24"))

    def positions(self, keys: np.ndarray | list | pa.Array, fps: np.ndarray | None = None
                  ) -> np.ndarray:
        """Row of each key (None: no key) in the arrays, -1 where unknown.

        With the keys' source fingerprints (``fps``: a batch's rows, before converting them), a
        key whose fingerprint one current version holds is that row if its key is the same;
        the others are looked up by text on the server (:meth:`_by_text`), which fills their
        hashes and codes too — those a batch converts, looked up again when it is finished.
        Two current versions with one key (made by hand: a load never writes them) are told
        apart by fingerprint where one matches, else the last is taken."""
        if not isinstance(keys, pa.Array):
            keys = np.asarray(keys, dtype=object)
        at = np.full(len(keys), -1, dtype=np.int64)
        if fps is not None:
            self._text_rows.clear()  # a new batch: the keys of the last one are done
            if self.stored is not None:
                self.stored.forget()
        if not self.current or not len(keys):
            return at
        todo = np.arange(len(keys))
        if fps is not None:
            i = self.lookup.fp.get_indexer(np.asarray(fps, dtype=np.int64))
            hit = np.flatnonzero(i >= 0)
            rows = i[hit] if self.lookup.fp_rows is None else self.lookup.fp_rows[i[hit]]
            # compared in Arrow: no known key made a Python object
            mine = keys.take(pa.array(hit)).cast(self.keys.type) if isinstance(keys, pa.Array) \
                else pa.array(keys[hit], self.keys.type, from_pandas=True)
            same = pc.fill_null(pc.equal(mine, self.keys.take(rows)), False)
            same = same.to_numpy(zero_copy_only=False)
            at[hit[same]] = rows[same]
            todo = np.flatnonzero(at < 0)
        if len(todo):
            at[todo] = self._by_text(keys.take(pa.array(todo)).to_numpy(zero_copy_only=False)
                                     if isinstance(keys, pa.Array) else keys[todo])
        return at

    def flagged(self, rows: np.ndarray) -> np.ndarray:
        """Whether each of ``rows`` has flags (vectorised: a batch's rows skipped unconverted
        are mostly unflagged)."""
        if self._flagged is None:
            self._flagged = np.sort(np.fromiter(self.flags, dtype=np.int64,
                                                count=len(self.flags)))
        return np.isin(rows, self._flagged)

    def same_extras(self, rows: np.ndarray, attrs: list[str], flags: list[list[str]],
                    own: np.ndarray | None = None, full: list[str] | None = None
                    ) -> np.ndarray:
        """Whether the current versions of ``rows`` (filled) hold these attrs (JSON texts,
        without the keys :attr:`attrs_skip`) and flags — what the content hash leaves out
        (:mod:`loaders.hashing`): a source attribute no column holds, changed alone, changes
        the feature all the same.

        Attrs compare by the SHA-256 of their text against the stored ``attrs::text``'s
        (texts built in jsonb's key order are that text: :mod:`loaders.jsonb`); where the two
        differ, the server compares the values (:func:`loaders.jsonb.same_sql`: key order,
        ``5``/``5.0``, a float written with an exponent and a number re-spelled as text by
        another format aside; :attr:`attrs_differ`).
        ``own``: per row, those of :attr:`attrs_skip` its delivery holds as columns of its own
        (joined by :data:`SEP`; "" none): those rows are compared on the server, their texts
        ``full`` (every key) without only the other keys. Flags compare as the list stored."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        if not n:
            return np.ones(0, dtype=bool)
        texts = np.asarray(attrs, dtype=object)
        mine = np.zeros(n, dtype="S32")  # b"": {}
        some = np.flatnonzero(texts != "{}")
        if len(some):
            sha = hashlib.sha256
            mine[some] = [sha(t.encode("utf-8", "surrogatepass")).digest()
                          for t in texts[some].tolist()]
        out = self.attrs_digest[rows] == mine
        ask = ~out
        owned = np.zeros(n, dtype=bool) if own is None else np.asarray(own) != ""
        ask |= owned
        differ = np.flatnonzero(ask)
        if len(differ):
            assert self.attrs_differ is not None
            every = SEP.join(self.attrs_skip)
            sent, skips = [], []
            for j in differ.tolist():
                if owned[j]:
                    mine_keys = set(own[j].split(SEP))  # type: ignore[index]
                    sent.append(str(full[j]))  # type: ignore[index]
                    skips.append(SEP.join(k for k in self.attrs_skip if k not in mine_keys))
                else:
                    sent.append(str(texts[j]))
                    skips.append(every)
            ids = self.ids[rows[differ]]
            other = self.attrs_differ(ids.tolist(), sent, skips)
            out[differ] = ~np.isin(ids, np.fromiter(other, np.int64, len(other)))
        has = np.fromiter(map(bool, flags), dtype=bool, count=n)
        if self.flags:
            has |= self.flagged(rows)
        for j in np.flatnonzero(has).tolist():
            if list(flags[j]) != self.flags.get(int(rows[j]), []):
                out[j] = False
        return out

    def fill(self, rows: np.ndarray) -> None:
        """Make ``row_hash``, ``code`` and ``attrs_digest`` hold the current versions of these
        rows."""
        need = rows[~self.filled[rows]] if len(rows) else rows
        if len(need):
            self._read(self.keys.take(np.unique(need)).to_pylist())

    def _by_text(self, keys: np.ndarray) -> np.ndarray:
        """Rows of keys by their text: asked of the server once per key and batch (its
        converted rows are looked up again when it is finished)."""
        cache = self._text_rows
        want = [k for k in dict.fromkeys(keys.tolist()) if isinstance(k, str) and k not in cache]
        if want:
            cache.update(dict.fromkeys(want, -1))
            for k, i in self._read(want):
                cache[k] = max(cache[k], i)  # two current versions with one key: the last
        return np.fromiter((cache.get(k, -1) if isinstance(k, str) else -1
                            for k in keys.tolist()), dtype=np.int64, count=len(keys))

    def _read(self, keys: list[str]) -> list[tuple[str, int]]:
        """The current versions of ``keys`` from the server: their hashes and codes filled
        in; (key, row) of each."""
        assert self.details is not None
        found = self.details(keys)
        if not found:
            return []
        rows = self.lookup.rows_of_ids(np.fromiter((r[3] for r in found), dtype=np.int64,
                                                   count=len(found)))
        unhashed = [r[3] for r, i in zip(found, rows.tolist()) if r[1] is None and i >= 0]
        stored = self.rehash(unhashed) if unhashed and self.rehash is not None else {}
        out = []
        for (k, h, c, id_, a), i in zip(found, rows.tolist()):
            if i >= 0:  # (a version committed since the keys were read: none, merge lock)
                if a is not None:
                    self.attrs_digest[i] = a
                if h is None:
                    h = stored.get(id_)
                    self.rehashed[i] = h is not None
                self.row_hash[i], self.code[i] = (h or "").encode("ascii"), c.encode("ascii")
                self.filled[i] = True
                out.append((k, i))
        return out

    def close(self) -> None:
        """Close the connections :meth:`fill` and ``returning`` opened in this process."""
        for reader in (self.details, self.returning):
            if reader is not None and hasattr(reader, "close"):
                reader.close()


class _Details:
    """Reads by key on a connection of the calling process's own (a forked converter process
    must not use its parent's), opened when first needed, in autocommit: it sees what was
    committed — the layer and registry as the load found them, the merge lock keeping other
    loads out — and holds no lock between reads."""

    def __init__(self, conninfo: str, query: sql.Composable, as_dict: bool = False) -> None:
        self.conninfo, self.query, self.as_dict = conninfo, query, as_dict
        self.conns: dict[int, psycopg.Connection] = {}

    def connection(self) -> psycopg.Connection:
        """This process's connection."""
        conn = self.conns.get(os.getpid())
        if conn is None:
            conn = self.conns[os.getpid()] = psycopg.connect(
                self.conninfo, autocommit=True, application_name="cim-load-known")
        return conn

    def __call__(self, wanted: list[str]) -> Any:
        rows = self.connection().execute(self.query, (wanted,)).fetchall()
        return dict(rows) if self.as_dict else rows

    def close(self) -> None:
        conn = self.conns.pop(os.getpid(), None)
        if conn is not None:
            conn.close()


def fetch_known(conn: psycopg.Connection, layer: LayerDef, dataset: str,
                conninfo: str, recipe: StoredRecipe | None = None,
                early: EarlyKeys | None = None, conversion: str | None = None,
                attrs_skip: tuple[str, ...] = ()) -> Known:
    """The dataset's source keys with their current versions' fingerprints and flags, and
    the codes of keys coded before (call it with the merge lock held, so that nothing commits
    in between; the hashes and codes of current versions are read later, for the keys a load
    converts, on connections to ``conninfo``: :meth:`Known.fill`). ``recipe``: the layer's
    hashed columns, for the hash of a current version a first load left unset (taken from the
    stored row). ``early``: the keys read while the command imported its modules, taken if
    no load has committed since (:mod:`loaders.engine.keyread`).

    The keys stay one UTF-8 buffer, an Arrow array over it (:func:`read_keys` reads each
    column as one aggregated value). The ids map the rows the server gives for keys looked up
    by text (:meth:`Known._read`) back to rows of Known. ``conversion``: the digest of the
    load's conversion, to tell the rows whose content is of it (:attr:`Known.converted_now`).
    ``attrs_skip``: keys of the rows' attrs that are no content (:attr:`Known.attrs_skip`)."""
    raw = early.take(conn, layer.table, layer.name, dataset) if early is not None else None
    if raw is None:
        raw = read_keys(conn, layer.table, layer.name, dataset)
    if raw.escaped:
        text = raw.keys.decode("utf-8")
        key_array = pa.array(  # only an escaped key holds a backslash
            text.split("\n") if "\\" not in text else _unescape(text.split("\n")),
            pa.large_string())
    else:
        key_array = _key_array(raw.keys, raw.count)
    n = len(key_array)
    # 8 big-endian bytes a row (int8send), in the keys' order
    source_hash = np.frombuffer(raw.fps, dtype=">i8").astype(np.int64) if n \
        else np.zeros(0, np.int64)
    ids = np.frombuffer(raw.ids, dtype=">i8").astype(np.int64) if n else np.zeros(0, np.int64)
    lookup = _Lookup(source_hash, ids) if n else None
    converted_now = conversions.of_this_conversion(conn, layer, dataset, conversion,
                                                   raw.batches, ids) \
        if conversion is not None else None
    tbl = sql.Identifier(layer.table)
    # the attrs compared: without the keys that are no content (a pipe row's table and row
    # number in its delivery: loaders.pipes.write)
    skip = sql.SQL("{}::text[]").format(sql.Literal(list(attrs_skip)))
    attrs = sql.SQL("(attrs - {})").format(skip) if attrs_skip else sql.SQL("attrs")
    details = _Details(conninfo, sql.SQL(
        "SELECT source_key, row_hash, code, id, "
        "sha256(convert_to(NULLIF({}, '{{}}'::jsonb)::text, 'UTF8')) FROM {} "
        "WHERE valid_to IS NULL AND source_key = ANY(%s)").format(attrs, tbl))
    differ = sql.SQL(
        "SELECT l.id FROM unnest(%s::int8[], %s::text[], %s::text[]) AS t(id, a, s) "
        "JOIN {} l ON l.id = t.id, LATERAL string_to_array(t.s, {}) AS k(skip), "
        "LATERAL (SELECT l.attrs - k.skip AS stored, t.a::jsonb - k.skip AS loaded) d "
        "WHERE NOT {}").format(tbl, sql.Literal(SEP),
                               jsonb.same_sql(sql.SQL("d.stored"), sql.SQL("d.loaded")))

    def attrs_differ(ids: list[int], texts: list[str], skips: list[str]) -> set[int]:
        # on the process's connection of the details (no second one a converter)
        return {r[0] for r in details.connection().execute(differ, (ids, texts, skips))}

    stored = samegeom.StoredReader(details.connection, layer.table, recipe) \
        if recipe is not None else None
    returning = _Details(conninfo, sql.SQL(
        "SELECT source_key, code FROM code_registry WHERE layer = {} AND source_key = ANY(%s)"
    ).format(sql.Literal(layer.name)), as_dict=True) if raw.coded else None
    return Known(keys=key_array, row_hash=sparse_zeros(n, "S64"),
                 code=sparse_zeros(n, "S24"), source_hash=source_hash,
                 flags=_flags(raw.flags, n) if raw.flagged else {},
                 filled=np.zeros(n, dtype=bool), details=details, returning=returning,
                 attrs_digest=sparse_zeros(n, "S32"), attrs_differ=attrs_differ,
                 attrs_skip=tuple(attrs_skip),
                 lookup=lookup, rehash=stored and stored.hashes,
                 rehashed=np.zeros(n, dtype=bool), ids=ids,
                 same_but_written=stored and stored.same_but_written, stored=stored,
                 converted_now=converted_now)


def _key_array(data: bytes | None, count: int) -> pa.Array | None:
    """``count`` keys joined by newlines (UTF-8) → an Arrow text array over the same bytes
    less the newlines; None if a key holds a newline (there are more of them)."""
    if count == 0:
        return pa.array([], pa.large_string())
    raw = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(raw == 10)
    if len(nl) != count - 1:
        return None
    offsets = np.empty(count + 1, dtype=np.int64)
    offsets[0], offsets[-1] = 0, len(raw) - len(nl)
    offsets[1:-1] = nl - np.arange(len(nl))  # each key's end, the newlines before it gone
    body = np.delete(raw, nl) if len(nl) else raw
    return pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(body))


def sparse_zeros(n: int, dtype: str) -> np.ndarray:
    """Zeros of which a load writes a few rows here and there (a reload fills the hashes and
    codes of the 1 % it converts), in pages of the ordinary size: NumPy asks Linux for huge
    pages for arrays over 4 MB, and the first write to each 2 MB of them then had the kernel
    find (compacting memory if need be) and zero a huge page — touching 500 rows of a
    million's 88 MB took 0.2–0.75 s instead of 3 ms."""
    size = max(n * np.dtype(dtype).itemsize, 1)
    # anonymous and private (forked converters write their own copies): zeros, its pages made
    # on first write
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        buf.madvise(mmap.MADV_NOHUGEPAGE)
    except (AttributeError, OSError):  # no such advice here (another OS, a kernel without THP)
        pass
    return np.frombuffer(buf, dtype=dtype, count=n)


_UNESCAPED = {"n": "\n", "t": "\t", "\\": "\\"}


def _unescape(keys: list[str]) -> list[str]:
    """The keys as stored, from their escaped text (:data:`loaders.engine.keyread.ESCAPED`;
    only keys with a backslash)."""
    for i, k in enumerate(keys):
        if "\\" in k:
            keys[i] = re.sub(r"\\(.)", lambda m: _UNESCAPED.get(m.group(1), m.group(1)), k)
    return keys


class _Lookup:
    """Fingerprint → row (pandas' integer hash table: a reload looks up every row's) and id
    → row (the ids sorted: only the rows looked up by text), built at once so that the
    converter processes forked after share them. Only fingerprints a single row holds are in
    (0, none kept, is not)."""

    def __init__(self, fps: np.ndarray, ids: np.ndarray) -> None:
        import pandas as pd

        fp = pd.Index(fps)
        one = (fps != 0) & ~fp.duplicated(keep=False)
        # the index's position → row (None: each row is its own, every fingerprint in)
        self.fp_rows = None if one.all() else np.flatnonzero(one)
        self.fp = fp if one.all() else pd.Index(fps[one])
        self.fp.get_indexer(fps[:1])  # builds the hash table now
        # (scan order is mostly id order: a stable sort of it is quick)
        self.id_order = np.argsort(ids, kind="stable")
        self.ids = ids[self.id_order]  # the primary key's: unique

    def rows_of_ids(self, ids: np.ndarray) -> np.ndarray:
        """The row of each id, -1 where none."""
        i = np.minimum(np.searchsorted(self.ids, ids), max(len(self.ids) - 1, 0))
        found = self.ids[i] == ids if len(self.ids) else np.zeros(len(ids), dtype=bool)
        return np.where(found, self.id_order[i], -1)


def _flags(lines: str, n: int) -> dict[int, list[str]]:
    """A row's flags a line (``flag US flag …``; blank: none) → row → flags."""
    parts = np.asarray(lines.split("\n"), dtype=object)
    if len(parts) != n:  # a flag is a reason code (loaders.common): never a newline in it
        raise DatabaseError(f"the stored flags of {n} rows came as {len(parts)} lines")
    rows = np.flatnonzero(parts != "")
    return dict(zip(rows.tolist(), (f.split("\x1f") for f in parts[rows].tolist())))
