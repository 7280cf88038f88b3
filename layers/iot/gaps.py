"""The gap detector: a sensor silent for longer than ``factor`` × its reporting interval
(``iot.yaml`` gap.factor, the sensor's ``interval_s`` else its type's) is itself an alarm
(kind ``gap``) with a case of the 监测设备离线 category; it clears when the sensor reports
again (on ingest) or when a later run finds it reporting.

A sensor that never reported is measured from its registration: the issue of its code
(``code_registry.issued_at``, by the layer's source key), not the ``valid_from`` of its current
version — a registry reload correcting its name is no new registration (a sensor written
without a registry row: its ``valid_from``) — or, if later, from when it last entered a watched
status: the ``valid_to`` of its last earlier version (same code) in an unwatched one, so a
sensor registered 停用 in January and switched to 运行 in June has its grace from June. Only
sensors in a watched status (gap.statuses, 运行) are checked; the gap alarm of a sensor no
longer watched (停用, 维修, retired) is cleared by the next run, and so is the threshold alarm
of a sensor taken out of service (iot.yaml alarms.end_statuses, 停用) or retired, each with
its ``cleared_reason``. Run it from cron: ``cim iot gaps``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from cim.cityclock import on_city_clock
from cim.errors import InputError
from cim.times import rfc3339
from layers.iot import alarms as alarm_ops
from layers.iot.thresholds import IotConfig, cached_config

# each watched sensor: since when it is silent (its last report, else its registration, or
# its return to a watched status if later), its open gap alarm, its interval. The returns
# are read in one pass over the retired versions, grouped by code: a sub-query per sensor
# had no index to use (the code's is of current versions only) and read the whole registry
# once a sensor — 17 s a run of `cim iot gaps` for 12,000 sensors.
SILENCE = (
    "WITH back AS (SELECT p.code, max(p.valid_to) AS at FROM sensors p WHERE "
    "p.valid_to IS NOT NULL AND NOT p.status = ANY(%s) GROUP BY p.code) "
    "SELECT s.code, greatest(coalesce(st.last_ts, r.issued_at, s.valid_from), "
    "back.at) AS since, "
    "st.gap_alarm_id, coalesce(s.interval_s, d.interval_s) AS interval_s, "
    "g.opened_at AS gap_opened_at FROM sensors s "
    "JOIN sensor_state st ON st.sensor_code = s.code "
    "LEFT JOIN alarms g ON g.id = st.gap_alarm_id "
    "LEFT JOIN back ON back.code = s.code "
    "LEFT JOIN code_registry r ON r.layer = 'sensors' AND r.source_key = s.source_key "
    "AND r.code = s.code "
    "LEFT JOIN unnest(%s::text[], %s::int[]) AS d(type_code, interval_s) "
    "ON d.type_code = s.type_code WHERE s.valid_to IS NULL AND s.status = ANY(%s) "
    "ORDER BY s.code FOR UPDATE OF st")


def out_of_service(status: str | None) -> str:
    """Why the alarm of a sensor no longer in service ended (``status`` None: retired)."""
    if status is None:
        return "sensor retired (no current version in the sensor registry)"
    return f"sensor status {status} (not in service)"


# an active alarm (``al``) of a sensor (``s``, its current version) that the registry has since
# moved: to another asset, or more than MOVED_M away — its alarm copied the asset and point it
# had; a point re-surveyed by centimetres (a new registry version all the same) is the place
MOVED_M = 1.0
MOVED_SQL = ("(al.id IS NOT NULL AND (al.asset_code IS DISTINCT FROM s.asset_code "
             f"OR NOT coalesce(ST_DWithin(al.geom, s.geom, {MOVED_M}), true)))")


def moved_reason(old_asset: str | None, new_asset: str | None) -> str:
    """Why the alarm of a sensor the registry moved ended: its readings measure another
    place now (they went on raising the old pipe's alarm, its case and risk point)."""
    if old_asset != new_asset:
        return (f"sensor moved from asset {old_asset or '—'} to {new_asset or '—'} (sensor "
                "registry): the alarm was of its former place")
    return "sensor moved to another place (sensor registry): the alarm was of its former place"


def detect(conn: psycopg.Connection, now: dt.datetime | None = None,
           config: IotConfig | None = None) -> dict[str, Any]:
    """Open gap alarms for silent sensors, clear those that report again; the codes."""
    cfg = config or cached_config()
    types = list(cfg.type_intervals)
    with conn.transaction():
        clock = conn.execute("SELECT now()").fetchone()[0]
        if now is not None and now > clock + dt.timedelta(seconds=cfg.max_ahead_s):
            # a judged time ahead of the clock opened alarms dated then (a year typed 2027,
            # or 9999: every later listing of the alarms broke on a year past 9999)
            def shown(t: dt.datetime) -> str:
                return on_city_clock(t, cfg.timezone).isoformat(timespec="seconds")

            raise InputError(f"--now {shown(now)} is ahead of the platform's clock "
                             f"({shown(clock)}): gaps are judged at a time that has come",
                             field="--now")
        now = now or clock
        conn.execute("INSERT INTO sensor_state (sensor_code) SELECT code FROM sensors WHERE "
                     "valid_to IS NULL ON CONFLICT DO NOTHING")
        watched = list(cfg.gap_statuses)
        # silent since its last report, else its registration — or since it last entered a
        # watched status (the end of its last earlier unwatched version), whichever is later:
        # a sensor back from 停用/维修 gets its grace, whether or not it reported before
        rows = conn.execute(
            SILENCE,
            (watched, types, [cfg.type_intervals[t] for t in types], watched)).fetchall()
        opened, cleared = [], []
        silent = []
        for code, since, gap_id, interval, gap_opened_at in rows:
            if not interval:
                continue
            late = now - since > dt.timedelta(seconds=cfg.gap_factor * interval)
            if late and gap_id is None:
                silent.append((code, since))
            # a run judging a time before the gap alarm opened (--now in the past: a replay,
            # a check of an earlier hour) finds the sensor not yet silent long enough, which
            # says nothing of its silence since: it cleared the alarm of a sensor that never
            # reported again (README: only a reading after its last report ends it)
            elif not late and gap_id is not None and not now < gap_opened_at:
                c = alarm_ops.clear(conn, cfg, gap_id, since, None)
                conn.execute("UPDATE sensor_state SET gap_alarm_id = NULL WHERE sensor_code = %s",
                             (code,))
                if c:
                    cleared.append(c)
        # a sensor no longer watched (停用, 维修, retired) is not offline: its gap alarm ends
        for code, gap_id, status in conn.execute(
                "SELECT st.sensor_code, st.gap_alarm_id, s.status FROM sensor_state st LEFT JOIN "
                "sensors s ON s.code = st.sensor_code AND s.valid_to IS NULL WHERE "
                "st.gap_alarm_id IS NOT NULL AND (s.code IS NULL OR NOT s.status = ANY(%s)) "
                "ORDER BY 1 FOR UPDATE OF st", (list(cfg.gap_statuses),)).fetchall():
            c = alarm_ops.clear(conn, cfg, gap_id, now, None, reason=out_of_service(status))
            conn.execute("UPDATE sensor_state SET gap_alarm_id = NULL WHERE sensor_code = %s",
                         (code,))
            if c:
                cleared.append(c)
        # a sensor taken out of service (iot.yaml alarms.end_statuses: 停用) or retired from
        # the registry watches nothing: its threshold alarm ends too, with the reason
        for code, alarm_id, status in conn.execute(
                "SELECT st.sensor_code, st.alarm_id, s.status FROM sensor_state st LEFT JOIN "
                "sensors s ON s.code = st.sensor_code AND s.valid_to IS NULL WHERE "
                "st.alarm_id IS NOT NULL AND (s.code IS NULL OR s.status = ANY(%s)) "
                "ORDER BY 1 FOR UPDATE OF st", (list(cfg.end_statuses),)).fetchall():
            c = alarm_ops.clear(conn, cfg, alarm_id, now, None, reason=out_of_service(status))
            conn.execute("UPDATE sensor_state SET alarm_level = NULL, alarm_id = NULL "
                         "WHERE sensor_code = %s", (code,))
            if c:
                cleared.append(c)
        # a sensor the registry moved: the alarm of its former place ends (a reading would
        # end it too, and open one at the new place if it is beyond a threshold there)
        for code, alarm_id, old_asset, new_asset in conn.execute(
                "SELECT st.sensor_code, st.alarm_id, al.asset_code, s.asset_code FROM "
                "sensor_state st JOIN sensors s ON s.code = st.sensor_code AND s.valid_to IS "
                "NULL JOIN alarms al ON al.id = st.alarm_id AND al.status = 'active' WHERE "
                f"{MOVED_SQL} ORDER BY 1 FOR UPDATE OF st").fetchall():
            c = alarm_ops.clear(conn, cfg, alarm_id, now, None,
                                reason=moved_reason(old_asset, new_asset))
            conn.execute("UPDATE sensor_state SET alarm_level = NULL, alarm_id = NULL "
                         "WHERE sensor_code = %s", (code,))
            if c:
                cleared.append(c)
        if silent:
            sensors = alarm_ops.sensors(conn, [c for c, _ in silent])
            for code, since in silent:
                a = alarm_ops.open_alarm(conn, cfg, sensors[code], kind="gap",
                                         level=cfg.gap_level, at=now, value=None,
                                         threshold=None, clear_at=None,
                                         category_code=cfg.gap_category,
                                         raise_risk=cfg.gap_raise_risk)
                # added to what the opening wrote (what it raises, detail.raises_risk)
                conn.execute("UPDATE alarms SET detail = detail || jsonb_build_object("
                             "'silent_since', %s::text) WHERE id = %s", (rfc3339(since), a["id"]))
                conn.execute("UPDATE sensor_state SET gap_alarm_id = %s WHERE sensor_code = %s",
                             (a["id"], code))
                opened.append({"alarm": a["code"], "sensor": code, "case": a["case_code"],
                               "silent_since": since})
    return {"checked": len(rows), "opened": opened, "cleared": cleared}
