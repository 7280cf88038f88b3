"""QGIS's default-style table (``public.layer_styles``) as the database's own: kept keyed to it.

Written by ``cim styles apply`` (the platform's styles) and by planners in QGIS (their own);
here only what the database's life does to it — a restore under another name."""

from __future__ import annotations

import psycopg

# a row of the old name whose style this database has under its own name already (a
# `cim styles apply` run after the restore): the old one goes, not a second default
_DUPLICATES = """
DELETE FROM public.layer_styles o WHERE o.f_table_catalog IS DISTINCT FROM current_database()
AND EXISTS (SELECT 1 FROM public.layer_styles n WHERE n.f_table_catalog = current_database()
  AND n.f_table_schema IS NOT DISTINCT FROM o.f_table_schema
  AND n.f_table_name IS NOT DISTINCT FROM o.f_table_name
  AND n.f_geometry_column IS NOT DISTINCT FROM o.f_geometry_column
  AND n.stylename IS NOT DISTINCT FROM o.stylename AND n.type IS NOT DISTINCT FROM o.type)"""


def rekey_layer_styles(conn: psycopg.Connection) -> str | None:
    """QGIS's default styles (``public.layer_styles``) of a database restored under another
    name, keyed to it again: QGIS finds a layer's default style by the connection's database
    name, and rows naming the old one (every platform style, and the planners' own) left
    every layer added by hand unstyled — `cim styles apply` then wrote a second set beside
    them. A ``layer_styles`` of this database describes its tables only. None, or a note
    with what a DBA runs when the user may not change the table (QGIS made it as the
    planner who saved a style first)."""
    if not conn.execute("SELECT to_regclass('public.layer_styles') IS NOT NULL").fetchone()[0]:
        return None
    stale = conn.execute("SELECT count(*) FROM public.layer_styles WHERE f_table_catalog "
                         "IS DISTINCT FROM current_database()").fetchone()[0]
    if not stale:
        return None
    try:
        with conn.transaction():
            conn.execute(_DUPLICATES)
            conn.execute("UPDATE public.layer_styles SET f_table_catalog = current_database() "
                         "WHERE f_table_catalog IS DISTINCT FROM current_database()")
    except psycopg.errors.InsufficientPrivilege:
        db = conn.execute("SELECT current_database()").fetchone()[0]
        return (f"{stale} QGIS default style(s) in public.layer_styles name another database "
                "(a restore under another name?) and this user may not change the table: a "
                f"DBA runs: UPDATE public.layer_styles SET f_table_catalog = '{db}'")
    return None
