"""Load batches as the layers see them: read-only, never waiting for a load.

A live load holds the advisory lock (``BATCH_LOCK_SPACE``, batch id) on its own connection from
before its ``running`` row becomes visible until the batch is recorded as ended. A ``running``
row whose lock nobody holds was therefore left by a loader that died (kill -9, lost machine):
it is reported here as failed, without writing anything — the next load's ``start_batch``
records that in the database. The lock is looked up in ``pg_locks`` rather than tried, so a
listing takes no lock at all.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from cim.db.locks import BATCH_LOCK_SPACE, DEAD_BATCH_ERROR

_LIST = """
SELECT b.id, b.layer, b.status, b.source_path, b.read, b.loaded, b.rejected, b.started_at,
       b.finished_at, b.error,
       b.status = 'running' AND NOT EXISTS (
           SELECT 1 FROM pg_locks k
           WHERE k.locktype = 'advisory' AND k.granted
             AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND k.classid::int8 = %(space)s AND k.objid::int8 = b.id AND k.objsubid = 2) AS interrupted
FROM load_batches b ORDER BY b.id DESC LIMIT %(limit)s
"""


def list_batches(conninfo: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest ``limit`` batches, newest first; a dead ``running`` batch shows as failed
    with ``interrupted`` true."""
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        conn.read_only = True
        rows = conn.execute(_LIST, {"space": BATCH_LOCK_SPACE, "limit": limit}).fetchall()
    for r in rows:
        if r["interrupted"]:
            r["status"] = "failed"
            r["error"] = r["error"] or DEAD_BATCH_ERROR
    return rows
