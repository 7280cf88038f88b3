"""Lifeline monitoring (issue 14): thresholds with hysteresis, alarms with one case each, the
risk point raised and restored, idempotent ingest, gaps, partitions and the CSV import.

Expected values come from the thresholds file's numbers and hand-built readings: gas %LEL
四级 on 10 off 8, 三级 20/16, 二级 25/20, 一级 50/40; water pressure (below) 四级 0.22/0.24,
三级 0.18/0.20; gas-pipe pressure 四级 0.15/0.17; the risk point on the gas pipe is
likelihood 2 × consequence 2 → 低 (蓝) by the matrix.
"""

from __future__ import annotations

import datetime as dt
import re

import psycopg
import pytest

from cim.errors import ConfigError, InputError
from cim.profile import DICTIONARY_DIR
from layers.iot.gaps import detect
from layers.iot.ingest import NoPartition, ingest
from layers.iot.thresholds import load_thresholds
from tests.conftest import drop_database, run_cli, server_url
from tests.iot_fixture import RISK_CODE, add_sensor, counts, iot_db, t


@pytest.fixture(scope="module")
def d(jining_profile):
    db = iot_db(jining_profile, "iot")
    yield db
    drop_database(server_url(), db.name)


def send(d, rows, **kw):
    with psycopg.connect(d.conninfo) as conn:
        return ingest(conn, rows, **kw)


def risk(d):
    return d.rows("SELECT level, color, flags FROM risk_points WHERE code = %s AND "
                  "valid_to IS NULL", (RISK_CODE,))[0]


def test_gas_alarm_opens_once_escalates_clears_and_restores_risk(d):
    s = add_sensor(d, 1, "01", d.gas_pipe, "03")
    first = [(s, t(0), 5.0), (s, t(5), 12.0), (s, t(10), 13.0), (s, t(15), 9.0)]
    out = send(d, first)
    # 12 ≥ on 10 opens 四级; 13 repeats; 9 lies between off 8 and on 10: still active
    assert (out["inserted"], out["alarms_opened"], out["cases_opened"],
            out["alarms_cleared"]) == (4, 1, 1, 0)
    assert counts(d, s) == {"readings": 4, "alarms": 1, "active": 1, "cases": 1}
    code, level, status, case_code, risk_code, opened = d.rows(
        "SELECT code, level, status, case_code, risk_code, opened_at FROM alarms "
        "WHERE sensor_code = %s", (s,))[0]
    assert (level, status, risk_code, opened) == (4, "active", RISK_CODE, t(5))
    assert code.startswith("3708119401") and len(code) == 18
    case = d.rows("SELECT source, state, category_code, asset_code, alarm_code FROM cases "
                  "WHERE code = %s", (case_code,))[0]
    assert case == ("传感告警", "立案", "0102", d.gas_pipe, code)
    events = d.rows("SELECT to_state, actor, role FROM case_events e JOIN cases c ON "
                    "c.id = e.case_id WHERE c.code = %s ORDER BY e.id", (case_code,))
    assert events == [("上报", "sensor:DEV-01-1", "system"), ("立案", "sensor:DEV-01-1", "system")]
    # 四级 → 低: the point's own level is 低 already (never lowered), flagged while active
    assert risk(d) == ("低", "蓝", [f"alarm:{code}"])

    # a second batch: 30 escalates to 二级 (较大 橙), 55 to 一级 (重大 红), 45 stays (off 40),
    # 30 falls back to 二级 within the episode, 7.9 < 8 (四级 off) clears
    out = send(d, [(s, t(20), 30.0), (s, t(25), 55.0)])
    assert (out["alarms_opened"], out["alarms_escalated"]) == (0, 2)
    assert risk(d)[:2] == ("重大", "红")
    out = send(d, [(s, t(30), 45.0), (s, t(35), 30.0), (s, t(40), 7.9)])
    assert (out["alarms_opened"], out["alarms_cleared"], out["cases_opened"]) == (0, 1, 0)
    assert counts(d, s) == {"readings": 9, "alarms": 1, "active": 0, "cases": 1}
    row = d.rows("SELECT level, level_name, color, peak_value, last_value, cleared_at "
                 "FROM alarms WHERE code = %s", (code,))[0]
    assert row == (1, "一级", "红", 55.0, 7.9, t(40))
    # restored from likelihood 2 × consequence 2 and the flag removed
    assert risk(d) == ("低", "蓝", [])
    hist = d.rows("SELECT level, factors->>'action' FROM risk_assessments WHERE code = %s "
                  "AND source = 'alarm' ORDER BY id", (RISK_CODE,))
    assert hist == [("低", "raise"), ("较大", "raise"), ("重大", "raise"), ("低", "restore")]
    # a new crossing opens a new alarm and a new case
    out = send(d, [(s, t(45), 11.0)])
    assert (out["alarms_opened"], out["cases_opened"]) == (1, 1)
    assert counts(d, s) == {"readings": 10, "alarms": 2, "active": 1, "cases": 2}
    state = d.rows("SELECT readings, last_ts, last_value, alarm_level FROM sensor_state "
                   "WHERE sensor_code = %s", (s,))[0]
    assert state == (10, t(45), 11.0, 4)


def test_back_up_after_de_escalation_is_not_a_new_escalation(d):
    """Gas: 30 opens 二级; 18 falls back to 三级 (below 二级 off 20, above 三级 off 16); 26
    is 二级 again — a level the episode had reached, not an escalation; 55 escalates to 一级.
    One alarm, one escalation, its level 一级."""
    s = add_sensor(d, 17, "01", None, None)
    out = send(d, [(s, t(0), 30.0), (s, t(5), 18.0), (s, t(10), 26.0), (s, t(15), 55.0)])
    assert (out["alarms_opened"], out["alarms_escalated"], out["alarms_cleared"]) == (1, 1, 0)
    assert d.rows("SELECT level, peak_value, clear_at FROM alarms WHERE sensor_code = %s",
                  (s,)) == [(1, 55.0, 40.0)]


def test_bounds_are_inclusive_clearing_only_past_off(d):
    """Exactly on a bound: gas 10 (四级 on) opens, 8 (its off) keeps it, 7.99 clears; a
    pressure (below) 0.22 (四级 on) opens, 0.24 (off) keeps it, 0.2401 clears."""
    g = add_sensor(d, 20, "01", None, None)
    out = send(d, [(g, t(0), 9.99), (g, t(5), 10.0), (g, t(10), 8.0)])
    assert (out["alarms_opened"], out["alarms_cleared"]) == (1, 0)
    assert send(d, [(g, t(15), 7.99)])["alarms_cleared"] == 1
    w = add_sensor(d, 21, "02", None, None)
    out = send(d, [(w, t(0), 0.2201), (w, t(5), 0.22), (w, t(10), 0.24)])
    assert (out["alarms_opened"], out["alarms_cleared"]) == (1, 0)
    assert send(d, [(w, t(15), 0.2401)])["alarms_cleared"] == 1
    assert d.rows("SELECT first_value, cleared_at FROM alarms WHERE sensor_code IN (%s, %s) "
                  "ORDER BY sensor_code", (g, w)) == [(10.0, t(15)), (0.22, t(15))]


def test_ingest_is_idempotent(d):
    s = add_sensor(d, 2, "01", None, None, device_id="GAS-IDEMP")
    batch = [("GAS-IDEMP", t(0), 3.0), ("GAS-IDEMP", t(5), 60.0), (s, t(10), 61.0)]
    first = send(d, batch)
    assert (first["inserted"], first["alarms_opened"], first["cases_opened"]) == (3, 1, 1)
    again = send(d, batch)
    assert (again["received"], again["inserted"], again["duplicates"],
            again["alarms_opened"], again["cases_opened"]) == (3, 0, 3, 0, 0)
    assert counts(d, s) == {"readings": 3, "alarms": 1, "active": 1, "cases": 1}
    assert d.scalar("SELECT readings FROM sensor_state WHERE sensor_code = %s", (s,)) == 3
    # a reading older than the state, before the episode: an episode for the past (99 ≥ 一级
    # on 50), cleared by the stored 3.0 at t(0) below 四级 off 8 (tests/test_iot_late_probe10)
    late = send(d, [(s, t(-30), 99.0)])
    assert (late["inserted"], late["late"], late["alarms_opened"], late["late_alarms_opened"],
            late["alarms_cleared"]) == (1, 1, 1, 1, 1)
    assert counts(d, s) == {"readings": 4, "alarms": 2, "active": 1, "cases": 2}


