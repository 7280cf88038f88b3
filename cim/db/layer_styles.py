"""QGIS's default-style table (``public.layer_styles``) as the database's own: kept keyed to it.

Written by ``cim styles apply`` (the platform's styles) and by planners in QGIS (their own);
here only what the database's life does to it — a restore under another name."""

from __future__ import annotations

import psycopg


def rekey_layer_styles(conn: psycopg.Connection) -> int:
    """QGIS's default styles (``public.layer_styles``) of a database restored under another
    name, keyed to it again: QGIS finds a layer's default style by the connection's database
    name, and rows naming the old one (every platform style, and the planners' own) left
    every layer added by hand unstyled — `cim styles apply` then wrote a second set beside
    them. A ``layer_styles`` of this database describes its tables only. Returns the rows
    re-keyed (0 when the table is absent)."""
    if not conn.execute("SELECT to_regclass('public.layer_styles') IS NOT NULL").fetchone()[0]:
        return 0
    return conn.execute("UPDATE public.layer_styles SET f_table_catalog = current_database() "
                        "WHERE f_table_catalog IS DISTINCT FROM current_database()").rowcount
