"""A small thread-safe psycopg connection pool, one per worker process.

``psycopg_pool`` is not a dependency, and the items path needs little: a bounded set of
autocommit connections (one per gunicorn thread) kept open so that psycopg's per-connection
prepared statements are reused (``prepare_threshold``: the items SQL texts are constant, so
after the first executions PostgreSQL plans them once per connection). A connection that
failed or was left in a transaction is closed rather than returned. The pool remembers the
process that made it: after a fork (gunicorn ``--preload``) a child never uses the parent's
sockets.

A database restart leaves every idle connection dead, and each failed one request (a 503)
the first time it was lent after the restart. A connection idle longer than :data:`IDLE_PING_S`
is asked ``SELECT 1`` before it is lent (one round trip, only after a pause), and a broken one
takes the other idle ones with it: they were opened to the same server.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus

IDLE_PING_S = 1.0
# the messages of a catalog changed under a kept connection (objects dropped and made again:
# PostGIS recreated by `pg_restore --clean`), not of a query's own error
STALE_CATALOG = re.compile(r"cache lookup failed|no spatial operator found|could not open "
                           r"relation with OID|type with OID \d+ does not exist|operator "
                           r"class .* does not exist")


class PoolTimeout(TimeoutError):
    """Every connection of the pool stayed in use past its timeout: the database is slow or
    hangs (answered 503: services.guard.database_away)."""


class Pool:
    """At most ``size`` connections to ``conninfo``; :meth:`connection` lends one."""

    def __init__(self, conninfo: str, size: int, prepare_threshold: int | None = 1,
                 timeout: float = 30.0) -> None:
        self.conninfo = conninfo
        self.size = size
        self.prepare_threshold = prepare_threshold
        self.timeout = timeout
        # (connection, when it was given back)
        self._idle: queue.LifoQueue[tuple[psycopg.Connection, float]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._pid = os.getpid()

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.conninfo, autocommit=True,
                               application_name="cim-serve")
        conn.prepare_threshold = self.prepare_threshold
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if os.getpid() != self._pid:  # forked: start afresh, never share the parent's sockets
            self.__init__(self.conninfo, self.size, self.prepare_threshold, self.timeout)
        if not self._slots.acquire(timeout=self.timeout):
            raise PoolTimeout(f"no database connection free within {self.timeout:.0f} s")
        conn = None
        try:
            conn = self._lend()
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError):
            # a connection gone (the server restarted) takes the idle ones with it; a statement
            # cancelled by its timeout (an OperationalError too) leaves its connection sound:
            # dropping the pool there threw every prepared statement away under load
            if conn is not None and (conn.broken or conn.closed):
                conn.close()
                conn = None
                self._drop_idle()
            raise
        except psycopg.errors.InternalError_ as exc:
            # XX000 of a catalog changed under the connections (a `pg_restore --clean`
            # recreated PostGIS: "no spatial operator found for 'st_intersects': opfamily …",
            # "cache lookup failed"): each kept connection keeps failing so — every tile and
            # bbox query a 500 until the server restarted. This one and the idle ones go;
            # PostGIS's own errors are XX000 too (a point it cannot project): those leave
            # the pool as it is
            if conn is not None and STALE_CATALOG.search(str(exc)):
                conn.close()
                conn = None
                self._drop_idle()
            raise
        finally:
            if conn is not None:
                if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.close()
                else:
                    self._idle.put((conn, time.monotonic()))
            self._slots.release()

    def _lend(self) -> psycopg.Connection:
        """An idle connection that still answers, else a new one."""
        while True:
            try:
                conn, since = self._idle.get_nowait()
            except queue.Empty:
                return self._connect()
            if time.monotonic() - since < IDLE_PING_S:
                return conn
            try:
                conn.execute("SELECT 1")
                return conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                conn.close()
                self._drop_idle()

    def _drop_idle(self) -> None:
        while True:
            try:
                conn, _ = self._idle.get_nowait()
            except queue.Empty:
                return
            conn.close()
