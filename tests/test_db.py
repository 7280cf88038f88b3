"""The embedded cluster and the Alembic schema."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from cim.db.engine import drop_database, ensure_database, psycopg_conninfo
from cim.db.migrate import current, downgrade, upgrade
from cim.errors import ConfigError
from tests.conftest import server_url

LAYER_TABLES = ("admin_divisions", "grid_cells", "buildings", "pipe_points", "pipe_segments",
                "components")
TABLES = LAYER_TABLES + ("code_registry", "code_counters", "load_batches", "load_rejects",
                         "cim_properties")


@pytest.fixture()
def scratch():
    base = server_url()
    name = "cim_test_scratch"
    drop_database(base, name)
    ensure_database(base, name)
    url = make_url(base).set(database=name, drivername="postgresql+psycopg").render_as_string(
        hide_password=False)
    yield url
    drop_database(base, name)


def _tables(url: str) -> set[str]:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        return {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def _columns(url: str, table: str) -> set[str]:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        return {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (table,))}


def test_upgrade_downgrade_upgrade(scratch):
    upgrade(scratch, 4527)
    assert "approval_checks" in _tables(scratch)
    assert "load_verified" in _tables(scratch) and "conversion" in _columns(scratch,
                                                                            "load_batches")
    downgrade(scratch, 4527, "0012_registry_key_order")  # the conversion records go (0013)
    assert "load_verified" not in _tables(scratch)
    assert "conversion" not in _columns(scratch, "load_batches")
    downgrade(scratch, 4527, "0003_planning")  # the record of approval checks goes (0004)
    assert current(scratch) == "0003_planning"
    assert "approval_checks" not in _tables(scratch)
    downgrade(scratch, 4527, "0002")
    assert set(TABLES) <= _tables(scratch)
    downgrade(scratch, 4527, "0001")  # the pipe and component tables go, the foundation stays
    assert current(scratch) == "0001"
    assert not ({"pipe_points", "pipe_segments", "components"} & _tables(scratch))
    assert {"buildings", "code_registry"} <= _tables(scratch)
    downgrade(scratch, 4527)
    assert current(scratch) is None
    assert not (set(TABLES) & _tables(scratch))
    upgrade(scratch, 4527)
    assert set(TABLES) <= _tables(scratch)


def test_layer_tables_follow_the_contract(scratch):
    upgrade(scratch, 4527)
    with psycopg.connect(psycopg_conninfo(scratch)) as conn:
        for t in LAYER_TABLES:
            cols = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (t,))}
            assert {"id", "code", "geom", "valid_from", "valid_to"} <= cols, t
            srid = conn.execute("SELECT Find_SRID('public', %s, 'geom')", (t,)).fetchone()[0]
            assert srid == 4527
            idx = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s",
                               (t,)).fetchall()
            defs = " ".join(r[0] for r in idx)
            assert "USING gist (geom)" in defs, t
            assert "UNIQUE INDEX" in defs and "valid_to IS NULL" in defs, t
            pk = conn.execute(
                "SELECT count(*) FROM information_schema.table_constraints "
                "WHERE table_name = %s AND constraint_type = 'PRIMARY KEY'", (t,)).fetchone()[0]
            assert pk == 1


def test_a_database_keeps_its_storage_crs(scratch):
    upgrade(scratch, 4527)
    with pytest.raises(ConfigError, match="EPSG:4527"):
        upgrade(scratch, 4548)


def test_cli_db_status_and_url(db):
    from tests.conftest import run_cli

    env = db.env()
    env.pop("CIM_DATABASE_URL")
    out = run_cli(["db", "status", "--json"], env, check=True).stdout
    assert '"running": true' in out
    url = run_cli(["db", "url"], env, check=True).stdout.strip()
    assert url.startswith("postgresql+psycopg://") and "127.0.0.1" in url


def _collations(url: str) -> dict[tuple[str, str], str | None]:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        return {(t, c): coll for t, c, coll in conn.execute(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name IN ('code', 'source_key', 'layer', "
            "'prefix') AND table_name = ANY(%s)", (list(TABLES),))}


def test_codes_and_keys_compare_byte_by_byte(scratch):
    """Migration 0010: codes and source keys are identifiers ordered by their bytes, and a
    dataset's keys (LIKE 'dataset:%') are found through the key index."""
    upgrade(scratch, 4527)
    got = _collations(scratch)
    want = {(t, c) for t in LAYER_TABLES for c in ("code", "source_key")} | {
        ("code_registry", "code"), ("code_registry", "layer"), ("code_registry", "source_key"),
        ("code_counters", "prefix")}
    assert {k for k, v in got.items() if v == "C"} == want
    with psycopg.connect(psycopg_conninfo(scratch)) as conn:
        # types kept: only the collation changed
        assert conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                            "WHERE attrelid = 'code_registry'::regclass AND attname = 'code'"
                            ).fetchone()[0] == "character varying(24)"
        # byte order: 'Z' (0x5A) < 'a' (0x61) < 'é' (0xC3 0xA9), whatever the locale says
        rows = conn.execute("SELECT k FROM unnest(ARRAY['é', 'a', 'Z']::text[]) k "
                            "ORDER BY k COLLATE \"C\"").fetchall()
        assert [r[0] for r in rows] == sorted(["é", "a", "Z"])
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT code FROM code_registry WHERE layer = 'buildings' "
            "AND source_key LIKE 'survey:%'"))
        # the prefix became a range of the index (under a linguistic collation: a filter)
        assert "source_key >= 'survey:'::text) AND (source_key < 'survey;'::text)" in \
            "\n".join(line for line in plan.splitlines() if "Index Cond" in line), plan
    downgrade(scratch, 4527, "0009_source_hash")
    assert not {k for k, v in _collations(scratch).items() if v == "C"}
    upgrade(scratch, 4527)


def test_databases_of_killed_test_sessions_are_dropped():
    """A killed test run leaves its databases behind: the next session drops those whose
    process is gone, never its own nor a live session's."""
    import os
    import subprocess
    import sys

    from cim.config import Settings
    from tests.conftest import drop_stale_test_databases

    if Settings().database_url:
        pytest.skip("an external server: other machines' sessions are not judged from here")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its process id names a session that is over
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    names = {"stale": f"cim_test_stale_{gone.pid}", "live": f"cim_test_live_{live.pid}",
             "mine": f"cim_test_mine_{os.getpid()}"}
    try:
        for name in names.values():
            ensure_database(server_url(), name)
        dropped = drop_stale_test_databases(server_url())
        # (another session starting at this moment may have dropped the stale one first)
        assert names["live"] not in dropped and names["mine"] not in dropped
        with psycopg.connect(psycopg_conninfo(server_url()), autocommit=True) as conn:
            left = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        assert names["stale"] not in left
        assert {names["live"], names["mine"]} <= left
    finally:
        live.kill()
        live.wait()
        for name in names.values():
            drop_database(server_url(), name)
