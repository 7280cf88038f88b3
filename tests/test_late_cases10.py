"""The case of an alarm a late reading opened (a gateway's backlog relayed after a newer
reading, :func:`layers.iot.late.late_readings`) as the people of the loop meet it:

- its deadline counts from the platform's receipt (they could not act before), its report
  stays at the reading's time (when it happened), and the case list, latest first, has it
  where it was opened on the platform, not hours down among older cases;
- an escalation a late reading brings to an episode whose case is already closed is in the
  case's trail and flags it (the case is not reopened: the loop has no way out of 结案);
- ``cim iot alarms --json`` and ``GET /iot/alarms`` say ``reported_late`` and ``began_at``.

Expected values by construction: the gas rows of sensor_thresholds.csv (四级 on 10 off 8,
二级 on 25, 一级 on 50 — asserted in tests/test_iot_late_probe10.py) and the time limits of
case_categories.csv, read here with the csv module, not the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import psycopg
import pytest
import yaml

from cim.profile import DICTIONARY_DIR
from layers.cases import store
from layers.cases.auth import User
from layers.cases.workflow import act
from layers.iot.ingest import ingest
from layers.iot.thresholds import load_config
from tests.conftest import drop_database, run_cli, server_url
from tests.iot_fixture import add_sensor, iot_db, t


def _limit_h(code: str) -> float:
    with open(DICTIONARY_DIR / "case_categories.csv", encoding="utf-8-sig") as f:
        return next(float(r["time_limit_h"]) for r in csv.DictReader(f) if r["code"] == code)


@pytest.fixture(scope="module")
def d(jining_profile):
    db = iot_db(jining_profile, "latecases10")
    yield db
    drop_database(server_url(), db.name)


def send(d, rows, config=None):
    with psycopg.connect(d.conninfo) as conn:
        return ingest(conn, rows, config=config)


def now(d) -> dt.datetime:
    return d.scalar("SELECT clock_timestamp()")


def case_of(d, sensor: str) -> dict:
    with psycopg.connect(d.conninfo) as conn:
        code = conn.execute("SELECT case_code FROM alarms WHERE sensor_code = %s ORDER BY "
                            "opened_at", (sensor,)).fetchone()[0]
        return store.get_case(conn, code, events=True)


def test_late_alarm_case_is_due_from_its_receipt_and_listed_where_it_was_opened(d):
    s = add_sensor(d, 1, "01", d.gas_pipe, "03")
    send(d, [(s, t(60), 5.0)])  # the live reading got through first
    # a patrol's case opened on the platform before the backlog arrives, reported at t(30)
    with psycopg.connect(d.conninfo) as conn:
        cell = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                            ).fetchone()[0]
        patrol = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                                 role="监督员", grid_code=cell, reported_at=t(30))["code"]
    before = now(d)
    out = send(d, [(s, t(0), 12.0), (s, t(1), 13.0)])  # 四级, hours after the reading
    after = now(d)
    assert (out["late_alarms_opened"], out["cases_opened"]) == (1, 1)
    c = case_of(d, s)
    limit = _limit_h("0102")
    assert (c["category_code"], c["time_limit_h"]) == ("0102", limit)
    # reported when it happened, registered when the platform got it
    assert c["reported_at"] == t(0)
    assert before <= c["registered_at"] <= after
    assert c["deadline"] == c["registered_at"] + dt.timedelta(hours=limit)
    assert c["deadline"] > after  # not overdue the moment it opened
    assert [(e["action"], e["at"]) for e in c["events"]] == [
        ("report", t(0)), ("register", c["registered_at"])]
    overdue = json.loads(run_cli(["case", "list", "--overdue", "--json"], d.env(),
                                 check=True).stdout)
    assert c["code"] not in [r["code"] for r in overdue]
    # latest first: the late alarm's case was opened after the patrol's (reported later)
    listed = json.loads(run_cli(["case", "list", "--limit", "2", "--json"], d.env(),
                                check=True).stdout)
    assert [r["code"] for r in listed] == [c["code"], patrol]
    nxt = json.loads(run_cli(["case", "list", "--limit", "1", "--after", c["code"], "--json"],
                             d.env(), check=True).stdout)
    assert [r["code"] for r in nxt] == [patrol]


def test_late_escalation_to_a_shorter_limit_counts_from_the_receipt(d, tmp_path):
    """A city's thresholds: gas 二级 and 一级 → 0801 燃气泄漏 (a shorter limit). The backlog
    12 (t0), 30 (t1, 二级), 7.9 (t2) opens a 0102 case escalated to 0801 at t(1): due one
    0801 limit after the receipt, not after t(1), days ago."""
    lines = (DICTIONARY_DIR / "sensor_thresholds.csv").read_text(encoding="utf-8").splitlines()
    for i, r in enumerate(lines):
        if r.startswith(("01,,above,1,", "01,,above,2,")):
            lines[i] = r.replace(",0102,", ",0801,")
    th = tmp_path / "sensor_thresholds.csv"
    th.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = load_config(thresholds=th)
    short, long_ = _limit_h("0801"), _limit_h("0102")
    assert short < long_
    s = add_sensor(d, 2, "01", None, None)
    send(d, [(s, t(60), 5.0)], cfg)
    out = send(d, [(s, t(0), 12.0), (s, t(1), 30.0), (s, t(2), 7.9)], cfg)
    assert (out["late_alarms_opened"], out["alarms_escalated"]) == (1, 1)
    c = case_of(d, s)
    assert (c["category_code"], c["time_limit_h"]) == ("0801", short)
    assert c["deadline"] == c["registered_at"] + dt.timedelta(hours=short)


def _close(code: str, d) -> None:
    with psycopg.connect(d.conninfo) as conn:
        act(conn, code, "dispatch", User("派遣甲", "派遣员"))
        unit = store.get_case(conn, code)["unit"]
        act(conn, code, "handle", User("单位甲", "处置单位", unit), note="已处置")
        act(conn, code, "verify", User("核查甲", "核查员"), result="pass")
        act(conn, code, "close", User("受理甲", "受理员"))


def test_late_escalation_of_a_closed_case_is_in_its_trail_and_flags_it(d):
    with open(DICTIONARY_DIR / "case_workflow.yaml", encoding="utf-8") as f:
        wf = yaml.safe_load(f)
    # the loop has no way out of 结案: the case is not reopened
    assert not any("结案" in (tr["from"] if isinstance(tr["from"], list) else [tr["from"]])
                   for a in wf["actions"].values() for tr in a["transitions"])
    s = add_sensor(d, 3, "01", None, None, device_id="LATE-CLOSED")
    out = send(d, [(s, t(0), 12.0), (s, t(10), 5.0)])  # 四级 opened, cleared at t(10)
    assert (out["alarms_opened"], out["alarms_cleared"]) == (1, 1)
    code = case_of(d, s)["code"]
    _close(code, d)
    closed_at = case_of(d, s)["closed_at"]
    late = send(d, [(s, t(5), 55.0)])  # inside the episode: 一级, relayed after the close
    assert (late["late"], late["alarms_opened"], late["alarms_escalated"]) == (1, 0, 1)
    c = case_of(d, s)
    assert (c["state"], c["closed_at"], c["category_code"]) == ("结案", closed_at, "0102")
    assert "escalated_after_close" in c["flags"]
    ev = c["events"][-1]
    assert (ev["action"], ev["from_state"], ev["to_state"], ev["actor"], ev["role"]) == (
        "escalate", "结案", "结案", "sensor:LATE-CLOSED", "system")
    assert ev["at"] >= closed_at
    assert (ev["detail"]["level"], ev["detail"]["value"]) == (1, 55.0)
    assert dt.datetime.fromisoformat(ev["detail"]["reading_at"]) == t(5)
    assert "一级" in ev["note"] and "55" in ev["note"]
    shown = run_cli(["case", "show", code], d.env(), check=True).stdout
    assert "escalate" in shown and "一级" in shown
    listed = json.loads(run_cli(["case", "list", "--state", "结案", "--json"], d.env(),
                                check=True).stdout)
    assert "escalated_after_close" in next(r for r in listed if r["code"] == code)["flags"]
    # and the text list says it on the case's line
    text = run_cli(["case", "list", "--state", "结案"], d.env(), check=True).stdout
    line = next(x for x in text.splitlines() if x.startswith(code))
    assert "[" in line and "escalated_after_close" in line.split("[", 1)[1], line
    # the same level again escalates nothing: one event, one flag
    send(d, [(s, t(6), 56.0)])
    c = case_of(d, s)
    assert [e["action"] for e in c["events"]].count("escalate") == 1
    assert c["flags"].count("escalated_after_close") == 1


def test_alarm_list_says_reported_late_and_began_at(d, tmp_path):
    import requests

    from tests.conftest import start_api

    a = add_sensor(d, 4, "01", None, None, device_id="LATE-LIST-A")
    send(d, [(a, t(60), 5.0)])
    before = now(d)
    send(d, [(a, t(0), 12.0), (a, t(1), 5.0)])  # a past episode, opened by a late reading
    b = add_sensor(d, 5, "01", None, None, device_id="LATE-LIST-B")
    send(d, [(b, t(10), 9.0), (b, t(20), 12.0), (b, t(30), 13.0)])  # opens at t(20)
    send(d, [(b, t(0), 30.0)])  # the walk reaches t(20) uncleared: it began at t(0)

    def check(rows_a, rows_b):
        [ra], [rb] = rows_a, rows_b
        assert dt.datetime.fromisoformat(ra["reported_late"]["reading_at"]) == t(0)
        assert dt.datetime.fromisoformat(ra["reported_late"]["received_at"]) >= before
        assert ra["began_at"] is None
        assert rb["reported_late"] is None
        assert dt.datetime.fromisoformat(rb["began_at"]) == t(0)
        assert dt.datetime.fromisoformat(rb["opened_at"]) == t(20)

    cli = {s: json.loads(run_cli(["iot", "alarms", "--sensor", s, "--json"], d.env(),
                                 check=True).stdout) for s in (a, b)}
    check(cli[a], cli[b])
    proc, base = start_api(d.url, d.profile, tmp_path)
    try:
        got = {s: requests.get(f"{base}/iot/alarms", params={"sensor": s}, timeout=30)
               for s in (a, b)}
    finally:
        proc.terminate()
        proc.wait(10)
    assert all(r.status_code == 200 for r in got.values())
    check(got[a].json()["alarms"], got[b].json()["alarms"])


def test_a_late_alarm_is_listed_where_it_was_opened(d):
    """The alarm list, as the case list: the last opened on the platform first — a backlog's
    alarm for the past sank below the alarms opened since its reading's time."""
    from layers.iot.alarms import list_alarms

    s = add_sensor(d, 9, "01", None, None, device_id="LATE-ORDER")
    send(d, [(s, t(50), 12.0)])  # an alarm of now-ish (t50)
    send(d, [(s, t(0), 12.0), (s, t(5), 5.0)])  # then one for the past (t0), opened after
    with psycopg.connect(d.conninfo) as conn:
        rows = list_alarms(conn, sensor=s)
    assert [dt.datetime.fromisoformat(str(r["opened_at"])) if isinstance(r["opened_at"], str)
            else r["opened_at"] for r in rows] == [t(0), t(50)], rows
