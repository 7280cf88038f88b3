"""A layer's indexes built after its initial load instead of maintained row by row.

Maintaining a GiST index and two btrees while a million rows are COPYed costs the server about
five times the COPY itself (docs/benchmarks.md: 1M footprints 2.8 s bare, 28 s with the
layer's three indexes); building them once the rows are in costs a few seconds (the GiST index
by sorting). That is what ogr2ogr does. A plain ``DROP INDEX`` in the load's transaction would
lock readers out until the commit, so the indexes go only when it costs nobody anything:

- the layer's table holds no row at all (no current feature, no history) and the input is large
  (:data:`DEFAULT_MIN_ROWS` features, ``CIM_LOAD_INDEX_AFTER``);
- the load's connection takes the layer's merge lock for its session first (the same key its
  transaction takes: no other load can write the layer until this one's connection closes),
  checks that the table is empty, and drops the indexes with ``DROP INDEX CONCURRENTLY``
  (which waits for readers instead of blocking them; only the removal of the empty index
  itself locks it, for an instant) before its transaction begins;
- the transaction COPYs the rows and ``CREATE INDEX`` es them before it commits: the SHARE lock
  that takes blocks writers, never a ``SELECT``; readers see the empty layer until the commit,
  then the loaded layer with its indexes;
- a load that fails rolls back to the empty table, and :func:`restore` creates the indexes
  again (instant on an empty table). A killed load cannot, so every load first restores
  whatever declared index its layer lacks (:func:`restore`, before its transaction and again
  once it holds the merge lock).

A role that may not drop the indexes (not the table's owner) loads with them, as before.
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

from cim.db.locks import MERGE_LOCK_SPACE
from cim.errors import ConfigError
from cim.layerdefs import Index, LayerDef

DEFAULT_MIN_ROWS = 100_000


def min_rows() -> int:
    """From how many input features an initial load builds the indexes after its rows."""
    value = os.environ.get("CIM_LOAD_INDEX_AFTER") or str(DEFAULT_MIN_ROWS)
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"CIM_LOAD_INDEX_AFTER must be a number of features, not "
                          f"{value!r}") from None


def create_statement(layer: LayerDef, ix: Index, *, if_not_exists: bool = False) -> sql.Composed:
    """The declared index as DDL (the migrations' definition, checked by cim.db.schema)."""
    return sql.SQL("CREATE {unique}INDEX {ine}{name} ON {table} USING {method} ({cols}){where}"
                   ).format(unique=sql.SQL("UNIQUE " if ix.unique else ""),
                            ine=sql.SQL("IF NOT EXISTS " if if_not_exists else ""),
                            name=sql.Identifier(ix.name(layer.table)),
                            table=sql.Identifier(layer.table), method=sql.SQL(ix.method),
                            cols=sql.SQL(", ").join(map(sql.Identifier, ix.columns)),
                            where=sql.SQL(" WHERE valid_to IS NULL" if ix.current_only else ""))


def missing(conn: psycopg.Connection, layer: LayerDef, *, invalid: bool = True
            ) -> list[Index]:
    """The declared indexes of ``layer`` its table lacks (a killed initial load), or holds
    invalid (``invalid``): a ``DROP INDEX CONCURRENTLY`` cancelled half-way leaves the index
    in the catalog, no longer used by any query (``indisvalid`` false)."""
    have = {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) AND (NOT %s OR i.indisvalid AND i.indisready)",
        (layer.table, invalid))}
    return [ix for ix in layer.indexes if ix.name(layer.table) not in have]


