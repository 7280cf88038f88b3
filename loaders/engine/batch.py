"""The batch record of a load and the advisory lock that says the load is alive.

A batch row (``load_batches``) is inserted as ``running`` and the batch lock
(:data:`~cim.db.locks.BATCH_LOCK_SPACE`, batch id) taken in ONE transaction on the batch's own
connection; the lock is session-level, so it outlives that commit and is held until the batch is
ended. Nobody can therefore see a ``running`` row whose live loader does not hold its lock yet,
and a ``running`` row whose lock is free was left by a loader that died (kill -9, lost
connection): :func:`mark_dead_batches` records it as failed, and ``cim batches`` (read-only,
:mod:`layers.batches`) reports it so.

Every load ends its batch exactly once: :func:`finish_batch` (failed, with the error) or the
load's own transaction (succeeded, committed with the data), then :func:`release_batch` closes
the batch connection — also when the database is gone.
"""

from __future__ import annotations

import json
import os

import psycopg

from cim import __version__
from cim.db.locks import BATCH_LOCK_SPACE, DEAD_BATCH_ERROR
from cim.db.revision import check_revision
from loaders.engine.report import LoadReport

#: shown in pg_stat_activity for the connection that holds a batch's lock
LOCK_APPLICATION_NAME = "cim-load-batch"

_BATCH_LOCK_CONNS: dict[int, psycopg.Connection] = {}


def start_batch(conninfo: str, layer: str, path: str, sha256: str | None, mode: str,
                options: dict) -> int:
    """Record a running batch and hold its advisory lock while the load lives.

    The row and the lock commit together: a concurrent listing or load never sees the batch
    running without its lock held, so it can never take a live load for a dead one.
    """
    conn = psycopg.connect(conninfo, autocommit=True, application_name=LOCK_APPLICATION_NAME)
    try:
        check_revision(conn)  # (rows of another schema's shape are never written)
        mark_dead_batches(conn)
        with conn.transaction():
            batch_id = conn.execute(
                "INSERT INTO load_batches (layer, source_path, source_sha256, mode, options, "
                "loader_version, status, pid) VALUES (%s, %s, %s, %s, %s, %s, 'running', %s) "
                "RETURNING id",
                (layer, path, sha256, mode, json.dumps(options, ensure_ascii=False, default=str),
                 __version__, os.getpid())).fetchone()[0]
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (BATCH_LOCK_SPACE, batch_id))
    except BaseException:
        conn.close()  # the row rolled back; closing frees the lock if it was taken
        raise
    _BATCH_LOCK_CONNS[batch_id] = conn
    return batch_id


def mark_dead_batches(conn: psycopg.Connection) -> int:
    """Batches left 'running' by a killed loader (their advisory lock is free) become failed."""
    rows = conn.execute("SELECT id FROM load_batches WHERE status = 'running'").fetchall()
    dead = 0
    for (bid,) in rows:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                           (BATCH_LOCK_SPACE, bid)).fetchone()[0]
        if got:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (BATCH_LOCK_SPACE, bid))
            conn.execute("UPDATE load_batches SET status = 'failed', finished_at = now(), "
                         "error = coalesce(error, %s) WHERE id = %s AND status = 'running'",
                         (DEAD_BATCH_ERROR, bid))
            dead += 1
    return dead


def finish_batch(conninfo: str, report: LoadReport, error: str | None = None,
                 sha256: str | None = None) -> None:
    """Record the end of a batch outside the load's transaction, then release the batch.

    Written on the batch's own connection while it is alive (so the status is written
    before the lock is freed), else on a new one. Raises if the database cannot be reached;
    the batch connection is closed all the same, and the next load records the batch as failed.
    """
    status = "failed" if error else "succeeded"
    report.status = status
    params = (status, error, report.read, report.loaded if not error else 0,
              report.rejected if not error else 0,
              json.dumps(report.to_dict(), ensure_ascii=False), report.source_crs, sha256,
              report.batch_id)
    query = ("UPDATE load_batches SET status = %s, error = %s, finished_at = now(), read = %s, "
             "loaded = %s, rejected = %s, report = %s, source_crs = %s, "
             "source_sha256 = coalesce(%s, source_sha256) WHERE id = %s "
             # a batch recorded already (its COMMIT went through though its reply was lost,
             # the session then reporting a failure) keeps its record: a succeeded batch is
             # never counted out again (loaders.engine.keyread counts them)
             "AND status = 'running'")
    try:
        lock_conn = _BATCH_LOCK_CONNS.get(report.batch_id)
        if lock_conn is not None and not lock_conn.closed and not lock_conn.broken:
            try:
                lock_conn.execute(query, params)
                return
            except psycopg.OperationalError:
                pass  # the batch connection died: try a new one
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(query, params)
    finally:
        release_batch(report.batch_id)


def release_batch(batch_id: int | None) -> None:
    """Close the batch connection (and so free its lock); harmless if already closed."""
    lock_conn = _BATCH_LOCK_CONNS.pop(batch_id, None) if batch_id is not None else None
    if lock_conn is not None:
        lock_conn.close()
