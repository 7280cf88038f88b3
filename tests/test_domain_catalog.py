"""The catalog says which published columns hold dates and timestamps (JSON Schema format
``date`` / ``date-time`` beside type ``string``): the queryables and the items path's CQL2
read that one source. Expected: the types the test table is created with."""

from __future__ import annotations

import psycopg

from layers.catalog import published_columns

TABLE = "cim_test_domain_formats"


def test_published_columns_carry_date_formats(db):
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (id bigint, code text, d date, "
                     "ts timestamptz, tl timestamp, t time, n integer, x double precision)")
    try:
        got = {c.name: (c.json_type, c.json_format) for c in
               published_columns(db.conninfo, TABLE)}
    finally:
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {TABLE}")
    assert got == {"code": ("string", None), "d": ("string", "date"),
                   "ts": ("string", "date-time"), "tl": ("string", "date-time"),
                   "t": ("string", None), "n": ("integer", None), "x": ("number", None)}
