"""A migration that changes a column the planners' views show runs: PostgreSQL refuses to
alter a column a view depends on, so ``cim db upgrade`` drops the views (``cim_map``) before
migrating and makes them again after (cim.db.migrate.upgrade); a database at the head keeps
them untouched. A stand-in for a future migration (the code column widened) plays Alembic's
part; the database, the views and the refusal are real."""

from __future__ import annotations

import psycopg
import pytest

from cim.db import migrate
from cim.db.map_views import MAP_VIEW_SCHEMA
from tests.conftest import scratch_db

WIDEN = "ALTER TABLE cases ALTER COLUMN code TYPE varchar(30)"


def _view_code_type(conninfo: str) -> str | None:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attname = 'code'",
            (f"{MAP_VIEW_SCHEMA}.cases",)).fetchone()
    return row[0] if row else None


def test_a_migration_changing_a_shown_column_runs(jining_profile, monkeypatch):
    with scratch_db("views11", jining_profile, apply_profile=False) as d:
        assert _view_code_type(d.conninfo) == "character varying(24)"
        with psycopg.connect(d.conninfo) as conn, pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute(WIDEN)  # what a migration met before: the view holds the column

        head = migrate.current(d.url)
        ran = []

        def stand_in(cfg, revision):  # a future migration widening the column
            with psycopg.connect(d.conninfo) as conn:
                conn.execute(WIDEN)
            ran.append(revision)

        monkeypatch.setattr(migrate.command, "upgrade", stand_in)
        migrate.upgrade(d.url, d.profile.srid, revision=head)
        assert ran == [head]
        assert _view_code_type(d.conninfo) == "character varying(30)"  # made again

        # at the head: nothing to migrate, the views are left as they are (same oid)
        with psycopg.connect(d.conninfo) as conn:
            oid = conn.execute("SELECT to_regclass(%s)::oid",
                               (f"{MAP_VIEW_SCHEMA}.cases",)).fetchone()[0]
        monkeypatch.setattr(migrate.command, "upgrade", lambda cfg, revision: None)
        migrate.upgrade(d.url, d.profile.srid)
        with psycopg.connect(d.conninfo) as conn:
            assert conn.execute("SELECT to_regclass(%s)::oid",
                                (f"{MAP_VIEW_SCHEMA}.cases",)).fetchone()[0] == oid
