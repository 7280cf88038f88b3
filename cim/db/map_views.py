"""The planners' views in schema ``cim_map``: a layer's published columns and the map's rows.

A layer declaring columns the services never publish (``LayerDef.unpublished``: a case's free
text, address and detail) is read by the planners' role (:func:`cim.db.roles.ensure_planner`)
through a view, not its table: QGIS reads every column of a table it opens, so a column grant
left the layer invalid, and a view of the published columns and the open rows is what the map
shows anyway. Apart from the roles because the views are schema objects with their own life:
made from the declarations on each ``cim db upgrade``, dropped before a migration
(:func:`drop_map_views`: PostgreSQL refuses to alter a column a view shows), and named by the
QGIS project (``layers.qgis.project`` sources a layer from ``cim_map.<table>``).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

# the schema of the planners' views (:func:`map_views`): a view has its layer's table name, so
# QGIS's layer and the styles' table names stay what they were; owned by the migrating user
MAP_VIEW_SCHEMA = "cim_map"


def map_views() -> dict[str, tuple[frozenset[str], str | None]]:
    """The result layers the planners read through a view, by table: those declaring
    unpublished columns (``LayerDef.unpublished``: a case's free text, address, JSON detail),
    with those columns and the map's condition (``LayerDef.map_where``: the open cases).
    From the declarations, so a layer declared later with unpublished columns is covered on
    the next ``cim db upgrade``. Column grants were not the answer: QGIS reads every column of
    a table it opens, and opened the layer as invalid."""
    from cim.layerdefs import declared_layers

    return {d.table: (d.unpublished, d.map_where) for d in declared_layers().values()
            if d.unpublished}


def _view_sql(conn: psycopg.Connection, table: str, hidden: frozenset[str],
              where: str | None) -> sql.Composed | None:
    """The definition of ``table``'s planners' view: every column of the table but ``hidden``
    (in table order: the bookkeeping ``valid_to`` the project's subset reads stays), the
    current rows the one map shows. None when the table is not there (yet)."""
    cols = [c for c, in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum", (f'public."{table}"',))]
    cols = [c for c in cols if c not in hidden]
    if not cols:
        return None
    cond = "valid_to IS NULL" + (f" AND ({where})" if where else "")
    # security_barrier: a planner's own (temporary) function in a filter cannot see the rows
    # the view's condition leaves out before the condition has
    return sql.SQL("CREATE VIEW {}.{} WITH (security_barrier) AS SELECT {} FROM public.{} "
                   "WHERE {}").format(
        sql.Identifier(MAP_VIEW_SCHEMA), sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier(table),
        sql.SQL(cond))


def _ensure_views(conn: psycopg.Connection, name: str) -> tuple[list[str], list[str]]:
    """Inside the caller's transaction: the planners' views of :func:`map_views` as their
    declarations and tables say now (each one's definition kept in its comment: one that
    matches is left alone, one that differs — a column added by a migration, a changed map
    condition — is made again, a view no layer declares any more is dropped), SELECT on them
    for ``name``. Returns (tables read through a view, notes)."""
    ident = sql.Identifier(name)
    schema = sql.Identifier(MAP_VIEW_SCHEMA)
    wanted: dict[str, str] = {}
    for table, (hidden, where) in map_views().items():
        stmt = _view_sql(conn, table, hidden, where)
        if stmt is not None:
            wanted[table] = stmt.as_string(conn)
    if not wanted:
        return [], []
    try:
        with conn.transaction():
            # two upgrades of one database at once: one makes the views, then the other sees them
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (MAP_VIEW_SCHEMA,))
            if conn.execute("SELECT to_regnamespace(%s) IS NULL",
                            (MAP_VIEW_SCHEMA,)).fetchone()[0]:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            conn.execute("SET LOCAL search_path = public")  # a map condition's own tables
            have = dict(conn.execute(
                "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "AND c.relkind = 'v'", (MAP_VIEW_SCHEMA,)).fetchall())
            for table in have:
                if have[table] != wanted.get(table):
                    conn.execute(sql.SQL("DROP VIEW {}.{}").format(schema,
                                                                   sql.Identifier(table)))
            missing: list[str] = []
            for table, definition in wanted.items():
                if have.get(table) != definition:
                    # each view on its own: a table a failed migration left without a column
                    # its map condition names (cases.final before 0018) loses its view, not
                    # every planners' view with it
                    try:
                        with conn.transaction():
                            conn.execute(definition)
                            conn.execute(sql.SQL("COMMENT ON VIEW {}.{} IS {}").format(
                                schema, sql.Identifier(table), sql.Literal(definition)))
                    except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable,
                            psycopg.errors.UndefinedFunction) as exc:
                        missing.append(f"{table} ({str(exc).strip().splitlines()[0]})")
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(
                schema, ident))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
            for table in wanted:
                if any(m.startswith(f"{table} (") for m in missing):
                    continue  # (closed: the table stays out of the planner's reach)
                conn.execute(sql.SQL("GRANT SELECT ON {}.{} TO {}").format(
                    schema, sql.Identifier(table), ident))
    except psycopg.errors.InsufficientPrivilege as exc:
        # the tables stay out of the planner's reach (not granted): closed, not open
        return list(wanted), [
            f"cannot keep the planners' views of {', '.join(wanted)} in schema "
            f"{MAP_VIEW_SCHEMA} ({str(exc).strip()}): {name!r} cannot read those layers; the "
            f"database's owner runs `cim db upgrade`, or a DBA runs once: CREATE SCHEMA "
            f"{MAP_VIEW_SCHEMA} AUTHORIZATION {_me(conn)}"]
    return list(wanted), [f"the planners' view of {m} cannot be made: run `cim db upgrade` "
                          "to the newest revision" for m in missing]


def _me(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT current_user").fetchone()[0]


def drop_map_views(conninfo: str) -> None:
    """Drop the planners' views: a migration that changes or drops a column they show is
    refused by PostgreSQL while they depend on it; ``cim db upgrade`` makes them again after
    migrating (:func:`cim.db.roles.ensure_planner`)."""
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        for view, in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind = 'v'", (MAP_VIEW_SCHEMA,)).fetchall():
            conn.execute(sql.SQL("DROP VIEW {}.{}").format(sql.Identifier(MAP_VIEW_SCHEMA),
                                                           sql.Identifier(view)))
