"""A sensor alarm's case follows its alarm's escalation to a level whose band names another
category (sensor_thresholds.csv case_category): the category, its time limit, the deadline
(never later) and, before dispatch, the proposed unit (layers.cases.workflow.follow_category).

Categories (cim/dictionaries/case_categories.csv): 0102 燃气设施异常 部件 4 h 燃气公司,
0103 供水设施异常 部件 8 h 供水公司, 0801 燃气泄漏 事件 1 h 燃气公司."""

from __future__ import annotations

import datetime as dt
import uuid

from layers.cases import dispatch, store, workflow
from layers.cases.auth import User
from tests.cases_fixture import case_fixtures

UTC = dt.UTC
T0 = dt.datetime(2001, 5, 1, 8, tzinfo=UTC)
H = dt.timedelta(hours=1)


sdb, conn = case_fixtures("cases_escal")


def sensor_case(conn, cat: str) -> dict:
    """A case as an alarm opens it: role system, registered at once at T0."""
    g = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL").fetchone()[0]
    return store.open_case(conn, source="传感告警", category_code=cat, actor="sensor:T-1",
                           role="system", grid_code=g, reported_at=T0, register=True)


def test_escalated_category_shortens_the_deadline_and_moves_the_unit(conn):
    c = sensor_case(conn, "0103")
    assert (c["category_code"], c["deadline"], c["unit"]) == ("0103", T0 + 8 * H, "供水公司")
    out = workflow.follow_category(conn, c["code"], "0801", at=T0 + 2 * H,
                                   actor="sensor:T-1", note="告警升级为一级")
    # 1 h from the escalation (10:00 → 11:00), before the 8 h deadline (16:00)
    assert (out["category_code"], out["category_name"], out["kind"], out["time_limit_h"],
            out["deadline"]) == ("0801", "燃气泄漏", "事件", 1.0, T0 + 3 * H)
    assert out["state"] == "立案" and out["registered_at"] == T0
    # not dispatched yet: the new category's unit is proposed
    assert (out["unit"], out["unit_basis"]) == ("燃气公司", "category")
    ev = out["events"][-1]
    assert (ev["action"], ev["from_state"], ev["to_state"], ev["role"]) == (
        "recategorize", "立案", "立案", "system")
    assert ev["detail"]["category_from"] == "0103" and ev["detail"]["category"] == "0801"
    # overdue at 11:30 under the new deadline (under 0103's it was due at 16:00)
    late = [r["code"] for r in dispatch.overdue(conn, T0 + 3.5 * H)]
    assert c["code"] in late
    # the code keeps the opening major class (a code is an identity)
    assert out["code"] == c["code"]


def test_escalation_never_grants_more_time(conn):
    c = sensor_case(conn, "0102")  # 4 h: due 12:00
    out = workflow.follow_category(conn, c["code"], "0801", at=T0 + 3.5 * H,
                                   actor="sensor:T-1")
    assert out["deadline"] == T0 + 4 * H  # 11:30 + 1 h = 12:30 is later: 12:00 stays
    assert out["category_code"] == "0801"


def test_a_dispatched_case_keeps_its_unit(conn):
    s = uuid.uuid4().hex[:6]
    c = sensor_case(conn, "0103")
    workflow.act(conn, c["code"], "dispatch", User(f"d-{s}", "派遣员"), at=T0 + H)
    out = workflow.follow_category(conn, c["code"], "0801", at=T0 + 2 * H,
                                   actor="sensor:T-1")
    assert (out["unit"], out["state"], out["dispatched_at"]) == ("供水公司", "派遣", T0 + H)
    assert out["events"][-1]["detail"]["proposed"] == "燃气公司"
    assert out["deadline"] == T0 + 3 * H


def test_the_same_category_changes_nothing(conn):
    c = sensor_case(conn, "0102")
    assert workflow.follow_category(conn, c["code"], "0102", at=T0 + H,
                                    actor="sensor:T-1") is None
    after = store.get_case(conn, c["code"], events=True)
    assert after["deadline"] == T0 + 4 * H and after["category_code"] == "0102"
    assert all(e["action"] != "recategorize" for e in after["events"])


def test_a_late_escalation_is_written_after_the_last_event(conn):
    """A reading imported late escalates at 09:00, after the case was dispatched at 10:00:
    the recategorize event comes after the dispatch in the trail (from the state the case is
    in), the escalation's time kept in its detail and the deadline counted from it."""
    s = uuid.uuid4().hex[:6]
    c = sensor_case(conn, "0103")
    workflow.act(conn, c["code"], "dispatch", User(f"d-{s}", "派遣员"), at=T0 + 2 * H)
    out = workflow.follow_category(conn, c["code"], "0801", at=T0 + H, actor="sensor:T-1")
    events = out["events"]
    assert [e["action"] for e in events][-2:] == ["dispatch", "recategorize"]
    assert events[-1]["at"] >= events[-2]["at"] == T0 + 2 * H
    assert events[-1]["from_state"] == "派遣"
    assert events[-1]["detail"]["escalated_at"] == "2001-05-01T09:00:00+00:00"
    assert out["deadline"] == T0 + 2 * H  # 09:00 + 1 h
