"""A risk point written while an alarm on its asset is already active (the alarm opened when
the asset had no point, so it raised none): the point takes the alarm's raise as if the
alarm had opened after it — added by hand (`cim risk add`) or first found by an assessment
(`cim risk assess`) — and the alarm's clearing restores the point's graded level. It was
listed 低 beside an active 一级 gas alarm.

Readings go through the real ingest; the points are written by the real CLI. Expected
levels: iot.yaml's 一级 → its risk_level, and risk_matrix.yaml's table at the point's stored
likelihood and consequence, both read from the files here.
"""

from __future__ import annotations

import json

import yaml

from cim.profile import DICTIONARY_DIR
from tests.conftest import run_cli
from tests.iot_fixture import add_sensor, module_db, send, t

d = module_db("r12balarm")


def _yaml(name: str) -> dict:
    return yaml.safe_load((DICTIONARY_DIR / name).read_text(encoding="utf-8"))


def _gas_pipe_without_point(d, skip: tuple[str, ...] = ()) -> str:
    return d.scalar("SELECT p.code FROM pipe_segments p WHERE p.valid_to IS NULL AND "
                    "p.pipe_class = '03' AND NOT p.code = ANY(%s) AND NOT EXISTS (SELECT 1 "
                    "FROM risk_points r WHERE r.valid_to IS NULL AND r.asset_code = p.code) "
                    "ORDER BY p.year_built NULLS LAST, p.code LIMIT 1",
                    ([d.gas_pipe, *skip],))


def _current(d, code: str) -> tuple:
    return d.rows("SELECT level, color, flags FROM risk_points WHERE code = %s AND "
                  "valid_to IS NULL", (code,))[0]


def _alarm(d, sensor: str) -> tuple:
    return d.rows("SELECT code, risk_code, status FROM alarms WHERE sensor_code = %s "
                  "ORDER BY id DESC LIMIT 1", (sensor,))[0]


def test_a_point_added_during_an_alarm_takes_its_raise(d):
    raised = _yaml("iot.yaml")["levels"][1]["risk_level"]
    levels, table = _yaml("risk_matrix.yaml")["levels"], _yaml("risk_matrix.yaml")["matrix"]
    pipe = _gas_pipe_without_point(d)
    s = add_sensor(d, 11, "01", pipe, "03")
    assert send(d, [(s, t(0), 55.0)])["alarms_opened"] == 1
    alarm, point, _ = _alarm(d, s)
    assert point is None  # the asset had no risk point: nothing raised
    proc = run_cli(["risk", "add", "--type", "0101", "--asset", pipe, "--likelihood", "1",
                    "--unit", "燃气公司", "--json"], d.env(), check=True)
    out = json.loads(proc.stdout)
    code = out["code"]
    lk, cons = d.rows("SELECT likelihood, consequence FROM risk_points WHERE code = %s AND "
                      "valid_to IS NULL", (code,))[0]
    graded = table[lk][cons - 1]
    assert graded != raised  # else the test proves nothing
    assert _current(d, code) == (raised, levels[raised]["color"], [f"alarm:{alarm}"])
    assert (out["level"], out["graded_level"], out["raised_by"]) == (raised, graded, [alarm])
    assert _alarm(d, s)[1] == code  # the alarm's clearing and escalation reach the point
    listed = run_cli(["risk", "list", "--json"], d.env(), check=True)
    assert {r["code"]: r["level"] for r in json.loads(listed.stdout)}[code] == raised
    # cleared (7.9 < the 四级 off 8): the graded level, no flag
    assert send(d, [(s, t(5), 7.9)])["alarms_cleared"] == 1
    assert _current(d, code) == (graded, levels[graded]["color"], [])


def test_a_point_an_assessment_first_finds_during_an_alarm_takes_its_raise(d):
    """The platform's gas rule finds the oldest gas pipe (a point no assessment had made yet:
    this database was never assessed); a 二级 alarm escalated to 一级 before the point
    existed raises it at 一级, the level the episode reached."""
    levels, table = _yaml("risk_matrix.yaml")["levels"], _yaml("risk_matrix.yaml")["matrix"]
    th = [r.split(",") for r in (DICTIONARY_DIR / "sensor_thresholds.csv").read_text(
        encoding="utf-8").splitlines()[1:] if r.startswith("01,,above,")]
    on = {int(r[3]): float(r[4]) for r in th}
    raised = _yaml("iot.yaml")["levels"][1]["risk_level"]
    assert d.scalar("SELECT count(*) FROM risk_assessments WHERE source = 'rule'") == 0
    done = d.rows("SELECT asset_code FROM risk_points WHERE valid_to IS NULL")
    pipe = _gas_pipe_without_point(d, tuple(a for (a,) in done if a))
    s = add_sensor(d, 12, "01", pipe, "03")
    assert send(d, [(s, t(10), (on[2] + on[1]) / 2)])["alarms_opened"] == 1
    assert send(d, [(s, t(11), on[1] + 1)])["alarms_escalated"] == 1
    alarm, point, _ = _alarm(d, s)
    assert point is None
    run_cli(["risk", "assess", "--json"], d.env(), check=True)
    code, lk, cons = d.rows("SELECT code, likelihood, consequence FROM risk_points WHERE "
                            "valid_to IS NULL AND asset_code = %s AND risk_type_code = '0101'",
                            (pipe,))[0]
    graded = table[lk][cons - 1]
    assert graded != raised
    assert _current(d, code) == (raised, levels[raised]["color"], [f"alarm:{alarm}"])
    assert _alarm(d, s)[1] == code
    # a second assessment changes nothing: the raise is kept, not taken twice
    n = d.scalar("SELECT count(*) FROM risk_assessments WHERE code = %s AND source = 'alarm'",
                 (code,))
    run_cli(["risk", "assess", "--json"], d.env(), check=True)
    assert _current(d, code)[:2] == (raised, levels[raised]["color"])
    assert d.scalar("SELECT count(*) FROM risk_assessments WHERE code = %s AND "
                    "source = 'alarm'", (code,)) == n
    assert send(d, [(s, t(15), 0.0)])["alarms_cleared"] == 1
    assert _current(d, code) == (graded, levels[graded]["color"], [])


def test_the_text_of_risk_add_says_the_raise(d):
    """`cim risk add` without --json says the point stands at the alarm's level, and why."""
    raised = _yaml("iot.yaml")["levels"][1]["risk_level"]
    table = _yaml("risk_matrix.yaml")["matrix"]
    done = d.rows("SELECT asset_code FROM risk_points WHERE valid_to IS NULL")
    pipe = _gas_pipe_without_point(d, tuple(a for (a,) in done if a))
    s = add_sensor(d, 13, "01", pipe, "03")
    assert send(d, [(s, t(20), 55.0)])["alarms_opened"] == 1
    alarm = _alarm(d, s)[0]
    proc = run_cli(["risk", "add", "--type", "0101", "--asset", pipe, "--likelihood", "1",
                    "--unit", "燃气公司"], d.env(), check=True)
    code, cons = d.rows("SELECT code, consequence FROM risk_points WHERE valid_to IS NULL AND "
                        "asset_code = %s", (pipe,))[0]
    assert proc.stdout.startswith(
        f"added {code}: {raised} ({_yaml('risk_matrix.yaml')['levels'][raised]['color']}) — "
        f"raised by active alarm {alarm}, graded {table[1][cons - 1]}, likelihood 1 × "
        f"consequence {cons}"), proc.stdout
