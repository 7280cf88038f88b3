"""The conversion records of a layer's rows (migration 0013, loaders/engine/conversions.py): whatever order loads of different conversions run and commit in, a reload
skips a row only if its stored content is what its conversion writes — the layer ends as a
fresh load of the delivery would leave it."""
from __future__ import annotations

import threading

import psycopg
import pyogrio
import pytest

from loaders.buildings import load_buildings
from loaders.engine import direct_writer
from tests.test_direct_load import _delivery
from tests.test_reload_fingerprint import _load, _new_release


def _names(db, ds):
    return dict(db.rows("SELECT source_key, name FROM buildings WHERE valid_to IS NULL "
                        "AND source_key LIKE %s", (ds + ":%",)))


def test_a_load_of_another_conversion_with_a_lower_batch_id_committing_after_a_verifying_reload(
        fresh_db, tmp_path, converted, monkeypatch):
    """L1 (mapping name<-结构: conversion A) takes its batch id, then waits for the merge
    lock while L2 (conversion B) verifies every row (upto_batch = L2's id > L1's). L1 then
    writes 300 changed rows under A with its lower batch id. A reload under B must convert
    them (their content is A's), not skip them."""
    release = _new_release(monkeypatch, tmp_path)
    path, gdf = _delivery(tmp_path, "race")
    _load(fresh_db, path)                       # conversion C (release 1)
    expected = _names(fresh_db, "race")
    release(2)
    sub = tmp_path / "sub"
    sub.mkdir()
    part = sub / "race.gpkg"                    # same dataset, 300 rows
    pyogrio.write_dataframe(gdf.iloc[:300], part)

    at_lock, go = threading.Event(), threading.Event()
    lock = direct_writer.DirectWriter.lock

    def paused(self):
        if threading.current_thread().name == "L1":
            at_lock.set()
            assert go.wait(60)
        return lock(self)

    monkeypatch.setattr(direct_writer.DirectWriter, "lock", paused)
    out = {}

    def l1():
        try:
            out["r"] = _load(fresh_db, part, mapping={"name": "结构"})
        except BaseException as e:  # noqa: BLE001
            out["e"] = e

    t = threading.Thread(target=l1, name="L1")
    t.start()
    assert at_lock.wait(60)
    r2 = _load(fresh_db, path)                  # conversion B: verifies all
    assert (r2.updated, r2.unchanged) == (0, 899)
    assert fresh_db.rows("SELECT upto_batch FROM load_verified") == [(r2.batch_id,)]
    go.set()
    t.join(120)
    assert "e" not in out, out.get("e")
    r1 = out["r"]
    assert r1.batch_id < r2.batch_id and r1.updated > 0
    converted.clear()
    r3 = _load(fresh_db, path)                  # conversion B again
    # what a full conversion under B gives: the names of the delivery
    assert _names(fresh_db, "race") == expected, (sum(converted), r3.updated, r3.unchanged)


def test_rows_without_a_batch_are_converted_once_then_skipped(fresh_db, tmp_path, converted,
                                                               monkeypatch):
    release = _new_release(monkeypatch, tmp_path)
    path, _ = _delivery(tmp_path, "nb")
    _load(fresh_db, path)
    with psycopg.connect(fresh_db.conninfo) as c:
        c.execute("UPDATE buildings SET batch_id = NULL WHERE id IN "
                  "(SELECT id FROM buildings ORDER BY id LIMIT 100)")
    release(2)
    converted.clear()
    r = _load(fresh_db, path)
    assert sum(converted) == 900 and r.unchanged == 899
    counts = []
    for _ in range(2):
        converted.clear()
        _load(fresh_db, path)
        counts.append(sum(converted))
    assert counts == [1, 1], counts


COLS = ("name, use_code, structure, floors_above, height, year_built, district_code, "
        "grid_code, flags, attrs, ST_AsBinary(geom)")


