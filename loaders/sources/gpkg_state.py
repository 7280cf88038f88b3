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

from cim.errors import InputError
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
        # the bytes, not the mode: a read-only delivery's copy (0444) was opened read-only,
        # which can neither roll a journal back (an error) nor checkpoint a log (its rows were
        # then ignored by every immutable reader)
        shutil.copyfile(p, tmp / p.name)
        (tmp / p.name).chmod(0o600)
    copy = tmp / path.name
    try:
        conn = sqlite3.connect(copy)
        try:  # the first read rolls a hot journal back; closing the last connection
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # checkpoints
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise InputError(f"SQLite cannot open it with its {', '.join(p.name for p in side)} "
                         f"({exc}): is it a GeoPackage?", path=str(path)) from None
    # a log left is one SQLite did not checkpoint (never so when it may write the copy):
    # said, not read past (a journal left after the open is no hot one: PERSIST mode's)
    if any(p.name.endswith("-wal") for p in sidecars(copy)):
        raise InputError("SQLite could not settle its write-ahead log", path=str(path))
    _SETTLED[key] = copy
    return copy
