"""The code registry by layer (migration 0011, cim/coding/registry.py): a layer's large first
load writes its codes into a partition of its own (on a second connection), frozen, indexed
after its rows and attached before its commit; every other code goes into the default
partition; nothing is lost when the attach cannot happen, a failed load leaves no table and
one left by a dead load goes at the layer's next; the migration keeps every code both ways."""

from __future__ import annotations

import psycopg
import pytest

from cim.coding import registry
from cim.db.engine import psycopg_conninfo
from cim.db.migrate import downgrade, upgrade
from loaders.buildings import load_buildings
from loaders.engine import direct
from tests.test_db import scratch  # noqa: F401  (fixture)
from tests.test_direct_load import _delivery

PARTS = ("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
         "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'code_registry'::regclass "
         "ORDER BY 1")


def _codes(db, table: str = "code_registry") -> set[tuple]:
    """The buildings' codes in ``table`` (the districts and grid cells of the fixture are in
    the default partition)."""
    return set(db.rows(f"SELECT code, layer, source_key FROM {table} "
                       "WHERE layer = 'buildings'"))


def _changed_since_analyze(db, table: str, rows: int) -> int:
    """``n_mod_since_analyze`` of ``table`` once the server counts its ``rows`` inserts (the
    loader's backends report them as they exit)."""
    import time

    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while True:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            ins, mod = conn.execute("SELECT n_tup_ins, n_mod_since_analyze FROM "
                                    "pg_stat_user_tables WHERE relname = %s", (table,)
                                    ).fetchone()
            if ins >= rows or time.monotonic() > deadline:
                assert ins >= rows, (table, ins)
                return mod
            time.sleep(0.1)


def vacuums(db, table: str) -> int:
    """How many times ``table`` was vacuumed by a command (not by autovacuum). Whether the
    pages became all-visible depends on every other snapshot open at that moment (an
    autovacuum ANALYZE of another table holds one); that the load vacuumed does not."""
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = %s",
                            (table,)).fetchone()[0]


def _layer_codes(db) -> set[tuple]:
    """What the registry must hold for the buildings: every version's code and key (one per
    key: a code is issued once), read from the layer itself."""
    return set(db.rows("SELECT DISTINCT code, 'buildings', source_key FROM buildings"))


def test_a_large_first_load_gets_a_frozen_indexed_partition(fresh_db, tmp_path, monkeypatch):
    assert fresh_db.rows(PARTS) == [("code_registry_default", "DEFAULT")]
    path, _ = _delivery(tmp_path, "p")
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="first",
                       batch_size=300, processes=1)
    assert (r.loaded, r.codes_issued) == (899, 899)
    assert fresh_db.rows(PARTS) == [("code_registry_buildings", "FOR VALUES IN ('buildings')"),
                                    ("code_registry_default", "DEFAULT")]
    assert _codes(fresh_db, "code_registry_buildings") == _layer_codes(fresh_db)
    assert len(_layer_codes(fresh_db)) == 899
    assert _codes(fresh_db, "ONLY code_registry_default") == set()
    # written frozen: all pages all-visible without a vacuum
    pages, visible = fresh_db.rows("SELECT relpages, relallvisible FROM pg_class "
                                   "WHERE relname = 'code_registry_buildings'")[0]
    assert pages > 0 and visible == pages
    # with its statistics (the next load's anti-join plans on them), gathered after its rows
    # were committed: autovacuum has nothing left to analyse (an ANALYZE before the commit
    # left its rows counted as changed since)
    assert fresh_db.scalar("SELECT count(*) FROM pg_stats WHERE tablename = "
                           "'code_registry_buildings' AND attname IN ('code', 'source_key')") == 2
    assert _changed_since_analyze(fresh_db, "code_registry_buildings", 899) == 0
    # its two unique indexes, the (layer, key) one attached to the parent's constraint, and
    # no third one built by the attach
    ixs = dict(fresh_db.rows(
        "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index i JOIN pg_class c "
        "ON c.oid = i.indexrelid WHERE i.indrelid = 'code_registry_buildings'::regclass"))
    assert sorted(ixs) == ["code_registry_buildings_code_uq",
                           "code_registry_buildings_layer_source_uq"]
    assert fresh_db.scalar(
        "SELECT inhparent::regclass::text FROM pg_inherits "
        "WHERE inhrelid = 'code_registry_buildings_layer_source_uq'::regclass"
    ) == "code_registry_layer_source_uq"
    # the key first (migration 0012): led by its one layer, the build compared equal names
    assert ixs["code_registry_buildings_layer_source_uq"].endswith("(source_key, layer)")
    one = fresh_db.rows("SELECT code, source_key FROM code_registry_buildings LIMIT 1")[0]
    # found through the parent by code alone, and both uniqueness rules hold
    assert fresh_db.scalar("SELECT layer FROM code_registry WHERE code = %s",
                           (one[0],)) == "buildings"
    with pytest.raises(psycopg.errors.UniqueViolation):
        fresh_db.scalar("INSERT INTO code_registry (code, layer, source_key) "
                        "VALUES (%s, 'buildings', 'x:1') RETURNING 1", (one[0],))
    with pytest.raises(psycopg.errors.UniqueViolation):
        fresh_db.scalar("INSERT INTO code_registry (code, layer, source_key) "
                        "VALUES ('X1', 'buildings', %s) RETURNING 1", (one[1],))
    # the allocator's arbiter names the columns in the other order: the same constraint
    assert fresh_db.scalar(
        "WITH i AS (INSERT INTO code_registry (code, layer, source_key) VALUES ('X2', "
        "'buildings', %s) ON CONFLICT (layer, source_key) DO NOTHING RETURNING 1) "
        "SELECT count(*) FROM i", (one[1],)) == 0
    # the layer's next load (another dataset, its partition there): through the parent
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="second",
                       batch_size=300, processes=1)
    assert r.codes_issued == 899
    assert _codes(fresh_db, "code_registry_buildings") == _layer_codes(fresh_db)
    assert len(_layer_codes(fresh_db)) == 2 * 899


