"""Run Alembic migrations programmatically (``cim db upgrade``/``downgrade``).

The revisions live in ``cim/db/migrations/versions``; there is no ``alembic.ini``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config

from cim.db.engine import psycopg_conninfo
from cim.db.layer_styles import rekey_layer_styles
from cim.db.map_views import drop_map_views
from cim.db.roles import ReaderRole, ensure_reader
from cim.db.search_path import postgis_problem, search_path_remedy
from cim.errors import ConfigError, DatabaseError, InputError

# the migrations are package data (cim/db/migrations), so an installed package migrates too
MIGRATIONS = Path(str(resources.files("cim.db") / "migrations"))


def alembic_config(url: str, srid: int) -> Config:
    """Alembic's configuration, built in code: no alembic.ini (the URL and the storage SRID
    come from the caller, which the plain ``alembic`` command could not give)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    cfg.attributes["srid"] = srid
    return cfg


def stored_srid(url: str) -> int | None:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        has = conn.execute("SELECT to_regclass('cim_properties') IS NOT NULL").fetchone()[0]
        if not has:
            return None
        row = conn.execute(
            "SELECT value FROM cim_properties WHERE key = 'storage_srid'").fetchone()
        return int(row[0]) if row else None


def upgrade(url: str, srid: int, revision: str = "head",
            reader: ReaderRole | None = None) -> list[str]:
    """Migrate to ``revision``, then keep the services' read-only role in step (created if
    needed, SELECT on every table, statement timeout: :mod:`cim.db.roles`); returns the
    role's notes for the operator."""
    existing = stored_srid(url)
    if existing is not None and existing != srid:
        raise ConfigError(f"this database stores EPSG:{existing} but the profile asks for "
                          f"EPSG:{srid}; use a new database for another storage CRS")
    _check_database(url)
    _check_not_newer(url)
    cfg = alembic_config(url, srid)
    with _revision_named(revision):
        _check_revision(cfg, revision)  # (a typo refused before the views are dropped)
        if _pending(url, cfg, revision):
            # the planners' views (cim_map) depend on the columns they show: a migration that
            # changes or drops one would be refused by PostgreSQL; made again just below
            drop_map_views(psycopg_conninfo(url))
        with _views_kept(url):
            command.upgrade(cfg, revision)
    notes = ensure_reader(url, reader)  # the grants first: a refusal below keeps them
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        if note := rekey_layer_styles(conn):
            notes.append(note)
    from cim.db.revision import head_revision

    if current(url) == head_revision():  # "head", or the head named by its id
        _check_tables(url)
    return notes


def _check_tables(url: str) -> None:
    """Every declared layer has its table once the database is at head: a layer declared in
    ``cim/layerdefs.py`` (or a room's ``RESULT_LAYERS``) without the migration that makes its
    table migrated "successfully", and the commands reading every layer then failed with an
    internal error (``profile apply`` half-way, after committing the districts)."""
    from cim.layerdefs import declared_layers

    tables = [ld.table for ld in declared_layers().values()]
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        missing = [t for t, there in conn.execute(
            "SELECT t, to_regclass(t) IS NOT NULL FROM unnest(%s::text[]) AS t",
            (tables,)).fetchall() if not there]
    if missing:
        raise ConfigError(
            f"declared layer table(s) {', '.join(missing)} are made by no migration: a new "
            "layer needs one (README, Architecture: adding a layer) — the database is at the "
            "newest revision otherwise")


def downgrade(url: str, srid: int, revision: str = "base") -> None:
    """Migrate down to ``revision`` (the planners' views dropped first, as for an upgrade;
    the next upgrade makes them again)."""
    _check_database(url)
    _check_not_newer(url)
    with _revision_named(revision):
        _check_revision(alembic_config(url, srid), revision)
        drop_map_views(psycopg_conninfo(url))
        with _views_kept(url):
            command.downgrade(alembic_config(url, srid), revision)


def _check_not_newer(url: str) -> None:
    """A database a newer release migrated: its revision is none this platform knows, and
    Alembic said only "Can't locate revision" of a revision the user never gave."""
    from cim.db.revision import newer_problem

    problem = newer_problem(current(url))
    if problem:
        raise DatabaseError(problem)


