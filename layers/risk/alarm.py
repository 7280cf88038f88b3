"""An alarm meets the risk list: raising a risk point's level while an alarm on its asset is
active, and restoring it when the alarm clears (issue 14).

The point raised is the asset's current risk point of the sensor type's risk type
(``sensor_types.csv`` risk_type), else the asset's most severe current point; a sensor on a
pipe point (a gas detector in a valve well) raises the point of a pipe segment starting or
ending there when the pipe point has none of its own. Its level goes
up to the alarm's (``iot.yaml`` levels: 一级 → 重大 … 四级 → 低), never down; its flags carry
``alarm:<alarm code>`` while the alarm is active. When the alarm clears, the level is regraded
from the point's own likelihood × consequence (``risk_matrix.yaml``), or stays at the most
severe level of the alarms still active on it. Each change is a ``risk_assessments`` row with
source ``alarm`` (in the latest assessment run of the point, so ``cim risk history`` shows it
after that run). Only ``level``, ``color`` and ``flags`` of the current version are updated —
the columns the served role may write — and its ``row_hash`` is left alone, so a
``cim risk assess`` during the alarm keeps the raised level: the grading compares the point's
own level (likelihood × consequence), and a point given a new version keeps the raise of the
alarms still active on it (:func:`layers.risk.assess.merge`).

Runs in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.types.json import Jsonb

from cim.profile import CHINA_TIME
from layers.risk.config import LEVELS, Matrix

FLAG = "alarm:"


def _severer(a: str, b: str) -> str:
    return a if LEVELS.index(a) <= LEVELS.index(b) else b


# the raise (or restore) recorded in the point's grading history. r.code is COLLATE "C"
# (migration 0010), the history's (code, run_id) index in the default collation: compared in
# the default one, or every raise read the whole history
RECORD = (
    "INSERT INTO risk_assessments (run_id, assessed_at, year, code, risk_type_code, "
    "asset_code, source, likelihood, consequence, level, color, factors) "
    "SELECT coalesce((SELECT max(run_id) FROM risk_assessments "
    "WHERE code = r.code COLLATE \"default\"), 0), "
    "%(at)s, extract(year FROM %(at)s::timestamptz AT TIME ZONE %(tz)s)::int, r.code, "
    "r.risk_type_code, r.asset_code, 'alarm', r.likelihood, r.consequence, %(level)s, "
    "%(color)s, %(f)s FROM risk_points r WHERE r.code = %(code)s AND r.valid_to IS NULL")


def _record(conn: psycopg.Connection, code: str, level: str, color: str, at: dt.datetime,
            factors: dict, timezone: str = CHINA_TIME) -> None:
    """The raise or restore in the point's grading history, filed under the city's year of
    ``at`` (``timezone``: its profile's; a raise at 02:00 on New Year's Day in China is of
    the new year, not of the old one it still is in UTC)."""
    conn.execute(RECORD, {"at": at, "level": level, "color": color, "f": Jsonb(factors),
                          "code": code, "tz": timezone})


def raise_for_alarm(conn: psycopg.Connection, matrix: Matrix, *, asset_code: str | None,
                    alarm_code: str, level: str, risk_type: str | None = None,
                    at: dt.datetime | None = None, risk_code: str | None = None,
                    timezone: str = CHINA_TIME) -> str | None:
    """Raise the asset's risk point to ``level`` (重大 … 低) for ``alarm_code``; the point's
    code, or None when the asset has no current risk point. ``risk_code``: the point the
    alarm raised already (an escalation raises that one again, the one its clearing
    restores, even if another point of the asset would be chosen now)."""
    if risk_code:
        row = conn.execute("SELECT code, level FROM risk_points WHERE code = %s AND "
                           "valid_to IS NULL FOR UPDATE", (risk_code,)).fetchone()
    elif not asset_code:
        return None
    else:
        # the asset's own point first; a pipe point (a valve well, a manhole) stands for the
        # pipe segments that start or end at it
        row = conn.execute(
            "SELECT code, level FROM risk_points WHERE valid_to IS NULL AND (asset_code = %(a)s "
            "OR asset_code IN (SELECT code FROM pipe_segments WHERE valid_to IS NULL AND "
            "(start_point_code = %(a)s OR end_point_code = %(a)s))) "
            "ORDER BY (asset_code = %(a)s) DESC, (risk_type_code = %(t)s) DESC NULLS LAST, "
            "array_position(%(lv)s::text[], level), code LIMIT 1 FOR UPDATE",
            {"a": asset_code, "t": risk_type, "lv": list(LEVELS)}).fetchone()
    if row is None:
        return None
    code, old = row
    new = _severer(old, level)
    color = matrix.levels[new]["color"]
    conn.execute("UPDATE risk_points SET level = %s, color = %s, flags = array_append("
                 "array_remove(flags, %s), %s) WHERE code = %s AND valid_to IS NULL",
                 (new, color, FLAG + alarm_code, FLAG + alarm_code, code))
    _record(conn, code, new, color, at or dt.datetime.now(dt.UTC),
            {"alarm": alarm_code, "action": "raise", "alarm_level": level, "from": old},
            timezone)
    return code


def restore_for_alarm(conn: psycopg.Connection, matrix: Matrix, *, risk_code: str | None,
                      alarm_code: str, level_of_alarm: dict[int, str],
                      at: dt.datetime | None = None, timezone: str = CHINA_TIME
                      ) -> str | None:
    """Take ``alarm_code`` off its risk point and regrade the point (its matrix level, or the
    most severe of the alarms still active on it); the level it now has, or None when there is
    no such current point."""
    if not risk_code:
        return None
    row = conn.execute("SELECT level, likelihood, consequence, flags FROM risk_points "
                       "WHERE code = %s AND valid_to IS NULL FOR UPDATE",
                       (risk_code,)).fetchone()
    if row is None:
        return None
    old, lk, cons, flags = row
    rest = [f[len(FLAG):] for f in flags if f.startswith(FLAG) and f != FLAG + alarm_code]
    # the point's own level: the one its last grading gave (an assessment, or its placing by
    # hand), as the assessment compares it (layers.risk.grade.GRADED) — an assessment run
    # with another matrix (--matrix) than the one handed here graded it otherwise; the
    # stored likelihood × consequence through ``matrix`` only for a point never recorded
    graded = conn.execute(
        "SELECT level FROM risk_assessments WHERE code = %s COLLATE \"default\" AND "
        "source <> 'alarm' ORDER BY run_id DESC, id DESC LIMIT 1", (risk_code,)).fetchone()
    new = graded[0] if graded and graded[0] in LEVELS else matrix.level(lk, cons)[0]
    if rest:
        for (lv,) in conn.execute("SELECT level FROM alarms WHERE code = ANY(%s) AND "
                                  "status = 'active' AND valid_to IS NULL", (rest,)):
            new = _severer(new, level_of_alarm[lv])
    color = matrix.levels[new]["color"]
    conn.execute("UPDATE risk_points SET level = %s, color = %s, flags = array_remove(flags, %s) "
                 "WHERE code = %s AND valid_to IS NULL",
                 (new, color, FLAG + alarm_code, risk_code))
    _record(conn, risk_code, new, color, at or dt.datetime.now(dt.UTC),
            {"alarm": alarm_code, "action": "restore", "from": old}, timezone)
    return new
