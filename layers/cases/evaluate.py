"""Evaluation of the case loop per grid cell, unit or district and period (GB/T 30428-style
综合评价 figures as this platform defines them).

The cases evaluated are the current cases REPORTED in the period, ``from <= reported_at <
to``; each figure is counted over them as their timestamps stand when the evaluation runs,
with ``as_of = min(to, now)`` the moment deadlines are judged at:

- 上报数 ``reported``: the cases found (every source).
- 立案数 ``registered``: those registered (``registered_at`` set; a case returned to 上报 is
  not registered, one voided after 立案 still is).
- 立案率 = registered / reported.
- 应处置数 ``due``: the dispatched cases that had to be handled by ``as_of``: handled
  (``handled_at`` set), or dispatched (``dispatched_at`` set) with their deadline before
  ``as_of``. A dispatched case whose deadline is still ahead is not due yet, so a period that
  just ended does not count work still in time as late.
- 按期处置数 ``on_time``: handled no later than the deadline (立案 + the category's time limit).
- 按期处置率 = on_time / due.
- 结案数 ``closed``: closed (``closed_at`` set). 结案率 = closed / registered.
- 平均处置时长 ``mean_handling_h``: mean of handled_at − registered_at in hours over the
  handled cases (立案 → 处置; after a failed 核查 the last handling counts).

The period's bounds given without an offset are the city's clock (``timezone``, the city
profile's; default China's): ``2026-06-01`` starts June where the city is, not 8 h later.
A rate whose denominator is 0 is None (shown as "—"). ``overdue`` lists the cases overdue at
``now`` (:func:`layers.cases.dispatch.overdue`), whatever the period.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from cim.cityclock import CHINA_TIME
from cim.errors import InputError
from layers.cases.dispatch import overdue
from layers.cases.store import city_time, utc

if TYPE_CHECKING:
    from cim.profile import CityProfile

GROUPS = {"grid": "grid_code", "unit": "unit", "district": "district_code"}
FORMULAS = {
    "立案率": "立案数 / 上报数",
    "按期处置率": "按期处置数 (handled_at <= deadline) / 应处置数 (handled, or dispatched "
                "with deadline < min(to, now))",
    "结案率": "结案数 / 立案数",
    "平均处置时长": "mean(handled_at - registered_at) in hours over handled cases",
}


def _rate(n: int, d: int) -> float | None:
    return n / d if d else None


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    r["registration_rate"] = _rate(r["registered"], r["reported"])
    r["on_time_rate"] = _rate(r["on_time"], r["due"])
    r["closing_rate"] = _rate(r["closed"], r["registered"])
    if r["mean_handling_h"] is not None:
        r["mean_handling_h"] = float(r["mean_handling_h"])
    return r


def evaluate(conn: psycopg.Connection, start: dt.datetime, end: dt.datetime,
             by: str | None = None, now: dt.datetime | None = None,
             timezone: str = CHINA_TIME,
             profile: CityProfile | None = None,
             fields: tuple[str, str] = ("from", "to")) -> dict[str, Any]:
    """The figures of the period ``[start, end)`` per ``by`` (grid, unit, district) and in
    total, the formulas, and the overdue list at ``now`` (waiting in ``profile``'s loop; None:
    the platform's); ``start`` and ``end`` without an offset are in ``timezone`` (the
    city's). ``fields``: what the caller names the two (the query's from/to, the CLI's
    --from/--to), for a refusal."""
    start, end = city_time(start, timezone, fields[0]), city_time(end, timezone, fields[1])
    if end <= start:
        raise InputError(f"the period ends ({end.isoformat()}) before it starts "
                         f"({start.isoformat()})", field=fields[1])
    if by is not None and by not in GROUPS:
        raise InputError(f"by {by!r}: one of {', '.join(GROUPS)}", field="by")
    now = utc(now) or conn.execute("SELECT now()").fetchone()[0]
    as_of = min(end, now)
    key = GROUPS[by] if by else "NULL::text"
    cur = conn.cursor(row_factory=dict_row)
    group = f"GROUP BY ROLLUP ({key}) ORDER BY GROUPING({key}), {key}" if by else ""
    rows = cur.execute(
        f"SELECT {key} AS key, count(*) AS reported, count(registered_at) AS registered, "  # noqa: S608
        "count(dispatched_at) AS dispatched, count(handled_at) AS handled, "
        "count(*) FILTER (WHERE handled_at IS NOT NULL OR (dispatched_at IS NOT NULL "
        "  AND deadline < %(as_of)s)) AS due, "
        "count(*) FILTER (WHERE handled_at <= deadline) AS on_time, "
        "count(closed_at) AS closed, "
        "avg(extract(epoch FROM handled_at - registered_at) / 3600) AS mean_handling_h "
        "FROM cases WHERE valid_to IS NULL AND reported_at >= %(f)s AND reported_at < %(t)s "
        + group, {"f": start, "t": end, "as_of": as_of}).fetchall()
    rows = [_figures(r) for r in rows]
    total = rows.pop() if by else rows[0]
    if by:
        for r in rows:
            r[by] = r.pop("key")
    total.pop("key", None)
    # on the clock of from and to, whichever of the two instants it is (the database's now
    # came in the session's zone: UTC beside a period on the city's clock)
    as_of = as_of.astimezone(start.tzinfo)
    return {"from": start.isoformat(), "to": end.isoformat(), "as_of": as_of.isoformat(),
            "timezone": timezone, "by": by, "rows": rows if by else [], "total": total, "formulas": FORMULAS,
            "overdue": overdue(conn, now, profile)}
