"""A delivered GeoPackage read as SQLite shows it to any reader: its committed rows.

Every reader of a delivery opens it immutable (nothing locked, nothing written beside it). A
write-ahead log (``-wal``) or a rollback journal (``-journal``) beside the file is part of its
state, which an immutable open ignores: rows committed into the log but not yet into the file
(a GeoPackage copied while QGIS had it open), or an edit's pages already in the file that the
journal takes back (an editor that crashed mid-save, or still holds its transaction open) —
such a file loaded heights that were never saved, "succeeded". It is copied with its log or
journal into a scratch folder and opened there once read-write: SQLite rolls the journal back
or checkpoints the log, as it would for any reader; every reader then reads that copy.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

from loaders.sources.scratch import scratch_dir

SIDECARS = ("-wal", "-journal")

# settled copies made by this process: by the delivery's and its sidecars' identity
_SETTLED: dict[tuple, Path] = {}


def sidecars(path: Path) -> list[Path]:
    """The non-empty write-ahead log or rollback journal beside ``path``."""
    out = []
    for tail in SIDECARS:
        side = path.with_name(path.name + tail)
        with contextlib.suppress(OSError):
            if side.stat().st_size > 0:
                out.append(side)
    return out


def settled_gpkg(path: Path) -> Path:
    """``path`` itself, or (a log or journal beside it) its settled copy in a scratch folder,
    made once per process for the file's and its sidecars' size and time."""
    side = sidecars(path)
    if not side:
        return path
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in [path, *side])
    copy = _SETTLED.get(key)
    if copy is not None and copy.exists():
        return copy
    tmp = scratch_dir("cim-gpkg-")
    for p in (path, *side):
        shutil.copy2(p, tmp / p.name)
    copy = tmp / path.name
    conn = sqlite3.connect(copy)
    try:  # the first read rolls a hot journal back; closing the last connection checkpoints
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()
    _SETTLED[key] = copy
    return copy
