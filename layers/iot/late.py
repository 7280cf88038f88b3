"""Late readings — older than a sensor's latest stored reading, relayed by a gateway after a
newer one — met by the threshold hysteresis as the readings of their time were (joined to the
episode they fall in, or a past episode opened, walked and cleared), so that an exceedance in
a backlog is never silent. The alarms' own operations (open, escalate, clear) are
:mod:`layers.iot.alarms`'."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from cim.times import rfc3339
from layers.iot.alarms import clear, escalate, open_alarm, touch
from layers.iot.thresholds import IotConfig, RowSet
from layers.risk.alarm import lock_points


@dataclass
class _Episode:
    """A threshold alarm of the sensor as the late path sees it: ``start`` is its opening, or
    the earliest late reading found to belong to it (``detail.began_at``); ``end`` its
    clearing (None: active); ``level`` the most severe level it reached."""

    id: int
    start: dt.datetime
    end: dt.datetime | None
    level: int

    def holds(self, t: dt.datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


def _after(conn: psycopg.Connection, sensor_code: str, since: dt.datetime,
           until: dt.datetime, page: int = 1000):
    """The sensor's stored readings in (since, until], in time order, a page at a time (a
    walk that clears early reads one page)."""
    while True:
        rows = conn.execute("SELECT ts, value FROM readings WHERE sensor_code = %s AND ts > %s "
                            "AND ts <= %s ORDER BY ts LIMIT %s",
                            (sensor_code, since, until, page)).fetchall()
        yield from rows
        if len(rows) < page:
            return
        since = rows[-1][0]


def _join(conn: psycopg.Connection, cfg: IotConfig, ep: _Episode, rs: RowSet,
          steps: list[tuple[dt.datetime, int, float]], peak: float,
          counts: dict[str, Any], received_at: dt.datetime) -> None:
    """Late readings that belong to the episode ``ep``: it escalates to a level they reach
    that it had not (written on its case as any escalation), takes their peak, and — when
    they lie before its opening — says where it began (``detail.began_at``). Nothing is
    reopened or cleared again."""
    for at, level, value in steps:
        if level < ep.level:
            band = rs.band(level)
            if escalate(conn, cfg, ep.id, level, at, band.on, value, band.case_category,
                        received_at):
                counts["alarms_escalated"] += 1
            ep.level = level
    began = min(t for t, _, _ in steps)
    lock_points(conn, shared=True)  # before the alarm's row, as every alarm write
    conn.execute(
        "UPDATE alarms SET peak_value = CASE WHEN %(above)s THEN greatest(peak_value, %(p)s) "
        "ELSE least(peak_value, %(p)s) END, detail = CASE WHEN %(b)s::timestamptz < least("
        "opened_at, coalesce((detail->>'began_at')::timestamptz, opened_at)) THEN detail || "
        "jsonb_build_object('began_at', %(bs)s::text) ELSE detail END WHERE id = %(id)s",
        {"above": rs.direction == "above", "p": peak, "b": began, "bs": rfc3339(began),
         "id": ep.id})
    ep.start = min(ep.start, began)


def late_readings(conn: psycopg.Connection, cfg: IotConfig, sensor: dict[str, Any],
                  rs: RowSet, hits: list[tuple[dt.datetime, float]], until: dt.datetime,
                  received_at: dt.datetime, counts: dict[str, Any]
                  ) -> tuple[int, int] | None:
    """The late readings ``hits`` (older than the sensor's latest stored reading ``until``,
    each reaching its least severe ``on``; in time order) met by the hysteresis, so that an
    exceedance in a backlog a gateway relays after a newer reading is never silent:

    - a reading inside a threshold episode of the sensor (opened before it, not cleared
      before it) belongs to it: :func:`_join`;
    - else a new episode for the past: opened at the reading's time (its case says it was
      reported late, ``received_at``), the hysteresis walked over the sensor's stored readings
      after it up to ``until``: escalated where they reach a more severe level, cleared at
      the first that clears it. A walk that reaches the opening of a later episode before
      clearing is that episode begun earlier: joined to it, no second alarm and case.

    The episode's (level, alarm id) when it is still active at ``until``: the sensor's state
    for the batch's newer readings (no other threshold alarm of the sensor is active then: it
    would have held the reading or been reached by the walk); else None."""
    code = sensor["code"]
    eps = [_Episode(*r) for r in conn.execute(
        "SELECT id, least(opened_at, coalesce((detail->>'began_at')::timestamptz, opened_at)), "
        "cleared_at, level FROM alarms WHERE sensor_code = %s AND kind = 'threshold' AND "
        "valid_to IS NULL AND (status = 'active' OR cleared_at > %s) ORDER BY 2, id",
        (code, hits[0][0]))]
    more = max if rs.direction == "above" else min
    active = None
    held: dict[int, tuple[_Episode, list, float]] = {}  # episode id: its late readings, peak
    covered = None  # the walks went up to here (exclusive): the readings before it are met
    for ts, v in hits:
        first = rs.step(None, v)
        if first is None or (covered is not None and ts < covered):
            continue
        ep = next((e for e in eps if e.holds(ts)), None)
        if ep is not None:  # met together, one update per episode
            _, steps, peak = held.get(ep.id, (ep, [], v))
            steps.append((ts, first, v))
            held[ep.id] = (ep, steps, more(peak, v))
            continue
        nxt = next((e for e in eps if e.start > ts), None)
        level, peak, last, clear_at = first, v, (ts, v), rs.band(first).off
        steps, end, joined = [(ts, first, v)], None, None
        covered = dt.datetime.max.replace(tzinfo=dt.UTC)
        for rt, rv in _after(conn, code, ts, until):
            if nxt is not None and rt >= nxt.start:
                joined, covered = nxt, rt
                break
            new = rs.step(level, rv)
            if new is None:
                end, covered = (rt, rv), rt
                break
            if new < level:
                steps.append((rt, new, rv))
            if new != level:
                clear_at = rs.band(new).off
            level, peak, last = new, more(peak, rv), (rt, rv)
        if end is None and joined is None and nxt is not None:
            joined = nxt  # stored readings end before its opening: it is still that episode
        if joined is not None:
            _join(conn, cfg, joined, rs, steps, peak, counts, received_at)
            continue
        band = rs.band(first)
        a = open_alarm(conn, cfg, sensor, kind="threshold", level=first, at=ts, value=v,
                       threshold=band.on, clear_at=band.off, category_code=band.case_category,
                       received_at=received_at)
        counts["alarms_opened"] += 1
        counts["cases_opened"] += 1
        counts["late_alarms_opened"] += 1
        for at, lv, value in steps[1:]:
            b = rs.band(lv)
            if escalate(conn, cfg, a["id"], lv, at, b.on, value, b.case_category,
                        received_at):
                counts["alarms_escalated"] += 1
        touch(conn, [(a["id"], last[0], last[1], peak, clear_at)])
        if end is not None:
            clear(conn, cfg, a["id"], end[0], end[1])
            counts["alarms_cleared"] += 1
        else:
            active = (level, a["id"])
        eps.append(_Episode(a["id"], ts, end[0] if end else None,
                            min(lv for _, lv, _ in steps)))
        eps.sort(key=lambda e: e.start)
    for ep, steps, peak in held.values():
        _join(conn, cfg, ep, rs, steps, peak, counts, received_at)
    return active
