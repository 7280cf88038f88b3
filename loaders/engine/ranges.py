"""A converter process's own batches of a GeoPackage, read alone by FID range.

Each converter process of a direct write (:mod:`loaders.engine.workers`) reads the source
from its first batch and converts every other batch: the batches it leaves to the other
process were read all the same — GDAL decoding every row of a million-footprint GeoPackage
twice, ~0.35 s of CPU a reader — and pyogrio's ``skip_features`` reads what it skips. A
GeoPackage's rows lie in its table's rowid order, which is its FID, so that where the FIDs
run without a gap from the first to the last, batch ``j`` of ``n`` rows is exactly the
rows whose FID lies in ``[first + j·n, first + (j+1)·n)``, which SQLite reads by a range of
its rowid, without the rows before it (half the rows: ~0.2 s).

Whether the FIDs run without a gap is asked of the file itself (its least and greatest FID
and its count of rows, not the count GeoPackage keeps in ``gpkg_ogr_contents``, which a
writer may have left stale); a batch whose range does not hold as many rows as it should
(the file changed while it was read) fails the load rather than number rows wrongly or hand
a batch's fingerprints taken ahead to other rows. Anything else reads the source whole, as
before.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cim.errors import InputError
from loaders.sources.read import Batch, Source, iter_batches
from loaders.sources.table_checks import sqlite_read_uri


@dataclass(frozen=True)
class FidRanges:
    """A GeoPackage layer whose FIDs run ``first`` … ``first + count - 1`` without a gap, in
    its FID column ``column`` (fid, OBJECTID …: the table's rowid)."""

    first: int
    count: int
    column: str = "fid"

    def where(self, lo: int, hi: int) -> str:
        """The attribute filter of the rows whose FID lies in ``[lo, hi)`` (SQLite's)."""
        col = _quoted(self.column)
        return f"{col} >= {int(lo)} AND {col} < {int(hi)}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fid_ranges(src: Source) -> FidRanges | None:
    """The source's FID ranges if its batches can be read alone (see the module), else None:
    the layer is a table (not a view) whose FID column is its rowid (``INTEGER PRIMARY
    KEY``: the order a table is read in), its FIDs run without a gap, and a filter on them
    reads a row as GDAL reads it whole."""
    if src.driver != "GPKG" or src.read_path is not None or src.row_field is not None \
            or src.feature_count <= 0:
        return None
    import pyogrio

    try:
        info = pyogrio.read_info(src.path, layer=src.layer, encoding=src.encoding)
        fid, table = info.get("fid_column"), info.get("layer_name")
        if not fid or not table:
            return None
        uri = sqlite_read_uri(Path(src.path))
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            kind = db.execute("SELECT type FROM sqlite_master WHERE name = ?",
                              (table,)).fetchone()
            keys = [(r[1], str(r[2]).upper()) for r in
                    db.execute(f"PRAGMA table_info({_quoted(table)})") if r[5]]
            if kind is None or kind[0] != "table" or keys != [(fid, "INTEGER")]:
                return None
            lo, hi, n = db.execute(f"SELECT min({_quoted(fid)}), max({_quoted(fid)}), "
                                   f"count(*) FROM {_quoted(table)}").fetchone()
        if lo is None or hi - lo + 1 != n or n != src.feature_count:
            return None
        ranges = FidRanges(int(lo), int(n), fid)
        # the filter as GDAL takes it: the first row, read so
        with pyogrio.raw.open_arrow(src.path, layer=src.layer, encoding=src.encoding,
                                    where=ranges.where(lo, lo + 1), use_pyarrow=True,
                                    **src.open_options) as (_meta, reader):
            if sum(b.num_rows for b in reader) != 1:
                return None
    except Exception:  # noqa: BLE001 - only a shortcut: the source is read whole instead
        return None
    return ranges


def fid_ranges_ahead(src: Source, batch_size: int) -> Callable[[], FidRanges | None]:
    """:func:`fid_ranges` asked on a thread of its own, started now (SQLite counts a million
    rows in ~0.1 s with the GIL released, while the load opens); the callable waits for it.
    A source of one batch, or no GeoPackage, asks nothing. The thread is done before the
    caller forks (it waits for it first): a fork while it held SQLite's mutex would leave
    the child waiting for it for ever."""
    if src.driver != "GPKG" or src.feature_count <= batch_size:
        return lambda: None
    box: list[FidRanges | None] = [None]

    def run() -> None:
        box[0] = fid_ranges(src)

    thread = threading.Thread(target=run, name="cim-fid-ranges", daemon=True)
    thread.start()

    def get() -> FidRanges | None:
        thread.join()
        return box[0]
    return get


def own_batches(src: Source, batch_size: int, keep: Callable[[int], bool],
                ranges: FidRanges) -> Iterator[Batch | None]:
    """:func:`loaders.sources.read.iter_batches` with ``keep``: the same batches, those
    ``keep`` rejects as None without reading them."""
    total = ranges.count
    for j, start in enumerate(range(0, total, batch_size)):
        if not keep(j):
            yield None
            continue
        size = min(batch_size, total - start)
        lo = ranges.first + start
        got = list(iter_batches(src, batch_size, first_row=start + 1,
                                where=ranges.where(lo, lo + size)))
        if len(got) != 1 or got[0] is None or len(got[0]) != size:
            raise InputError("the GeoPackage changed while it was read (its rows "
                             f"{start + 1:,}–{start + size:,} are no longer those it held)",
                             path=str(src.path), row=start + 1)
        yield got[0]
