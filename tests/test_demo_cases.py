"""Issue 14 item 6: the demo's case loop (`scripts/demo-cases.sh`, run by `make demo` after the
sample day) on a database of its own — the cases the sample day's alarms opened end in the
states the script says, each move in the audit trail, and a second run changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cim.config import PROJECT_ROOT
from tests.conftest import (
    drop_database,
    load_network_samples,
    load_plan_and_base_samples,
    load_sensor_samples,
    make_db,
    replay_sample_day,
    server_url,
)

# category → the state the script leaves the sensors' case of that category in (its header)
EXPECTED = {"0102": "结案", "0103": "处置", "0107": "派遣"}


@pytest.fixture(scope="module")
def ddb(jining_profile):
    d = make_db("democases", jining_profile)
    load_plan_and_base_samples(d, jining_profile)  # roads: the 12345 call names one
    load_network_samples(d, jining_profile)
    load_sensor_samples(d, jining_profile)
    replay_sample_day(d, jining_profile)
    yield d
    drop_database(server_url(), d.name)


def _run(d) -> None:
    env = d.env()
    env.update(CIM=str(Path(sys.executable).parent / "cim"), PY=sys.executable)
    r = subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "demo-cases.sh")], env=env,
                       cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def _states(d) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cat, state in d.rows("SELECT category_code, state FROM cases WHERE source = '传感告警' "
                             "ORDER BY reported_at"):
        out.setdefault(cat, []).append(state)
    return out


def test_the_demo_moves_the_sample_days_cases_through_the_loop(ddb):
    before = _states(ddb)
    assert all(s == "立案" for states in before.values() for s in states)  # as the day left them
    assert set(EXPECTED) <= set(before)
    _run(ddb)
    after = _states(ddb)
    for cat, state in EXPECTED.items():
        assert after[cat][0] == state, (cat, after[cat])
    # the gas case's whole trail, in order, each move by a role
    gas = ddb.rows("SELECT code FROM cases WHERE source = '传感告警' AND category_code = '0102' "
                   "ORDER BY reported_at LIMIT 1")[0][0]
    trail = ddb.rows("SELECT e.to_state, e.role FROM case_events e JOIN cases c "
                     "ON c.id = e.case_id WHERE c.code = %s ORDER BY e.at, e.id", (gas,))
    assert [s for s, _ in trail][-5:] == ["立案", "派遣", "处置", "核查", "结案"]
    assert ddb.scalar("SELECT count(*) FROM cases WHERE source = '市民热线' "
                      "AND state = '上报'") == 1
    events = ddb.scalar("SELECT count(*) FROM case_events")
    _run(ddb)  # again: nothing moves, no second hotline case
    assert _states(ddb) == after
    assert ddb.scalar("SELECT count(*) FROM case_events") == events
    assert ddb.scalar("SELECT count(*) FROM cases WHERE source = '市民热线'") == 1
