"""A small thread-safe psycopg connection pool, one per worker process.

``psycopg_pool`` is not a dependency, and the items path needs little: a bounded set of
autocommit connections (one per gunicorn thread) kept open so that psycopg's per-connection
prepared statements are reused (``prepare_threshold``: the items SQL texts are constant, so
after the first executions PostgreSQL plans them once per connection). A connection that
failed or was left in a transaction is closed rather than returned. The pool remembers the
process that made it: after a fork (gunicorn ``--preload``) a child never uses the parent's
sockets.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus


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
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
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
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError):  # a broken connection
            if conn is not None:
                conn.close()
                conn = None
            raise
        finally:
            if conn is not None:
                if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.close()
                else:
                    self._idle.put(conn)
            self._slots.release()