def test_pressure_drop_below_and_most_specific_row_set(d):
    w = add_sensor(d, 3, "02", d.water_pipe, "01")
    out = send(d, [(w, t(0), 0.32), (w, t(5), 0.30), (w, t(10), 0.17), (w, t(15), 0.19)])
    # 0.17 ≤ 0.18 (三级 on), > 0.14: 三级; 0.19 between on 0.18 and off 0.20: still active
    assert (out["alarms_opened"], out["alarms_cleared"]) == (1, 0)
    assert d.rows("SELECT level, threshold, peak_value FROM alarms WHERE sensor_code = %s",
                  (w,)) == [(3, 0.18, 0.17)]
    assert d.scalar("SELECT c.category_code FROM cases c JOIN alarms a ON a.code = "
                    "c.alarm_code WHERE a.sensor_code = %s", (w,)) == "0103"
    # 0.21 leaves 三级 (off 0.20) but stays within 四级 (off 0.24); 0.25 clears
    out = send(d, [(w, t(20), 0.21)])
    assert out["alarms_cleared"] == 0
    out = send(d, [(w, t(25), 0.25)])
    assert out["alarms_cleared"] == 1
    # a gas pipe's pressure sensor uses the 燃气 rows: 0.16 is no alarm there (四级 on 0.15)
    # though it would be 三级 by the type's default rows; 0.14 opens 四级 (category 0102)
    g = add_sensor(d, 4, "02", d.gas_pipe, "03")
    assert send(d, [(g, t(0), 0.16)])["alarms_opened"] == 0
    assert send(d, [(g, t(5), 0.14)])["alarms_opened"] == 1
    assert d.rows("SELECT a.level, c.category_code FROM alarms a JOIN cases c ON "
                  "c.alarm_code = a.code WHERE a.sensor_code = %s", (g,)) == [(4, "0102")]


def test_unknown_sensors_are_counted_and_named(d):
    s = add_sensor(d, 5, "04", None, None)
    out = send(d, [(s, t(0), 0.5), ("NO-SUCH-DEVICE", t(0), 1.0), ("NO-SUCH-DEVICE", t(5), 1.0)])
    assert (out["received"], out["inserted"], out["unknown_sensor"], out["unknown"]) == \
        (3, 1, 2, ["NO-SUCH-DEVICE"])


def test_no_partition_refuses_the_batch(d):
    s = add_sensor(d, 6, "04", None, None)
    with pytest.raises(NoPartition, match="cim iot partitions") as exc:
        send(d, [(s, t(0), 0.5), (s, dt.datetime(2020, 3, 1, tzinfo=dt.UTC), 0.5)])
    assert "2020-03" in str(exc.value)
    assert counts(d, s)["readings"] == 0


def test_partitions_are_utc_months(d):
    """Partitions hold UTC months [1st 00:00Z, next 1st): a batch straddling November and
    December lands in both; 00:00Z on the 1st is the new month; 00:00 Beijing time on
    1 December is still November (16:00Z on the 30th). The fixture has Nov 2026 – Jan 2027,
    no October: 08:00+08:00 on 1 November is November, 07:59:59+08:00 is October (no
    partition: the whole batch refused)."""
    from layers.iot.partitions import month_of

    bj = dt.timezone(dt.timedelta(hours=8))
    s = add_sensor(d, 15, "04", None, None)
    batch = [(s, dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC), 0.5),
             (s, dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC), 0.5),
             (s, dt.datetime(2026, 12, 1, 0, 0, tzinfo=bj), 0.5),
             (s, dt.datetime(2026, 11, 1, 8, 0, tzinfo=bj), 0.5)]
    assert send(d, batch)["inserted"] == 4
    assert d.rows("SELECT tableoid::regclass::text FROM readings WHERE sensor_code = %s "
                  "ORDER BY ts", (s,)) == [("readings_y2026m11",)] * 3 + [("readings_y2026m12",)]
    assert month_of(dt.datetime(2026, 12, 1, 0, 0, tzinfo=bj)) == dt.date(2026, 11, 1)
    with pytest.raises(NoPartition, match="2026-10"):
        send(d, [(s, dt.datetime(2026, 11, 15, tzinfo=dt.UTC), 0.5),
                 (s, dt.datetime(2026, 11, 1, 7, 59, 59, tzinfo=bj), 0.5)])
    assert counts(d, s)["readings"] == 4


def test_reading_from_the_future_refused(d):
    """A reading more than readings.max_ahead_s (iot.yaml: 300 s) ahead of the database's
    clock refuses the batch, naming its index: stored, it would make every later reading of
    the sensor late (never evaluated) and its alarm's case could not be acted on."""
    s = add_sensor(d, 18, "01", None, None)
    now = d.scalar("SELECT now()")
    with pytest.raises(InputError, match="ahead") as exc:
        send(d, [(s, now - dt.timedelta(minutes=5), 3.0), (s, now + dt.timedelta(days=1), 60.0)])
    assert (exc.value.row, exc.value.field) == (1, "time")
    assert counts(d, s) == {"readings": 0, "alarms": 0, "active": 0, "cases": 0}
    # within the tolerance (a minute ahead: clocks differ a little) it is taken
    assert send(d, [(s, now + dt.timedelta(minutes=1), 3.0)])["inserted"] == 1


def test_gap_alarm_opens_and_clears(d):
    s = add_sensor(d, 7, "04", None, None, interval_s=300)
    send(d, [(s, t(0), 0.5)])
    with psycopg.connect(d.conninfo) as conn:
        # factor 3 × 300 s = 15 min: at +14 min the sensor is not silent yet
        assert s not in [o["sensor"] for o in detect(conn, t(14))["opened"]]
        opened = detect(conn, t(16))["opened"]
    assert [o["sensor"] for o in opened].count(s) == 1
    assert d.rows("SELECT kind, status, level FROM alarms WHERE sensor_code = %s",
                  (s,)) == [("gap", "active", 4)]
    assert d.scalar("SELECT c.category_code FROM cases c JOIN alarms a ON a.code = c.alarm_code "
                    "WHERE a.sensor_code = %s", (s,)) == "0107"
    with psycopg.connect(d.conninfo) as conn:
        assert s not in [o["sensor"] for o in detect(conn, t(20))["opened"]]
    out = send(d, [(s, t(21), 0.6)])
    assert out["gaps_cleared"] == 1
    assert d.rows("SELECT status, cleared_at FROM alarms WHERE sensor_code = %s",
                  (s,)) == [("cleared", t(21))]


def test_gap_alarm_cleared_by_buffered_readings_ends_after_it_began(d):
    """A sensor silent from t(0) gets a gap alarm at t(60); it then sends its buffer (t(30),
    t(65)): the alarm clears, not before it was opened (cleared_at = opened_at = t(60))."""
    s = add_sensor(d, 14, "04", None, None, interval_s=300)
    send(d, [(s, t(0), 0.5)])
    with psycopg.connect(d.conninfo) as conn:
        assert s in [o["sensor"] for o in detect(conn, t(60))["opened"]]
    assert send(d, [(s, t(30), 0.5), (s, t(65), 0.5)])["gaps_cleared"] == 1
    assert d.rows("SELECT status, opened_at, cleared_at FROM alarms WHERE sensor_code = %s",
                  (s,)) == [("cleared", t(60), t(60))]


