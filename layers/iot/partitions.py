"""Monthly partitions of ``readings`` (native range partitioning on ``ts``, UTC months).

The served role may only insert through the parent, so partitions are created ahead by the
owner: ``cim iot partitions`` (from cron), ``cim serve`` before it starts gunicorn and
``cim iot import`` for the months its file needs. A partition is ``readings_yYYYYmMM`` and
holds ``[first of the month 00:00 UTC, first of the next month)``. Creating is idempotent
(``CREATE TABLE IF NOT EXISTS … PARTITION OF``), so concurrent callers do not conflict.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import psycopg
from psycopg import sql

PARENT = "readings"
_NAME = re.compile(r"^readings_y(\d{4})m(\d{2})$")


def month_of(ts: dt.datetime) -> dt.date:
    """The UTC month (its first day) of an aware timestamp."""
    u = ts.astimezone(dt.UTC)
    return dt.date(u.year, u.month, 1)


def add_months(d: dt.date, n: int) -> dt.date:
    m = d.year * 12 + d.month - 1 + n
    return dt.date(m // 12, m % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def existing(conn: psycopg.Connection) -> set[dt.date]:
    """The months that have a partition."""
    out = set()
    for (name,) in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'public.readings'::regclass"):
        m = _NAME.match(name)
        if m:
            out.add(dt.date(int(m[1]), int(m[2]), 1))
    return out


def ensure_months(conn: psycopg.Connection, months: Iterable[dt.date]) -> list[str]:
    """Create the partitions of ``months`` that are missing; the names created."""
    have = existing(conn)
    made = []
    for m in sorted(set(months)):
        m = dt.date(m.year, m.month, 1)
        if m in have:
            continue
        name = partition_name(m)
        conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
            sql.Identifier(name), sql.Identifier(PARENT),
            sql.Literal(f"{m.isoformat()} 00:00:00+00"),
            sql.Literal(f"{add_months(m, 1).isoformat()} 00:00:00+00")))
        made.append(name)
    return made


def ensure_partitions(conninfo: str | psycopg.Connection, ahead: int = 3, behind: int = 1,
                      now: dt.datetime | None = None) -> dict[str, list[str]]:
    """Partitions for ``behind`` months before the current UTC month through ``ahead`` months
    after it; {"created": [...], "existing": [...]} (run as the owner)."""
    this = month_of(now or dt.datetime.now(dt.UTC))
    months = [add_months(this, k) for k in range(-behind, ahead + 1)]

    def run(conn: psycopg.Connection) -> tuple[list[str], set[dt.date]]:
        if conn.execute("SELECT to_regclass('public.readings') IS NULL").fetchone()[0]:
            return [], set()  # a database before migration 0008: nothing to partition
        return ensure_months(conn, months), existing(conn)

    if isinstance(conninfo, psycopg.Connection):
        made, have = run(conninfo)
    else:
        with psycopg.connect(conninfo) as conn:
            made, have = run(conn)
    return {"created": made,
            "existing": [partition_name(m) for m in sorted(have)]}


def missing_months(conn: psycopg.Connection, months: Iterable[dt.date]) -> list[dt.date]:
    have = existing(conn)
    return sorted({m for m in months if m not in have})
