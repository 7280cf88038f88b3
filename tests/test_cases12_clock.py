"""The instants a refusal of the case loop names — the last event an action's time falls
before, the platform's clock a time is after, the active alarm a case waits on — are on the
city's clock with its offset (the UTC instant in brackets, as `cim case`'s text shows times),
where they were UTC alone: a 受理员 who typed 09:30 read a refusal naming 01:45. The city here
keeps Nepal's time (+05:45), so a UTC text or China's clock hard-wired cannot pass; every
expected text is worked out by hand below."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
import requests

from cim.errors import InputError
from layers.cases import store, workflow
from layers.cases.auth import User, add_user
from tests.cases_fixture import zoned_profile
from tests.conftest import make_db, run_cli, scratch_api, scratch_db

ZONE = "Asia/Kathmandu"  # UTC+05:45 all year
BJ = dt.timezone(dt.timedelta(hours=8))
# reported 09:20+08:00 = 01:20Z = 07:05+05:45; registered 10:00+08:00 = 02:00Z = 07:45+05:45
REPORTED = dt.datetime(2026, 6, 15, 9, 20, tzinfo=BJ)
REGISTERED = dt.datetime(2026, 6, 15, 10, 0, tzinfo=BJ)
REGISTERED_TEXT = "2026-06-15T07:45:00+05:45 (2026-06-15T02:00:00+00:00)"
# a dispatch typed 09:45+08:00 = 01:45Z = 07:30+05:45: before the 立案
EARLY = dt.datetime(2026, 6, 15, 9, 45, tzinfo=BJ)
EARLY_TEXT = "2026-06-15T07:30:00+05:45 (2026-06-15T01:45:00+00:00)"
REPORTED_TEXT = "2026-06-15T07:05:00+05:45 (2026-06-15T01:20:00+00:00)"


@pytest.fixture(scope="module")
def nepal(jining_profile, tmp_path_factory):
    return zoned_profile(jining_profile, ZONE, tmp_path_factory.mktemp("nepal"))


@pytest.fixture(scope="module")
def sdb(nepal):
    with scratch_db("cases12_clock", nepal) as d:
        yield d


def _registered_case(conn: psycopg.Connection, profile) -> str:
    code = store.open_case(conn, source="巡查上报", category_code="0202", actor="insp",
                           role="监督员", grid_code=conn.execute(
                               "SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                           ).fetchone()[0], reported_at=REPORTED, profile=profile)["code"]
    workflow.act(conn, code, "register", User("acc", "受理员"), at=REGISTERED, profile=profile)
    return code


def test_time_before_the_last_event_is_named_on_the_city_clock(sdb, nepal):
    with psycopg.connect(sdb.conninfo) as conn:
        code = _registered_case(conn, nepal)
        with pytest.raises(InputError) as exc:
            workflow.act(conn, code, "dispatch", User("disp", "派遣员"), at=EARLY,
                         profile=nepal)
        conn.rollback()
    msg = exc.value.message
    assert EARLY_TEXT in msg and REGISTERED_TEXT in msg, msg


def test_time_after_now_is_named_on_the_city_clock(sdb, nepal):
    """A report dated 2099-01-01T08:00+08:00 (00:00Z, 05:45+05:45) is refused naming it, and
    the platform's clock, on the city's clock."""
    with psycopg.connect(sdb.conninfo) as conn:
        with pytest.raises(InputError) as exc:
            store.open_case(conn, source="巡查上报", category_code="0202", actor="insp",
                            role="监督员", grid_code=sdb.cell, profile=nepal,
                            reported_at=dt.datetime(2099, 1, 1, 8, tzinfo=BJ))
        conn.rollback()
    msg = exc.value.message
    assert "2099-01-01T05:45:00+05:45 (2099-01-01T00:00:00+00:00)" in msg, msg
    # the platform's clock too: its city time, then its UTC instant
    now_text = msg.split("after now (", 1)[1]
    assert "+05:45 (" in now_text and "+00:00)" in now_text, msg


def test_cli_refusal_names_the_city_clock(sdb):
    env = sdb.env()
    s = uuid.uuid4().hex[:6]
    run_cli(["ops", "user", "add", f"c12-insp-{s}", "--role", "监督员"], env, check=True)
    run_cli(["ops", "user", "add", f"c12-acc-{s}", "--role", "受理员"], env, check=True)
    run_cli(["ops", "user", "add", f"c12-disp-{s}", "--role", "派遣员"], env, check=True)
    out = run_cli(["case", "report-problem", "--source", "巡查上报", "--category", "0202",
                   "--grid", sdb.cell, "--user", f"c12-insp-{s}", "--at",
                   REPORTED.isoformat(), "--json"], env, check=True).stdout
    import json

    code = json.loads(out)["code"]
    run_cli(["case", "register", code, "--user", f"c12-acc-{s}", "--at",
             REGISTERED.isoformat()], env, check=True)
    # typed without an offset: the city's clock, 07:30 in Nepal
    r = run_cli(["case", "dispatch", code, "--user", f"c12-disp-{s}", "--at",
                 "2026-06-15T07:30:00"], env)
    assert r.returncode == 3, r.stderr
    assert EARLY_TEXT in r.stderr and REGISTERED_TEXT in r.stderr, r.stderr


def test_http_alarm_refusal_names_the_city_clock(nepal, tmp_path):
    """A case whose alarm opened at 01:20Z is refused 作废 over HTTP (409) naming the alarm
    active since 07:05+05:45."""
    d = make_db("cases12_clock_api", nepal)
    with psycopg.connect(d.conninfo) as conn:
        insp = {"Authorization": f"Bearer {add_user(conn, 'c12-insp', '监督员')}"}
        acc = {"Authorization": f"Bearer {add_user(conn, 'c12-acc', '受理员')}"}
        g = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL").fetchone()[0]
    with scratch_api(d, tmp_path) as base:
        r = requests.post(f"{base}/cases", json={"source": "巡查上报", "category": "0202",
                                                 "grid": g}, headers=insp, timeout=60)
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        with psycopg.connect(d.conninfo) as conn:
            conn.execute(
                "INSERT INTO alarms (code, sensor_code, kind, level, level_name, color, "
                "status, opened_at, case_code) VALUES ('A12', 'S12', 'threshold', 4, '四级', "
                "'蓝', 'active', %s, %s)", (REPORTED, code))
        r = requests.post(f"{base}/cases/{code}/actions/void", json={"note": "误报"},
                          headers=acc, timeout=60)
        assert r.status_code == 409, r.text
        assert f"active since {REPORTED_TEXT}" in r.json()["description"], r.text
