"""Alarm episodes: opened, escalated, de-escalated and cleared on ingest (or by the gap
detector), each tied to its sensor, the watched asset, the grid cell, a case and a risk point.

An opened alarm is coded by the one allocator (prefix district + ``94`` alarms + the sensor
type, ``layers.csv``), opens one case at once registered (立案) through
:func:`layers.cases.store.open_case` (source 传感告警, actor ``sensor:<device id>``, role
``system``) and raises the asset's risk point (:mod:`layers.risk.alarm`, which this room
calls and which calls nothing here: what the alarm raises is written on it, ``detail``
``raises_risk``, for the points written after it). ``alarms.level`` is
the most severe level the episode reached (escalation raises the risk point again); the
sensor's current hysteresis level lives in ``sensor_state``. Clearing restores the risk point;
the case stays in the loop until people close it (not before the alarm has cleared:
:func:`layers.cases.workflow.act`).

Everything runs in the caller's transaction, and each function that writes an alarm first
takes the risk points' lock shared (:func:`layers.risk.alarm.lock_points`): an assessment
running uncommitted is waited for, so the alarm finds the points it writes.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from cim.coding.allocator import allocate_codes
from cim.coding.scheme import FEATURE_SERIAL_WIDTH
from cim.errors import DatabaseError, InputError
from cim.profile import DICTIONARY_DIR, read_csv_dictionary
from cim.text import shown
from cim.times import rfc3339
from layers.iot.thresholds import IotConfig
from layers.risk.alarm import RAISES, lock_points, raise_for_alarm, restore_for_alarm

LAYER = "alarms"
# the flag of a final case whose episode a late reading escalated (:func:`_after_final`)
ESCALATED_AFTER_CLOSE = "escalated_after_close"
SENSOR_COLUMNS = ("s.code, s.device_id, s.type_code, s.type_name, s.unit, s.asset_layer, "
                  "s.asset_code, s.asset_class, s.grid_code, ST_X(s.geom) AS x, "
                  "ST_Y(s.geom) AS y, coalesce(s.district_code, (SELECT a.code FROM "
                  "admin_divisions a WHERE a.valid_to IS NULL AND a.level = 3 AND "
                  "ST_Intersects(a.geom, s.geom) ORDER BY a.code LIMIT 1)) AS district_code")


@lru_cache(maxsize=1)
def layer_code() -> str:
    """The alarms layer's two-digit code (``layers.csv``, data)."""
    for row in read_csv_dictionary(DICTIONARY_DIR / "layers.csv"):
        if row["layer"] == LAYER:
            return row["layer_code"]
    raise DatabaseError("layers.csv has no row for the alarms layer")


@lru_cache(maxsize=4)
def _matrix(path: str):
    from pathlib import Path

    from layers.risk.config import load_matrix

    return load_matrix(Path(path))


