"""Whether a role reaches the platform's tables and PostGIS where it looks for them: its search
path and its privileges on the schema a DBA installed PostGIS in.

A DBA may keep PostGIS in a schema of its own (``CREATE EXTENSION postgis SCHEMA postgis``
with the database's search_path naming it). A role without USAGE on that schema, or whose own
search_path leaves it out, found no ``geometry`` type: `cim db upgrade` failed with an internal
error, or said success and every load, query and QGIS project after it failed with "function
st_extent(postgis.geometry) does not exist"; the served read-only role failed inside the
server after its addresses were printed. Each is said here, once, with what a DBA runs."""

from __future__ import annotations

import psycopg


def postgis_schema(conn: psycopg.Connection) -> str | None:
    """The schema PostGIS is installed in (None: not installed)."""
    row = conn.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON "
                       "n.oid = e.extnamespace WHERE e.extname = 'postgis'").fetchone()
    return row[0] if row else None


def postgis_problem(conn: psycopg.Connection) -> str | None:
    """What keeps the connected role from PostGIS's types and functions, with what a DBA
    runs; None when it reaches them (or PostGIS is not installed: said elsewhere)."""
    row = conn.execute(
        "SELECT n.nspname, has_schema_privilege(n.oid, 'USAGE'), "
        "n.nspname = ANY(current_schemas(false)), current_user, current_database() "
        "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'postgis'").fetchone()
    if row is None:
        return None
    schema, usage, on_path, user, dbname = row
    if usage and on_path:
        return None
    if not usage:
        return (f"PostGIS is in schema {schema!r}, which the database user {user!r} may not "
                f"use: ask a DBA to run: GRANT USAGE ON SCHEMA \"{schema}\" TO \"{user}\"")
    return (f"PostGIS is in schema {schema!r}, which is not on the search_path of the "
            f"database user {user!r}: ask a DBA to run: ALTER ROLE \"{user}\" IN DATABASE "
            f"\"{dbname}\" SET search_path = public, \"{schema}\" (or put it on the "
            "database's search_path)")


def search_path_remedy(conn: psycopg.Connection) -> str:
    """What a DBA runs to put schema public first for the connected role: a per-database
    setting of the role outranks its own (``ALTER ROLE … RESET search_path`` left the
    refusal as it was), and the database's setting is the last."""
    user, dbname, per_db, own, db_wide = conn.execute(
        "SELECT current_user, current_database(), "
        "EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
        " WHERE d.datname = current_database() AND s.setrole = (SELECT oid FROM pg_roles "
        " WHERE rolname = current_user) AND EXISTS (SELECT 1 FROM unnest(s.setconfig) c "
        " WHERE c LIKE 'search\\_path=%')), "
        "EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setdatabase = 0 AND s.setrole = "
        " (SELECT oid FROM pg_roles WHERE rolname = current_user) AND EXISTS (SELECT 1 FROM "
        " unnest(s.setconfig) c WHERE c LIKE 'search\\_path=%')), "
        "EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
        " WHERE d.datname = current_database() AND s.setrole = 0 AND EXISTS (SELECT 1 FROM "
        " unnest(s.setconfig) c WHERE c LIKE 'search\\_path=%'))").fetchone()
    where = (f"ALTER ROLE \"{user}\" IN DATABASE \"{dbname}\"" if per_db else
             f"ALTER ROLE \"{user}\"" if own else
             f"ALTER DATABASE \"{dbname}\"" if db_wide else f"ALTER ROLE \"{user}\"")
    schema = postgis_schema(conn)
    extra = f", \"{schema}\"" if schema and schema != "public" else ""
    return (f"{where} RESET search_path (or SET search_path = public, \"$user\"{extra})"
            if not extra else f"{where} SET search_path = public, \"$user\"{extra}")
