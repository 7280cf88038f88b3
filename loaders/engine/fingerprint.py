"""What a reload can tell of a source row before converting it: its key and fingerprint.

A reload of a million features with 1 % changed spent nearly all its time converting the
990,000 unchanged ones only to find their content hash equal (docs/benchmarks.md). The
fingerprint (``loaders.hashing.source_fingerprints``, stored in ``source_hash``) is taken of
the raw row as read. A row is skipped when its fingerprint is the stored one *and* its stored
content came from the conversion the load runs now: the conversion's digest
(:meth:`SourceFingerprint.conversion`) covers everything else the conversion depends on — the
converter's version, the field mapping, the source's field names, the source CRS, the storage
SRID, the load options and the dictionaries the converter reads, and the code that converts (:func:`code_digest` of the
loader's module and :data:`CONVERSION_MODULES`). The batch that writes a row records the
digest (``load_batches.conversion``), and a reload under another digest that finds rows
unchanged records so for the dataset rather than rewriting each row
(:mod:`loaders.engine.conversions`, migration 0013). A new release whose conversion code differs in any byte converts every row once on its
first reload (the content hash then decides: only rows it writes otherwise get a new
version); a loader's ``version`` is for what the code digest cannot see.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import importlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from loaders.common import id_column, id_keys
from loaders.hashing import source_fingerprints
from loaders.sources.read import Batch

# the modules whose code decides what a direct load writes for a source row, besides the
# loader's own (a version bumped by hand was forgotten once too often)
CONVERSION_MODULES = ("loaders.common", "loaders.fields", "loaders.field_names",
                      "loaders.column_values", "loaders.dates", "loaders.excel_notation",
                      "loaders.geometry", "loaders.hashing", "loaders.jsonb",
                      "loaders.convexity", "cim.numbers",
                      "loaders.sources.read", "loaders.sources.batch", "loaders.sources.dbf",
                      "loaders.sources.dbf_utf8",
                      "loaders.sources.wkb", "loaders.sources.marks",
                      "loaders.sources.csv_geometry", "loaders.sources.gdal_access",
                      "loaders.sources.file_crs", "loaders.sources.text_encoding",
                      "loaders.sources.table_checks", "loaders.sources.row_numbers",
                      "loaders.sources.zipped_table",
                      # which LOD of a CityGML building is its footprint and height
                      "loaders.sources.citygml",
                      "loaders.engine.direct", "loaders.engine.converted",
                      "loaders.engine.known", "loaders.engine.keyread",
                      "loaders.engine.samegeom",
                      "loaders.engine.places", "loaders.engine.rowsbuf",
                      "loaders.engine.seenkeys", "loaders.engine.copybuf", "cim.crs", "cim.text")


@functools.cache
def code_digest(modules: tuple[str, ...]) -> str:
    """A digest of the code of ``modules`` (their files' bytes, in order)."""
    h = hashlib.blake2b(digest_size=16)
    for name in modules:
        h.update(name.encode() + b"\0" + Path(importlib.import_module(name).__file__)
                 .read_bytes())
    return h.hexdigest()


# what each row's fingerprint is mixed with: the raw row alone decides it (the conversion is
# told apart by its digest, recorded with the batch)
RAW_ROW = "cim-raw-source-row-v1"


class SourceFingerprint:
    """A loader's fingerprints ``(batch, ctx) → (keys, fingerprints)`` — the keys of the rows
    with an id (None for a row keyed by its geometry: never skipped); no keys at all (None)
    with ``with_keys=False`` — and the digest of its conversion under a context
    (:meth:`conversion`). ``module``: the loader's module (its converter's code)."""

    def __init__(self, layer: str, version: str, id_fields: Callable[[Any], list[str]],
                 dictionaries: Callable[[Any], Any], module: str) -> None:
        self.layer, self.version, self.module = layer, version, module
        self.id_fields, self.dictionaries = id_fields, dictionaries
        # id of a context → (the context, its digest): the context held, so that no other
        # one takes its id while it is cached
        self._digests: dict[int, tuple[Any, str]] = {}

    def conversion(self, ctx: Any) -> str:
        """The digest of what the conversion of a row depends on besides the row (see the
        module): equal digests convert equal rows to equal content."""
        held = self._digests.get(id(ctx))
        if held is not None and held[0] is ctx:
            return held[1]
        # the source's field names: a row's fingerprint hashes its values in the order of
        # the names but not the names, and an unmapped field renamed (备注X → 备注Y) changes
        # the row's attrs only
        context = json.dumps(
            [self.layer, self.version, code_digest((self.module, *CONVERSION_MODULES)),
             ctx.mapping, ctx.source_crs.to_wkt(), ctx.srid, ctx.options, self.dictionaries(ctx),
             sorted(ctx.source.fields)],
            ensure_ascii=False, sort_keys=True, default=str)
        digest = hashlib.blake2b(context.encode(), digest_size=16).hexdigest()
        self._digests[id(ctx)] = (ctx, digest)
        return digest

    def __call__(self, batch: Batch, ctx: Any, with_keys: bool = True
                 ) -> tuple[pa.Array | None, np.ndarray]:
        n = len(batch)
        keys = None
        if with_keys:  # an Arrow text array, null where a row has no id
            keys = id_keys(ctx.dataset, [(f, id_column(batch, f))
                                         for f in self.id_fields(ctx)], n)
        if batch.arrow is not None:  # as read: the Arrow arrays themselves
            return keys, source_fingerprints(batch.arrow, None, RAW_ROW)
        wkb = batch.wkb if batch.wkb is not None else shapely.to_wkb(batch.geometries)
        return keys, source_fingerprints(batch.columns, wkb, RAW_ROW)



def read_while_fingerprinting(read: Callable[[], Any], batches: Iterable[Batch],
                              fingerprint: Callable[[Batch], tuple]
                              ) -> tuple[Any, dict[int, tuple]]:
    """``read()`` (the dataset's keys: the server scans the layer, ~1 s for a million rows)
    on a thread, while this one fingerprints the first batches (the converter processes'
    first work, which needs no key): ``(what read gave, {batch's first row: (keys,
    fingerprints)})``, the batches fingerprinted until ``read`` was done. The converter
    processes, forked afterwards, take those as theirs (:func:`ahead`).

    A reload waited for the keys with one core idle (PostgreSQL scanned, the load waited),
    then converted on two; fingerprints are the larger part of a reload's conversion."""
    done: dict[int, tuple] = {}
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cim-keys") as pool:
        fut = pool.submit(read)
        it = iter(batches)
        while not fut.done():
            b = next(it, None)
            if b is None:
                break
            # the keys are one Arrow array, not a list of Python strings: a forked converter
            # that took the list wrote each string's reference count, copying every page the
            # strings lie in (~20 ms a batch of 50,000 keys on a VM that charges for every
            # fresh page)
            done[b.first_row] = fingerprint(b)
        got = fut.result()
    return got, done


def ahead(fingerprint: Callable[..., tuple], done: dict[int, tuple]) -> Callable[..., tuple]:
    """``fingerprint``, but a batch fingerprinted ahead (:func:`read_while_fingerprinting`,
    with its keys) is not fingerprinted again."""
    def fp(batch: Batch, with_keys: bool = True) -> tuple:
        got = done.pop(batch.first_row, None)
        if got is None:
            return fingerprint(batch, with_keys=with_keys)
        keys, fps = got
        return (keys if with_keys else None), fps
    return fp