def _content(db, ds):
    return {r[0].split(":", 1)[1]: r[1:] for r in db.rows(
        f"SELECT source_key, {COLS} FROM buildings WHERE valid_to IS NULL "
        "AND source_key LIKE %s", (ds + ":%",))}


def _ld(db, path, procs, **kw):
    return load_buildings(db.conninfo, db.profile, path, batch_size=300, processes=procs, **kw)


@pytest.mark.parametrize("procs", [0, 2])
# (not here: a conversion change that moves a value between a column and attrs — the content
# hash covers the columns, not attrs or flags: a row found unchanged keeps its older attrs.
# Known, older than migration 0013: docs/benchmarks.md)
@pytest.mark.parametrize("scenario", ["append", "replace_part", "update_part", "twice"])
def test_switching_conversions_ends_as_a_fresh_load(fresh_db, tmp_path, procs, scenario):
    path, gdf = _delivery(tmp_path, "sw")
    sub = tmp_path / "sub"
    sub.mkdir()
    part = sub / "sw.gpkg"
    pyogrio.write_dataframe(gdf.iloc[100:700], part)
    a = {"name": "结构"}  # another mapping: another conversion
    _ld(fresh_db, path, procs, mapping=a)                      # conversion A
    if scenario == "append":
        gdf2 = gdf.copy()
        gdf2.loc[[3, 500], "建筑名称"] = "x"
        pyogrio.write_dataframe(gdf2, part)
        _ld(fresh_db, part, procs, mode="append")              # B: changed rejected
        _ld(fresh_db, path, procs)                              # B update
    elif scenario == "replace_part":
        _ld(fresh_db, part, procs, mode="replace")            # B: 100 kept... 300 retired
        _ld(fresh_db, path, procs, mapping=a, mode="update")   # A again, partly
        _ld(fresh_db, part, procs)                             # B
        _ld(fresh_db, path, procs)                             # B
    elif scenario == "update_part":
        _ld(fresh_db, part, procs)                             # B on 600 rows
        _ld(fresh_db, part, procs, mapping=a)                  # A on them again
        _ld(fresh_db, path, procs)                             # B whole
    else:
        _ld(fresh_db, path, procs)
        _ld(fresh_db, path, procs, mapping=a)
        _ld(fresh_db, path, procs, mapping=a)
        _ld(fresh_db, path, procs)
    _ld(fresh_db, path, procs, dataset="ctl")                  # fresh, B
    got, want = _content(fresh_db, "sw"), _content(fresh_db, "ctl")
    bad = {k for k in want if got.get(k) != want[k]}
    assert not bad and got.keys() == want.keys(), sorted(bad)[:5]


def test_a_failed_reload_leaves_no_record(fresh_db, tmp_path, converted, monkeypatch):
    release = _new_release(monkeypatch, tmp_path)
    path, gdf = _delivery(tmp_path, "fail")
    _load(fresh_db, path)
    before = _versions_all(fresh_db)
    release(2)
    fin = direct_writer.DirectWriter.finish

    def boom(self, *a, **kw):
        fin(self, *a, **kw)
        raise RuntimeError("killed after the records")

    monkeypatch.setattr(direct_writer.DirectWriter, "finish", boom)
    with pytest.raises(RuntimeError, match="killed after the records"):
        _load(fresh_db, path)
    monkeypatch.setattr(direct_writer.DirectWriter, "finish", fin)
    assert fresh_db.scalar("SELECT count(*) FROM load_verified") == 0
    assert fresh_db.rows("SELECT status, conversion IS NULL FROM load_batches "
                         "WHERE layer = 'buildings' ORDER BY id") == [("succeeded", False),
                                                                      ("failed", True)]
    assert _versions_all(fresh_db) == before
    converted.clear()
    r = _load(fresh_db, path)                   # the failed batch lies inside no row's range
    assert sum(converted) == 900 and r.unchanged == 899
    converted.clear()
    _load(fresh_db, path)
    assert sum(converted) == 1


def _versions_all(db):
    return db.rows("SELECT id, xmin::text, valid_to IS NULL FROM buildings ORDER BY id")