def test_gap_alarm_of_a_sensor_taken_out_of_service_is_cleared(d):
    """A silent sensor gets a gap alarm; once it is 停用 (not a watched status) the next
    run clears the alarm at its time and opens no new one."""
    s = add_sensor(d, 19, "04", None, None, interval_s=300)
    send(d, [(s, t(0), 0.5)])
    with psycopg.connect(d.conninfo) as conn:
        assert s in [o["sensor"] for o in detect(conn, t(60))["opened"]]
        conn.execute("UPDATE sensors SET status = '停用' WHERE code = %s", (s,))
        conn.commit()
        out = detect(conn, t(90))
    code = d.scalar("SELECT code FROM alarms WHERE sensor_code = %s", (s,))
    assert code in out["cleared"] and s not in [o["sensor"] for o in out["opened"]]
    assert d.rows("SELECT status, cleared_at FROM alarms WHERE sensor_code = %s",
                  (s,)) == [("cleared", t(90))]


def _new_version(d, code: str, status: str | None) -> None:
    """The sensor's current version ends now; a copy in ``status`` follows (None: retired)."""
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE sensors SET valid_to = now() WHERE code = %s AND valid_to IS NULL",
                     (code,))
        if status is not None:
            conn.execute(
                "INSERT INTO sensors (code, source_key, geom, device_id, name, type_code, "
                "type_name, unit, asset_layer, asset_code, asset_class, status, interval_s, "
                "reading_source, district_code, grid_code) SELECT code, source_key, geom, "
                "device_id, name, type_code, type_name, unit, asset_layer, asset_code, "
                "asset_class, %s, interval_s, reading_source, district_code, grid_code "
                "FROM sensors WHERE code = %s ORDER BY id DESC LIMIT 1", (status, code))


def test_threshold_alarm_of_a_sensor_taken_out_of_service_or_retired_is_cleared(d):
    """A well level of 1.6 (≥ 四级 on 1.5) opens an alarm; the sensor is then set to 停用 (a new
    version), another one is retired (no current version): the next gap run clears both
    threshold alarms at its time, each with its reason, and resets the sensors' state; a
    停用 sensor's readings open no alarm (2.6 ≥ 二级 on 2.5)."""
    from layers.iot.alarms import list_alarms

    off = add_sensor(d, 45, "04", None, None, interval_s=None)
    gone = add_sensor(d, 46, "04", None, None, interval_s=None)
    for s in (off, gone):
        out = send(d, [(s, t(0), 0.5), (s, t(5), 1.6)])
        assert (out["alarms_opened"], out["cases_opened"]) == (1, 1)
    _new_version(d, off, "停用")
    _new_version(d, gone, None)
    with psycopg.connect(d.conninfo) as conn:
        out = detect(conn, t(30))
    codes = {s: d.scalar("SELECT code FROM alarms WHERE sensor_code = %s", (s,))
             for s in (off, gone)}
    assert set(codes.values()) <= set(out["cleared"])
    for s, why in ((off, "sensor status 停用 (not in service)"),
                   (gone, "sensor retired (no current version in the sensor registry)")):
        assert d.rows("SELECT kind, status, cleared_at, detail->>'cleared_reason' FROM alarms "
                      "WHERE sensor_code = %s", (s,)) == [("threshold", "cleared", t(30), why)]
        assert d.rows("SELECT alarm_level, alarm_id FROM sensor_state WHERE sensor_code = %s",
                      (s,)) == [(None, None)]
        with psycopg.connect(d.conninfo) as conn:
            listed = list_alarms(conn, sensor=s)
        assert [(a["status"], a["cleared_reason"]) for a in listed] == [("cleared", why)]
    out = send(d, [(off, t(35), 2.6)])
    assert (out["inserted"], out["alarms_opened"], out["cases_opened"]) == (1, 0, 0)
    assert counts(d, off) == {"readings": 3, "alarms": 1, "active": 0, "cases": 1}


def test_reading_of_a_sensor_out_of_service_clears_its_threshold_alarm(d):
    """A sensor set to 停用 with its threshold alarm still active (no gap run since) sends a
    reading of 2.6: the alarm clears at that reading with the reason, none opens."""
    s = add_sensor(d, 47, "04", None, None, interval_s=None)
    assert send(d, [(s, t(0), 1.6)])["alarms_opened"] == 1
    _new_version(d, s, "停用")
    out = send(d, [(s, t(5), 2.6)])
    assert (out["alarms_opened"], out["alarms_cleared"], out["cases_opened"]) == (0, 1, 0)
    assert d.rows("SELECT status, cleared_at, detail->>'cleared_reason' FROM alarms WHERE "
                  "sensor_code = %s", (s,)) == [("cleared", t(5),
                                                 "sensor status 停用 (not in service)")]


def test_alarm_case_ends_only_once_its_alarm_has_cleared(d):
    """Gas at 12 %LEL opens 四级 and its case; the loop runs to 核查, but the alarm is still
    active: 结案 is refused (409) naming the alarm, and so is 作废 of another active alarm's
    case — closed, the alarm escalating to 一级 (55) would have had no open case. Once 7.9
    (< 四级 off 8) clears it, the case closes."""
    from layers.cases import workflow
    from layers.cases.auth import User
    from layers.cases.workflow import TransitionError

    s = add_sensor(d, 48, "01", None, None, interval_s=None)
    v = add_sensor(d, 49, "01", None, None, interval_s=None)
    assert send(d, [(s, t(0), 12.0), (v, t(0), 12.0)])["cases_opened"] == 2
    (alarm, case), = d.rows("SELECT code, case_code FROM alarms WHERE sensor_code = %s", (s,))
    (other,), = d.rows("SELECT case_code FROM alarms WHERE sensor_code = %s", (v,))
    unit = d.scalar("SELECT unit FROM cases WHERE code = %s", (case,))
    with psycopg.connect(d.conninfo) as conn:
        workflow.act(conn, case, "dispatch", User("disp", "派遣员"), at=t(1))
        workflow.act(conn, case, "handle", User("unit", "处置单位", unit), at=t(2), note="巡检")
        workflow.act(conn, case, "verify", User("ver", "核查员"), at=t(3), result="pass")
        with pytest.raises(TransitionError) as exc:
            workflow.act(conn, case, "close", User("acc", "受理员"), at=t(4))
        assert alarm in exc.value.message and "一级" not in exc.value.message
        with pytest.raises(TransitionError):
            workflow.act(conn, other, "void", User("acc", "受理员"), at=t(4), note="误报")
        conn.commit()
    assert d.scalar("SELECT state FROM cases WHERE code = %s", (case,)) == "核查"
    out = send(d, [(s, t(5), 55.0)])  # escalates the episode whose case is still open
    assert (out["alarms_escalated"], out["cases_opened"]) == (1, 0)
    assert send(d, [(s, t(6), 7.9)])["alarms_cleared"] == 1
    with psycopg.connect(d.conninfo) as conn:
        assert workflow.act(conn, case, "close", User("acc", "受理员"), at=t(7))["state"] == "结案"


def test_escalation_is_told_in_the_alarm_case(d):
    """12 %LEL opens 四级 and its case (its words: 四级, 12); 30 escalates to 二级, 22 falls
    back within the episode, 27 is back up to 二级 (no new escalation), 55 reaches 一级: the
    case's detail says the alarm's level now and each escalation (time, level, value,
    threshold) — the people handling the case learnt nothing of it before. Its trail keeps
    only the loop's transitions."""
    s = add_sensor(d, 50, "01", None, None, interval_s=None, device_id="GAS-ESC")
    send(d, [(s, t(0), 12.0)])
    case = d.scalar("SELECT case_code FROM alarms WHERE sensor_code = %s", (s,))
    out = send(d, [(s, t(1), 30.0), (s, t(2), 22.0), (s, t(3), 27.0), (s, t(4), 55.0)])
    assert out["alarms_escalated"] == 2
    detail = d.scalar("SELECT detail FROM cases WHERE code = %s", (case,))
    assert detail["alarm_level"] == "一级"
    got = [(dt.datetime.fromisoformat(e["at"]), e["level"], e["level_name"], e["value"],
            e["threshold"]) for e in detail["escalations"]]
    assert got == [(t(1), 2, "二级", 30.0, 25.0), (t(4), 1, "一级", 55.0, 50.0)]
    assert "一级" in detail["escalations"][1]["note"] and "55" in detail["escalations"][1]["note"]
    assert d.scalar("SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id "
                    "WHERE c.code = %s", (case,)) == 2  # 上报, 立案