@contextmanager
def _views_kept(url: str) -> Iterator[None]:
    """The planners' views made again when a migration fails after they were dropped (a
    relative step past either end: the views were gone until an upgrade succeeded)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):  # the migration's own error is what is reported
            _views_again(url)
        raise


def _views_again(url: str) -> None:
    """The planners' views and their grants made again for the planners' role, if it exists
    (no role is created on a failure's path)."""
    from cim.db.map_views import _ensure_views
    from cim.db.roles import ReaderRole

    name = ReaderRole.planner_from_env().name
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            _ensure_views(conn, name)


@contextmanager
def _revision_named(revision: str) -> Iterator[None]:
    """Alembic's refusal of a revision (unknown, past either end, not below the current one)
    as bad input naming it: it was an internal error."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError as exc:
        raise InputError(f"revision {revision!r}: {exc}", field="revision") from None


def _check_revision(cfg: Config, revision: str) -> None:
    """An unknown revision refused before anything is dropped (``base`` and relative steps
    are Alembic's to judge)."""
    from alembic.script import ScriptDirectory

    if revision in ("base", "head", "heads") or re.search(r"[+-]\d+$", revision):
        return  # relative (-1, +2, head-1, REV-1): Alembic resolves it
    ScriptDirectory.from_config(cfg).get_revision(revision)  # CommandError if unknown


def _check_database(url: str) -> None:
    """What the migrations need of the database, said before they run: PostGIS (a user who
    may not create extensions got an internal error from the first migration), and the
    platform's schema ``public`` first on the search path (a role whose search_path put
    another schema first got its tables there, where the read-only role's grants, the
    services and the QGIS project never look: the server published nothing, unsaid)."""
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        user, schema, has, may = conn.execute(
            "SELECT current_user, current_schema(), EXISTS (SELECT 1 FROM pg_extension "
            "WHERE extname = 'postgis'), (SELECT rolsuper FROM pg_roles WHERE rolname = "
            "current_user) OR has_database_privilege(current_database(), 'CREATE')"
        ).fetchone()
        if schema != "public":
            first = f"schema {schema!r} first" if schema else "no schema it can use"
            raise ConfigError(
                f"the database user {user!r} has {first} on its search_path "
                "(ALTER ROLE … SET search_path, or the database's): the platform keeps its "
                "tables in schema public, where its read-only role, services and QGIS project "
                f"read them. Ask a DBA to run: {search_path_remedy(conn)}")
        if has and (problem := postgis_problem(conn)):
            raise DatabaseError(problem)
        if not has:
            trusted = conn.execute(
                "SELECT coalesce(bool_or(trusted), false) FROM pg_available_extension_versions "
                "WHERE name = 'postgis'").fetchone()[0]
            if not (may and trusted) and not conn.execute(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
                raise DatabaseError(
                    f"the database has no PostGIS and {user!r} may not create it: ask a DBA "
                    "to run once, in this database: CREATE EXTENSION postgis; then run `cim db "
                    "upgrade` again")

def _pending(url: str, cfg: Config, revision: str) -> bool:
    """Whether upgrading to ``revision`` runs any migration (a database at the head already
    keeps its views: ``make demo`` upgrades on every start)."""
    from alembic.script import ScriptDirectory

    if revision != "head":
        return True
    return current(url) != ScriptDirectory.from_config(cfg).get_current_head()


def current(url: str) -> str | None:
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        has = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]
        if not has:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def fresh_database(server: str, name: str, srid: int) -> str:
    """(Re)create database ``name`` on the server of ``server`` with PostGIS and the schema at
    head; return its URL. For tests and benchmarks, which must not touch the platform's data."""
    from sqlalchemy.engine import make_url

    from cim.db.engine import drop_database, ensure_database

    drop_database(server, name)
    ensure_database(server, name)
    url = make_url(server).set(database=name, drivername="postgresql+psycopg") \
        .render_as_string(hide_password=False)
    upgrade(url, srid)
    return url
