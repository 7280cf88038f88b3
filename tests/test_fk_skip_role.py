"""Who skips a load's per-row foreign-key checks of ``batch_id`` (loaders.engine.pipeline.
skip_fk_checks): not only a superuser — a loading role on an external database rarely is one —
but any role a DBA granted ``SET ON PARAMETER session_replication_role`` (PostgreSQL 15).
Without the grant the checks run, as they must: a row naming a batch that does not exist is
refused."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql

from loaders.buildings import load_buildings
from loaders.engine.pipeline import skip_fk_checks
from tests.test_batches import _buildings

INSERT_ORPHAN = ("INSERT INTO buildings (code, source_key, batch_id, valid_from, geom) VALUES "
                 "('X', 'x:1', %s, now(), ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))',"
                 " 4527)))")


@pytest.fixture()
def loader_role(fresh_db):
    """A login role that may write the platform's tables, not a superuser."""
    role = f"cim_t_loader_{os.getpid()}"
    ident = sql.Identifier(role)
    with psycopg.connect(fresh_db.conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(ident))
        for grant in ("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}",
                      "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {}",
                      "GRANT USAGE, CREATE ON SCHEMA public TO {}"):
            admin.execute(sql.SQL(grant).format(ident))
    yield role
    with psycopg.connect(fresh_db.conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("REVOKE SET ON PARAMETER session_replication_role FROM {}"
                              ).format(ident))
        admin.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        admin.execute(sql.SQL("DROP ROLE {}").format(ident))


def _batch(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("INSERT INTO load_batches (layer, source_path) VALUES "
                            "('buildings', 't') RETURNING id").fetchone()[0]


def test_a_role_without_the_grant_keeps_the_checks(fresh_db, loader_role):
    batch = _batch(fresh_db.conninfo)
    with psycopg.connect(fresh_db.conninfo + f" user={loader_role}") as conn:
        assert skip_fk_checks(conn, "buildings", batch) is False
        assert conn.execute("SHOW session_replication_role").fetchone()[0] == "origin"
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(INSERT_ORPHAN, (batch + 1000,))


def test_a_role_granted_the_parameter_skips_them_and_loads(fresh_db, loader_role, tmp_path):
    with psycopg.connect(fresh_db.conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("GRANT SET ON PARAMETER session_replication_role TO {}").format(
            sql.Identifier(loader_role)))
    batch = _batch(fresh_db.conninfo)
    as_role = fresh_db.conninfo + f" user={loader_role}"
    with psycopg.connect(as_role) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                            ).fetchone()[0] is False  # premise
        assert skip_fk_checks(conn, "buildings", batch) is True
        assert conn.execute("SHOW session_replication_role").fetchone()[0] == "replica"
        # its own batch row is held FOR KEY SHARE, as each check would have held it
        conn.rollback()
    # a real load by that role: every row names its batch, which exists
    r = load_buildings(as_role, fresh_db.profile, _buildings(tmp_path / "b.gpkg", 60))
    assert (r.read, r.loaded) == (60, 60)
    assert fresh_db.scalar(
        "SELECT count(*) FROM buildings b JOIN load_batches l ON l.id = b.batch_id "
        "WHERE l.status = 'succeeded' AND l.id = %s", (r.batch_id,)) == 60