def test_a_small_load_stays_in_the_default_partition(fresh_db, tmp_path):
    path, _ = _delivery(tmp_path, "s", n=400)
    load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=1)
    assert fresh_db.rows(PARTS) == [("code_registry_default", "DEFAULT")]
    assert _codes(fresh_db, "ONLY code_registry_default") == _layer_codes(fresh_db)
    assert len(_layer_codes(fresh_db)) == 400  # the first 400 rows: no duplicate among them


def test_a_failed_first_load_leaves_no_partition(fresh_db, tmp_path, monkeypatch):
    path, _ = _delivery(tmp_path, "f")
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    prepare = direct.DirectConverter.prepare

    def buggy(self, batch):
        if batch.first_row > 600:  # the third batch: two are written (codes too)
            raise KeyError("injected")
        return prepare(self, batch)

    monkeypatch.setattr(direct.DirectConverter, "prepare", buggy)
    with pytest.raises(KeyError, match="injected"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=0)
    assert fresh_db.rows(PARTS) == [("code_registry_default", "DEFAULT")]
    assert fresh_db.scalar("SELECT to_regclass('code_registry_buildings')") is None
    assert _codes(fresh_db) == set()
    monkeypatch.undo()
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=0)
    assert r.loaded == 899
    assert [p for p, _ in fresh_db.rows(PARTS)] == ["code_registry_buildings",
                                                    "code_registry_default"]


def test_an_attach_that_would_wait_writes_the_codes_the_ordinary_way(fresh_db, tmp_path,
                                                                      monkeypatch):
    """A transaction that holds the default partition (a service drawing a case code, left
    open) would make the attach wait: the load gives up waiting and registers its codes
    through the registry's indexes, in the default partition."""
    path, _ = _delivery(tmp_path, "w")
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    monkeypatch.setattr(registry, "ATTACH_LOCK_TIMEOUT", "300ms")
    with psycopg.connect(fresh_db.conninfo) as other:
        other.execute("INSERT INTO code_registry (code, layer, source_key) "
                      "VALUES ('C1', 'cases', 'case:1')")
        r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300,
                           processes=1)
        other.rollback()
    assert (r.loaded, r.codes_issued) == (899, 899)
    assert fresh_db.rows(PARTS) == [("code_registry_default", "DEFAULT")]
    assert fresh_db.scalar("SELECT to_regclass('code_registry_buildings')") is None
    assert _codes(fresh_db, "ONLY code_registry_default") == _layer_codes(fresh_db)
    assert len(_layer_codes(fresh_db)) == 899


def test_the_migration_keeps_every_code_both_ways(scratch):  # noqa: F811
    upgrade(scratch, 4527, "0010_byte_order_keys")
    rows = {(f"37081181010000{i:04d}", "buildings" if i % 2 else "cases", f"k:{i}")
            for i in range(50)}
    with psycopg.connect(psycopg_conninfo(scratch)) as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO code_registry (code, layer, source_key) "
                            "VALUES (%s, %s, %s)", sorted(rows))
    upgrade(scratch, 4527)
    with psycopg.connect(psycopg_conninfo(scratch)) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE relname = 'code_registry'"
                            ).fetchone()[0] == "p"
        got = set(conn.execute("SELECT code, layer, source_key FROM ONLY code_registry_default"
                               ).fetchall())
        assert got == rows
    downgrade(scratch, 4527, "0010_byte_order_keys")
    with psycopg.connect(psycopg_conninfo(scratch)) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE relname = 'code_registry'"
                            ).fetchone()[0] == "r"
        assert set(conn.execute("SELECT code, layer, source_key FROM code_registry")
                   .fetchall()) == rows
        # a code is unique again across layers (the primary key of before)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO code_registry (code, layer, source_key) "
                         "VALUES ('370811810100000001', 'roads', 'k:x')")


