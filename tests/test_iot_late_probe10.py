"""Late readings (older than their sensor's latest stored reading) that reach a threshold's
``on`` are never silent: a gateway relays its buffered backlog after a newer live reading got
through, and an exceedance in the backlog opened no alarm and no case.

Expected values by construction from the gas rows of ``sensor_thresholds.csv`` (read here with
the csv module, not the code under test): a value's level is the most severe level whose
``on`` it reaches; an episode stays while a value is beyond the ``off`` of a level it holds;
it clears below the least severe level's ``off``. The rows say 四级 on 10 off 8, 三级 20/16,
二级 25/20, 一级 50/40 (asserted first, so that a city change of the file fails here, loudly).
"""

from __future__ import annotations

import csv
import datetime as dt

import psycopg

from cim.profile import DICTIONARY_DIR
from tests.conftest import run_cli
from tests.iot_fixture import RISK_CODE, add_sensor, counts, module_db, send, t


def _gas_rows() -> dict[int, tuple[float, float]]:
    with open(DICTIONARY_DIR / "sensor_thresholds.csv", encoding="utf-8-sig") as f:
        return {int(r["level"]): (float(r["on"]), float(r["off"])) for r in csv.DictReader(f)
                if r["type_code"] == "01" and r["asset_class"] == ""}


GAS = _gas_rows()


def level_of(v: float) -> int | None:
    """The most severe gas level whose on ``v`` reaches (1 most severe)."""
    return min((lv for lv, (on, _) in GAS.items() if v >= on), default=None)


d = module_db("iotlate10")


def alarms(d, s):
    return d.rows("SELECT id, code, status, level, opened_at, cleared_at, first_value, "
                  "peak_value, last_value, case_code, threshold FROM alarms WHERE "
                  "sensor_code = %s AND kind = 'threshold' ORDER BY opened_at", (s,))


def state(d, s):
    return d.rows("SELECT alarm_level, alarm_id, last_ts FROM sensor_state WHERE "
                  "sensor_code = %s", (s,))[0]


def test_thresholds_are_those_the_expected_values_assume():
    assert GAS == {4: (10.0, 8.0), 3: (20.0, 16.0), 2: (25.0, 20.0), 1: (50.0, 40.0)}


def test_gas_backlog_sent_after_a_newer_quiet_reading_opens_one_past_episode(d):
    s = add_sensor(d, 1, "01", d.gas_pipe, "03")
    assert send(d, [(s, t(60), 5.0)])["alarms_opened"] == 0  # the live reading got through
    before = d.scalar("SELECT now()")
    backlog = [(s, t(0), 12.0), (s, t(1), 30.0), (s, t(2), 7.9)]
    out = send(d, backlog)
    assert (level_of(12.0), level_of(30.0), 7.9 < GAS[4][1]) == (4, 2, True)
    assert (out["inserted"], out["late"], out["late_alarms_opened"], out["alarms_opened"],
            out["cases_opened"], out["alarms_escalated"], out["alarms_cleared"]) == \
        (3, 3, 1, 1, 1, 1, 1)
    [(aid, code, status, level, opened, cleared, first, peak, last, case, thr)] = alarms(d, s)
    assert (status, level, opened, cleared, first, peak, last, thr) == \
        ("cleared", 2, t(0), t(2), 12.0, 30.0, 7.9, GAS[2][0])
    # the case: opened at the reading's time, saying it came late, the escalation written on it
    rep, cdetail, desc = d.rows("SELECT reported_at, detail, description FROM cases WHERE "
                                "code = %s", (case,))[0]
    assert rep == t(0)
    late = cdetail["reported_late"]
    assert dt.datetime.fromisoformat(late["reading_at"]) == t(0)
    assert dt.datetime.fromisoformat(late["received_at"]) >= before
    assert "迟报" in desc and "2026-12-01 16:00:00" in desc  # 08:00Z on the city's clock
    assert [(e["level"], e["value"], dt.datetime.fromisoformat(e["at"]))
            for e in cdetail["escalations"]] == [(2, 30.0, t(1))]
    assert d.scalar("SELECT detail->'reported_late'->>'reading_at' FROM alarms WHERE id = %s",
                    (aid,)) == late["reading_at"]
    # the past episode is over: the state and the risk point are as before it
    assert state(d, s) == (None, None, t(60))
    level_, flags = d.rows("SELECT level, flags FROM risk_points WHERE code = %s AND "
                           "valid_to IS NULL", (RISK_CODE,))[0]
    assert level_ == "低" and f"alarm:{code}" not in (flags or [])
    assert counts(d, s) == {"readings": 4, "alarms": 1, "active": 0, "cases": 1}

    # re-sent: nothing stored, nothing opened
    again = send(d, backlog)
    assert (again["inserted"], again["duplicates"], again["alarms_opened"],
            again["cases_opened"]) == (0, 3, 0, 0)
    # a further late reading inside the past episode (13 between 12 and 30): it belongs to it
    more = send(d, [*backlog, (s, t(0.5), 13.0)])
    assert (more["inserted"], more["late"], more["alarms_opened"], more["alarms_escalated"],
            more["alarms_cleared"]) == (1, 1, 0, 0, 0)
    assert counts(d, s) == {"readings": 5, "alarms": 1, "active": 0, "cases": 1}
    assert alarms(d, s)[0][7] == 30.0


