"""Where a layer's codes are registered: the partitions of ``code_registry`` (migration 0011).

A layer's codes live in the default partition until a large first load gives the layer a
partition of its own (:class:`NewPartition`): the load creates a table beside the registry,
COPYs its codes into it ``FREEZE`` (created in the same transaction: no other transaction can
see it, so its rows are written frozen and all-visible, never vacuumed later), builds its two
unique indexes once the rows are in, and attaches it just before its commit. Building the
indexes after the rows costs a third of maintaining them row by row (1M codes: ~3.4 s of
the server instead of ~5–6 s), what :mod:`loaders.engine.indexes` does for the layer itself.

Readers are never blocked by it: until the commit the table is invisible and the registry
serves as before. ``ATTACH PARTITION`` takes the parent's SHARE UPDATE EXCLUSIVE lock (readers
and writers of other layers go on) and the default partition's ACCESS EXCLUSIVE lock while it
checks that the default holds no code of the layer, from the attach to the commit — the last
statements of the load. If that lock is not granted soon (a long transaction uses the default
partition: another load) or the default gained a code of the layer meanwhile, the codes go
into the registry the ordinary way instead (``INSERT … SELECT``, as fast as a COPY through the
indexes), so a first load never waits on a stranger and never fails for this.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from cim.errors import CodeError

PARENT = "code_registry"
DEFAULT = "code_registry_default"
COLUMNS = ["code", "layer", "source_key", "district_code", "class_code", "batch_id"]
#: how long a first load waits for the locks of attaching its partition before it writes its
#: codes through the registry's indexes instead
ATTACH_LOCK_TIMEOUT = "2s"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,44}$")


def partition_name(layer: str) -> str:
    """The table of ``layer``'s own partition."""
    if not _NAME.match(layer) or layer == "default":
        raise CodeError(f"layer name {layer!r} cannot name a code registry partition")
    return f"{PARENT}_{layer}"


def partition_of(conn: psycopg.Connection, layer: str) -> str:
    """The partition that holds ``layer``'s codes: its own, else the default."""
    own = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass AND pg_get_expr(c.relpartbound, c.oid) = "
        "format('FOR VALUES IN (%%L)', %s::text)", (PARENT, layer)).fetchone()
    return own[0] if own else DEFAULT


def has_codes(conn: psycopg.Connection, layer: str) -> bool:
    """Whether the registry holds any code of ``layer``."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM code_registry WHERE layer = %s)",
                        (layer,)).fetchone()[0]


class NewPartition:
    """A layer's first codes, written into a partition of their own (see the module)."""

    def __init__(self, conn: psycopg.Connection, layer: str) -> None:
        self.conn = conn
        self.layer = layer
        self.table = partition_name(layer)
        self.attached: bool | None = None  # None: not yet; False: written the ordinary way

    @classmethod
    def start(cls, conn: psycopg.Connection, layer: str) -> NewPartition | None:
        """Create the table inside the load's transaction, if the layer has no code yet and
        the connection may create tables (else None: the codes go into the registry)."""
        if partition_of(conn, layer) != DEFAULT or has_codes(conn, layer):
            return None
        part = cls(conn, layer)
        try:
            with conn.transaction():
                conn.execute(sql.SQL(
                    "CREATE TABLE {t} (LIKE code_registry INCLUDING DEFAULTS, "
                    "CONSTRAINT {c} CHECK (layer = {layer}))").format(
                        t=sql.Identifier(part.table),
                        c=sql.Identifier(f"{part.table}_layer_check"),
                        layer=sql.Literal(layer)))
        except psycopg.errors.InsufficientPrivilege:
            return None
        return part

    def copy_statement(self) -> sql.Composed:
        """COPY of the codes into the new table (binary, ``REGISTRY COLUMNS`` order)."""
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY, FREEZE)").format(
            sql.Identifier(self.table), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))

    def attach(self) -> bool:
        """Index the table and attach it (the load's last statements before its commit);
        True if attached, False if its codes went into the registry the ordinary way."""
        conn, t = self.conn, sql.Identifier(self.table)
        conn.execute("SELECT set_config('maintenance_work_mem', '512MB', true) WHERE "
                     "pg_size_bytes(current_setting('maintenance_work_mem')) < 512 * 1024 * 1024")
        conn.execute(sql.SQL("CREATE UNIQUE INDEX {} ON {} (code)").format(
            sql.Identifier(f"{self.table}_code_uq"), t))
        # a constraint, as the parent's: a plain unique index would not match it and the
        # attach would build another
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE (layer, source_key)"
                             ).format(t, sql.Identifier(f"{self.table}_layer_source_uq")))
        before = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('lock_timeout', %s, true)",
                             (ATTACH_LOCK_TIMEOUT,))
                conn.execute(sql.SQL("ALTER TABLE code_registry ATTACH PARTITION {} "
                                     "FOR VALUES IN ({})").format(t, sql.Literal(self.layer)))
            self.attached = True
        except (psycopg.errors.LockNotAvailable, psycopg.errors.CheckViolation):
            conn.execute(sql.SQL("INSERT INTO code_registry SELECT * FROM {}").format(t))
            conn.execute(sql.SQL("DROP TABLE {}").format(t))
            self.attached = False
        finally:
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (before,))
        return self.attached
