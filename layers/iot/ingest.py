"""The one ingest path of sensor readings (HTTP batches and ``cim iot import`` alike).

A batch goes through the database set-wise, a few statements whatever its size:

1. binary ``COPY`` into a session temp table; each reading's sensor is resolved by its platform
   code, else by its device id; readings of unknown sensors are counted and named, not
   stored (never silently dropped);
2. a reading more than ``readings.max_ahead_s`` (iot.yaml) ahead of the platform's clock
   refuses the batch (a :class:`BadReading` naming its index): stored, it would make every later
   reading of its sensor "late" (step 5), no longer walked as the sensor's present; with a
   ``source`` (an HTTP API
   key), a reading for a sensor whose ``reading_source`` names another source refuses the
   whole batch (:class:`Forbidden`); a month without a partition refuses it too
   (:class:`NoPartition`, naming ``cim iot partitions``);
3. ``INSERT … ON CONFLICT DO NOTHING RETURNING`` into ``readings``: re-sending a batch inserts
   nothing and changes nothing (idempotent on sensor + time). A reading repeated with the same
   value (in the batch or stored) is a duplicate; readings of one sensor and time with
   different values conflict: within the batch none of them is stored, against a stored
   reading the stored value stays (readings are append-only history), and each conflicting
   reading is counted and listed by its index (``conflicts``), never silently dropped;
4. ``sensor_state`` rows are locked (in code order, so concurrent batches cannot deadlock) and
   updated: count, latest time and value;
5. thresholds with hysteresis (:mod:`layers.iot.thresholds`), per sensor in time order over
   the newly inserted readings later than the sensor's state: only sensors with an active
   alarm, or whose new values reach their least severe ``on`` bound, are walked reading by
   reading — in a quiet batch none are. Readings older than the state (``late``: a gateway
   relaying its backlog after a newer reading got through) end no gap alarm (silence counts
   from the last report: an old reading relayed late is no report of now); first, those that
   reach their least severe ``on`` (only those: a quiet backlog costs two aggregates) are met
   by the episodes of their time (:func:`layers.iot.late.late_readings`): one held by an
   episode updates it, another opens an episode for the past, its end walked over the stored
   readings after it — an 80 %LEL in a backlog is never silent. Those of a sensor out of
   service (iot.yaml alarms.end_statuses, 停用) open no alarm and end the one it has. Alarms
   open (with one case each and the risk point raised), escalate or clear
   (:mod:`layers.iot.alarms`); a gap alarm clears when its sensor reports again.

It runs in a transaction of its own (a savepoint inside the caller's), so a refused batch
writes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from cim.errors import CimError, InputError
from cim.text import named, shown
from layers.iot import alarms as alarm_ops
from layers.iot import late as late_path
from layers.iot.gaps import MOVED_SQL, moved_reason, out_of_service
from layers.iot.partitions import add_months, missing_months, month_of, partition_name
from layers.iot.thresholds import IotConfig, cached_config

UNKNOWN_LISTED = 20  # unknown sensor references named in the answer
CONFLICTS_LISTED = 100  # conflicting readings listed in the answer (all are counted)


class Forbidden(CimError):
    """Readings for sensors bound to another reading source (HTTP 403)."""

    exit_code = 3


class BadReading(InputError):
    """A reading of the batch refused: ``row`` is its index in the batch (0-based), ``field``
    ``sensor``, ``time``, ``value`` or None; a caller names it as its input does (``cim iot
    import``: the file's row and column, HTTP: ``readings[i].time``)."""


class NoPartition(CimError):
    """Readings for a month that has no partition (HTTP 409); run ``cim iot partitions``."""

    exit_code = 4


def _columns(readings: Any) -> Iterable[tuple[Any, Any, Any]]:
    """Tuples from tuples, a pandas DataFrame or a pyarrow Table (columns sensor, time,
    value)."""
    if hasattr(readings, "column_names") and hasattr(readings, "column"):  # pyarrow
        return zip(*(readings.column(c).to_pylist() for c in ("sensor", "time", "value")),
                   strict=True)
    if hasattr(readings, "columns") and hasattr(readings, "itertuples"):  # pandas
        return zip(readings["sensor"].tolist(), readings["time"].tolist(),
                   readings["value"].tolist(), strict=True)
    return readings


def _checked(readings: Any) -> list[tuple[str, dt.datetime, float]]:
    out = []
    for i, r in enumerate(_columns(readings)):
        try:
            ref, ts, value = r
        except (TypeError, ValueError):
            raise BadReading("a reading is (sensor, time, value)", row=i) from None
        if not isinstance(ref, str) or not ref.strip():
            raise BadReading(f"sensor {shown(ref)} is not a code or device id", row=i,
                             field="sensor")
        if hasattr(ts, "to_pydatetime"):
            if getattr(ts, "nanosecond", 0):  # to_pydatetime cuts them (with a warning)
                raise BadReading(f"time {ts.isoformat()} has nanoseconds: times are stored "
                                 "to the microsecond, and cutting them would change the "
                                 "reading's time; round it to microseconds", row=i,
                                 field="time")
            ts = ts.to_pydatetime()
        if not isinstance(ts, dt.datetime) or ts.tzinfo is None:
            raise BadReading(f"time {shown(ts)} is not a time with a UTC offset", row=i,
                             field="time")
        if not isinstance(value, bool) and isinstance(value, int | float):
            try:
                value = float(value)  # an int beyond a double's range: OverflowError
            except OverflowError:
                pass
        if not isinstance(value, float) or not math.isfinite(value):
            raise BadReading(f"value {shown(value)} is not a finite number", row=i, field="value")
        out.append((ref.strip(), ts, value))
    return out


def _tables(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _iot_in (i int4, ref text, ts timestamptz, "
                 "value float8, code text, rs text, clash bool NOT NULL DEFAULT false) "
                 "ON COMMIT DELETE ROWS")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _iot_new (sensor_code text, ts timestamptz, "
                 "value float8) ON COMMIT DELETE ROWS")


def ingest(conn: psycopg.Connection, readings: Any, *, source: str | None = None,
           config: IotConfig | None = None,
           listed: int | None = CONFLICTS_LISTED) -> dict[str, Any]:
    """Store a batch of readings (sensor code or device id, aware time, value) and evaluate
    them; the counts (received, inserted, duplicates, conflicting, unknown_sensor, late,
    alarms_opened, alarms_escalated, alarms_cleared, gaps_cleared, cases_opened,
    late_alarms_opened: of alarms_opened, those opened for the past by late readings), ``unknown``
    (the first unknown sensor references) and ``conflicts`` (the first ``listed`` conflicting
    readings, None: all, in batch order: ``index`` in the batch, ``sensor`` as sent, ``time``,
    ``value``, ``with`` the indexes of the batch's other readings of that sensor and time with
    another value, ``stored`` the stored value, or None). received = inserted + duplicates +
    conflicting + unknown_sensor."""
    rows = _checked(readings)
    cfg = config or cached_config()
    counts: dict[str, Any] = dict.fromkeys(
        ("received", "inserted", "duplicates", "conflicting", "unknown_sensor", "late",
         "alarms_opened", "alarms_escalated", "alarms_cleared", "gaps_cleared", "cases_opened",
         "late_alarms_opened"), 0)
    counts["received"] = len(rows)
    counts["unknown"] = []
    counts["conflicts"] = []
    if not rows:
        return counts
    nested = conn.info.transaction_status != TransactionStatus.IDLE
    with conn.transaction():
        refuse_outside_years(rows)
        refuse_ahead(conn, rows, cfg.max_ahead_s)
        _tables(conn)
        if nested:  # an earlier ingest of the caller's transaction left rows
            conn.execute("DELETE FROM _iot_in")
            conn.execute("DELETE FROM _iot_new")
        with conn.cursor().copy("COPY _iot_in (i, ref, ts, value) FROM STDIN (FORMAT BINARY)") \
                as cp:
            cp.set_types(["int4", "text", "timestamptz", "float8"])
            for i, r in enumerate(rows):
                cp.write_row((i, *r))
        _resolve(conn, len(rows))
        unknown, n_unknown, foreign, months = conn.execute(
            "SELECT array_agg(DISTINCT ref) FILTER (WHERE code IS NULL), "
            "count(*) FILTER (WHERE code IS NULL), "
            "array_agg(DISTINCT ref) FILTER (WHERE rs IS NOT NULL AND rs <> %s), "
            "array_agg(DISTINCT date_trunc('month', ts AT TIME ZONE 'UTC')::date) "
            "FILTER (WHERE code IS NOT NULL) FROM _iot_in", (source or "",)).fetchone()
        counts["unknown_sensor"] = n_unknown
        counts["unknown"] = [named(r) for r in sorted(unknown or [])[:UNKNOWN_LISTED]]
        if source is not None and foreign:
            more = len(foreign) - UNKNOWN_LISTED
            raise Forbidden(f"source {source!r} may not send readings of sensor(s) "
                            f"{', '.join(named(r) for r in sorted(foreign)[:UNKNOWN_LISTED])}"
                            f"{f' and {more} more' if more > 0 else ''} (bound to another "
                            "reading source)", field="sensor")
        refuse_before_installation(conn, rows, cfg.timezone)
        lacking = missing_months(conn, months or [])
        if lacking:
            raise _no_partition(conn, lacking, conn.execute("SELECT now()").fetchone()[0],
                                cfg.behind)
        # one sensor and time with different values in the batch: none of them is stored
        conn.execute("UPDATE _iot_in i SET clash = true FROM (SELECT code, ts FROM _iot_in "
                     "WHERE code IS NOT NULL GROUP BY code, ts HAVING min(value) <> max(value)) c "
                     "WHERE i.code = c.code AND i.ts = c.ts")
        inserted = conn.execute(
            "WITH ins AS (INSERT INTO readings (sensor_code, ts, value, source) "
            "SELECT code, ts, value, %s FROM _iot_in WHERE code IS NOT NULL AND NOT clash "
            "ON CONFLICT DO NOTHING RETURNING sensor_code, ts, value) "
            "INSERT INTO _iot_new SELECT * FROM ins", (source,)).rowcount
        conflicting = _conflicts(conn, rows, counts, listed)
        counts["inserted"] = inserted
        counts["conflicting"] = conflicting
        counts["duplicates"] = len(rows) - n_unknown - conflicting - inserted
        if inserted:
            _evaluate(conn, cfg, counts)
    return counts


READING_YEARS = (1900, 2200)  # the years (UTC) a reading's time may lie in


def refuse_outside_years(rows: list[tuple[str, dt.datetime, float]]) -> None:
    """A :class:`BadReading` naming the first reading whose time lies outside
    :data:`READING_YEARS`: a device clock's 0001-01-01T00:00:00+14:00 (before year 1 in UTC)
    was a 500 where the month was read back."""
    lo = dt.datetime(READING_YEARS[0], 1, 1, tzinfo=dt.UTC)
    hi = dt.datetime(READING_YEARS[1] + 1, 1, 1, tzinfo=dt.UTC)
    bad = next((i for i, r in enumerate(rows) if not lo <= r[1] < hi), None)
    if bad is not None:
        ref, ts, _ = rows[bad]
        raise BadReading(f"sensor {named(ref)}: time {ts.isoformat()} is outside the years "
                         f"{READING_YEARS[0]}–{READING_YEARS[1]} (a device clock gone wrong?)",
                         row=bad, field="time")


def refuse_ahead(conn: psycopg.Connection, rows: list[tuple[str, dt.datetime, float]],
                 max_ahead_s: float) -> None:
    """A :class:`BadReading` naming the first reading more than ``max_ahead_s`` ahead of the
    platform's clock (a device clock gone wrong)."""
    ahead = conn.execute("SELECT now()").fetchone()[0] + dt.timedelta(seconds=max_ahead_s)
    bad = next((i for i, r in enumerate(rows) if r[1] > ahead), None)
    if bad is not None:
        ref, ts, _ = rows[bad]
        raise BadReading(f"sensor {named(ref)}: time {ts.isoformat()} is more than "
                         f"{max_ahead_s:g} s ahead of the platform's clock (a device "
                         "clock gone wrong? iot.yaml readings.max_ahead_s)", row=bad,
                         field="time")


def known_months(conn: psycopg.Connection,
                 rows: list[tuple[str, dt.datetime, float]]) -> set[dt.date]:
    """The months (UTC, as the partitions) of the readings whose sensor is a current one: a
    reading of an unknown sensor is counted, never stored, so its month needs no partition
    (``cim iot import`` made one for a 1970 reading of no sensor)."""
    if not rows:
        return set()
    return {r[0] for r in conn.execute(
        "SELECT DISTINCT date_trunc('month', r.ts AT TIME ZONE 'UTC')::date FROM "
        "unnest(%s::text[], %s::timestamptz[]) AS r(ref, ts) WHERE EXISTS (SELECT 1 FROM "
        "sensors s WHERE s.valid_to IS NULL AND (s.code = r.ref OR s.device_id = r.ref))",
        ([r[0] for r in rows], [r[1] for r in rows]))}


def refuse_before_installation(conn: psycopg.Connection,
                               rows: list[tuple[str, dt.datetime, float]], zone: str) -> None:
    """A :class:`BadReading` naming the first reading (sensor reference, aware time, value)
    before its sensor was installed (安装日期, that day's midnight on the city's clock
    ``zone``): a device clock reset to 1970 — stored, a month of nonsense. ``cim iot import``
    asks before it creates the months of its file, so that a refused file leaves none."""
    if not rows:
        return
    early = conn.execute(
        "SELECT r.i - 1, r.ref, r.ts, s.install_date FROM unnest(%s::text[], "
        "%s::timestamptz[]) WITH ORDINALITY AS r(ref, ts, i) JOIN sensors s "
        "ON s.valid_to IS NULL AND (s.code = r.ref OR s.device_id = r.ref) "
        "WHERE s.install_date IS NOT NULL "
        "AND r.ts < (s.install_date::timestamp AT TIME ZONE %s) ORDER BY r.i LIMIT 1",
        ([r[0] for r in rows], [r[1] for r in rows], zone)).fetchone()
    if early is not None:
        i, ref, ts, installed = early
        raise BadReading(f"sensor {named(ref)}: time {ts.astimezone(dt.UTC).isoformat()} is before "
                         f"the sensor was installed ({installed.isoformat()}, its 安装日期): "
                         "a device clock gone wrong?", row=int(i), field="time")


def _no_partition(conn: psycopg.Connection, lacking: list[dt.date], now: dt.datetime,
                  behind: int) -> NoPartition:
    """The refusal of a batch with readings in months without a partition: which months, the
    first such reading (its index: among 50,000 the sender finds it), and — for a month
    before those the platform keeps partitions for (iot.yaml partitions.behind), which
    ``cim iot partitions`` never creates — that its time is far in the past (a device clock
    reset to 1970?)."""
    i, ref, ts = conn.execute(
        "SELECT i, ref, ts FROM _iot_in WHERE code IS NOT NULL AND "
        "date_trunc('month', ts AT TIME ZONE 'UTC')::date = ANY(%s) ORDER BY i LIMIT 1",
        (lacking,)).fetchone()
    months = ", ".join(m.strftime("%Y-%m") for m in lacking)
    first = (f"the first is reading {i} (sensor {named(ref)}, time "
             f"{ts.astimezone(dt.UTC).isoformat()})")
    oldest = add_months(month_of(now), -behind)
    if lacking[0] < oldest:
        return NoPartition(
            f"no partition of readings for {months}: {first}, before {oldest:%Y-%m}, the "
            f"oldest month `cim iot partitions` keeps a partition for (iot.yaml "
            f"partitions.behind: {behind}); a device clock gone wrong? Older readings are "
            "imported by the owner (`cim iot import`, which creates their months)")
    return NoPartition(
        f"no partition of readings for {months} "
        f"({', '.join(partition_name(m) for m in lacking)}; {first}): the owner runs "
        f"`cim iot partitions` (or `cim iot import`, which creates them)")


def _conflicts(conn: psycopg.Connection, rows: list[tuple[str, dt.datetime, float]],
               counts: dict[str, Any], listed: int | None) -> int:
    """The batch's conflicting readings into ``counts["conflicts"]``; their number. Only the
    readings not inserted just now are compared with the stored ones (a fresh batch compares
    next to nothing; an inserted reading is its key's stored value)."""
    found = conn.execute(
        "SELECT c.i, c.code, c.clash, r.value FROM (SELECT i.i, i.code, i.ts, i.value, i.clash "
        "  FROM _iot_in i WHERE i.code IS NOT NULL AND (i.clash OR NOT EXISTS (SELECT 1 FROM "
        "  _iot_new n WHERE n.sensor_code = i.code AND n.ts = i.ts))) c "
        "LEFT JOIN readings r ON r.sensor_code = c.code AND r.ts = c.ts "
        "WHERE c.clash OR r.value <> c.value ORDER BY c.i").fetchall()
    groups: dict[tuple[str, dt.datetime], list[int]] = {}
    for i, code, clash, _ in found:
        if clash:
            groups.setdefault((code, rows[i][1]), []).append(i)
    out = []
    for i, code, clash, stored in found[:listed]:
        ref, ts, value = rows[i]
        others = [j for j in groups[(code, ts)] if rows[j][2] != value] if clash else []
        out.append({"index": i, "sensor": ref, "time": ts.isoformat(), "value": value,
                    "with": others, "stored": stored})
    counts["conflicts"] = out
    return len(found)


def _resolve(conn: psycopg.Connection, n: int) -> None:
    """Each staged reading's sensor code: by code first, else by device id."""
    done = conn.execute("UPDATE _iot_in i SET code = s.code, rs = s.reading_source "
                        "FROM sensors s WHERE s.valid_to IS NULL AND s.code = i.ref").rowcount
    if done < n:
        conn.execute("UPDATE _iot_in i SET code = s.code, rs = s.reading_source FROM sensors s "
                     "WHERE i.code IS NULL AND s.valid_to IS NULL AND s.device_id = i.ref")


def _evaluate(conn: psycopg.Connection, cfg: IotConfig, counts: dict[str, Any]) -> None:
    # lock (and create) the state rows of the batch's sensors, in code order; RETURNING gives
    # the latest committed state once a concurrent batch of the same sensor has finished
    state = {r[0]: r[1:] for r in conn.execute(
        "INSERT INTO sensor_state AS st (sensor_code) SELECT DISTINCT sensor_code FROM _iot_new "
        "ORDER BY 1 ON CONFLICT (sensor_code) DO UPDATE SET updated_at = now() "
        "RETURNING sensor_code, last_ts, alarm_level, alarm_id, gap_alarm_id")}
    agg = conn.execute(
        "WITH a AS (SELECT n.sensor_code, count(*) AS n, max(n.ts) AS mts, "
        "  (array_agg(n.value ORDER BY n.ts DESC))[1] AS lv, "
        "  min(n.value) FILTER (WHERE n.ts > coalesce(st.last_ts, '-infinity')) AS vmin, "
        "  max(n.value) FILTER (WHERE n.ts > coalesce(st.last_ts, '-infinity')) AS vmax, "
        "  min(n.ts) FILTER (WHERE n.ts > coalesce(st.last_ts, '-infinity')) AS first_ts, "
        "  count(*) FILTER (WHERE n.ts <= st.last_ts) AS late, "
        "  min(n.value) FILTER (WHERE n.ts <= st.last_ts) AS lmin, "
        "  max(n.value) FILTER (WHERE n.ts <= st.last_ts) AS lmax "
        "  FROM _iot_new n JOIN sensor_state st USING (sensor_code) GROUP BY n.sensor_code), "
        "u AS (UPDATE sensor_state st SET readings = st.readings + a.n, "
        "  last_ts = greatest(st.last_ts, a.mts), last_value = CASE WHEN st.last_ts IS NULL "
        "  OR a.mts >= st.last_ts THEN a.lv ELSE st.last_value END, updated_at = now() "
        "  FROM a WHERE st.sensor_code = a.sensor_code) "
        "SELECT a.sensor_code, s.type_code, s.asset_class, a.vmin, a.vmax, a.first_ts, a.late, "
        "s.status, a.lmin, a.lmax, "
        # its active alarm is of another place: the registry moved the sensor (MOVED_SQL)
        f"CASE WHEN {MOVED_SQL} THEN al.asset_code END, "
        f"CASE WHEN {MOVED_SQL} THEN s.asset_code END, coalesce({MOVED_SQL}, false) "
        "FROM a JOIN sensors s ON s.code = a.sensor_code AND s.valid_to IS NULL "
        "JOIN sensor_state st ON st.sensor_code = a.sensor_code "
        "LEFT JOIN alarms al ON al.id = st.alarm_id AND al.status = 'active'").fetchall()
    late_hits = {}  # sensors with a late reading at or past their least severe on
    for code, type_code, asset_class, *_, late, status, lmin, lmax, _o, _n, _m in agg:
        counts["late"] += late
        if late and status not in cfg.end_statuses:
            rs = cfg.rowset(type_code, asset_class)
            if rs is not None and rs.beyond(lmax if rs.direction == "above" else lmin,
                                            rs.least.on):
                late_hits[code] = rs
    if late_hits:
        _late(conn, cfg, late_hits, state, counts)
    walk, gaps, orphans = [], [], []
    for (code, type_code, asset_class, vmin, vmax, first_ts, _late_n, status, _lmin, _lmax,
         old_asset, new_asset, moved) in agg:
        last_ts, level, alarm_id, gap_id = state[code]
        if vmin is None:  # only late readings: older than its last report, they do not end
            continue      # its silence (the gap detector would open a new gap alarm at once)
        if moved and level is not None:  # its readings now measure another place
            orphans.append((code, alarm_id, first_ts, moved_reason(old_asset, new_asset)))
            state[code] = (last_ts, None, None, gap_id)
            level = alarm_id = None
        if gap_id is not None:  # a reading after its last report: it reports again
            gaps.append((code, gap_id, first_ts))
        if status in cfg.end_statuses:  # out of service (停用): its readings open no alarm
            if level is not None:
                orphans.append((code, alarm_id, first_ts, out_of_service(status)))
            continue
        rs = cfg.rowset(type_code, asset_class)
        if rs is None:
            if level is not None:  # its thresholds were taken out of the file: no alarm now
                orphans.append((code, alarm_id, first_ts, "no thresholds for the sensor's "
                                "type in sensor_thresholds.csv"))
            continue
        if level is not None or rs.beyond(vmax if rs.direction == "above" else vmin,
                                          rs.least.on):
            walk.append((code, rs))
    for _code, gap_id, first_ts in gaps:
        alarm_ops.clear(conn, cfg, gap_id, first_ts, None)
        counts["gaps_cleared"] += 1
    if gaps:
        conn.execute("UPDATE sensor_state SET gap_alarm_id = NULL WHERE sensor_code = ANY(%s)",
                     ([g[0] for g in gaps],))
    for _code, alarm_id, first_ts, reason in orphans:
        alarm_ops.clear(conn, cfg, alarm_id, first_ts, None, reason=reason)
        counts["alarms_cleared"] += 1
    if orphans:
        conn.execute("UPDATE sensor_state SET alarm_level = NULL, alarm_id = NULL "
                     "WHERE sensor_code = ANY(%s)", ([o[0] for o in orphans],))
    if walk:
        _walk(conn, cfg, walk, state, counts)


def _late(conn: psycopg.Connection, cfg: IotConfig, hits_rs: dict, state: dict,
          counts: dict[str, Any]) -> None:
    """The late exceedances of the batch met by the hysteresis of their time
    (:func:`layers.iot.late.late_readings`), before the newer readings are walked: a past
    episode still active at the sensor's latest stored reading is the state they continue
    from (its ``sensor_state`` and ``state``). Only the few sensors with a late reading past
    their least severe ``on`` come here; a quiet batch never does."""
    codes = sorted(hits_rs)
    hits: dict[str, list[tuple[dt.datetime, float]]] = {c: [] for c in codes}
    for code, ts, value in conn.execute(
            "SELECT n.sensor_code, n.ts, n.value FROM _iot_new n JOIN unnest(%s::text[], "
            "%s::timestamptz[]) AS u(code, last_ts) ON u.code = n.sensor_code "
            "WHERE n.ts <= u.last_ts ORDER BY 1, 2", (codes, [state[c][0] for c in codes])):
        rs = hits_rs[code]
        if rs.beyond(value, rs.least.on):
            hits[code].append((ts, value))
    rows = alarm_ops.sensors(conn, codes)
    received = conn.execute("SELECT now()").fetchone()[0]
    changed = []
    for code in codes:
        if not hits[code]:
            continue
        active = late_path.late_readings(conn, cfg, rows[code], hits_rs[code], hits[code],
                                         state[code][0], received, counts)
        if active is not None:
            last_ts, _, _, gap_id = state[code]
            state[code] = (last_ts, *active, gap_id)
            changed.append((code, *active))
    if changed:
        codes_, levels, ids = (list(x) for x in zip(*changed, strict=True))
        conn.execute(
            "UPDATE sensor_state st SET alarm_level = u.level, alarm_id = u.alarm_id "
            "FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(code, level, alarm_id) "
            "WHERE st.sensor_code = u.code", (codes_, levels, ids))


def _walk(conn: psycopg.Connection, cfg: IotConfig, walk: list, state: dict,
          counts: dict[str, Any]) -> None:
    """The per-reading hysteresis walk of the sensors that may change state."""
    series: dict[str, list[tuple[dt.datetime, float]]] = {c: [] for c, _ in walk}
    for code, ts, value in conn.execute(
            "SELECT n.sensor_code, n.ts, n.value FROM _iot_new n WHERE n.sensor_code = ANY(%s) "
            "ORDER BY n.sensor_code, n.ts", ([c for c, _ in walk],)):
        last_ts = state[code][0]
        if last_ts is None or ts > last_ts:
            series[code].append((ts, value))
    rows = None
    changed, touched = [], []
    # a reading received long after its time (a gateway's backlog after an outage) opens or
    # escalates as a late one does: at receipt (iot.yaml readings.backlog_s)
    received = conn.execute("SELECT now()").fetchone()[0]
    backlog = dt.timedelta(seconds=cfg.backlog_s) if cfg.backlog_s is not None else None

    def receipt(ts: dt.datetime) -> dt.datetime | None:
        return received if backlog is not None and received - ts > backlog else None

    for code, rs in walk:
        _, level, alarm_id, _ = state[code]
        peak = last = None
        at = None
        clear_at = None
        for ts, v in series[code]:
            new = rs.step(level, v)
            if new is not None and (level is None or new < level):  # open or escalate
                band = rs.band(new)
                if level is None:
                    if rows is None:
                        rows = alarm_ops.sensors(conn, [c for c, _ in walk])
                    a = alarm_ops.open_alarm(conn, cfg, rows[code], kind="threshold",
                                             level=new, at=ts, value=v, threshold=band.on,
                                             clear_at=band.off,
                                             category_code=band.case_category,
                                             received_at=receipt(ts))
                    alarm_id, peak = a["id"], v
                    counts["alarms_opened"] += 1
                    counts["cases_opened"] += 1
                else:
                    if alarm_ops.escalate(conn, cfg, alarm_id, new, ts, band.on, v,
                                          band.case_category, received_at=receipt(ts)):
                        counts["alarms_escalated"] += 1
                clear_at = band.off
            elif new is None and level is not None:  # cleared
                if peak is not None:  # the episode's peak before its clearing reading
                    alarm_ops.touch(conn, _merge_peaks(
                        conn, [(alarm_id, last[0], last[1], peak, clear_at)], walk))
                alarm_ops.clear(conn, cfg, alarm_id, ts, v)
                counts["alarms_cleared"] += 1
                alarm_id, peak, clear_at = None, None, None
            elif new is not None and new != level:  # de-escalated within the episode
                clear_at = rs.band(new).off
            if new is not None:
                peak = v if peak is None else (max(peak, v) if rs.direction == "above"
                                               else min(peak, v))
                last = (ts, v)
            level = new
            at = ts
        if at is None:
            continue
        if alarm_id is not None and last is not None:
            touched.append((alarm_id, last[0], last[1], peak, clear_at))
        changed.append((code, level, alarm_id))
    # an alarm carried over from an earlier batch: its peak is the stored one's too
    if touched:
        alarm_ops.touch(conn, _merge_peaks(conn, touched, walk))
    if changed:
        codes, levels, ids = (list(x) for x in zip(*changed, strict=True))
        conn.execute(
            "UPDATE sensor_state st SET alarm_level = u.level, alarm_id = u.alarm_id "
            "FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(code, level, alarm_id) "
            "WHERE st.sensor_code = u.code", (codes, levels, ids))


def _merge_peaks(conn: psycopg.Connection, touched: list, walk: list) -> list:
    """The batch's peaks merged with the stored peaks of the same alarms (above: max,
    below: min)."""
    ids = [t[0] for t in touched]
    stored = dict(conn.execute("SELECT id, peak_value FROM alarms WHERE id = ANY(%s)",
                               (ids,)).fetchall())
    below = {r[0] for r in conn.execute(
        "SELECT a.id FROM alarms a JOIN unnest(%s::text[], %s::text[]) AS d(code, dir) "
        "ON d.code = a.sensor_code WHERE a.id = ANY(%s) AND d.dir = 'below'",
        ([c for c, _ in walk], [rs.direction for _, rs in walk], ids))}
    out = []
    for aid, at, v, peak, clear_at in touched:
        old = stored.get(aid)
        if old is not None:
            peak = min(peak, old) if aid in below else max(peak, old)
        out.append((aid, at, v, peak, clear_at))
    return out