def test_late_exceedance_inside_the_active_episode_updates_it(d):
    s = add_sensor(d, 2, "01", None, None)
    out = send(d, [(s, t(0), 12.0), (s, t(10), 13.0)])
    assert (out["alarms_opened"], level_of(12.0)) == (1, 4)
    [(aid, *_)] = alarms(d, s)
    late = send(d, [(s, t(5), 22.0), (s, t(7), 9.0)])  # 22 reaches 三级; 9 reaches no on
    assert level_of(22.0) == 3 and level_of(9.0) is None
    assert (late["late"], late["alarms_opened"], late["late_alarms_opened"],
            late["alarms_escalated"], late["alarms_cleared"]) == (2, 0, 0, 1, 0)
    [(aid2, _, status, level, opened, cleared, first, peak, last, case, thr)] = alarms(d, s)
    assert (aid2, status, level, opened, cleared, first, peak, last, thr) == \
        (aid, "active", 3, t(0), None, 12.0, 22.0, 13.0, GAS[3][0])
    esc = d.scalar("SELECT detail->'escalations' FROM cases WHERE code = %s", (case,))
    assert [(e["level"], e["value"]) for e in esc] == [(3, 22.0)]
    # the hysteresis of 12, 22, 13: 13 is below 三级's off 16, beyond 四级's off 8 → 四级
    assert state(d, s) == (4, aid, t(10))
    assert counts(d, s)["cases"] == 1


def test_late_exceedance_never_cleared_by_the_readings_after_it_is_the_active_alarm(d):
    s = add_sensor(d, 3, "01", None, None)
    # between off 8 and on 10: no alarm
    assert send(d, [(s, t(10), 9.0), (s, t(20), 9.5)])["alarms_opened"] == 0
    out = send(d, [(s, t(0), 11.0)])
    assert (out["late"], out["late_alarms_opened"], out["alarms_cleared"]) == (1, 1, 0)
    [(aid, _, status, level, opened, cleared, first, peak, last, *_)] = alarms(d, s)
    assert (status, level, opened, cleared, first, peak, last) == \
        ("active", 4, t(0), None, 11.0, 11.0, 9.5)
    assert state(d, s) == (4, aid, t(20))
    # the live path continues from it: 7 is below off 8 and clears it; 12 opens a new one
    assert send(d, [(s, t(30), 7.0)])["alarms_cleared"] == 1
    assert send(d, [(s, t(40), 12.0)])["alarms_opened"] == 1
    rows = alarms(d, s)
    assert [(r[2], r[4], r[5]) for r in rows] == [("cleared", t(0), t(30)),
                                                  ("active", t(40), None)]
    assert state(d, s) == (4, rows[1][0], t(40))
    assert counts(d, s) == {"readings": 5, "alarms": 2, "active": 1, "cases": 2}


def test_late_episode_active_at_the_latest_stored_reading_carries_into_the_batch(d):
    """One batch: a late 11 before the stored 9.0, and a newer 9.2: the episode opened for
    the past is the state the newer reading continues (9.2 beyond off 8: still active)."""
    s = add_sensor(d, 4, "01", None, None)
    send(d, [(s, t(10), 9.0)])
    out = send(d, [(s, t(0), 11.0), (s, t(30), 9.2)])
    assert (out["late"], out["alarms_opened"], out["late_alarms_opened"]) == (1, 1, 1)
    [(aid, _, status, level, opened, _, _, peak, last, *_)] = alarms(d, s)
    assert (status, level, opened, peak, last) == ("active", 4, t(0), 11.0, 9.2)
    assert state(d, s) == (4, aid, t(30))
    assert d.scalar("SELECT count(*) FROM alarms WHERE sensor_code = %s AND status = 'active'",
                    (s,)) == 1


def test_late_exceedance_whose_walk_reaches_a_later_episode_joins_it(d):
    """Stored 9 (t10), 12 (t20, opens 四级), 13; a late 30 at t0: the walk 30 → 二级, 9 stays
    四级 (beyond off 8), and reaches the alarm's opening uncleared: one episode begun at t0,
    escalated to 二级 — no second alarm and case."""
    s = add_sensor(d, 5, "01", None, None)
    send(d, [(s, t(10), 9.0), (s, t(20), 12.0), (s, t(30), 13.0)])
    [(aid, *_)] = alarms(d, s)
    out = send(d, [(s, t(0), 30.0)])
    assert (out["alarms_opened"], out["alarms_escalated"]) == (0, 1)
    [(aid2, _, status, level, opened, _, _, peak, *_)] = alarms(d, s)
    assert (aid2, status, level, opened, peak) == (aid, "active", 2, t(20), 30.0)
    began = d.scalar("SELECT detail->>'began_at' FROM alarms WHERE id = %s", (aid,))
    assert dt.datetime.fromisoformat(began) == t(0)
    assert counts(d, s)["cases"] == 1


