"""Where made tiles are kept and where they are made from: the worker's LRU of recent tiles
and the request's one pooled connection, taken only when a tile is not in the cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import ExitStack

import psycopg

from services.pool import Pool
from services.tiles_sql import TILE_SETTINGS


class TileCache:
    """A byte-bounded LRU of recent tiles, shared by the threads of one worker."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._d: OrderedDict[tuple, tuple[bytes, bool]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> tuple[bytes, bool] | None:
        with self._lock:
            got = self._d.get(key)
            if got is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return got

    def put(self, key: tuple, value: tuple[bytes, bool]) -> None:
        size = len(value[0]) + 100
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self.bytes -= len(old[0]) + 100
            self._d[key] = value
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (data, _) = self._d.popitem(last=False)
                self.bytes -= len(data) + 100


class LazyConnection:
    """A pooled connection taken on first use only: a tile answered from the cache takes none.
    The tiles are made in one transaction with :data:`services.tiles_sql.TILE_SETTINGS`."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._stack = ExitStack()
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        if self._conn is None:
            conn = self._stack.enter_context(self.pool.connection())
            # one transaction for the request's tile statements, with the tile planner
            # settings local to it (services.tiles_sql.TILE_SETTINGS: no JIT, no parallel
            # workers, custom plans); the connection goes back to the pool idle, unchanged
            self._stack.enter_context(conn.transaction())
            conn.execute(TILE_SETTINGS)
            self._conn = conn
        return self._conn

    def __enter__(self) -> LazyConnection:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)