def test_alarm_case_of_a_reading_ahead_of_the_clock_can_be_acted_on_at_once(d):
    """A reading 60 s ahead of the platform's clock (a device clock a little fast; up to
    readings.max_ahead_s is taken) opens an alarm at its time, but its case is reported at the
    platform's time: the dispatcher acting at once was refused ("before its last event") for
    that minute."""
    from layers.cases import workflow
    from layers.cases.auth import User
    from layers.iot.partitions import ensure_months, month_of

    s = add_sensor(d, 51, "04", None, None, interval_s=None)
    with psycopg.connect(d.conninfo) as conn:
        now = conn.execute("SELECT now()").fetchone()[0]
        ensure_months(conn, [month_of(now), month_of(now + dt.timedelta(minutes=1))])
        conn.commit()
        assert ingest(conn, [(s, now + dt.timedelta(seconds=60), 1.6)])["cases_opened"] == 1
    alarm_at, case, reported = d.rows(
        "SELECT a.opened_at, c.code, c.reported_at FROM alarms a JOIN cases c ON "
        "c.code = a.case_code WHERE a.sensor_code = %s", (s,))[0]
    assert alarm_at == now + dt.timedelta(seconds=60) and reported <= alarm_at
    with psycopg.connect(d.conninfo) as conn:
        assert workflow.act(conn, case, "dispatch", User("disp", "派遣员"))["state"] == "派遣"


def test_alarm_cleared_when_its_thresholds_leave_the_file(d, tmp_path):
    """A well-level alarm (1.6 ≥ 四级 on 1.5) is active; the city takes the type-04 rows out
    of sensor_thresholds.csv: the sensor's next reading clears the alarm (no thresholds, no
    alarm) instead of leaving it active for ever."""
    from layers.iot.thresholds import load_config

    s = add_sensor(d, 24, "04", None, None)
    assert send(d, [(s, t(0), 1.6)])["alarms_opened"] == 1
    src = (DICTIONARY_DIR / "sensor_thresholds.csv").read_text(encoding="utf-8").splitlines()
    th = tmp_path / "th.csv"
    th.write_text("\n".join(r for r in src if not r.startswith("04,")), encoding="utf-8")
    out = send(d, [(s, t(5), 1.7)], config=load_config(thresholds=th))
    assert (out["alarms_cleared"], out["alarms_opened"]) == (1, 0)
    assert d.rows("SELECT status, cleared_at FROM alarms WHERE sensor_code = %s",
                  (s,)) == [("cleared", t(5))]
    assert d.scalar("SELECT alarm_level FROM sensor_state WHERE sensor_code = %s", (s,)) is None


def test_thresholds_file_errors_name_row_and_field(tmp_path):
    src = (DICTIONARY_DIR / "sensor_thresholds.csv").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "th.csv"
    # row 3 (the header is row 1): 三级 of gas with off above on
    lines = list(src)
    lines[2] = "01,,above,3,20,22,0102,broken"
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_thresholds(bad)
    assert (exc.value.row, exc.value.field) == (3, "off") and str(bad) in str(exc.value)
    lines = list(src)
    lines[1] = "01,,sideways,4,10,8,0102,broken"
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_thresholds(bad)
    assert (exc.value.row, exc.value.field) == (2, "direction")


