"""Compare a migrated database with the layer declarations (``cim.layerdefs``).

The migrations are frozen snapshots; the declarations are what the loaders, the writer and the
API read. A difference between the two (a column added to one and not the other, a narrower
type, a lost index, another SRID) would show up as a failed load or a slow query far from its
cause; :func:`schema_drift` names it instead, and a test runs it on a freshly migrated database.
"""

from __future__ import annotations

import re

import psycopg

from cim.layerdefs import BASE_COLUMNS, GEOMETRY_COLUMN, LAYERS, Column, LayerDef

# declared names → PostgreSQL's own spelling (format_type)
_CANONICAL = {"int2": "smallint", "int4": "integer", "int8": "bigint",
              "float8": "double precision", "timestamptz": "timestamp with time zone",
              "text[]": "text[]", "text": "text", "jsonb": "jsonb", "date": "date",
              "bool": "boolean"}
_CURRENT = "valid_to IS NULL"


def canonical_type(declared: str) -> str:
    m = re.fullmatch(r"varchar\((\d+)\)", declared)
    if m:
        return f"character varying({m.group(1)})"
    return _CANONICAL.get(declared, declared)


def expected_columns(layer: LayerDef) -> list[Column]:
    """Every column of the layer's table but the geometry, in table order."""
    return [*BASE_COLUMNS, *layer.columns]


def _db_columns(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, bool]]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum", (table,)).fetchall()
    return {name: (typ, notnull) for name, typ, notnull in rows}


def _db_indexes(conn: psycopg.Connection, table: str) -> tuple[dict[str, tuple], set[str]]:
    """name → (unique, method, columns, predicate) of the table's indexes but the primary key,
    and the names of those that are invalid (a build or a concurrent drop stopped half-way:
    no query uses them)."""
    rows = conn.execute(
        "SELECT c.relname, i.indisunique, am.amname, "
        " ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) "
        "       FROM generate_series(1, i.indnkeyatts) k), "
        " pg_get_expr(i.indpred, i.indrelid), i.indisvalid AND i.indisready "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam "
        "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisprimary", (table,)).fetchall()
    out, invalid = {}, set()
    for name, unique, method, cols, pred, valid in rows:
        pred = (pred or "").strip()
        while pred.startswith("(") and pred.endswith(")"):
            pred = pred[1:-1].strip()
        out[name] = (unique, method, tuple(cols), pred or None)
        if not valid:
            invalid.add(name)
    return out, invalid


def layer_drift(conn: psycopg.Connection, layer: LayerDef, srid: int) -> list[str]:
    """What differs between the table of ``layer`` and its declaration (empty: nothing)."""
    t = layer.table
    cols = _db_columns(conn, t)
    if not cols:
        return [f"{t}: the table is missing"]
    out = []
    declared = {c.name: c for c in expected_columns(layer)}
    for name, c in declared.items():
        if name not in cols:
            out.append(f"{t}.{name}: declared, not in the table")
            continue
        typ, notnull = cols[name]
        if typ != canonical_type(c.db_type):
            out.append(f"{t}.{name}: the table has {typ}, the declaration "
                       f"{canonical_type(c.db_type)}")
        if notnull != c.required:
            out.append(f"{t}.{name}: the table has {'NOT NULL' if notnull else 'NULL'}, the "
                       f"declaration {'required' if c.required else 'optional'}")
    for name in cols:
        if name not in declared and name != GEOMETRY_COLUMN:
            out.append(f"{t}.{name}: in the table, not declared")
    if GEOMETRY_COLUMN not in cols:
        out.append(f"{t}.{GEOMETRY_COLUMN}: declared, not in the table")
    else:
        gtype, gsrid, notnull = conn.execute(
            "SELECT upper(postgis_typmod_type(a.atttypmod)), postgis_typmod_srid(a.atttypmod), "
            "a.attnotnull FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) "
            "AND a.attname = %s", (t, GEOMETRY_COLUMN)).fetchone()
        if gtype != layer.geometry_type.upper():
            out.append(f"{t}.{GEOMETRY_COLUMN}: the table has {gtype}, the declaration "
                       f"{layer.geometry_type}")
        if gsrid != srid:
            out.append(f"{t}.{GEOMETRY_COLUMN}: SRID {gsrid}, the storage CRS is EPSG:{srid}")
        if not notnull:
            out.append(f"{t}.{GEOMETRY_COLUMN}: the table allows NULL geometries")
    found, invalid = _db_indexes(conn, t)
    for ix in layer.indexes:
        name = ix.name(t)
        want = (ix.unique, ix.method, ix.columns, _CURRENT if ix.current_only else None)
        if name not in found:
            out.append(f"{t}: index {name} is missing")
        elif name in invalid:
            out.append(f"{t}: index {name} is invalid (a build or drop stopped half-way; "
                       "a load of the layer builds it again)")
        elif found[name] != want:
            out.append(f"{t}: index {name} is {_describe(found[name])}, the declaration "
                       f"{_describe(want)}")
    for name in sorted(set(found) - {ix.name(t) for ix in layer.indexes}):
        out.append(f"{t}: index {name} ({_describe(found[name])}) is not declared")
    return out


def _describe(ix: tuple) -> str:
    unique, method, cols, pred = ix
    return (f"{'UNIQUE ' if unique else ''}{method} ({', '.join(cols)})"
            + (f" WHERE {pred}" if pred else ""))


def schema_drift(conninfo: str, srid: int) -> list[str]:
    """Every difference between the database's layer tables and ``cim.layerdefs``."""
    with psycopg.connect(conninfo) as conn:
        return [d for layer in LAYERS.values() for d in layer_drift(conn, layer, srid)]
