"""Where a layer's codes are registered: the partitions of ``code_registry`` (migration 0011).

A layer's codes live in the default partition until a large first load gives the layer a
partition of its own (:class:`NewPartition`): a second connection of the load creates a table
beside the registry, COPYs the codes into it ``FREEZE`` (created in the same transaction: its
rows are written frozen and all-visible, never vacuumed later), builds its two unique indexes
once the rows are in — while the load's own connection builds the layer's — and commits it
unattached; the load attaches it just before its own commit. Building the indexes after the
rows costs a third of maintaining them row by row (1M codes: ~2.7 s of the server instead of
~5–6 s), what :mod:`loaders.engine.indexes` does for the layer itself.

Readers are never blocked by it: until the load's commit the registry serves as before (the
new table is no partition of it). ``ATTACH PARTITION`` takes the parent's SHARE UPDATE
EXCLUSIVE lock (readers and writers of other layers go on) and the default partition's ACCESS
EXCLUSIVE lock while it checks that the default holds no code of the layer, from the attach to
the commit — the last statements of the load. If that lock is not granted within half a
second (a long transaction uses the default partition: another load; two first loads
attaching at once, which the server may report as a deadlock) or the default gained a code of
the layer meanwhile, the codes go into the registry the ordinary way instead (``INSERT …
SELECT``, as fast as a COPY through the indexes), so a first load never waits on a stranger
and never fails for this.
"""

from __future__ import annotations

import logging
import queue
import re
import threading

import psycopg
from psycopg import sql

from cim.errors import CodeError

LOG = logging.getLogger("cim.coding.registry")
PARENT = "code_registry"
DEFAULT = "code_registry_default"
COLUMNS = ["code", "layer", "source_key", "district_code", "class_code", "batch_id"]
#: how long a first load waits for the locks of attaching its partition before it writes its
#: codes through the registry's indexes instead: under the server's deadlock_timeout (1 s),
#: so that a transaction queued behind the attach (and holding what it waits for) is let go
#: by the attach giving up, not by the deadlock detector aborting one of them
ATTACH_LOCK_TIMEOUT = "500ms"
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


def drop_leftover(conn: psycopg.Connection, layer: str) -> None:
    """Drop the table a first load of ``layer`` that died left (under the layer's merge lock,
    in the load's transaction): once the layer has codes the ordinary way, no first load comes
    to drop it, and it stayed for good in every planner's table list. A table of that name
    that is the layer's attached partition is kept."""
    name = partition_name(layer)
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0] and \
            partition_of(conn, layer) == DEFAULT:
        try:
            with conn.transaction():  # a savepoint: a table of another owner stays, unharmed
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege:
            LOG.warning("%s, left by a load that died, belongs to another role: not dropped",
                        name)