def sensors(conn: psycopg.Connection, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The current sensor rows of ``codes`` (what an alarm copies)."""
    cur = conn.cursor(row_factory=dict_row)
    return {r["code"]: r for r in cur.execute(
        f"SELECT {SENSOR_COLUMNS} FROM sensors s "  # noqa: S608 (constant)
        "WHERE s.code = ANY(%s) AND s.valid_to IS NULL", (codes,))}


def _new_code(conn: psycopg.Connection, prefix: str) -> str:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _alarm_stg (row_no bigint, source_key text, "
                 "prefix text, code text) ON COMMIT DELETE ROWS")
    conn.execute("DELETE FROM _alarm_stg")
    conn.execute("INSERT INTO _alarm_stg VALUES (1, %s, %s, NULL)",
                 (f"alarm:{uuid.uuid4()}", prefix))
    allocate_codes(conn, "_alarm_stg", LAYER, FEATURE_SERIAL_WIDTH, None)
    return conn.execute("SELECT code FROM _alarm_stg").fetchone()[0]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def open_alarm(conn: psycopg.Connection, cfg: IotConfig, sensor: dict[str, Any], *,
               kind: str, level: int, at: dt.datetime, value: float | None,
               threshold: float | None, clear_at: float | None,
               category_code: str, raise_risk: bool = True,
               received_at: dt.datetime | None = None) -> dict[str, Any]:
    """Insert the alarm, open its case, raise the risk point; the alarm's id and codes.
    ``received_at``: when the reading that opens it arrived after a later reading of its
    sensor (late, :func:`late_readings`): the alarm and its case say so (``detail``
    ``reported_late``: the reading's time and the receipt time; the case's words too), so the
    people handling it know the episode was found after the fact), and the case is
    registered at ``received_at`` (reported at the reading's time, when it happened): its
    deadline counts from when the platform could act on it, not from a past already gone
    (a backlog of hours would be overdue the moment it opened)."""
    from layers.cases.store import SENSOR_SOURCE, open_case

    if not sensor.get("district_code"):
        raise DatabaseError(f"sensor {sensor['code']} lies in no district and names none")
    lock_points(conn, shared=True)
    lv = cfg.levels[level]
    code = _new_code(conn, f"{sensor['district_code']}{cfg.alarm_layer_code or layer_code()}"
                           f"{sensor['type_code']}")
    alarm_id = conn.execute(
        "INSERT INTO alarms (code, geom, sensor_code, device_id, type_code, type_name, kind, "
        "level, level_name, color, status, threshold, clear_at, first_value, peak_value, "
        "last_value, unit, opened_at, last_at, asset_layer, asset_code, district_code, "
        "grid_code, detail) SELECT %(code)s, s.geom, s.code, s.device_id, s.type_code, "
        "s.type_name, %(kind)s, %(level)s, %(lname)s, %(color)s, 'active', %(thr)s, %(clear)s, "
        "%(v)s, %(v)s, %(v)s, s.unit, %(at)s, %(at)s, s.asset_layer, s.asset_code, "
        "%(district)s, s.grid_code, %(detail)s FROM sensors s WHERE s.code = %(sensor)s AND "
        "s.valid_to IS NULL RETURNING id",
        {"code": code, "kind": kind, "level": level, "lname": lv.name, "color": lv.color,
         "thr": threshold, "clear": clear_at, "v": value, "at": at,
         "district": sensor["district_code"], "sensor": sensor["code"],
         "detail": Jsonb({RAISES: raises(cfg, sensor["type_code"], level)
                          if raise_risk else None})}).fetchone()[0]
    what = (f"{sensor.get('type_name') or sensor['type_code']} {lv.name}告警：监测值 "
            f"{_fmt(value)} {sensor.get('unit') or ''}（阈值 {_fmt(threshold)}）"
            if kind == "threshold" else
            f"{sensor.get('type_name') or sensor['type_code']} 设备离线：最后上报后超过 "
            f"{cfg.gap_factor:g} 个上报周期未上报")
    # the case's report is not after the platform's clock (a device clock may run up to
    # readings.max_ahead_s ahead): people act on it at the platform's time, and an action
    # before the case's last event is refused
    reported = min(at, conn.execute("SELECT now()").fetchone()[0])
    late = ""
    if received_at is not None:
        from cim.cityclock import on_city_clock

        late = (f"；迟报：监测时间 {on_city_clock(at, cfg.timezone):%Y-%m-%d %H:%M:%S}，接收时间 "
                f"{on_city_clock(received_at, cfg.timezone):%Y-%m-%d %H:%M:%S}")
    case = open_case(conn, source=SENSOR_SOURCE, category_code=category_code,
                     actor=f"sensor:{sensor['device_id']}", role="system",
                     point=(sensor["x"], sensor["y"]), grid_code=sensor.get("grid_code"),
                     description=f"{what}；设备 {sensor['device_id']}{late}",
                     asset_code=sensor.get("asset_code"), alarm_code=code,
                     reported_at=reported, register=True, profile=cfg.profile,
                     registered_at=received_at)
    risk_code = None
    if raise_risk:
        risk_code = raise_risk_point(conn, cfg, alarm_code=code,
                                     asset_code=sensor.get("asset_code"),
                                     type_code=sensor["type_code"], level=level, at=at)
    conn.execute("UPDATE alarms SET case_code = %s, risk_code = %s WHERE id = %s",
                 (case["code"], risk_code, alarm_id))
    if received_at is not None:
        note = {"reported_late": {"reading_at": rfc3339(at),
                                  "received_at": rfc3339(received_at)}}
        for table, key in (("alarms", alarm_id), ("cases", case["code"])):
            conn.execute(f"UPDATE {table} SET detail = detail || %s::jsonb "  # noqa: S608
                         f"WHERE {'id' if table == 'alarms' else 'code'} = %s "
                         "AND valid_to IS NULL", (json.dumps(note), key))
    return {"id": alarm_id, "code": code, "case_code": case["code"], "risk_code": risk_code}


def raises(cfg: IotConfig, type_code: str, level: int) -> dict[str, str | None]:
    """What an alarm of ``type_code`` at ``level`` raises, as it is written on the alarm
    (``detail.raises_risk``) for the risk points written while it is active
    (:func:`layers.risk.alarm.raise_unraised`): its level's ``risk_level`` (iot.yaml), the
    point of its sensor type's risk type (sensor_types.csv) first."""
    return {"level": cfg.levels[level].risk_level, "type": cfg.risk_types.get(type_code) or None}


def raise_risk_point(conn: psycopg.Connection, cfg: IotConfig, *, alarm_code: str,
                     asset_code: str | None, type_code: str, level: int, at: dt.datetime,
                     risk_code: str | None = None) -> str | None:
    """The one way an alarm raises a risk point, at its opening and its escalation
    (:func:`raises`); the point's code, or None when the asset has none."""
    r = raises(cfg, type_code, level)
    return raise_for_alarm(conn, _matrix(str(cfg.matrix_path)), asset_code=asset_code,
                           alarm_code=alarm_code, level=r["level"], risk_type=r["type"], at=at,
                           risk_code=risk_code, timezone=cfg.timezone)


def escalate(conn: psycopg.Connection, cfg: IotConfig, alarm_id: int, level: int,
             at: dt.datetime, threshold: float, value: float | None = None,
             category_code: str | None = None,
             received_at: dt.datetime | None = None) -> bool:
    """The episode reached a more severe ``level``: the alarm says so, its risk point goes up
    with it and its case tells the people handling it (the case's ``detail``: ``alarm_level``
    and one ``escalations`` entry each — at, level, value, threshold, note; the case was
    opened with the first level's words), and when the level's band names another case
    category (``category_code``, sensor_thresholds.csv ``case_category``) the case takes it
    (:func:`layers.cases.workflow.follow_category`: its time limit and deadline, before
    dispatch its proposed unit; ``received_at``: a late reading's receipt, which its new time
    limit counts from). False when the episode had reached that level before (back up after
    a de-escalation): nothing changes."""
    lock_points(conn, shared=True)
    lv = cfg.levels[level]
    # what it raises follows its level (a gap alarm, raising nothing, never escalates)
    row = conn.execute(
        "UPDATE alarms SET level = %(level)s, level_name = %(name)s, color = %(color)s, "
        "threshold = %(thr)s, detail = detail || jsonb_build_object('escalated_at', "
        "%(at)s::text) || CASE WHEN jsonb_typeof(detail->%(key)s) = 'null' THEN '{}' ELSE "
        "jsonb_build_object(%(key)s::text, jsonb_build_object('level', %(risk)s::text, "
        "'type', (SELECT nullif(u.t, '') FROM unnest(%(codes)s::text[], %(types)s::text[]) "
        "AS u(c, t) WHERE u.c = alarms.type_code))) END "
        "WHERE id = %(id)s AND level > %(level)s RETURNING code, asset_code, type_code, "
        "risk_code, case_code, device_id, type_name, unit, status",
        {"level": level, "name": lv.name, "color": lv.color, "thr": threshold,
         "at": rfc3339(at), "key": RAISES, "risk": lv.risk_level,
         "codes": list(cfg.risk_types), "types": list(cfg.risk_types.values()),
         "id": alarm_id}).fetchone()
    if row is None:
        return False
    if row[4]:  # the case was opened with the first level's words: it says the escalation
        conn.execute(
            "UPDATE cases SET detail = detail || jsonb_build_object('alarm_level', %(name)s::text, "
            "'escalations', coalesce(detail->'escalations', '[]'::jsonb) || jsonb_build_array("
            "jsonb_build_object('at', %(at)s::text, 'level', %(level)s::int, "
            "'level_name', %(name)s::text, 'value', %(v)s::float8, 'threshold', %(thr)s::float8, "
            "'note', %(note)s::text))) WHERE code = %(case)s AND valid_to IS NULL",
            {"name": lv.name, "at": rfc3339(at), "level": level, "v": value, "thr": threshold,
             "note": f"{row[6] or row[2]} 告警升级为{lv.name}（{lv.color}）：监测值 "
                     f"{_fmt(value)} {row[7] or ''}（阈值 {_fmt(threshold)}）",
             "case": row[4]})
        if _after_final(conn, cfg, row[4], row[5], lv, level, at, value, threshold):
            category_code = None  # a final case keeps the category it was handled as
        if category_code:
            from layers.cases.workflow import follow_category

            follow_category(conn, row[4], category_code, at=at, actor=f"sensor:{row[5]}",
                            role="system", note=f"告警升级为{lv.name}（{lv.color}）",
                            profile=cfg.profile, known_at=received_at)
    # a cleared episode escalated by a late reading in it: its clearing restored the point,
    # and a raise now would never be taken back
    if row[3] is not None and row[8] == "active":
        raise_risk_point(conn, cfg, alarm_code=row[0], asset_code=row[1], type_code=row[2],
                         level=level, at=at, risk_code=row[3])
    return True


def _after_final(conn: psycopg.Connection, cfg: IotConfig, case_code: str, device_id: str,
                 lv: Any, level: int, at: dt.datetime, value: float | None,
                 threshold: float) -> bool:
    """An escalation of an episode whose case is already final (结案, 作废): only a late
    reading of a cleared episode reaches it (a case is closed only once its alarm has
    cleared), and the ``detail`` entry alone was unseen — nobody looks at a closed case.
    The case's trail gets an event (action ``escalate``, the state unchanged, at the
    platform's time: it is written now, after the close; the reading's time in its detail)
    and the flag ``escalated_after_close``, so the case history and the case list show that
    the episode was worse than the case was handled as. The case is not reopened: the
    workflow file (case_workflow.yaml) has no transition out of a final state, and whether
    to open a new case is the people's decision. True when the case is final."""
    from cim.cityclock import on_city_clock
    from layers.cases.store import record_event
    from layers.cases.workflow import load_workflow, workflow_file

    final = load_workflow(workflow_file(cfg.profile)).final
    row = conn.execute("SELECT id, state FROM cases WHERE code = %s AND valid_to IS NULL "
                       "FOR UPDATE", (case_code,)).fetchone()
    if row is None or row[1] not in final:
        return False
    now = conn.execute("SELECT now()").fetchone()[0]
    last = conn.execute("SELECT max(at) FROM case_events WHERE case_id = %s",
                        (row[0],)).fetchone()[0]
    conn.execute("UPDATE cases SET flags = array_append(flags, %s) WHERE id = %s "
                 "AND NOT %s = ANY(flags)", (ESCALATED_AFTER_CLOSE, row[0],
                                             ESCALATED_AFTER_CLOSE))
    on_clock = on_city_clock(at, cfg.timezone)
    record_event(conn, row[0], at=max(now, last) if last else now, actor=f"sensor:{device_id}",
                 role="system", action="escalate", from_state=row[1], to_state=row[1],
                 note=f"{row[1]}后迟报：告警升级为{lv.name}（{lv.color}），监测时间 "
                      f"{on_clock:%Y-%m-%d %H:%M:%S}，监测值 {_fmt(value)}（阈值 "
                      f"{_fmt(threshold)}）",
                 detail={"level": level, "level_name": lv.name, "reading_at": rfc3339(at),
                         "value": value, "threshold": threshold})
    return True


def touch(conn: psycopg.Connection, rows: list[tuple[int, dt.datetime, float, float,
                                                     float | None]]) -> None:
    """Latest value, time, peak and clearing bound of active alarms:
    (id, last_at, last_value, peak_value, clear_at)."""
    if not rows:
        return
    lock_points(conn, shared=True)
    ids, ats, vals, peaks, clears = (list(x) for x in zip(*rows, strict=True))
    conn.execute(
        "UPDATE alarms a SET last_at = u.at, last_value = u.v, peak_value = u.peak, "
        "clear_at = coalesce(u.clear_at, a.clear_at) FROM unnest(%s::bigint[], "
        "%s::timestamptz[], %s::float8[], %s::float8[], %s::float8[]) AS u(id, at, v, peak, "
        "clear_at) WHERE a.id = u.id", (ids, ats, vals, peaks, clears))


def clear(conn: psycopg.Connection, cfg: IotConfig, alarm_id: int, at: dt.datetime,
          value: float | None, reason: str | None = None) -> str | None:
    """Clear the alarm at ``at`` (its risk point regraded); the alarm's code. An episode
    never ends before it began: a gap alarm cleared by buffered readings older than the alarm
    is cleared at its opening time. ``reason``: why it ended when no reading ended it (the
    sensor taken out of service, retired, its thresholds gone), kept as the alarm's
    ``detail.cleared_reason``. Every level an alarm can be at is in ``cfg.levels``:
    :func:`~layers.iot.thresholds.load_config` refuses an iot.yaml lacking one (naming it),
    not guessed as the nearest level — the other alarms still active on the point are
    regraded by it."""
    lock_points(conn, shared=True)
    row = conn.execute(
        "UPDATE alarms SET status = 'cleared', cleared_at = greatest(opened_at, %s), "
        "last_value = coalesce(%s, "
        "last_value), last_at = CASE WHEN %s::float8 IS NULL THEN last_at ELSE %s END, "
        "detail = CASE WHEN %s::text IS NULL THEN detail "
        "ELSE detail || jsonb_build_object('cleared_reason', %s::text) END "
        "WHERE id = %s AND status = 'active' RETURNING code, risk_code",
        (at, value, value, at, reason, reason, alarm_id)).fetchone()
    if row is None:
        return None
    if row[1]:
        restore_for_alarm(conn, _matrix(str(cfg.matrix_path)), risk_code=row[1],
                          alarm_code=row[0],
                          level_of_alarm={k: v.risk_level for k, v in cfg.levels.items()},
                          at=at, timezone=cfg.timezone)
    return row[0]


def list_alarms(conn: psycopg.Connection, *, active: bool = False, sensor: str | None = None,
                status: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Alarms, the last opened on the platform first (its row's order: a late reading's alarm
    for the past is listed where it was opened, as the case list lists its case, not below
    the alarms of the hours since) (``active``: only those still active; ``status`` active or
    cleared); ``cleared_reason`` says why an alarm no reading ended was cleared,
    ``reported_late`` (``reading_at``, ``received_at``) that a late reading opened it for the
    past, ``began_at`` that late readings found it began before its opening (null when not):
    an operator reading the list otherwise took a backlog's alarm for one of the moment."""
    cond, params = ["valid_to IS NULL"], []
    if sensor is not None:  # pasted from a table, as layers.iot.series.sensor_code takes it
        sensor = sensor.strip()
        if not sensor:  # not "every sensor"
            raise InputError("is blank: give a sensor's code or device id", field="sensor")
    if active:
        status = "active"
    if status:
        cond.append("status = %s")
        params.append(status)
    if sensor:
        cond.append("(sensor_code = %s OR device_id = %s)")
        params += [sensor, sensor]
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(
        "SELECT code, sensor_code, device_id, type_code, type_name, kind, level, level_name, "
        "color, status, threshold, clear_at, first_value, peak_value, last_value, unit, "
        "opened_at, last_at, cleared_at, detail->>'cleared_reason' AS cleared_reason, "
        "detail->'reported_late' AS reported_late, "
        "(detail->>'began_at')::timestamptz AS began_at, "
        "asset_layer, asset_code, district_code, grid_code, "
        f"case_code, risk_code FROM alarms WHERE {' AND '.join(cond)} "  # noqa: S608
        "ORDER BY id DESC LIMIT %s", (*params, limit)).fetchall()
    # a mistyped sensor (GAS-01 for GAS-001) listed "0 alarms", which an operator reads as a
    # quiet sensor: a reference no sensor ever had (a retired one's alarms stay listed) is
    # refused as the other sensor queries refuse it
    if sensor and not rows and conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM sensors WHERE code = %s OR device_id = %s)",
            (sensor, sensor)).fetchone()[0]:
        raise InputError(f"no sensor has code or device id {shown(sensor)}", field="sensor")
    return rows