def test_csv_import_bad_row_writes_nothing_then_imports(d, tmp_path):
    s = add_sensor(d, 8, "01", None, None, device_id="GAS-CSV")
    f = tmp_path / "readings.csv"
    f.write_text("设备编号,监测时间,监测值\n"
                 "GAS-CSV,2026-12-01T08:00:00+08:00,3\n"
                 "GAS-CSV,2026-12-01T08:05:00+08:00,abc\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env())
    assert p.returncode == 3, p.stderr
    assert f"{f}, row 3, field '监测值'" in p.stderr
    assert counts(d, s)["readings"] == 0
    f.write_text("设备编号,监测时间,监测值\n"
                 "GAS-CSV,2026-12-01 08:00:00,3\n"
                 "GAS-CSV,2026-12-01 08:05:00,26\n"
                 "NOBODY,2026-12-01 08:05:00,1\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f), "--tz", "+08:00", "--json"], d.env(), check=True)
    import json

    out = json.loads(p.stdout)
    assert (out["inserted"], out["unknown_sensor"], out["alarms_opened"]) == (2, 1, 1)
    assert out["columns"] == {"sensor": "设备编号", "time": "监测时间", "value": "监测值"}
    assert d.rows("SELECT ts, level FROM alarms a JOIN readings r ON r.sensor_code = "
                  "a.sensor_code AND r.ts = a.opened_at WHERE a.sensor_code = %s",
                  (s,)) == [(t(5) - dt.timedelta(hours=8), 2)]
    with pytest.raises(InputError):
        from layers.iot.csv_readings import read_csv

        read_csv(tmp_path / "missing.csv")


def test_csv_import_says_why_a_time_is_refused(tmp_path):
    """An Excel display time (2026/12/1 16:00) is refused as no ISO 8601 time, also with --tz
    given (it said "… not ISO 8601 with a UTC offset (or give --tz)" to a user who had); a
    time without an offset and no --tz is refused as that."""
    from layers.iot.csv_readings import read_csv_rows

    f = tmp_path / "r.csv"
    for cell, tz, words in (("2026/12/1 16:00", dt.timezone(dt.timedelta(hours=8)),
                             "not an ISO 8601 time"),
                            ("2026/12/1 16:00", None, "not an ISO 8601 time"),
                            ("2026-12-01 16:00", None, "has no UTC offset")):
        f.write_text(f"设备编号,监测时间,监测值\nD-1,{cell},0.5\n", encoding="utf-8")
        with pytest.raises(InputError) as exc:
            read_csv_rows(f, tz)
        assert (exc.value.row, exc.value.field) == (2, "监测时间")
        assert words in exc.value.message, exc.value.message
        if tz is not None:  # the user gave --tz: not told to give it
            assert "--tz" not in exc.value.message, exc.value.message


def test_columns_input_and_cli_commands(d, tmp_path):
    import json

    import pandas as pd

    s = add_sensor(d, 9, "04", None, None, device_id="LEVEL-CLI")
    frame = pd.DataFrame({"sensor": ["LEVEL-CLI", "LEVEL-CLI"],
                          "time": pd.to_datetime([t(0), t(5)], utc=True),
                          "value": [0.4, 1.6]})
    out = send(d, frame)  # 1.6 ≥ 1.5: 四级 of the well level
    assert (out["inserted"], out["alarms_opened"]) == (2, 1)
    env = d.env()
    p = run_cli(["iot", "latest", "--sensor", "LEVEL-CLI", "--json"], env, check=True)
    assert json.loads(p.stdout)[0]["value"] == 1.6
    p = run_cli(["iot", "series", s, "--start", t(0).isoformat(), "--end", t(60).isoformat(),
                 "--json"], env, check=True)
    assert [r["value"] for r in json.loads(p.stdout)["readings"]] == [0.4, 1.6]
    p = run_cli(["iot", "alarms", "--active", "--sensor", s, "--json"], env, check=True)
    assert [(a["level"], a["status"]) for a in json.loads(p.stdout)] == [(4, "active")]
    p = run_cli(["iot", "partitions", "--ahead", "2", "--json"], env, check=True)
    assert len(json.loads(p.stdout)["existing"]) >= 4  # last month … two ahead at least
    p = run_cli(["iot", "source", "add", "cli-source"], env, check=True)
    key = p.stdout.strip()  # the key alone (KEY=$(cim iot source add …)); words on stderr
    assert "\n" not in key and "X-API-Key" in p.stderr, (p.stdout, p.stderr)
    import hashlib

    # stored as SHA-256 hex of the key (computed here, not by the code under test)
    assert d.scalar("SELECT key_hash FROM reading_sources WHERE name = 'cli-source'") == \
        hashlib.sha256(key.encode()).hexdigest()
    assert d.scalar("SELECT count(*) FROM reading_sources WHERE key_hash = %s", (key,)) == 0
    # judged now (the fixture's times lie in the past; a --now ahead of the clock is refused)
    p = run_cli(["iot", "gaps", "--json"], env, check=True)
    assert s in [o["sensor"] for o in json.loads(p.stdout)["opened"]]


def test_sensor_on_pipe_point_raises_its_segments_risk_point(d):
    """A gas detector in the valve well at the start of the gas pipe raises the pipe's point;
    another active alarm on the point keeps its flag through this one's clearing."""
    node = d.scalar("SELECT start_point_code FROM pipe_segments WHERE code = %s AND "
                    "valid_to IS NULL", (d.gas_pipe,))
    s = add_sensor(d, 10, "01", None, None, device_id="GAS-WELL")
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE sensors SET asset_layer = 'pipe_points', asset_code = %s "
                     "WHERE code = %s", (node, s))
    before = risk(d)
    out = send(d, [(s, t(100), 26.0)])  # 二级 → 较大 橙
    assert out["alarms_opened"] == 1
    code = d.scalar("SELECT code FROM alarms WHERE sensor_code = %s", (s,))
    assert d.scalar("SELECT risk_code FROM alarms WHERE code = %s", (code,)) == RISK_CODE
    level, color, flags = risk(d)
    assert (level, color, flags) == ("较大", "橙", [*before[2], f"alarm:{code}"])
    send(d, [(s, t(105), 1.0)])
    # back to the matrix level (低) or the other active alarms' (四级 → 低), its flag kept
    assert risk(d) == ("低", "蓝", before[2])


def test_concurrent_batches_of_one_sensor_open_one_alarm(d):
    """Two batches of the same sensor, both above the threshold, sent at once on two
    connections: whichever locks the sensor's state first opens the alarm, the other sees it
    (one alarm, one case) — in every interleaving."""
    import threading

    s = add_sensor(d, 13, "01", None, None)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def go(k0):
        try:
            with psycopg.connect(d.conninfo) as conn:
                barrier.wait(10)
                results.append(ingest(conn, [(s, t(k0 + k), 30.0 + k) for k in range(5)]))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(k0,)) for k0 in (0, 10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
    assert sum(r["inserted"] for r in results) == 10
    assert sum(r["alarms_opened"] for r in results) == 1
    assert counts(d, s) == {"readings": 10, "alarms": 1, "active": 1, "cases": 1}


def test_cim_serve_creates_the_partitions_ahead(fresh_db, tmp_path):
    """`cim serve` creates last month … three months ahead (iot.yaml) as the owner before
    gunicorn starts; the served role could not."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import requests

    from cim.config import PROJECT_ROOT
    from layers.iot.partitions import add_months, existing, month_of
    from tests.conftest import free_port

    port = free_port()
    env = dict(fresh_db.env(), CIM_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "cim", "serve", "--port", str(port),
                             "--workers", "1", "--no-access-log"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        for _ in range(300):
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, "cim serve exited"
            time.sleep(0.2)
        with psycopg.connect(fresh_db.conninfo) as conn:
            months = existing(conn)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    this = month_of(dt.datetime.now(dt.UTC))
    assert {add_months(this, k) for k in range(-1, 4)} <= months


def test_escalation_raises_the_point_the_alarm_raised(d):
    """The water main has point A (2 × 2 → 低) when a pressure alarm opens on it (四级);
    point B (一般) is added to the same main afterwards. The escalation to 二级 raises A to
    较大 — the point the alarm holds and its clearing restores — and leaves B alone."""
    pa, pb = "370811910200009101", "370811910200009102"
    with psycopg.connect(d.conninfo) as conn:
        conn.execute(
            "INSERT INTO risk_points (code, source_key, geom, risk_type_code, risk_type, "
            "domain_code, domain, asset_layer, asset_code, responsible_unit, likelihood, "
            "consequence, level, color, source, district_code) SELECT %s, 'manual:test-a', "
            "ST_PointOnSurface(ST_Force2D(geom)), '0102', '供水管网爆管', '01', '城市生命线', "
            "'pipe_segments', code, '供水公司', 2, 2, '低', '蓝', 'manual', '370811' "
            "FROM pipe_segments WHERE code = %s AND valid_to IS NULL", (pa, d.water_pipe))
    w = add_sensor(d, 23, "02", d.water_pipe, "01")
    assert send(d, [(w, t(200), 0.21)])["alarms_opened"] == 1  # 四级 (on 0.22)
    with psycopg.connect(d.conninfo) as conn:
        conn.execute(
            "INSERT INTO risk_points (code, source_key, geom, risk_type_code, risk_type, "
            "domain_code, domain, asset_layer, asset_code, responsible_unit, likelihood, "
            "consequence, level, color, source, district_code) SELECT %s, 'manual:test-b', "
            "geom, risk_type_code, risk_type, domain_code, domain, asset_layer, asset_code, "
            "responsible_unit, 3, 3, '一般', '黄', 'manual', district_code FROM risk_points "
            "WHERE code = %s AND valid_to IS NULL", (pb, pa))
    assert send(d, [(w, t(205), 0.13)])["alarms_escalated"] == 1  # 二级 (on 0.14) → 较大
    code = d.scalar("SELECT code FROM alarms WHERE sensor_code = %s", (w,))
    assert d.scalar("SELECT risk_code FROM alarms WHERE code = %s", (code,)) == pa

    def point(c):
        return d.rows("SELECT level, flags FROM risk_points WHERE code = %s AND "
                      "valid_to IS NULL", (c,))[0]

    assert point(pa) == ("较大", [f"alarm:{code}"]) and point(pb) == ("一般", [])
    assert send(d, [(w, t(210), 0.25)])["alarms_cleared"] == 1
    assert point(pa) == ("低", []) and point(pb) == ("一般", [])


def stored(d, sensor):
    return d.rows("SELECT ts, value FROM readings WHERE sensor_code = %s ORDER BY ts", (sensor,))


def test_conflicting_readings_in_a_batch_store_none_and_are_listed(d):
    """0.30 and 0.05 for one water-pressure sensor at one time: neither is stored (0.05 had
    been kept and opened a 一级 alarm and a case, 0.30 lost, both counted "already stored");
    each is listed by its index; the rest of the batch goes in; the same value twice is one
    reading. A code and the device id of one sensor, or one instant at two offsets, are one
    sensor and one time."""
    w = add_sensor(d, 40, "02", d.water_pipe, "01", device_id="WP-CONFLICT")
    beijing = dt.timezone(dt.timedelta(hours=8))
    batch = [("WP-CONFLICT", t(0), 0.30), ("WP-CONFLICT", t(0), 0.05), (w, t(5), 0.31),
             (w, t(10), 0.32), ("WP-CONFLICT", t(10), 0.32), ("NOBODY", t(0), 1.0),
             (w, t(15), 0.33), ("WP-CONFLICT", t(15).astimezone(beijing), 0.34),
             (w, t(0), 0.30)]
    out = send(d, batch)
    assert (out["received"], out["inserted"], out["duplicates"], out["conflicting"],
            out["unknown_sensor"], out["alarms_opened"], out["cases_opened"]) == \
        (9, 2, 1, 5, 1, 0, 0)
    assert [(x["index"], x["sensor"], x["value"], x["with"], x["stored"])
            for x in out["conflicts"]] == [
        (0, "WP-CONFLICT", 0.30, [1], None), (1, "WP-CONFLICT", 0.05, [0, 8], None),
        (6, w, 0.33, [7], None), (7, "WP-CONFLICT", 0.34, [6], None), (8, w, 0.30, [1], None)]
    assert out["conflicts"][0]["time"] == t(0).isoformat()
    assert stored(d, w) == [(t(5), 0.31), (t(10), 0.32)]
    assert counts(d, w) == {"readings": 2, "alarms": 0, "active": 0, "cases": 0}
    assert d.scalar("SELECT readings FROM sensor_state WHERE sensor_code = %s", (w,)) == 2
    # the listing is capped (all are counted)
    out = send(d, [(w, t(20), 0.3), (w, t(20), 0.4), (w, t(20), 0.5)], listed=2)
    assert (out["conflicting"], [x["index"] for x in out["conflicts"]]) == (3, [0, 1])
    assert out["conflicts"][0]["with"] == [1, 2]


def test_a_value_other_than_the_stored_one_is_a_conflict_the_stored_one_stays(d):
    """Readings are append-only: another value for a stored sensor and time is listed with the
    stored value and not counted as a duplicate; the same value is a duplicate."""
    w = add_sensor(d, 41, "02", d.water_pipe, "01", device_id="WP-STORED")
    assert send(d, [(w, t(0), 0.30), (w, t(5), 0.31)])["inserted"] == 2
    out = send(d, [("WP-STORED", t(0), 0.05), (w, t(5), 0.31), (w, t(10), 0.32)])
    assert (out["received"], out["inserted"], out["duplicates"], out["conflicting"],
            out["alarms_opened"]) == (3, 1, 1, 1, 0)
    assert [(x["index"], x["sensor"], x["value"], x["with"], x["stored"])
            for x in out["conflicts"]] == [(0, "WP-STORED", 0.05, [], 0.30)]
    # a batch repeating the stored value beside another one: both conflict, nothing changes
    out = send(d, [(w, t(5), 0.31), (w, t(5), 0.01)])
    assert (out["inserted"], out["duplicates"], out["conflicting"]) == (0, 0, 2)
    assert [(x["with"], x["stored"]) for x in out["conflicts"]] == [([1], 0.31), ([0], 0.31)]
    assert stored(d, w) == [(t(0), 0.30), (t(5), 0.31), (t(10), 0.32)]
    assert counts(d, w)["alarms"] == 0


def test_csv_import_reports_conflicting_rows_by_row_and_field(d, tmp_path):
    """`cim iot import` lists each conflicting reading with the file, its row (the header is
    row 1, a blank line counts) and the value's column, and imports the rest."""
    import json

    w = add_sensor(d, 42, "02", d.water_pipe, "01", device_id="WP-CSV-CONFLICT")
    f = tmp_path / "conflict.csv"
    f.write_text("设备编号,监测时间,监测值\n"
                 "WP-CSV-CONFLICT,2026-12-01T16:00:00+08:00,0.30\n"
                 "\n"
                 "WP-CSV-CONFLICT,2026-12-01T16:00:00+08:00,0.05\n"
                 "WP-CSV-CONFLICT,2026-12-01T16:05:00+08:00,0.31\n"
                 "WP-CSV-CONFLICT,2026-12-01T16:05:00+08:00,0.31\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env(), check=True)
    lines = p.stdout.splitlines()
    assert "1 inserted, 1 duplicates (stored once), 2 conflicting, 0 of unknown sensors" \
        in lines[0]
    assert lines[1:] == [
        f"{f}, row 2, field '监测值': conflicting reading: 0.3 of WP-CSV-CONFLICT at "
        "2026-12-01T16:00:00+08:00 differs from row 4 of this file; not stored",
        f"{f}, row 4, field '监测值': conflicting reading: 0.05 of WP-CSV-CONFLICT at "
        "2026-12-01T16:00:00+08:00 differs from row 2 of this file; not stored"]
    assert stored(d, w) == [(t(5), 0.31)]
    assert counts(d, w)["alarms"] == 0
    f.write_text("设备编号,监测时间,监测值\n"
                 "WP-CSV-CONFLICT,2026-12-01T16:05:00+08:00,0.02\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env(), check=True)
    assert p.stdout.splitlines()[1] == (
        f"{f}, row 2, field '监测值': conflicting reading: 0.02 of WP-CSV-CONFLICT at "
        "2026-12-01T16:05:00+08:00 differs from the stored 0.31 (kept); not stored")
    out = json.loads(run_cli(["iot", "import", str(f), "--json"], d.env(),
                             check=True).stdout)
    assert (out["duplicates"], out["conflicting"], out["conflicts"]) == (0, 1, [
        {"sensor": "WP-CSV-CONFLICT", "time": "2026-12-01T16:05:00+08:00", "value": 0.02,
         "with": [], "stored": 0.31, "row": 2}])
    assert stored(d, w) == [(t(5), 0.31)]
    assert counts(d, w)["alarms"] == 0


@pytest.fixture(scope="module")
def gas_strict(d):
    return add_sensor(d, 43, "01", None, None, device_id="GAS-STRICT")


@pytest.mark.parametrize("typed", ["1_5", "1,5", "0,500", "12mm", "12m", "0x10", "nan", ""])
def test_csv_import_refuses_a_value_python_would_misread(d, gas_strict, tmp_path, typed):
    """The CSV's values are read strictly (cim.numbers): 1_5 was stored as 15 (Python's digit
    separator) and opened an alarm, 1,5 was refused for a reason Python's, not the file's; a
    reading's unit is its sensor's, so 12m is no number either. The row and the value's column
    are named, nothing is written."""
    s = gas_strict
    f = tmp_path / "strict.csv"
    f.write_text("设备编号,监测时间,监测值\n"
                 "GAS-STRICT,2026-12-01T08:00:00+08:00,3\n"
                 f'GAS-STRICT,2026-12-01T08:05:00+08:00,"{typed}"\n', encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert f"{f}, row 3, field '监测值': value {typed!r} is not" in p.stderr
    assert counts(d, s)["readings"] == 0


def test_csv_import_refuses_cells_beyond_the_header(d, gas_strict, tmp_path):
    """An unquoted 1,5 is two cells: the value 1 was stored and the 5 beyond the header
    ignored."""
    f = tmp_path / "unquoted.csv"
    f.write_text("设备编号,监测时间,监测值\n"
                 "GAS-STRICT,2026-12-01T08:00:00+08:00,3,\n"
                 "GAS-STRICT,2026-12-01T08:05:00+08:00,1,5\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert f"{f}, row 3: a cell beyond the header's 3 columns ('5' in column 4" in p.stderr
    assert counts(d, gas_strict)["readings"] == 0


def test_csv_import_names_the_row_of_a_reading_from_the_future(d, gas_strict, tmp_path):
    """A device clock gone wrong: the reading too far ahead is named as every other refused
    value of a file is — the file, its row (header row 1, a blank line counts) and the time's
    column as delivered — not by its index in the batch; nothing is written."""
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    f = tmp_path / "future.csv"
    f.write_text("设备编号,监测时间,监测值\n"
                 "GAS-STRICT,2026-12-01T08:00:00+08:00,3\n"
                 "\n"
                 f"GAS-STRICT,{future.isoformat()},4\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert p.stderr.startswith(f"error: {f}, row 4, field '监测时间': sensor GAS-STRICT: time "
                               f"{future.isoformat()} is more than 300 s ahead"), p.stderr
    assert counts(d, gas_strict)["readings"] == 0


def test_csv_import_reads_numbers_as_typed(d, tmp_path):
    """What is a number stays one: signs, exponents, thousands grouped by commas, full-width
    digits, blanks around it."""
    s = add_sensor(d, 44, "04", None, None, device_id="LEVEL-TYPED")
    typed = ["1.5", "-0.3", "1e-1", "+2", "1,200.5", "１．２５", " 0.7 "]
    f = tmp_path / "typed.csv"
    f.write_text("sensor,time,value\n" + "".join(
        f'LEVEL-TYPED,{t(5 * k).isoformat()},"{v}"\n' for k, v in enumerate(typed)),
        encoding="utf-8")
    run_cli(["iot", "import", str(f)], d.env(), check=True)
    assert [v for _, v in stored(d, s)] == [1.5, -0.3, 0.1, 2.0, 1200.5, 1.25, 0.7]


RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"

_REGISTRY_HEAD = "设备编号,设备名称,监测类型,计量单位,监测对象编码,安装日期,状态,上报周期(秒),数据来源,X,Y\n"


def _register(d, tmp_path, device: str, *, name: str = "积水监测", status: str = "运行"):
    """Load a one-sensor registry (a water-level sensor reporting every 60 s): its report."""
    from loaders.sensors import load_sensors

    reg = tmp_path / "registry.csv"
    reg.write_text(_REGISTRY_HEAD + f"{device},{name},积水深度,m,,,{status},60,,3913650,"
                   "39464250\n", encoding="utf-8")
    return load_sensors(d.conninfo, d.profile, reg)


def _gap_opens_at(d, code: str, since: dt.datetime) -> None:
    """3 × 60 s: no gap alarm for ``code`` 179 s after ``since``, one 181 s after it, silent
    since ``since``."""
    with psycopg.connect(d.conninfo) as conn:
        early = detect(conn, since + dt.timedelta(seconds=179))["opened"]
        assert code not in [o["sensor"] for o in early]
        opened = [o for o in detect(conn, since + dt.timedelta(seconds=181))["opened"]
                  if o["sensor"] == code]
    assert [o["silent_since"] for o in opened] == [since]
    assert d.rows("SELECT kind, status FROM alarms WHERE sensor_code = %s",
                  (code,)) == [("gap", "active")]
    # the alarm's stored detail says so in RFC 3339 (the 'T', a ±hh:mm offset), the instant
    stored = d.scalar("SELECT detail->>'silent_since' FROM alarms WHERE sensor_code = %s",
                      (code,))
    assert re.fullmatch(RFC3339, stored), stored
    assert dt.datetime.fromisoformat(stored) == since


def test_silence_of_a_never_reporting_sensor_counts_from_its_registration(d, tmp_path):
    """A registered sensor that never reported is silent since its registration; reloading the
    registry with its name corrected (a new version of the sensor) is no new registration and
    does not restart the clock. Last in the module: the run at the wall clock's time opens gap
    alarms for the other tests' sensors too."""
    import time

    assert _register(d, tmp_path, "GAP-REG-1").loaded == 1
    time.sleep(2)
    assert _register(d, tmp_path, "GAP-REG-1", name="积水监测（更正）").updated == 1
    (code, registered), (code2, corrected) = d.rows(
        "SELECT code, valid_from FROM sensors WHERE device_id = 'GAP-REG-1' ORDER BY id")
    assert code == code2 and corrected - registered >= dt.timedelta(seconds=1.5)
    # silent at 181 s after its registration, though only ~179 s after the correction
    _gap_opens_at(d, code, registered)


def test_silence_of_a_sensor_switched_to_a_watched_status_counts_from_the_switch(d, tmp_path):
    """A sensor registered 停用 and later reloaded as 运行 that never reported is silent since
    the switch, not since its registration: no gap alarm until 3 intervals after it. (After the
    test above: its runs open gap alarms for the other tests' sensors too.)"""
    import time

    assert _register(d, tmp_path, "GAP-REG-2", status="停用").loaded == 1
    time.sleep(2)
    assert _register(d, tmp_path, "GAP-REG-2").updated == 1
    (code, registered, switched, old), (code2, _, _, new) = d.rows(
        "SELECT code, valid_from, valid_to, status FROM sensors WHERE device_id = 'GAP-REG-2' "
        "ORDER BY id")
    assert code == code2 and (old, new) == ("停用", "运行")
    assert switched - registered >= dt.timedelta(seconds=1.5)
    _gap_opens_at(d, code, switched)  # over 180 s after its registration at 179 s


def test_silence_of_a_sensor_back_in_service_counts_from_its_return(d, tmp_path):
    """A sensor that reported, was set to 停用 and back to 运行, is silent since its return,
    not since its last report before: its grace of 3 intervals starts again. (Last in the
    module, as the two tests above.)"""
    import time

    assert _register(d, tmp_path, "GAP-REG-3").loaded == 1
    code = d.rows("SELECT code FROM sensors WHERE device_id = 'GAP-REG-3'")[0][0]
    reported = d.rows("SELECT now() - interval '5 seconds'")[0][0]
    assert send(d, [(code, reported, 0.0)])["inserted"] == 1
    for status in ("停用", "运行"):
        time.sleep(1.1)
        assert _register(d, tmp_path, "GAP-REG-3", status=status).updated == 1
    back = d.rows("SELECT max(valid_to) FROM sensors WHERE code = %s AND status = '停用'",
                  (code,))[0][0]
    assert back - reported >= dt.timedelta(seconds=2)
    _gap_opens_at(d, code, back)  # 180 s after the report it would be silent


_BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_csv_import_reads_gbk_and_utf8_with_bom(d, tmp_path, encoding):
    """A readings file saved by a Chinese Excel/WPS is GBK: it was refused 'not a UTF-8 CSV'
    while the loaders read the same file (cim.text.decode_text). GBK and UTF-8 with a BOM are
    read, their Chinese headers and device ids too; the readings stored are those written."""
    serial, device = {"gbk": (60, "积水-甲"), "utf-8-sig": (61, "积水-乙")}[encoding]
    s = add_sensor(d, serial, "04", None, None, device_id=device)
    f = tmp_path / "readings.csv"
    f.write_bytes(("设备编号,监测时间,监测值\n"
                   f"{device},2026-12-01T08:00:00+08:00,0.25\n"
                   f"{device},2026-12-01 08:05:00,0.5\n").encode(encoding))
    run_cli(["iot", "import", str(f), "--tz", "+08:00"], d.env(), check=True)
    assert stored(d, s) == [(dt.datetime(2026, 12, 1, 8, 0, tzinfo=_BEIJING), 0.25),
                            (dt.datetime(2026, 12, 1, 8, 5, tzinfo=_BEIJING), 0.5)]


def test_csv_import_of_text_in_no_known_encoding_names_the_file(d, tmp_path):
    """Bytes neither UTF-8 nor GBK/GB18030 (0xFF on the third line) are refused naming the
    file and the line, nothing written; --encoding reads the file as the user says."""
    s = add_sensor(d, 62, "04", None, None, device_id="LEVEL-ENC")
    f = tmp_path / "latin.csv"
    f.write_bytes(b"sensor,time,value\n"
                  b"LEVEL-ENC,2026-12-01T08:00:00+08:00,0.25\n"
                  b"LEVEL-ENC,2026-12-01T08:05:00+08:00,0.5 \xff\n")
    p = run_cli(["iot", "import", str(f)], d.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert f"{f}, row 3: the text is neither UTF-8 nor GBK/GB18030" in p.stderr, p.stderr
    assert stored(d, s) == []
    f.write_bytes(b"sensor,time,value\nLEVEL-ENC,2026-12-01T08:00:00+08:00,0.25\n")
    run_cli(["iot", "import", str(f), "--encoding", "latin-1"], d.env(), check=True)
    assert stored(d, s) == [(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), 0.25)]


def _iot_copy(tmp_path, jining_profile, edit):
    """A city's copy of iot.yaml, ``edit``ed, in its profile (dictionaries: {iot: FILE})."""
    from dataclasses import replace

    import yaml

    raw = yaml.safe_load((DICTIONARY_DIR / "iot.yaml").read_text(encoding="utf-8"))
    edit(raw)
    f = tmp_path / "iot.yaml"
    f.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return replace(jining_profile, dictionaries={**jining_profile.dictionaries, "iot": f})


def test_end_statuses_are_the_city_files(d, tmp_path, jining_profile):
    """alarms.end_statuses is written in the platform's iot.yaml ([停用], the default the code
    had); a city's copy saying [维修] is what the ingest uses (a 维修 sensor's reading clears
    its alarm, opens none); an older copy without it has [停用]; [] is none."""
    import yaml

    from layers.iot.thresholds import load_config

    shipped = yaml.safe_load((DICTIONARY_DIR / "iot.yaml").read_text(encoding="utf-8"))
    assert shipped["alarms"] == {"end_statuses": ["停用"]}
    assert load_config(jining_profile).end_statuses == ("停用",)

    def repair(raw):
        raw["alarms"]["end_statuses"] = ["维修"]

    cfg = load_config(_iot_copy(tmp_path, jining_profile, repair))
    assert cfg.end_statuses == ("维修",)
    s = add_sensor(d, 63, "04", None, None, interval_s=None)
    assert send(d, [(s, t(0), 1.6)])["alarms_opened"] == 1
    _new_version(d, s, "维修")
    out = send(d, [(s, t(5), 2.6)], config=cfg)
    assert (out["alarms_opened"], out["alarms_cleared"], out["cases_opened"]) == (0, 1, 0)

    def older(raw):
        del raw["alarms"]

    assert load_config(_iot_copy(tmp_path, jining_profile, older)).end_statuses == ("停用",)

    def none(raw):
        raw["alarms"]["end_statuses"] = []

    assert load_config(_iot_copy(tmp_path, jining_profile, none)).end_statuses == ()


@pytest.mark.parametrize("key", ["alarms.end_statuses", "gap.statuses"])
def test_a_state_no_sensor_is_in_is_refused(tmp_path, jining_profile, key):
    """停止 (no state of sensor_status.csv: 运行 停用 维修) would match no sensor, silently: the
    file is refused naming the key and the states."""
    from layers.iot.thresholds import load_config

    def typo(raw):
        section, name = key.split(".")
        raw[section][name] = ["停止"]

    with pytest.raises(ConfigError) as exc:
        load_config(_iot_copy(tmp_path, jining_profile, typo))
    assert exc.value.field == key
    assert "停止" in exc.value.message and "运行, 停用, 维修" in exc.value.message


def test_csv_import_reads_excels_unicode_text(d, tmp_path):
    """Excel's 另存为 Unicode 文本 (*.txt) writes UTF-16 with a BOM, tab-separated, CRLF: it was
    refused as having no sensor column (the header one cell); its readings are imported."""
    s = add_sensor(d, 64, "04", None, None, device_id="积水-丙")
    f = tmp_path / "readings.txt"
    f.write_bytes("设备编号\t监测时间\t监测值\r\n积水-丙\t2026-12-01 08:00:00\t0.25\r\n"
                  "积水-丙\t2026-12-01 08:05:00\t0.5\r\n".encode("utf-16"))
    run_cli(["iot", "import", str(f), "--tz", "+08:00"], d.env(), check=True)
    assert stored(d, s) == [(dt.datetime(2026, 12, 1, 8, 0, tzinfo=_BEIJING), 0.25),
                            (dt.datetime(2026, 12, 1, 8, 5, tzinfo=_BEIJING), 0.5)]


def test_escalated_at_is_stored_in_rfc3339_utc_whatever_the_session_zone(d):
    """12 %LEL opens 四级, 30 escalates to 二级 at t(1) (08:01 UTC), ingested on a session in
    Asia/Shanghai: the alarm's detail.escalated_at was the timestamptz's ::text ('2026-12-01
    16:01:00+08': no 'T', no ':00', the session's zone); it is RFC 3339 in UTC, the instant
    t(1), as silent_since is."""
    s = add_sensor(d, 90, "01", None, None, interval_s=None, device_id="GAS-ESC-TZ")
    with psycopg.connect(d.conninfo, options="-c TimeZone=Asia/Shanghai") as conn:
        ingest(conn, [(s, t(0), 12.0)])
        assert ingest(conn, [(s, t(1), 30.0)])["alarms_escalated"] == 1
    stored = d.scalar("SELECT detail->>'escalated_at' FROM alarms WHERE sensor_code = %s", (s,))
    assert stored == "2026-12-01T08:01:00+00:00", stored
    assert re.fullmatch(RFC3339, stored) and dt.datetime.fromisoformat(stored) == t(1)


def test_a_city_copy_without_end_statuses_has_the_platform_files(tmp_path, jining_profile,
                                                                 monkeypatch):
    """A city's iot.yaml written before alarms.end_statuses existed takes the platform's
    iot.yaml value — not a second default kept in code (("停用",) beside the file): with a
    platform file saying [维修], the older copy's end states are (维修,)."""
    import yaml

    from layers.iot import thresholds

    platform = tmp_path / "platform"
    platform.mkdir()
    raw = yaml.safe_load((DICTIONARY_DIR / "iot.yaml").read_text(encoding="utf-8"))
    raw["alarms"]["end_statuses"] = ["维修"]
    (platform / "iot.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True),
                                       encoding="utf-8")
    city = tmp_path / "city"
    city.mkdir()
    profile = _iot_copy(city, jining_profile, lambda r: r.pop("alarms"))
    monkeypatch.setattr(thresholds, "DICTIONARY_DIR", platform)
    assert thresholds.load_config(profile).end_statuses == ("维修",)
    # the platform's own file is read as it is: no end states there is a refusal naming it
    raw.pop("alarms")
    (platform / "iot.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True),
                                       encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        thresholds.load_config(profile)
    assert exc.value.field == "alarms.end_statuses" and str(platform) in str(exc.value.path)


def test_a_city_copy_without_the_newer_keys_has_the_platform_files(tmp_path, jining_profile,
                                                                    monkeypatch):
    """gap.level, gap.statuses, partitions.ahead/behind and readings.max_ahead_s of a city's
    iot.yaml written before they existed are the platform's iot.yaml values — code kept its
    own defaults (4, (运行,), 3, 1, 300) beside the file; a copy saying gap.statuses: [] watches
    no sensor, it is not given (运行,) back."""
    import yaml

    from layers.iot import thresholds

    platform = tmp_path / "platform"
    platform.mkdir()
    raw = yaml.safe_load((DICTIONARY_DIR / "iot.yaml").read_text(encoding="utf-8"))
    raw["gap"].update(level=2, statuses=["运行", "维修"])
    raw["partitions"].update(ahead=5, behind=2)
    raw["readings"]["max_ahead_s"] = 60
    (platform / "iot.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True),
                                       encoding="utf-8")

    def older(r):
        for section, key in (("gap", "level"), ("gap", "statuses"), ("partitions", "ahead"),
                             ("partitions", "behind"), ("readings", "max_ahead_s")):
            r[section].pop(key)

    city = tmp_path / "city"
    city.mkdir()
    profile = _iot_copy(city, jining_profile, older)
    monkeypatch.setattr(thresholds, "DICTIONARY_DIR", platform)
    cfg = thresholds.load_config(profile)
    assert (cfg.gap_level, cfg.gap_statuses, cfg.ahead, cfg.behind, cfg.max_ahead_s) == (
        2, ("运行", "维修"), 5, 2, 60.0)
    none = tmp_path / "none"
    none.mkdir()
    profile = _iot_copy(none, jining_profile, lambda r: r["gap"].update(statuses=[]))
    assert thresholds.load_config(profile).gap_statuses == ()
