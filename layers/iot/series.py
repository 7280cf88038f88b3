"""Reading queries: the latest value per sensor (from ``sensor_state``, one row per sensor,
not a scan of the series) and a sensor's time series between two times (partition pruning on
``ts``, the primary key's (sensor_code, ts) order)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row

from cim.errors import InputError

MAX_LIMIT = 100_000


def sensor_code(conn: psycopg.Connection, ref: str) -> str:
    """The current sensor's code of a code or device id; an InputError naming it if none."""
    row = conn.execute("SELECT code FROM sensors WHERE valid_to IS NULL AND "
                       "(code = %s OR device_id = %s) ORDER BY (code = %s) DESC LIMIT 1",
                       (ref, ref, ref)).fetchone()
    if row is None:
        raise InputError(f"no current sensor has code or device id {ref!r}", field="sensor")
    return row[0]


def latest(conn: psycopg.Connection, sensor: str | None = None) -> list[dict[str, Any]]:
    """Each sensor's latest reading and alarm state (or ``sensor``'s only)."""
    cond, params = "", ()
    if sensor is not None:
        cond, params = "AND s.code = %s", (sensor_code(conn, sensor),)
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT s.code AS sensor_code, s.device_id, s.type_code, s.type_name, s.unit, "
        "st.last_ts AS time, st.last_value AS value, coalesce(st.readings, 0) AS readings, "
        "st.alarm_level, (st.gap_alarm_id IS NOT NULL) AS offline "
        "FROM sensors s LEFT JOIN sensor_state st ON st.sensor_code = s.code "
        f"WHERE s.valid_to IS NULL {cond} ORDER BY s.code", params).fetchall()  # noqa: S608


def series(conn: psycopg.Connection, sensor: str, start: dt.datetime, end: dt.datetime,
           limit: int = 10_000) -> dict[str, Any]:
    """The readings of ``sensor`` with start <= time < end, oldest first, at most ``limit``
    (``truncated`` says when more exist)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("start and end need a UTC offset", field="start")
    if end <= start:
        raise InputError("end must be after start", field="end")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit is 1..{MAX_LIMIT}", field="limit")
    code = sensor_code(conn, sensor)
    rows = conn.execute("SELECT ts, value FROM readings WHERE sensor_code = %s AND ts >= %s "
                        "AND ts < %s ORDER BY ts LIMIT %s",
                        (code, start, end, limit + 1)).fetchall()
    return {"sensor_code": code, "start": start, "end": end,
            "readings": [{"time": t, "value": v} for t, v in rows[:limit]],
            "truncated": len(rows) > limit}
