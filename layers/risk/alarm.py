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

The monitoring room (``layers.iot``) calls down into this module, never the other way: what
an alarm raises is written on the alarm itself when it opens or escalates
(``detail.raises_risk``: the risk level of its level and the risk type of its sensor type,
or null for an alarm that raises nothing), so a point written later — by ``cim risk assess``
or ``cim risk add`` — is raised by the alarms active on its asset here
(:func:`raise_unraised`), without reading the monitoring room's configuration. The risk list
imported the monitoring room for it, which imported the risk list back.

Two locks order the writers (:func:`lock_writers`, :func:`lock_points`): the risk list's
writers (assess, add, measure) run one at a time, and hold the points' lock exclusively from
the moment they write points to their commit, the alarm path shared, taken before it writes
an alarm or a risk point. An alarm opened while an assessment ran uncommitted looked for its
asset's point in what was committed: a point the assessment gave a new version (or placed
for the first time) was not there, the alarm raised nothing, and the assessment's own look at
the active alarms had come before the alarm existed — the point stayed 低 beside a 一级 alarm
until the next assessment. Now the alarm waits for the assessment to commit (and an
assessment for the batches raising points to commit), then sees its points; the readings of
an assessment still grading its candidates (the most of its time) do not wait.

Runs in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.types.json import Jsonb

from cim.cityclock import CHINA_TIME
from layers.risk.config import LEVELS, Matrix

FLAG = "alarm:"
# an alarm's ``detail`` key saying what it raises: {"level": 重大…, "type": risk type or null},
# or null (a gap alarm when iot.yaml gap.raise_risk is false)
RAISES = "raises_risk"
WRITERS = "cim.risk.assess"  # the advisory lock of the risk list's writers, one at a time
POINTS = "cim.risk.points"  # and of the points' rows, against the alarms raising them


def lock_writers(conn: psycopg.Connection) -> None:
    """One writer of the risk list at a time, until the end of the transaction: an
    assessment, a point added by hand or a measure recorded (two would race for the same
    points: a second point of one risk, a rule point beside the one added by hand). Taken
    before :func:`lock_points`, never after it."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (WRITERS,))


def lock_points(conn: psycopg.Connection, *, shared: bool = False) -> None:
    """Wait for the risk points' other writers, until the end of the transaction: the risk
    list's (exclusive, once they write points: assess from its merge, add and measure from
    their start) against the alarms raising and restoring points (shared: they do not wait
    for each other). Taken by the alarm path before it locks any alarm or risk point row — an
    alarm row locked first would deadlock with an assessment's raise of it."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    conn.execute(f"SELECT {fn}(hashtext(%s))", (POINTS,))  # noqa: S608 (one of two names)


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
    lock_points(conn, shared=True)
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
    lock_points(conn, shared=True)
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


def raise_unraised(conn: psycopg.Connection, matrix: Matrix, timezone: str = CHINA_TIME
                   ) -> tuple[list[tuple[str, str]], list[str]]:
    """Active alarms that raise no current risk point — their asset had none when they
    opened, or the point they raised was retired or given a version without their raise —
    raise the point their asset has now, as if they had opened after it, at the risk level
    their last opening or escalation recorded (``detail.raises_risk``), and keep its code
    (``alarms.risk_code``) so their escalation raises it again and their clearing restores
    it. A point added or assessed during a 一级 gas alarm was listed 低 beside it, and stayed
    so until the next alarm. Called after a risk point is written (``cim risk assess``,
    ``cim risk add``), holding :func:`lock_points`.

    An alarm opened before alarms recorded what they raise has no ``raises_risk``: its last
    raise in the points' history says it, else it is returned among the alarms not raised
    (named in the assessment's notes: this module does not read the monitoring room's
    levels) — a gap alarm that never raised a point is taken for one that raises none, as
    iot.yaml's default has it.
    ((alarm code, risk point code) of each raise, codes of the alarms not raised)."""
    rows = conn.execute(
        "SELECT a.id, a.code, a.asset_code, CASE WHEN a.detail ? %(key)s THEN "
        "a.detail->%(key)s->>'level' ELSE (SELECT ra.factors->>'alarm_level' FROM "
        "risk_assessments ra WHERE ra.source = 'alarm' AND ra.factors->>'alarm' = a.code AND "
        "ra.factors->>'action' = 'raise' ORDER BY ra.id DESC LIMIT 1) END, "
        "a.detail->%(key)s->>'type', a.detail ? %(key)s, a.kind FROM alarms a "
        "WHERE a.status = 'active' AND a.valid_to IS NULL AND a.asset_code IS NOT NULL "
        "AND coalesce(jsonb_typeof(a.detail->%(key)s), '') <> 'null' "
        "AND NOT EXISTS (SELECT 1 FROM risk_points r WHERE r.valid_to IS NULL AND "
        "r.code = a.risk_code AND %(flag)s || a.code = ANY(r.flags)) ORDER BY a.id",
        {"key": RAISES, "flag": FLAG}).fetchall()
    if not rows:
        return [], []
    now = conn.execute("SELECT now()").fetchone()[0]
    raised, unknown = [], []
    for alarm_id, code, asset, level, risk_type, recorded, kind in rows:
        if level not in LEVELS:
            # a gap alarm that never raised a point raises none (iot.yaml's default)
            if kind != "gap":
                unknown.append(code)
            continue
        point = raise_for_alarm(conn, matrix, asset_code=asset, alarm_code=code, level=level,
                                risk_type=risk_type if recorded else None, at=now,
                                timezone=timezone)
        if point is not None:
            conn.execute("UPDATE alarms SET risk_code = %s WHERE id = %s", (point, alarm_id))
            raised.append((code, point))
    return raised, unknown