def test_two_past_episodes_in_one_backlog(d):
    """12, 5, 15, 30, 4 relayed after a newer 5: 12 opens 四级, 5 (below off 8) clears it;
    15 opens 四级 again, 30 escalates to 二级, 4 clears: two alarms, two cases."""
    s = add_sensor(d, 8, "01", None, None)
    send(d, [(s, t(60), 5.0)])
    out = send(d, [(s, t(0), 12.0), (s, t(1), 5.0), (s, t(2), 15.0), (s, t(3), 30.0),
                   (s, t(4), 4.0)])
    assert (out["late"], out["late_alarms_opened"], out["cases_opened"],
            out["alarms_escalated"], out["alarms_cleared"]) == (5, 2, 2, 1, 2)
    assert [(r[2], r[3], r[4], r[5], r[7]) for r in alarms(d, s)] == [
        ("cleared", level_of(12.0), t(0), t(1), 12.0),
        ("cleared", level_of(30.0), t(2), t(4), 30.0)]
    assert state(d, s) == (None, None, t(60))


def test_late_pressure_drop_below(d):
    """Water pressure on a water pipe (class 01, direction below; the 02,01 rows: 四级 on 0.22
    off 0.24, 三级 0.18/0.20): 0.17 reaches 三级, 0.21 is beyond 四级's off only (四级), 0.25
    clears; the peak is the lowest value."""
    with open(DICTIONARY_DIR / "sensor_thresholds.csv", encoding="utf-8-sig") as f:
        rows = {int(r["level"]): (float(r["on"]), float(r["off"])) for r in csv.DictReader(f)
                if r["type_code"] == "02" and r["asset_class"] == "01"}
    assert (rows[4], rows[3]) == ((0.22, 0.24), (0.18, 0.20))
    w = add_sensor(d, 9, "02", d.water_pipe, "01")
    send(d, [(w, t(60), 0.30)])
    out = send(d, [(w, t(0), 0.17), (w, t(1), 0.21), (w, t(2), 0.25)])
    assert (out["late_alarms_opened"], out["alarms_cleared"]) == (1, 1)
    assert [(r[2], r[3], r[4], r[5], r[7], r[10]) for r in alarms(d, w)] == [
        ("cleared", 3, t(0), t(2), 0.17, rows[3][0])]


def test_cli_import_says_how_many_late_alarms_were_opened(d, tmp_path):
    s = add_sensor(d, 6, "01", None, None)
    send(d, [(s, t(60), 5.0)])
    f = tmp_path / "backlog.csv"
    f.write_text("sensor,time,value\n"
                 f"{s},{t(0).isoformat()},55\n{s},{t(1).isoformat()},3\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env(), check=True)
    assert "2 late readings" in p.stdout and "1 alarms opened for the past" in p.stdout
    assert alarms(d, s)[0][2:6] == ("cleared", level_of(55.0), t(0), t(1))


def test_http_answer_counts_late_alarms_as_the_served_role(d, tmp_path):
    """The served app ingests as its read-only role with the record grants: the late path
    (walk over stored readings, the alarm, its case, the risk point raised and restored)
    works under them, and the answer says late and late_alarms_opened."""
    import requests

    from layers.iot.sources import add_source
    from tests.conftest import start_api

    s = add_sensor(d, 7, "01", d.gas_pipe, "03", device_id="LATE-HTTP")
    with psycopg.connect(d.conninfo) as conn:
        key = add_source(conn, "late-gateway")
    proc, base = start_api(d.url, d.profile, tmp_path)
    try:
        def post(rows):
            r = requests.post(f"{base}/iot/readings", headers={"X-API-Key": key}, timeout=30,
                              json={"readings": [{"sensor": "LATE-HTTP", "time": ts.isoformat(),
                                                  "value": v} for ts, v in rows]})
            assert r.status_code == 200, r.text
            return r.json()

        assert post([(t(60), 5.0)])["alarms_opened"] == 0
        out = post([(t(0), 12.0), (t(1), 30.0), (t(2), 7.9)])
    finally:
        proc.terminate()
        proc.wait(10)
    assert (out["late"], out["late_alarms_opened"], out["alarms_opened"],
            out["alarms_escalated"], out["alarms_cleared"]) == (3, 1, 1, 1, 1)
    assert [(r[2], r[3], r[4], r[5]) for r in alarms(d, s)] == [("cleared", 2, t(0), t(2))]
    code = alarms(d, s)[0][1]
    flags = d.scalar("SELECT flags FROM risk_points WHERE code = %s AND valid_to IS NULL",
                     (RISK_CODE,))
    assert f"alarm:{code}" not in (flags or [])