class NewPartition:
    """A layer's first codes, written into a partition of their own (see the module) on a
    connection of their own, beside the load.

    The table is created, filled (``COPY … FREEZE``) and indexed by a second connection in
    a thread of the load's process, and committed unattached: the server builds its indexes
    while the load's own connection builds the layer's (1M codes: ~1.3–2.4 s less than one
    after the other, on 2 cores). Until the load's transaction attaches it, no reader looks at
    it (the registry is ``code_registry``); a load that fails drops it, and one that died
    leaves it for the layer's next load to drop (under the layer's merge lock no other load
    of the layer can own it)."""

    def __init__(self, conninfo: str, layer: str) -> None:
        self.layer = layer
        self.table = partition_name(layer)
        self.conninfo = conninfo
        self.attached: bool | None = None  # None: not yet; False: written the ordinary way
        self.analyzed = False  # its statistics gathered (after its commit, before the attach)
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None
        self._abort = False

    @classmethod
    def start(cls, conn: psycopg.Connection, conninfo: str, layer: str) -> NewPartition | None:
        """Under the layer's merge lock, inside the load's transaction: begin the layer's own
        partition if the layer has no code yet and the role may create tables (else None: the
        codes go into the registry)."""
        if partition_of(conn, layer) != DEFAULT:
            return None
        if has_codes(conn, layer):
            drop_leftover(conn, layer)
            return None
        part = cls(conninfo, layer)
        other = psycopg.connect(conninfo, application_name="cim-load-registry",
                                autocommit=True)
        try:
            if other.execute("SELECT to_regclass(%s) IS NOT NULL", (part.table,)).fetchone()[0]:
                # not a partition (partition_of said so): left by a load that died. Dropped
                # at once (a drop in the load's transaction would hold the name until its
                # commit, and the CREATE below would wait for it)
                other.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(part.table)))
            other.autocommit = False
            other.execute(sql.SQL(
                "CREATE TABLE {t} (LIKE code_registry INCLUDING DEFAULTS, "
                "CONSTRAINT {c} CHECK (layer = {layer}))").format(
                    t=sql.Identifier(part.table),
                    c=sql.Identifier(f"{part.table}_layer_check"), layer=sql.Literal(layer)))
        except BaseException as exc:
            other.close()
            if isinstance(exc, psycopg.errors.InsufficientPrivilege):
                return None
            raise
        part._conn = other
        part._thread = threading.Thread(target=part._fill, name="cim-registry", daemon=True)
        part._thread.start()
        return part

    def _fill(self) -> None:
        """The thread: COPY each buffer (binary rows of :data:`COLUMNS`) into the table, then
        index it and commit."""
        conn = self._conn
        assert conn is not None
        copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY, FREEZE)").format(
            sql.Identifier(self.table), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
        ended = False  # the end of the codes (None) taken from the queue
        try:
            while (data := self._queue.get()) is not None:
                with conn.cursor().copy(copy) as cp:
                    for part in data:
                        cp.write(part)
            ended = True
            if self._abort:
                conn.rollback()
                return
            t = sql.Identifier(self.table)
            conn.execute("SET maintenance_work_mem = '512MB'")
            # one process: the load's connection builds the layer's GiST index meanwhile (one
            # process too); parallel workers here took its core
            conn.execute("SET max_parallel_maintenance_workers = 0")
            conn.execute(sql.SQL("CREATE UNIQUE INDEX {} ON {} (code)").format(
                sql.Identifier(f"{self.table}_code_uq"), t))
            # a constraint, as the parent's, in its column order (migration 0012: the key
            # first, the one layer after it — led by the layer, every comparison of the build
            # compared equal names first, twice the time): a plain unique index would not
            # match it and the attach would build another
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE (source_key, layer)"
                                 ).format(t, sql.Identifier(f"{self.table}_layer_source_uq")))
            conn.commit()
            # its statistics here too, while the load's connection still builds the layer's
            # indexes (the next load's anti-join of registry and layer needs them). After the
            # commit, and after this backend has reported its inserts (PostgreSQL 15 reports
            # them once a second, or when asked): counted after the ANALYZE, they would stand
            # as changed since, and autovacuum would analyse the table again. Written frozen,
            # it needs no VACUUM.
            if conn.info.server_version >= 150000:
                conn.execute("SELECT pg_stat_force_next_flush()")
                conn.commit()  # reported as the backend goes idle, before the ANALYZE
            conn.execute(sql.SQL("ANALYZE {}").format(t))
            conn.commit()
            self.analyzed = True
        except BaseException as exc:  # noqa: BLE001 - raised in the load's thread
            self._error = exc
            # let a waiting write() go on to its error; once the end was taken, nothing more
            # comes (waiting for it hung the load's attach)
            while not ended and self._queue.get() is not None:
                pass

    def write(self, *parts: bytes | bytearray | memoryview) -> None:
        """Queue one COPY's binary data (header, rows, trailer) for the table."""
        if self._error is not None:
            raise self._error
        self._queue.put(parts)

    def finish(self) -> None:
        """Every code is queued: the table's indexes are built now, beside the load's."""
        self._queue.put(None)

    def attach(self, conn: psycopg.Connection) -> bool:
        """In the load's transaction, its last statements before the commit: attach the
        committed table; True if attached, False if its codes went into the registry the
        ordinary way."""
        self._join()
        t = sql.Identifier(self.table)
        before = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('lock_timeout', %s, true)",
                             (ATTACH_LOCK_TIMEOUT,))
                conn.execute(sql.SQL("ALTER TABLE code_registry ATTACH PARTITION {} "
                                     "FOR VALUES IN ({})").format(t, sql.Literal(self.layer)))
            self.attached = True
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected,
                psycopg.errors.CheckViolation):
            # another first load attaching at the same moment: each holds the default
            # partition the other's attach waits for, and the server breaks the cycle
            conn.execute(sql.SQL("INSERT INTO code_registry SELECT * FROM {}").format(t))
            conn.execute(sql.SQL("DROP TABLE {}").format(t))
            self.attached = False
        finally:
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (before,))
        return self.attached

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """The load failed: stop the thread and drop the table (if it was committed)."""
        if self._thread is not None:
            self._abort = True
            self._queue.put(None)
        try:
            self._join()
        except BaseException:  # noqa: BLE001 - the load's own error is what is reported
            pass
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as c:
                if not c.execute("SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = "
                                 "to_regclass(%s))", (self.table,)).fetchone()[0]:
                    c.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier(self.table)))
        except psycopg.Error:
            pass  # the layer's next load drops it
