"""The checksum of a delivery (loaders/engine/checksum.py): its value, and that a load's
checksum thread never makes a hash object while converter processes may be forked."""

from __future__ import annotations

import hashlib
import threading

from loaders.buildings import load_buildings
from loaders.engine.checksum import (
    delivery_files,
    file_sha256,
    files_sha256,
    files_sha256_job,
)
from tests.test_direct_load import _delivery


def test_the_checksum_of_one_file_and_of_several(tmp_path):
    a, b = tmp_path / "b.csv", tmp_path / "a.csv"
    a.write_bytes(b"x" * 3_000_000)  # more than one read of 1 MiB
    b.write_bytes("编号,名称\n1,甲\n".encode())
    assert file_sha256(a) == files_sha256([a]) == hashlib.sha256(a.read_bytes()).hexdigest()
    # several: each file's name and checksum, in path order (a.csv first), a file named twice
    # counted once
    lines = "".join(f"{p.name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
                    for p in (b, a))
    assert files_sha256([a, b, a]) == hashlib.sha256(lines.encode()).hexdigest()
    assert files_sha256([]) is None


def _constructors(monkeypatch) -> list[str]:
    """The names of the threads that made a SHA-256 object (OpenSSL's own one, called)."""
    made: list[str] = []
    real = hashlib.sha256

    def sha256(*a, **kw):
        made.append(threading.current_thread().name)
        return real(*a, **kw)

    monkeypatch.setattr(hashlib, "sha256", sha256)
    return made


def test_the_job_makes_its_hash_objects_in_the_callers_thread(tmp_path, monkeypatch):
    """OpenSSL locks while it makes a hash object (it fetches the digest): a process forked
    then by another thread would wait for that lock forever. The job's thread only feeds."""
    files = [tmp_path / "a.gpkg", tmp_path / "b.gpkg"]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * 100_000)
    made = _constructors(monkeypatch)
    job = files_sha256_job(files)
    assert made == ["MainThread"] * 3  # one a file and the delivery's
    got: list = []
    t = threading.Thread(target=lambda: got.append(job()), name="cim-sha256")
    t.start()
    t.join()
    assert made == ["MainThread"] * 3
    lines = "".join(f"{f.name}\0{hashlib.sha256(f.read_bytes()).hexdigest()}\n" for f in files)
    assert got == [hashlib.sha256(lines.encode()).hexdigest()]


def test_a_load_makes_no_hash_object_on_its_checksum_thread(fresh_db, tmp_path, monkeypatch):
    path, _ = _delivery(tmp_path, "checksummed", n=600)
    made = _constructors(monkeypatch)
    report = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=200,
                            processes=2)
    assert report.loaded > 0
    assert made and not [name for name in made if name.startswith("cim-sha256")], made
    assert fresh_db.rows("SELECT source_sha256 FROM load_batches WHERE id = %s",
                         (report.batch_id,)) == [(hashlib.sha256(path.read_bytes()).hexdigest(),)]


def test_a_shapefiles_checksum_covers_its_dbf(fresh_db, tmp_path):
    """A Shapefile's heights and names are in its .dbf: a delivery whose .dbf was edited
    (its .shp the same bytes) is another delivery, recorded with another checksum."""
    import geopandas as gpd

    path, gdf = _delivery(tmp_path, "shp", n=50)
    shp = tmp_path / "survey.shp"
    gdf.to_file(shp, engine="pyogrio", encoding="GBK")
    first = load_buildings(fresh_db.conninfo, fresh_db.profile, shp)
    shp_bytes = shp.read_bytes()
    edited = gpd.read_file(shp, engine="pyogrio")
    edited.loc[0, "建筑高度"] = float(edited.loc[0, "建筑高度"]) + 3.0
    edited.to_file(shp, engine="pyogrio", encoding="GBK")
    assert shp.read_bytes() == shp_bytes  # only the .dbf differs
    second = load_buildings(fresh_db.conninfo, fresh_db.profile, shp)
    assert second.updated == 1
    sums = dict(fresh_db.rows("SELECT id, source_sha256 FROM load_batches WHERE id IN (%s, %s)",
                              (first.batch_id, second.batch_id)))
    parts = sorted(p for p in tmp_path.iterdir() if p.stem == "survey")
    assert {p.suffix for p in parts} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    assert delivery_files(shp) == parts
    lines = "".join(f"{p.name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in parts)
    assert sums[second.batch_id] == hashlib.sha256(lines.encode()).hexdigest()
    assert sums[first.batch_id] != sums[second.batch_id]



def test_a_checksum_begun_beside_the_imports_is_taken_only_for_the_unchanged_files(tmp_path):
    """`cim load` begins the delivery's checksum while it imports its modules
    (loaders.engine.checksum.start_files_sha256); the load takes it only for the same files,
    unchanged: an edit in between is hashed again. Expected: hashlib over the bytes."""
    import hashlib

    from loaders.engine import checksum

    f = tmp_path / "d.gpkg"
    f.write_bytes(b"first delivery" * 1000)
    checksum.start_files_sha256([f])
    fut = checksum.files_sha256_started([f])
    assert fut is not None and fut.result() == hashlib.sha256(f.read_bytes()).hexdigest()
    assert checksum.files_sha256_started([f]) is None  # taken once

    checksum.start_files_sha256([f])
    f.write_bytes(b"edited delivery!" * 1000)  # another size: not what was begun
    assert checksum.files_sha256_started([f]) is None
    assert checksum._STARTED == {}
