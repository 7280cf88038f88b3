"""Whether a database's schema is the one this platform's code writes, told cheaply enough for
every load: a load into a database a release's migration has not reached (the code updated, `cim
db upgrade` forgotten — a cron job goes on loading) wrote rows of the old shape; before 0017, a
second current feature beside each old one. Alembic's own head costs half a second to import
and read; the revisions' files are numbered, so the newest file's name is the head
(tests/test_db.py holds the two equal)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import psycopg

from cim.errors import DatabaseError

VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"


@functools.cache
def head_revision() -> str:
    """The newest revision of the platform's migrations (``0017_id_form_source_keys``)."""
    return max(p.stem for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _number(revision: str) -> int:
    m = re.match(r"\d+", revision)
    return int(m.group()) if m else -1


def newer_problem(revision: str | None) -> str | None:
    """What is wrong when the database is at ``revision`` of a release newer than this
    platform (a revision past its newest): `cim db upgrade` cannot help, and said so."""
    head = head_revision()
    if revision is None or _number(revision) <= _number(head):
        return None
    return (f"the database is at revision {revision}, newer than this platform's newest "
            f"({head}): a newer release migrated it — run that release (upgrade the "
            "platform); `cim db upgrade` cannot take it back")


def check_revision(conn: psycopg.Connection) -> None:
    """DatabaseError (exit 4) naming both revisions unless the database is at the head."""
    there, schema, geometry = conn.execute(
        "SELECT to_regclass('alembic_version') IS NOT NULL, current_schema(), "
        "to_regtype('geometry') IS NOT NULL").fetchone()
    if schema != "public" or not geometry:
        # the tables or PostGIS out of the role's sight: said so, not "no CIM schema" of a
        # database at head, nor PostGIS's "function … does not exist" half-way through a load
        from cim.db.search_path import postgis_problem, search_path_remedy

        first = f"schema {schema!r}" if schema else "no schema it can use"
        problem = postgis_problem(conn) if schema == "public" else (
            f"the database user's search_path puts {first} first, not public where the "
            f"platform's tables are: ask a DBA to run: {search_path_remedy(conn)}")
        if problem:
            raise DatabaseError(problem)
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone() if there else None
    head = head_revision()
    if row is None or row[0] != head:
        newer = newer_problem(row[0] if row else None)
        if newer:
            raise DatabaseError(newer)
        where = f"is at revision {row[0]}" if row else "has no CIM schema"
        raise DatabaseError(f"the database {where}, the platform needs {head}: run "
                            "`cim db upgrade`")
