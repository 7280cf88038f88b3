"""A GeoPackage beside its rollback journal is loaded with its committed rows.

Every reader opens a delivery immutable, which ignores a ``-journal``: an editor that crashed
mid-save (a hot journal left beside the file), or still held its transaction open, had its
unsaved pages already in the file — the load stored heights that were never saved,
"succeeded". Now the file is settled in a scratch copy first, as SQLite settles it for any
reader, and the delivery is left as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
from shapely.geometry import box

from tests.conftest import run_cli

N = 60

# an editor: +100 m on every height, its pages spilled into the file (a small cache), the
# transaction left open until killed
_EDITOR = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
for f in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):  # GDAL's rtree triggers
    c.create_function(f, 1, lambda g: 0)
c.execute("PRAGMA cache_size=1")
c.execute("BEGIN")
c.execute("UPDATE buildings SET 建筑高度 = 建筑高度 + 100")
print("edited", flush=True)
time.sleep(120)
"""


def _delivery(folder: Path) -> Path:
    import geopandas as gpd

    rows = [{"编号": f"J{i:04d}", "建筑名称": f"楼{i}", "地上层数": 3, "建筑高度": 10.0 + i,
             "geometry": box(39463000 + 30 * i, 3915000, 39463020 + 30 * i, 3915020)}
            for i in range(N)]
    out = folder / "edited.gpkg"
    gpd.GeoDataFrame(rows, crs="EPSG:4527").to_file(out, layer="buildings", driver="GPKG",
                                                    engine="pyogrio")
    return out


def _edit(path: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", _EDITOR, str(path)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "edited"
    return p


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _heights(db) -> list[float]:
    return [r[0] for r in db.rows("SELECT height FROM buildings WHERE valid_to IS NULL "
                                  "ORDER BY source_key")]


@pytest.mark.parametrize("editor", ["crashed", "open"])
def test_an_unsaved_edit_is_not_loaded(fresh_db, tmp_path, editor):
    path = _delivery(tmp_path)
    p = _edit(path)
    if editor == "crashed":
        p.send_signal(signal.SIGKILL)
        p.wait()
    try:
        journal = path.with_name(path.name + "-journal")
        assert journal.exists() and journal.stat().st_size > 0
        # the unsaved heights are in the file itself: an immutable read sees them
        raw = pyogrio.read_dataframe(path, IMMUTABLE="YES")
        assert (raw["建筑高度"] >= 100.0).any()
        before = _listing(tmp_path)
        proc = run_cli(["load", "buildings", str(path), "--quiet"], fresh_db.env())
        assert proc.returncode == 0, proc.stderr
        assert _heights(fresh_db) == [10.0 + i for i in range(N)]
        assert _listing(tmp_path) == before  # the journal is not rolled back in the delivery
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def test_settled_copy_is_made_once_per_state(tmp_path):
    from loaders.sources.gpkg_state import settled_gpkg

    path = _delivery(tmp_path)
    assert settled_gpkg(path) == path  # nothing beside it: the file itself
    p = _edit(path)
    p.send_signal(signal.SIGKILL)
    p.wait()
    copy = settled_gpkg(path)
    assert copy != path and settled_gpkg(path) == copy
    assert not copy.with_name(copy.name + "-journal").exists()  # rolled back there
    heights = pyogrio.read_dataframe(copy, IMMUTABLE="YES")["建筑高度"]
    assert sorted(heights) == [10.0 + i for i in range(N)]


def test_a_read_only_delivery_is_settled_too(tmp_path):
    """Its copy kept the delivery's mode (0444): SQLite opened it read-only for any user but
    root, and could roll nothing back (review of 2026-12-07)."""
    from loaders.sources.gpkg_state import settled_gpkg

    path = _delivery(tmp_path)
    p = _edit(path)
    p.send_signal(signal.SIGKILL)
    p.wait()
    for f in (path, path.with_name(path.name + "-journal")):
        f.chmod(0o444)
    copy = settled_gpkg(path)
    assert copy.stat().st_mode & 0o200  # the copy is the reader's to settle
    heights = pyogrio.read_dataframe(copy, IMMUTABLE="YES")["建筑高度"]
    assert sorted(heights) == [10.0 + i for i in range(N)]


def test_a_broken_file_beside_a_journal_is_bad_input(tmp_path):
    from cim.errors import InputError
    from loaders.sources.gpkg_state import settled_gpkg

    path = tmp_path / "x.gpkg"
    path.write_bytes(os.urandom(4096))
    path.with_name("x.gpkg-journal").write_bytes(os.urandom(512))
    with pytest.raises(InputError, match="SQLite cannot open it") as exc:
        settled_gpkg(path)
    assert exc.value.path == str(path)
