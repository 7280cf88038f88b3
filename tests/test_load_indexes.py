"""An initial load builds the layer's indexes after its rows (loaders/engine/indexes.py):
the same rows as a load that maintains them, every declared index there afterwards — after a
failed load and after a killed one too."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest

from cim.config import PROJECT_ROOT
from cim.db.schema import schema_drift
from cim.layerdefs import BUILDINGS
from loaders.buildings import load_buildings
from loaders.engine import direct, indexes
from tests.test_batches import _buildings
from tests.test_direct_load import _delivery, _stored
from tests.test_registry_partitions import _changed_since_analyze, vacuums

INDEXES = ("SELECT c.relname, c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
           "WHERE i.indrelid = 'buildings'::regclass AND NOT i.indisprimary ORDER BY 1")
DECLARED = {"buildings_code_current_uq", "buildings_source_key_current_idx",
            "buildings_geom_gist"}


def _drift(db) -> list[str]:
    return [d for d in schema_drift(db.conninfo, db.profile.srid) if "buildings" in d]


def test_an_initial_load_builds_the_indexes_after_its_rows(fresh_db, tmp_path, monkeypatch):
    path, _ = _delivery(tmp_path, "ix")
    before = dict(fresh_db.rows(INDEXES))
    assert set(before) == DECLARED
    vacuumed = vacuums(fresh_db, "buildings")
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="after",
                       batch_size=300, processes=1)
    assert (r.read, r.loaded, r.rejected) == (900, 899, 1)
    after = dict(fresh_db.rows(INDEXES))
    assert set(after) == DECLARED and not set(after.values()) & set(before.values())
    assert _drift(fresh_db) == []  # the same definitions as the migrations'
    # vacuumed after the bulk load (its pages all-visible, unless another snapshot was open)
    assert vacuums(fresh_db, "buildings") == vacuumed + 1
    # and analysed after the commit: its columns' statistics, and nothing left for autovacuum
    # to analyse (an ANALYZE inside the load's transaction left its rows counted as changed
    # since; geom's statistics are PostGIS's own, listed without a histogram)
    assert fresh_db.scalar("SELECT count(DISTINCT attname) FROM pg_stats WHERE tablename = "
                           "'buildings' AND attname IN ('code', 'source_key', 'geom')") == 3
    assert fresh_db.scalar("SELECT n_distinct FROM pg_stats WHERE tablename = 'buildings' "
                           "AND attname = 'code'") == -1  # all distinct
    assert _changed_since_analyze(fresh_db, "buildings", 899) == 0
    # the layer is now not empty: the next load keeps the indexes as they are
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, dataset="kept",
                       batch_size=300, processes=1)
    assert r.loaded == 899 and dict(fresh_db.rows(INDEXES)) == after
    assert _stored(fresh_db, "after") == _stored(fresh_db, "kept")
    # the rebuilt unique index holds: a second current version of a code is refused
    with pytest.raises(psycopg.errors.UniqueViolation):
        fresh_db.scalar("INSERT INTO buildings (code, source_key, valid_from, flags, attrs, geom,"
                        " row_hash) SELECT code, 'x:1', now(), flags, attrs, geom, row_hash "
                        "FROM buildings WHERE valid_to IS NULL LIMIT 1 RETURNING id")
    plan = "\n".join(r[0] for r in fresh_db.rows(
        "EXPLAIN SELECT 1 FROM buildings WHERE valid_to IS NULL AND source_key = 'after:1'"))
    assert "buildings_source_key_current_idx" in plan


def test_a_small_or_second_load_keeps_the_indexes(fresh_db, tmp_path):
    path, _ = _delivery(tmp_path, "small", n=400)
    before = dict(fresh_db.rows(INDEXES))
    load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=1)
    assert dict(fresh_db.rows(INDEXES)) == before  # 400 < CIM_LOAD_INDEX_AFTER (100,000)
    # analysed, not vacuumed: that is left to autovacuum for loads that keep the indexes
    assert fresh_db.scalar("SELECT relallvisible FROM pg_class "
                           "WHERE oid = 'buildings'::regclass") == 0


def test_a_failed_initial_load_leaves_the_empty_layer_with_its_indexes(fresh_db, tmp_path,
                                                                       monkeypatch):
    path, _ = _delivery(tmp_path, "fail")
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "500")
    prepare = direct.DirectConverter.prepare

    def buggy(self, batch):
        if batch.first_row > 600:  # the third batch: two are written already
            raise KeyError("injected")
        return prepare(self, batch)

    monkeypatch.setattr(direct.DirectConverter, "prepare", buggy)
    with pytest.raises(KeyError, match="injected"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=0)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    assert fresh_db.scalar("SELECT count(*) FROM code_registry WHERE layer = 'buildings'") == 0
    assert set(dict(fresh_db.rows(INDEXES))) == DECLARED and _drift(fresh_db) == []


def test_a_killed_initial_load_gets_its_indexes_back_at_the_next_load(fresh_db, tmp_path):
    big = _buildings(tmp_path / "big.gpkg", 30000)
    env = fresh_db.env()
    env["CIM_LOAD_INDEX_AFTER"] = "1000"
    proc = subprocess.Popen([sys.executable, "-m", "cim", "load", "buildings", str(big),
                             "--json", "--quiet"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen_without = False
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if len(fresh_db.rows(INDEXES)) < len(DECLARED):
                seen_without = True
                proc.kill()  # SIGKILL: no clean-up runs
                break
            time.sleep(0.005)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen_without, "the load never ran without its indexes"
    # its connection gone, the server rolled its transaction back: empty, indexes missing
    for _ in range(200):
        if not fresh_db.rows("SELECT 1 FROM pg_stat_activity WHERE application_name = "
                             "'cim-load' AND datname = current_database()"):
            break
        time.sleep(0.05)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    assert len(fresh_db.rows(INDEXES)) < len(DECLARED)
    small = _buildings(tmp_path / "small.gpkg", 50)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, small)
    assert r.loaded == 50
    assert set(dict(fresh_db.rows(INDEXES))) == DECLARED and _drift(fresh_db) == []


def test_a_load_waiting_on_a_killed_initial_load_restores_the_indexes(fresh_db, tmp_path):
    # a load that had checked the indexes before a deferred initial load dropped them waits
    # for the merge lock; the initial load is then killed (its drop stays, its rows go): the
    # waiting load must not commit its rows into a layer without its indexes
    import threading

    from cim.db.locks import MERGE_LOCK_SPACE

    path, _ = _delivery(tmp_path, "wait", n=400)
    killed = psycopg.connect(fresh_db.conninfo, autocommit=True)  # the initial load's session
    killed.execute("SELECT pg_advisory_lock(%s, hashtext('buildings'))", (MERGE_LOCK_SPACE,))
    out: dict = {}

    def load() -> None:
        try:
            out["r"] = load_buildings(fresh_db.conninfo, fresh_db.profile, path,
                                      batch_size=300, processes=0)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            out["error"] = exc

    t = threading.Thread(target=load)
    t.start()
    try:
        for _ in range(300):  # until the load waits for the merge lock
            if fresh_db.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                               "AND NOT granted"):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the load never waited for the merge lock")
        for name in DECLARED:
            killed.execute(f"DROP INDEX CONCURRENTLY {name}")
    finally:
        killed.close()  # killed: its session lock goes with it
        t.join(120)
    assert "error" not in out, out.get("error")
    assert out["r"].loaded == 400
    assert set(dict(fresh_db.rows(INDEXES))) == DECLARED


def test_a_bad_index_threshold_is_a_configuration_error_and_loads_nothing(fresh_db, tmp_path,
                                                                         monkeypatch):
    from cim.errors import ConfigError

    path, _ = _delivery(tmp_path, "cfg")
    monkeypatch.setenv("CIM_LOAD_INDEX_AFTER", "many")
    with pytest.raises(ConfigError, match="CIM_LOAD_INDEX_AFTER.*'many'"):
        load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=300, processes=0)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    assert set(dict(fresh_db.rows(INDEXES))) == DECLARED


def test_an_invalid_index_is_built_again_at_the_next_load(fresh_db, tmp_path):
    # what a DROP INDEX CONCURRENTLY cancelled half-way leaves: the index in the catalog, no
    # longer valid (no query uses it); the catalog flag set by hand to the same state
    with psycopg.connect(fresh_db.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE pg_index SET indisvalid = false "
                     "WHERE indexrelid = 'buildings_geom_gist'::regclass")
    valid = ("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
             "ON c.oid = i.indexrelid WHERE i.indrelid = 'buildings'::regclass "
             "AND NOT i.indisprimary ORDER BY 1")
    assert dict(fresh_db.rows(valid))["buildings_geom_gist"] is False  # premise
    assert _drift(fresh_db) == ["buildings: index buildings_geom_gist is invalid (a build or "
                                "drop stopped half-way; a load of the layer builds it again)"]
    # inside a load's transaction it is left (dropping it there would lock readers out until
    # the commit), and not reported as restored
    with psycopg.connect(fresh_db.conninfo) as conn:
        assert indexes.restore(conn, BUILDINGS) == []
        conn.rollback()
    small = _buildings(tmp_path / "small.gpkg", 50)
    assert load_buildings(fresh_db.conninfo, fresh_db.profile, small).loaded == 50
    assert dict(fresh_db.rows(valid)) == {n: True for n in DECLARED}
    assert _drift(fresh_db) == []
