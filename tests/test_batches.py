"""Batch lifecycle: every load ends its batch and closes its connections, a live load is never
reported failed, a listing writes nothing, and readers of a layer never wait for a load."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
import time

import geopandas as gpd
import psycopg
import pytest
import shapely

from cim.config import PROJECT_ROOT
from cim.db.locks import BATCH_LOCK_SPACE, DEAD_BATCH_ERROR
from layers.batches import list_batches
from loaders.buildings import load_buildings
from tests.conftest import run_cli

E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527, easting/northing)


def _buildings(path, n: int, side: int | None = None):
    """n 10 m squares on a 20 m lattice inside 任城区, ids JZ000001…"""
    side = side or max(1, int(n ** 0.5) + 1)
    geoms = [shapely.box(E0 + 20 * (i % side), N0 + 20 * (i // side),
                         E0 + 20 * (i % side) + 10, N0 + 20 * (i // side) + 10)
             for i in range(n)]
    gpd.GeoDataFrame({"编号": [f"JZ{i + 1:06d}" for i in range(n)],
                      "地上层数": [1 + i % 30 for i in range(n)]},
                     geometry=geoms, crs="EPSG:4527").to_file(path, engine="pyogrio")
    return path


def _load_connections(db) -> list[tuple]:
    """Connections of loads (the load's own and its batch-lock connection) to db, and any
    session still holding a batch lock in it."""
    return db.rows(
        "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND (application_name LIKE 'cim-load%%' OR pid IN "
        "(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s))",
        (BATCH_LOCK_SPACE,))


# -- a. a failed COMMIT ends the batch and closes every connection ---------------------------
def test_a_commit_that_fails_marks_the_batch_failed_and_closes_its_connections(fresh_db,
                                                                             tmp_path):
    load_buildings(fresh_db.conninfo, fresh_db.profile, _buildings(tmp_path / "a.gpkg", 1))
    # a deferred constraint: checked only at COMMIT, so the load fails at its very last step
    with psycopg.connect(fresh_db.conninfo, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION cim_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'refused at commit (test)'; END $$")
        conn.execute("CREATE CONSTRAINT TRIGGER cim_test_refuse AFTER INSERT ON buildings "
                     "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                     "EXECUTE FUNCTION cim_test_refuse()")
    path = _buildings(tmp_path / "b.gpkg", 5)
    with pytest.raises(psycopg.Error, match="refused at commit") as failed:
        load_buildings(fresh_db.conninfo, fresh_db.profile, path)
    # checked while the traceback (and with it the load's objects) is still alive
    assert _load_connections(fresh_db) == []
    status, error = fresh_db.rows("SELECT status, error FROM load_batches ORDER BY id DESC "
                                  "LIMIT 1")[0]
    assert status == "failed" and "refused at commit" in error
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 1  # as it was
    del failed


# -- b. a running batch is visible only once its loader holds the lock ------------------------
def test_b_a_listing_during_a_live_load_never_reports_it_failed(fresh_db, tmp_path):
    path = _buildings(tmp_path / "b.gpkg", 50)
    nxt = fresh_db.scalar("SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM "
                          "load_batches_id_seq")
    outcome: dict[str, object] = {}

    def load():
        try:
            outcome["report"] = load_buildings(fresh_db.conninfo, fresh_db.profile, path)
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            outcome["error"] = e

    # another session holds the next batch's lock: the loader must wait for it, and while it
    # waits its batch must not be visible as 'running' (a listing would find its lock free
    # of the loader and call a live load dead)
    blocker = psycopg.connect(fresh_db.conninfo, autocommit=True)
    blocker.execute("SELECT pg_advisory_lock(%s, %s)", (BATCH_LOCK_SPACE, nxt))
    t = threading.Thread(target=load)
    t.start()
    try:
        for _ in range(1500):
            if fresh_db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND wait_event_type = 'Lock' "
                               "AND wait_event = 'advisory'"):
                break
            assert t.is_alive(), outcome
            time.sleep(0.02)
        else:
            pytest.fail("the loader never waited for its batch lock")
        assert fresh_db.scalar("SELECT count(*) FROM load_batches WHERE id = %s", (nxt,)) == 0
        assert all(b["status"] != "failed" for b in list_batches(fresh_db.conninfo))
    finally:
        blocker.close()
    # from now on the load is live: every listing until it ends reports it running
    seen = []
    while t.is_alive():
        seen += [b["status"] for b in list_batches(fresh_db.conninfo) if b["id"] == nxt]
        time.sleep(0.01)
    t.join()
    assert "error" not in outcome, outcome
    assert outcome["report"].batch_id == nxt
    assert set(seen) <= {"running", "succeeded"}
    assert fresh_db.scalar("SELECT status FROM load_batches WHERE id = %s", (nxt,)) \
        == "succeeded"


# -- c. the listing is read-only and lives in layers/ ------------------------------------------
def test_c_cim_batches_reports_a_dead_load_failed_without_writing(fresh_db, tmp_path):
    # a batch left 'running' by a loader that died: nobody holds its lock
    dead = fresh_db.scalar(
        "INSERT INTO load_batches (layer, source_path, mode, options, loader_version, status) "
        "VALUES ('buildings', '/x.gpkg', 'update', '{}', 'test', 'running') RETURNING id")
    # fresh_db.scalar's connection commits on exit
    out = json.loads(run_cli(["batches", "--json"], fresh_db.env(), check=True).stdout)
    row = next(b for b in out if b["id"] == dead)
    assert (row["status"], row["error"], row["interrupted"]) == ("failed", DEAD_BATCH_ERROR, True)
    assert all(not b["interrupted"] for b in out if b["id"] != dead)
    assert fresh_db.scalar("SELECT status FROM load_batches WHERE id = %s", (dead,)) == "running"
    # the next load records it
    load_buildings(fresh_db.conninfo, fresh_db.profile, _buildings(tmp_path / "b.gpkg", 3))
    assert fresh_db.rows("SELECT status, error FROM load_batches WHERE id = %s", (dead,)) == \
        [("failed", DEAD_BATCH_ERROR)]


# the one exception: an approval check records its project file's SHA-256 by the loads' own
# reader of a delivery's bytes (README, Architecture)
LAYERS_FROM_LOADERS = {("approval/check.py", "loaders.engine.checksum")}


def test_c_layers_import_no_loader():
    """Data flows loaders → PostGIS → layers: nothing in layers/ (its sub-packages too: the
    query library's stats imported the place refresh's command name) imports loaders/."""
    bad = []
    root = PROJECT_ROOT / "layers"
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{rel}: {n}" for n in names if n.split(".")[0] == "loaders"
                    and (rel, n) not in LAYERS_FROM_LOADERS]
    assert bad == []


# -- d. readers of a layer never wait for a load ------------------------------------------------
WEAK_LOCKS = {"AccessShareLock", "RowShareLock", "RowExclusiveLock",
              "ShareUpdateExclusiveLock"}  # none of them blocks a SELECT
GIST = ("SELECT c.oid, i.indexname FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
        "WHERE i.tablename = 'buildings' AND i.indexdef ILIKE '%%USING gist%%' ORDER BY 2")


@pytest.mark.parametrize("index_after", [None, 1000], ids=["indexes kept", "indexes after"])
def test_d_readers_never_wait_for_a_load_into_an_empty_layer(fresh_db, tmp_path, index_after):
    """Below ``CIM_LOAD_INDEX_AFTER`` features the load maintains the layer's indexes; above
    it an initial load drops them concurrently and builds them before its commit
    (loaders/engine/indexes.py): in both, a reader never waits."""
    path = _buildings(tmp_path / "big.gpkg", 6000)
    env = fresh_db.env()
    if index_after:
        env["CIM_LOAD_INDEX_AFTER"] = str(index_after)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    gist = fresh_db.rows(GIST)
    assert gist  # the layer is declared with a spatial index
    watch = psycopg.connect(fresh_db.conninfo, autocommit=True)
    reader = psycopg.connect(fresh_db.conninfo, autocommit=True)
    reader.execute("SET lock_timeout = '200ms'")
    proc = subprocess.Popen([sys.executable, "-m", "cim", "load", "buildings", str(path),
                             "--json", "--quiet"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    modes: set[str] = set()
    table_modes: set[str] = set()
    merging = reads = 0
    waited = []
    try:
        while proc.poll() is None:
            locks = watch.execute(
                "SELECT l.mode, l.relation = 'buildings'::regclass FROM pg_locks l "
                "JOIN pg_stat_activity a USING (pid) "
                "WHERE a.application_name LIKE 'cim-load%%' AND l.locktype = 'relation' "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = "
                "current_database()) AND (l.relation = 'buildings'::regclass OR l.relation IN "
                "(SELECT indexrelid FROM pg_index WHERE indrelid = 'buildings'::regclass))"
            ).fetchall()
            held = [mode for mode, _ in locks]
            modes.update(held)
            table_modes.update(mode for mode, on_table in locks if on_table)
            # the merge, and in the deferred case every moment of the load (the concurrent
            # drop and the index builds too)
            if "RowExclusiveLock" in held or (index_after and held):
                merging += 1  # the loader is inside its merge: a reader now is the real test
                try:
                    reader.execute("SELECT count(*) FROM buildings").fetchone()
                    # the code registry too: an initial load fills a partition of its own and
                    # attaches it just before its commit (cim/coding/registry.py)
                    reader.execute("SELECT count(*) FROM code_registry").fetchone()
                    reads += 1
                except psycopg.errors.LockNotAvailable as e:
                    waited.append(str(e))
            time.sleep(0.005)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        watch.close()
        reader.close()
    assert proc.returncode == 0, err
    assert json.loads(out)["inserted"] == 6000
    assert fresh_db.scalar("SELECT to_regclass('code_registry_buildings') IS NOT NULL") == \
        bool(index_after)  # the initial load's own registry partition, attached
    assert merging > 0, "the load's merge was never observed"
    assert waited == [], f"a reader waited for the load ({len(waited)} of {merging} reads)"
    if index_after is None:
        assert modes <= WEAK_LOCKS, modes
        assert fresh_db.rows(GIST) == gist  # the spatial index was kept, not dropped and rebuilt
    else:
        # on the table, CREATE INDEX's ShareLock keeps writers out, never a SELECT; the last
        # step of DROP INDEX CONCURRENTLY locks the empty layer's index alone for the instant
        # of its removal (a query planned then waits that instant) — the reads above, on a
        # 200 ms lock timeout, never waited
        assert table_modes <= WEAK_LOCKS | {"ShareLock"}, table_modes
        assert modes <= WEAK_LOCKS | {"ShareLock", "AccessExclusiveLock"}, modes
        after = fresh_db.rows(GIST)
        assert [n for _, n in after] == [n for _, n in gist]
        assert after != gist  # built by the load after its rows: a new index of the same name
