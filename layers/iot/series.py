"""Reading queries: the latest value per sensor (from ``sensor_state``, one row per sensor,
not a scan of the series) and a sensor's time series between two times (partition pruning on
``ts``, the primary key's (sensor_code, ts) order)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import psycopg
from psycopg.rows import dict_row

from cim.errors import InputError
from cim.text import shown

MAX_LIMIT = 100_000


def sensor_code(conn: psycopg.Connection, ref: str) -> str:
    """The current sensor's code of a code or device id; an InputError naming it if none.
    ``ref`` pasted from a table may carry blanks around it (a registry's ids are stored
    without: ``cim load sensors``), as the risk commands' codes may."""
    ref = ref.strip()
    row = conn.execute("SELECT code FROM sensors WHERE valid_to IS NULL AND "
                       "(code = %s OR device_id = %s) ORDER BY (code = %s) DESC LIMIT 1",
                       (ref, ref, ref)).fetchone()
    if row is None:
        raise InputError(f"no current sensor has code or device id {shown(ref)}", field="sensor")
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


def _check_range(start: dt.datetime, end: dt.datetime, limit: int, most: int) -> None:
    """A series' range and limit as :func:`series` and :func:`buckets` take them: instants
    (the callers read a time typed without an offset on the city's clock first), end after
    start, 1 ≤ limit ≤ ``most``; else an InputError naming the field."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("start and end need a UTC offset", field="start")
    if end <= start:
        raise InputError("end must be after start", field="end")
    if not 1 <= limit <= most:
        raise InputError(f"limit is 1..{most}", field="limit")


def series(conn: psycopg.Connection, sensor: str, start: dt.datetime, end: dt.datetime,
           limit: int = 10_000) -> dict[str, Any]:
    """The readings of ``sensor`` with start <= time < end, oldest first, at most ``limit``
    (``truncated`` says when more exist)."""
    _check_range(start, end, limit, MAX_LIMIT)
    code = sensor_code(conn, sensor)
    rows = conn.execute("SELECT ts, value FROM readings WHERE sensor_code = %s AND ts >= %s "
                        "AND ts < %s ORDER BY ts LIMIT %s",
                        (code, start, end, limit + 1)).fetchall()
    return {"sensor_code": code, "start": start, "end": end,
            "readings": [{"time": t, "value": v} for t, v in rows[:limit]],
            "truncated": len(rows) > limit}


# -- a series aggregated by time bucket ----------------------------------------------------
MAX_BUCKETS = 100_000  # buckets a range may span (the ``limit`` of an aggregated series)
BUCKET_YEARS = (1900, 2200)  # the years a bucketed series' start and end may lie in
_BUCKET = re.compile(r"(\d{1,6})\s*([a-zA-Z]+)")
# a bucket's unit as written → its length in seconds; months and years have no fixed length
# (date_bin bins by a fixed interval) and are refused by name
_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1,
          "min": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hour": 3600, "hours": 3600,
          "d": 86400, "day": 86400, "days": 86400,
          "w": 604800, "week": 604800, "weeks": 604800}
DAY = 86400
# the longest bucket: ten years of days (a 999999w bucket, ~19,000 years, widened a range of
# 1900 past year 10000, which no answer can hold: a 500)
MAX_BUCKET_DAYS = 3653
# the buckets' origin: a Monday's local midnight (a week bucket starts on Monday, a day bucket
# at midnight, an hour bucket on the hour — all in the city's clock)
ORIGIN = "2000-01-03 00:00:00"


def parse_bucket(text: str) -> dt.timedelta:
    """A bucket's length from ``15min``, ``1h``, ``1d``, ``1w`` (s, min, h, d, w; also their
    words); an InputError saying what is allowed. A bucket under a day divides the day (so
    each day starts a bucket at local midnight); ``m`` (minute or month?), months and years
    are refused by name."""
    m = _BUCKET.fullmatch(text.strip()) if isinstance(text, str) else None
    n, unit = (int(m.group(1)), m.group(2).lower()) if m else (0, "")
    allowed = "a number and a unit: s, min, h, d or w (15min, 1h, 1d, 1w)"
    if unit in ("m", "mo", "mon", "month", "months", "y", "yr", "year", "years"):
        why = ("m is a minute or a month? write min" if unit == "m" else
               "months and years have no fixed length")
        raise InputError(f"bucket {shown(text)}: {why}; {allowed}", field="bucket")
    if m is None or unit not in _UNITS or n < 1:
        raise InputError(f"bucket {shown(text)} is not {allowed}", field="bucket")
    seconds = n * _UNITS[unit]
    if seconds > MAX_BUCKET_DAYS * DAY:
        raise InputError(f"bucket {shown(text)} is longer than {MAX_BUCKET_DAYS} days (ten "
                         "years)", field="bucket")
    if seconds > DAY and seconds % DAY:
        raise InputError(f"bucket {shown(text)}: a bucket over a day is whole days (1d, 2d, 1w)",
                         field="bucket")
    if seconds < DAY and DAY % seconds:
        raise InputError(f"bucket {shown(text)} does not divide a day (a bucket under a day is "
                         "one of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 min or 1, 2, 3, 4, 6, 8, "
                         "12 h …, so each day starts a bucket at midnight)", field="bucket")
    return dt.timedelta(seconds=seconds)


def _bin_sql(x: str) -> str:
    """The SQL of the start of the bucket holding the timestamptz ``x`` (parameters
    ``stride``, ``tz``, ``origin``): buckets of the city's wall clock — a day starts at local
    midnight, a 6 h bucket at 00, 06, 12 and 18 local whatever the UTC offset of that day (in
    a zone with summer time, the hour a clock goes back repeats falls in one bucket, and the
    day is 25 hours)."""
    return (f"(date_bin(%(stride)s::interval, ({x}) AT TIME ZONE %(tz)s, "
            "%(origin)s::timestamp) AT TIME ZONE %(tz)s)")


def _end_sql(start: str) -> str:
    """The SQL of the end of the bucket starting at ``start`` (on the city's wall clock)."""
    return f"((({start}) AT TIME ZONE %(tz)s + %(stride)s::interval) AT TIME ZONE %(tz)s)"


def _wall(at: dt.datetime, zone: Any) -> dt.datetime:
    """``at`` as the city's clock shows it, without its offset."""
    return at.astimezone(zone).replace(tzinfo=None)


def buckets(conn: psycopg.Connection, sensor: str, start: dt.datetime, end: dt.datetime,
            bucket: str, timezone: str, limit: int = MAX_BUCKETS) -> dict[str, Any]:
    """The readings of ``sensor`` aggregated by time bucket (``bucket``: :func:`parse_bucket`)
    in the city's clock ``timezone`` (an IANA zone: a day bucket starts at local midnight):
    each bucket holding readings, oldest first, with its start and end (RFC 3339 in the city's
    offset), count, min, avg and max — computed in SQL (``date_bin``). The range is widened to
    whole buckets (start back to its bucket's start, end on to its bucket's end: every bucket
    aggregates all of its readings); the answer's ``start`` and ``end`` are the widened ones. A
    range spanning more than ``limit`` buckets is an InputError (never a truncated answer)."""
    from zoneinfo import ZoneInfo

    _check_range(start, end, limit, MAX_BUCKETS)
    for name, at in (("start", start), ("end", end)):
        if not BUCKET_YEARS[0] <= at.year <= BUCKET_YEARS[1]:
            # widened to whole buckets, 0001-01-01 crossed year 1 and 9999-12-31 year 10000,
            # which the server cannot hold: a 500 (a series without buckets takes them)
            raise InputError(f"{name} {at.isoformat()}: a bucketed series is of years "
                             f"{BUCKET_YEARS[0]}–{BUCKET_YEARS[1]}", field=name)
    stride = parse_bucket(bucket)
    code = sensor_code(conn, sensor)
    b = _bin_sql("ts")
    params = {"stride": stride, "tz": timezone, "origin": ORIGIN, "code": code,
              "start": start, "end": end}
    # the range widened to whole buckets: end is exclusive, so its bucket is that of the
    # last microsecond before it
    last = _bin_sql("%(end)s::timestamptz - '1 microsecond'::interval")
    lo, hi = conn.execute(
        f"SELECT {_bin_sql('%(start)s::timestamptz')}, {_end_sql(last)}", params).fetchone()
    zone = ZoneInfo(timezone)
    # the buckets the widened range holds, counted on the city's wall clock (where they are
    # whole strides): a bound from the range alone, one more for a bucket straddling each
    # end, refused a local day of 1h buckets at limit 24 and a day of 1d at limit 1
    spanned = (_wall(hi, zone) - _wall(lo, zone)) // stride
    if spanned > limit:
        raise InputError(f"bucket {bucket} over {start.isoformat()} … {end.isoformat()} spans "
                         f"{spanned} buckets, more than {limit}: choose a longer bucket "
                         f"or a shorter range (or raise limit, at most {MAX_BUCKETS})",
                         field="bucket")
    params.update(lo=lo, hi=hi)
    rows = conn.execute(
        f"SELECT b, {_end_sql('b')}, n, vmin, vavg, vmax FROM ("  # noqa: S608
        f"SELECT {b} AS b, count(*) AS n, min(value) AS vmin, avg(value) AS vavg, "
        "max(value) AS vmax FROM readings WHERE sensor_code = %(code)s AND ts >= %(lo)s "
        "AND ts < %(hi)s GROUP BY 1) g ORDER BY b", params).fetchall()
    return {"sensor_code": code, "start": lo.astimezone(zone), "end": hi.astimezone(zone),
            "bucket": bucket.strip(), "timezone": timezone,
            "buckets": [{"start": s.astimezone(zone), "end": e.astimezone(zone), "count": n,
                         "min": vmin, "avg": vavg, "max": vmax}
                        for s, e, n, vmin, vavg, vmax in rows]}