def test_a_table_left_by_a_dead_load_goes_at_the_next_initial_load(fresh_db, tmp_path,
                                                                   monkeypatch):
    """A load killed after its second connection committed the new table (unattached) leaves
    it behind: not part of the registry, dropped by the layer's next initial load."""
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("CREATE TABLE code_registry_buildings (LIKE code_registry)")
        conn.execute("INSERT INTO code_registry_buildings (code, layer, source_key) "
                     "VALUES ('370811810100999999', 'buildings', 'dead:1')")
    assert fresh_db.scalar("SELECT count(*) FROM code_registry WHERE layer = 'buildings'") == 0
    path, _ = _delivery(tmp_path, "o")
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=1)
    assert r.loaded == 899
    assert fresh_db.rows(PARTS)[0] == ("code_registry_buildings", "FOR VALUES IN ('buildings')")
    assert _codes(fresh_db, "code_registry_buildings") == _layer_codes(fresh_db)
    assert ("370811810100999999", "buildings", "dead:1") not in _codes(fresh_db)


def test_two_first_loads_of_two_layers_at_once_keep_every_code_once(fresh_db):
    """Both initial loads run at once (two processes): each may attach its partition, or —
    if the other still uses the default partition when it attaches — write its codes the
    ordinary way; either way every code is registered once, for its layer, and both end."""
    import subprocess
    import sys

    from cim.config import PROJECT_ROOT
    from tests.conftest import SAMPLES

    env = fresh_db.env()
    env["CIM_LOAD_INDEX_AFTER"] = "500"
    procs = [subprocess.Popen([sys.executable, "-m", "cim", "load", layer, str(path),
                               "--json", "--quiet"], env=env, cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for layer, path in (("buildings", SAMPLES / "buildings" / "buildings_survey.shp"),
                                 ("components",
                                  SAMPLES / "components" / "components_points.shp"))]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    for layer in ("buildings", "components"):
        want = set(fresh_db.rows(f"SELECT DISTINCT code, source_key FROM {layer}"))
        got = fresh_db.rows("SELECT code, source_key FROM code_registry WHERE layer = %s",
                            (layer,))
        assert len(got) == len(set(got)) and set(got) == want and len(want) > 400
    assert fresh_db.scalar("SELECT count(*) = count(DISTINCT code) FROM code_registry")
    # no table is left behind unattached
    assert fresh_db.scalar(
        "SELECT count(*) FROM pg_class c WHERE c.relname IN ('code_registry_buildings', "
        "'code_registry_components') AND c.relkind = 'r' AND NOT c.relispartition") == 0


def test_a_partition_that_cannot_be_indexed_fails_the_load_instead_of_hanging(fresh_db):
    """Two codes alike in the partition's rows: its unique index fails in its thread, after
    the end of the codes was queued; the attach reports the error (it waited for ever)."""
    import threading

    from loaders.engine import copybuf

    rows = copybuf.rows([copybuf.text(["370811810100000001"] * 2),
                         copybuf.text(["buildings"] * 2), copybuf.text(["d:1", "d:2"]),
                         copybuf.text(["370811"] * 2), copybuf.text(["8101"] * 2),
                         copybuf.int8([None, None])], 2)[0]
    with psycopg.connect(fresh_db.conninfo) as conn:
        part = registry.NewPartition.start(conn, fresh_db.conninfo, "buildings")
        assert part is not None
        part.write(copybuf.HEADER, rows, copybuf.TRAILER)
        part.finish()
        got: list = []
        t = threading.Thread(target=lambda: got.append(_raised(part.attach, conn)), daemon=True)
        t.start()
        t.join(60)
        assert not t.is_alive(), "the attach still waits for the partition's thread"
        assert isinstance(got[0], psycopg.errors.UniqueViolation), got
        conn.rollback()
        part.abandon()
    assert fresh_db.scalar("SELECT to_regclass('code_registry_buildings') IS NULL")


def _raised(fn, *args):
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - what the test inspects
        return exc
    return None


def test_a_table_left_by_a_dead_load_goes_at_the_next_ordinary_load(fresh_db, tmp_path):
    """After the dead first load, the layer got its codes the ordinary way (a small load, in
    the default partition): no initial load comes to drop the table, which stayed for good
    (probe of 2026-12-07). The layer's next load drops it; the attached partition of a layer
    that has one stays (test_a_large_first_load_gets_a_frozen_indexed_partition)."""
    path, _ = _delivery(tmp_path, "d", n=400)
    load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=1)
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("CREATE TABLE code_registry_buildings (LIKE code_registry)")
        conn.execute("INSERT INTO code_registry_buildings (code, layer, source_key) "
                     "VALUES ('370811810100999999', 'buildings', 'dead:1')")
    before = _codes(fresh_db)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=1)
    assert r.unchanged == 400
    assert fresh_db.scalar("SELECT to_regclass('code_registry_buildings')") is None
    assert fresh_db.rows(PARTS) == [("code_registry_default", "DEFAULT")]
    assert _codes(fresh_db) == before == _layer_codes(fresh_db)