def restore(conn: psycopg.Connection, layer: LayerDef) -> list[str]:
    """Create the declared indexes ``layer``'s table lacks; the names of those created.

    On an autocommit connection (it takes the layer's merge lock for the session while it
    creates any) an invalid index (see :func:`missing`) is dropped concurrently and built
    again; inside a load's transaction, which holds the merge lock, only the absent ones are
    created (dropping an invalid one there would lock readers out until the commit: it is left
    for the next load's restore before its transaction). A role that may not drop an invalid
    index (not the table's owner) leaves it, as it loads with the indexes."""
    lost = missing(conn, layer, invalid=conn.autocommit)
    locked = bool(lost) and conn.autocommit
    if locked:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))",
                     (MERGE_LOCK_SPACE, layer.table))
        lost = missing(conn, layer)  # another load may have restored them meanwhile
    made = []
    try:
        for ix in lost:
            if conn.autocommit:
                try:
                    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                        sql.Identifier(ix.name(layer.table))))
                except psycopg.errors.InsufficientPrivilege:
                    continue  # an invalid index this role cannot replace: queries go without
            conn.execute(create_statement(layer, ix, if_not_exists=True))
            made.append(ix.name(layer.table))
    finally:
        if locked:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                         (MERGE_LOCK_SPACE, layer.table))
    return made


def restore_before_load(conn: psycopg.Connection, layer: LayerDef | None) -> list[str]:
    """On a load's fresh connection, before its transaction: what a killed initial load of
    the layer left without its indexes gets them back (one catalog query otherwise)."""
    if layer is None:
        return []
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    conn.autocommit = True
    try:
        return restore(conn, layer)
    finally:
        conn.autocommit = False


def drop_for_initial_load(conn: psycopg.Connection, layer: LayerDef,
                          feature_count: int | None) -> list[Index]:
    """Before the load's transaction, on its own connection (autocommit, no transaction
    open): drop the layer's indexes if the table is empty and the input large; the indexes
    dropped (to build with :func:`build`). Holds the merge lock for the connection's session."""
    if feature_count is None or feature_count < min_rows():
        return []
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    conn.autocommit = True
    dropped: list[Index] = []
    try:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))",
                     (MERGE_LOCK_SPACE, layer.table))
        empty = conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(
            sql.Identifier(layer.table))).fetchone()[0]
        if not empty:
            return []
        for ix in layer.indexes:
            try:
                conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    sql.Identifier(ix.name(layer.table))))
            except psycopg.errors.InsufficientPrivilege:
                break  # not the owner: load with the indexes (those dropped are built after)
            dropped.append(ix)
        return dropped
    except BaseException as exc:
        if dropped:  # a drop failed half-way (cancelled): those dropped back (an empty table)
            try:
                restore(conn, layer)
            except psycopg.Error as e:  # the drop's own error stays what is reported
                exc.add_note(f"the layer's indexes are restored by its next load ({e})")
        raise
    finally:
        conn.autocommit = False


def build(conn: psycopg.Connection, layer: LayerDef, dropped: list[Index]) -> None:
    """Inside the load's transaction, once every row is in: create the dropped indexes.

    The spatial ones first: PostgreSQL builds a GiST index in one process, a btree with
    parallel workers. Meanwhile a first load's registry partition builds its own btrees on
    its own connection (``cim.coding.registry.NewPartition``); the layer's btrees come after,
    when their workers have the cores to themselves. Btrees first left one core idle through
    most of the GiST build (1M footprints, 2 cores: docs/benchmarks.md).

    (The table's statistics are gathered after the commit: an ``ANALYZE`` inside the
    transaction is right, but the commit then counts the transaction's rows as modified since
    it, and autovacuum analyses the table again a minute later.)"""
    if not dropped:
        return
    conn.execute("SELECT set_config('maintenance_work_mem', '512MB', true) WHERE "
                 "pg_size_bytes(current_setting('maintenance_work_mem')) < 512 * 1024 * 1024")
    for ix in sorted(dropped, key=lambda ix: ix.method == "btree"):
        conn.execute(create_statement(layer, ix))


def never_written(conn: psycopg.Connection, layer: LayerDef) -> bool:
    """Whether the layer's table has never held a row, not even a dead one (its file is
    empty): after an initial load into it, every index but the primary key was built by the
    load and the key's entries are all live, so the VACUUM may skip its index pass
    (:func:`loaders.engine.pipeline.sql_analyze`). A table emptied by deletes, or by a
    refused load's rolled-back rows, keeps their dead entries until a VACUUM's index pass."""
    return conn.execute("SELECT pg_relation_size(to_regclass(%s)) = 0",
                        (layer.table,)).fetchone()[0] is True
