"""The read-only role the services connect with: it reads layers and cannot write them.

``fresh_database`` runs ``cim.db.migrate.upgrade``, so the session database already has
the role exactly as ``cim db upgrade`` makes it; every check below connects as that role.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.roles import DEFAULT_READER, ReaderRole, ensure_reader, reader_url
from cim.errors import ConfigError
from tests.conftest import make_db, server_url


@pytest.fixture(scope="module")
def rdb(jining_profile):
    d = make_db("roles", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("INSERT INTO buildings (code, geom) VALUES ('T1', ST_GeomFromText("
                     "'MULTIPOLYGON(((39462760 3920157, 39462770 3920157, 39462770 3920167, "
                     "39462760 3920157)))', 4527))")
    yield d
    drop_database(server_url(), d.name)


def _reader(d, role: str | None = None) -> psycopg.Connection:
    return psycopg.connect(psycopg_conninfo(reader_url(d.url, role, password="")),
                           autocommit=True)


WRITES = [
    "INSERT INTO buildings (code, geom) SELECT 'X' || code, geom FROM buildings",
    "UPDATE buildings SET code = 'hacked'",
    "DELETE FROM buildings",
    "CREATE TABLE stolen (id int)",
    "TRUNCATE buildings",
]


def test_reader_reads(rdb):
    with _reader(rdb) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == DEFAULT_READER
        assert conn.execute("SELECT count(*) FROM buildings").fetchone()[0] == 1
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "10s"
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"


@pytest.mark.parametrize("stmt", WRITES)
def test_reader_cannot_write(rdb, stmt):
    with _reader(rdb) as conn:
        # as configured: every transaction is read-only
        with pytest.raises((psycopg.errors.ReadOnlySqlTransaction,
                            psycopg.errors.InsufficientPrivilege)):
            conn.execute(stmt)
        # and the privileges hold on their own, when the client turns that off
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(stmt)
    assert rdb.scalar("SELECT count(*) FROM buildings WHERE code = 'T1'") == 1
    assert rdb.scalar("SELECT to_regclass('stolen') IS NULL")


def test_future_tables_readable(rdb):
    """Tables created after the upgrade (by the migrating user) are readable too."""
    with psycopg.connect(rdb.conninfo) as conn:
        conn.execute("CREATE TABLE later_layer (id int)")
        conn.execute("INSERT INTO later_layer VALUES (7)")
    with _reader(rdb) as conn:
        assert conn.execute("SELECT id FROM later_layer").fetchone()[0] == 7


def test_configured_timeout_and_idempotent(rdb):
    role = ReaderRole(f"cim_reader_t{os.getpid()}", "3s")
    try:
        assert ensure_reader(rdb.url, role) == []
        assert ensure_reader(rdb.url, role) == []  # again: nothing changes, no error
        with _reader(rdb, role.name) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == "3s"
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("SELECT pg_sleep(5)")
    finally:
        with psycopg.connect(rdb.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role.name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role.name)))


def test_without_createrole_a_clear_message(rdb):
    weak = f"cim_weak_t{os.getpid()}"
    with psycopg.connect(rdb.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(weak)))
    try:
        with pytest.raises(ConfigError, match="(?s)may not create roles.*CREATE ROLE cim_missing"):
            ensure_reader(reader_url(rdb.url, weak, password=""),
                          ReaderRole("cim_missing", "10s"))
    finally:
        with psycopg.connect(rdb.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(weak)))


def test_refuses_a_privileged_role(rdb):
    with pytest.raises(ConfigError, match="cannot serve as the read-only role"):
        ensure_reader(rdb.url, ReaderRole("postgres", "10s"))


@pytest.mark.parametrize("name,timeout", [("Robert'); DROP", "10s"), ("r", "10s; DROP"),
                                          ("r", "")])
def test_bad_role_settings(name, timeout):
    with pytest.raises(ConfigError):
        ReaderRole(name, timeout)


def test_reader_url(monkeypatch):
    admin = "postgresql+psycopg://admin:s3cret@db.example:5433/cim?sslmode=require"
    monkeypatch.delenv("CIM_READER_PASSWORD", raising=False)
    u = reader_url(admin)
    assert "s3cret" not in u and "admin" not in u
    assert u == "postgresql+psycopg://cim_reader@db.example:5433/cim?sslmode=require"
    monkeypatch.setenv("CIM_READER_PASSWORD", "r34d")
    assert reader_url(admin, "web") == \
        "postgresql+psycopg://web:r34d@db.example:5433/cim?sslmode=require"


# -- the one table the reader may add to: approval_checks (a check is recorded over HTTP) ----
def _insert_check(conn: psycopg.Connection) -> int:
    return conn.execute(
        "INSERT INTO approval_checks (project, status, summary, result) VALUES "
        "('by reader', 'pass', '{}', '{}') RETURNING id").fetchone()[0]


def test_reader_records_approval_checks_only(rdb):
    from cim.layerdefs import LAYERS

    with _reader(rdb) as conn:
        conn.autocommit = False
        # the role's transactions are read-only unless the client asks for READ WRITE
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            _insert_check(conn)
        conn.rollback()
        conn.read_only = False  # BEGIN READ WRITE
        new_id = _insert_check(conn)
        conn.commit()
        # append-only: a recorded check cannot be changed or removed
        for stmt in ("UPDATE approval_checks SET status = 'fail'", "DELETE FROM approval_checks",
                     "TRUNCATE approval_checks"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(stmt)
            conn.rollback()
        # and no layer table takes a row, even in a READ WRITE transaction
        layers = [n for n in LAYERS
                  if rdb.scalar("SELECT to_regclass(%s) IS NOT NULL", (n,))]
        assert {"buildings", "pipe_segments", "planning_parcels"} <= set(layers)
        for name in layers:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("INSERT INTO {} (code) VALUES ('X')").format(
                    sql.Identifier(name)))
            conn.rollback()
    assert rdb.scalar("SELECT project FROM approval_checks WHERE id = %s",
                      (new_id,)) == "by reader"
    # by the catalog: the record tables (approval checks, the operational tables of issue 14
    # and the allocator's two) are all it may write; of risk_points three columns only
    writable = rdb.rows(
        "SELECT c.relname, p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') "
        "AND has_table_privilege(%s, c.oid, p)", (DEFAULT_READER,))
    assert sorted(writable) == sorted([
        ("approval_checks", "INSERT"), ("readings", "INSERT"),
        ("sensor_state", "INSERT"), ("sensor_state", "UPDATE"),
        ("alarms", "INSERT"), ("alarms", "UPDATE"), ("cases", "INSERT"), ("cases", "UPDATE"),
        ("case_events", "INSERT"), ("case_contacts", "INSERT"), ("case_contacts", "UPDATE"),
        ("case_attachments", "INSERT"), ("code_counters", "INSERT"),
        ("code_counters", "UPDATE"), ("code_registry", "INSERT"),
        ("risk_assessments", "INSERT")])
    cols = rdb.rows("SELECT a.attname FROM pg_attribute a WHERE a.attrelid = 'risk_points'::regclass "
                    "AND a.attnum > 0 AND has_column_privilege(%s, a.attrelid, a.attnum, 'UPDATE') "
                    "ORDER BY 1", (DEFAULT_READER,))
    assert [c for (c,) in cols] == ["color", "flags", "level"]
    # the identity column needs no sequence privilege, so none is given
    assert not rdb.scalar("SELECT has_sequence_privilege(%s, 'approval_checks_id_seq', "
                          "'USAGE')", (DEFAULT_READER,))


def test_the_reader_may_stage_in_temporary_tables_after_public_is_revoked(rdb):
    """A DBA's hardening ``REVOKE ALL ON DATABASE … FROM PUBLIC`` took TEMPORARY from the
    reader with CONNECT: every served case report and sensor reading (staged in a temporary
    table) was a 500. The upgrade grants it (and says what a DBA runs when it cannot)."""
    role = ReaderRole(f"cim_reader_tmp{os.getpid()}", "10s")
    with psycopg.connect(rdb.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role.name)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(rdb.name)))

    def can_temp() -> bool:
        with psycopg.connect(rdb.conninfo) as conn:
            return conn.execute("SELECT has_database_privilege(%s, current_database(), "
                                "'TEMPORARY')", (role.name,)).fetchone()[0]

    try:
        assert not can_temp()  # premise: what the DBA's revoke leaves
        notes = ensure_reader(rdb.url, role)
        assert can_temp(), notes
        with _reader(rdb, role.name) as conn, conn.transaction():  # as the served writes
            conn.execute("SET TRANSACTION READ WRITE")
            conn.execute("CREATE TEMP TABLE _staged (id int)")
    finally:
        with psycopg.connect(rdb.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO PUBLIC").format(
                sql.Identifier(rdb.name)))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                sql.Identifier(rdb.name), sql.Identifier(role.name)))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role.name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role.name)))


def test_the_readers_url_keeps_its_own_timeout():
    """An admin URL's ``options=-c statement_timeout=0`` (long loads) went to the reader's
    URL and lifted the served queries' guard (a 1 ms one stopped the server); other options
    (a search_path) go along, and options left empty are dropped."""
    from urllib.parse import parse_qs, urlsplit

    def options(admin: str) -> list[str]:
        return parse_qs(urlsplit(reader_url(admin, "r", password="")).query).get("options", [])

    base = "postgresql+psycopg://o@h:5432/d?sslmode=disable&options="
    assert options(base + "-c%20statement_timeout%3D0%20-c%20search_path%3Dpublic,postgis") \
        == ["-c search_path=public,postgis"]
    assert options(base + "--default_transaction_read_only%3Doff%20-cstatement_timeout%3D1") \
        == []
    assert "sslmode=disable" in reader_url(base + "-c%20statement_timeout%3D0", "r", "")


def test_without_createrole_both_roles_statements_at_once(rdb, monkeypatch):
    """A database user without CREATEROLE and neither role there: the reader's statements,
    then on the next upgrade the planner's — the DBA ran the upgrade three times. Both in one
    refusal."""
    weak = f"cim_weak2_t{os.getpid()}"
    monkeypatch.setenv("CIM_PLANNER_ROLE", "cim_missing_planner")
    with psycopg.connect(rdb.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(weak)))
    try:
        with pytest.raises(ConfigError) as e:
            ensure_reader(reader_url(rdb.url, weak, password=""),
                          ReaderRole("cim_missing", "10s"))
        msg = str(e.value)
        assert "CREATE ROLE cim_missing LOGIN" in msg, msg
        assert "CREATE ROLE cim_missing_planner" in msg, msg
    finally:
        with psycopg.connect(rdb.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(weak)))
