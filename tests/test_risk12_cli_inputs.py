"""Inputs of `cim risk` as city-operations staff type them (session 12).

By construction: the 1980 cast-iron gas main of tests/risk_fixture.py is a risk point under
the platform's rules (likelihood 5), so an assessment of this database writes one point and
one ``risk_assessments`` row.
"""

from __future__ import annotations

import psycopg

from tests.conftest import run_cli
from tests.risk_fixture import insert_gas_main


def test_a_report_with_nowhere_to_go_is_refused_before_the_assessment(fresh_db, tmp_path):
    """`--report` into a folder that does not exist (or naming a folder) ran and committed the
    whole assessment, then failed writing the file as an internal error (exit 1, a
    traceback in the log): the run was recorded though the command said it failed."""
    d = fresh_db
    with psycopg.connect(d.conninfo) as conn:
        insert_gas_main(conn)
    for bad, words in ((tmp_path / "no_such_folder" / "r.html", "no folder"),
                       (tmp_path, "is a folder")):
        proc = run_cli(["risk", "assess", "--report", str(bad)], d.env())
        assert proc.returncode == 2, proc.stderr
        assert "--report" in proc.stderr and words in proc.stderr, proc.stderr
        assert "internal error" not in proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_assessments") == 0
    assert d.scalar("SELECT count(*) FROM risk_points") == 0
    out = tmp_path / "r.html"
    run_cli(["risk", "assess", "--report", str(out)], d.env(), check=True)
    assert d.scalar("SELECT count(*) FROM risk_points WHERE valid_to IS NULL") == 1
    assert "<html" in out.read_text(encoding="utf-8").lower()


def test_a_risk_on_an_asset_its_type_s_rules_do_not_take_is_refused(fresh_db, tmp_path):
    """A gas leak (0101) put by hand on a water main (pipe_class 01) was accepted — the asset
    was of the type's layer, pipe_segments — and counted among the gas risks. The rules'
    ``where`` (gas_pipes: pipe_class 03) say what the type is on; a city's rules file that
    takes water mains too accepts it."""
    import yaml

    from tests.risk_fixture import gas_rule

    d = fresh_db
    with psycopg.connect(d.conninfo) as conn:
        insert_gas_main(conn, "G1")
        insert_gas_main(conn, "W1", dx=300.0)
        conn.execute("UPDATE pipe_segments SET pipe_class = '01', class_name = '给水' "
                     "WHERE code = 'W1'")
    proc = run_cli(["risk", "add", "--type", "0101", "--asset", "W1", "--unit", "燃气公司"],
                   d.env())
    assert proc.returncode == 3, proc.stderr
    for words in ("field '--asset'", "W1 (pipe_segments, pipe_class 01)",
                  "rule gas_pipes: pipe_class 03", "risk_rules.yaml"):
        assert words in proc.stderr, proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == 0
    run_cli(["risk", "add", "--type", "0101", "--asset", "G1", "--unit", "燃气公司"], d.env(),
            check=True)
    rules = tmp_path / "rules.yaml"
    both = yaml.safe_load(gas_rule({"base": 3}))
    both["rules"][0]["where"] = {"pipe_class": ["03", "01"]}
    rules.write_text(yaml.safe_dump(both, allow_unicode=True), encoding="utf-8")
    run_cli(["risk", "add", "--type", "0101", "--asset", "W1", "--unit", "燃气公司",
             "--rules", str(rules)], d.env(), check=True)
    assert d.scalar("SELECT count(*) FROM risk_points WHERE valid_to IS NULL") == 2


def test_measure_and_history_as_staff_type_them(fresh_db):
    """A point's code pasted from a table with blanks around it was "no current risk point";
    a measure's new deadline before the city's date (a year mistyped) was taken, the measure
    overdue the moment it was recorded — `cim risk add` refuses one — while the deadline the
    point has already may be sent again; the history's rows an alarm wrote did not say so
    (the same L × C beside 一般 and 重大). The alarm is raised and cleared as the ingest does
    (layers.risk.alarm), at 09:00 and 10:00 in China."""
    import datetime as dt

    from layers.risk.alarm import raise_for_alarm, restore_for_alarm
    from layers.risk.config import load_config

    d = fresh_db
    with psycopg.connect(d.conninfo) as conn:
        insert_gas_main(conn, "G1")
    run_cli(["risk", "assess", "--year", "2026"], d.env(), check=True)
    code = d.scalar("SELECT code FROM risk_points WHERE asset_code = 'G1'")
    versions = "SELECT count(*) FROM risk_points WHERE code = %s"

    proc = run_cli(["risk", "measure", f" {code}\t", "--status", "落实中"], d.env())
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(["risk", "measure", code, "--deadline", "2000-01-01"], d.env())
    assert proc.returncode == 3 and "field '--deadline'" in proc.stderr, proc.stderr
    assert "before today" in proc.stderr
    assert d.scalar(versions, (code,)) == 2
    with psycopg.connect(d.conninfo) as conn:  # a deadline that has passed since
        conn.execute("UPDATE risk_points SET deadline = '2001-01-01' WHERE code = %s AND "
                     "valid_to IS NULL", (code,))
    run_cli(["risk", "measure", code, "--deadline", "2001-01-01", "--status", "已落实"],
            d.env(), check=True)
    assert d.scalar(versions, (code,)) == 3

    matrix = load_config(d.profile).matrix
    with psycopg.connect(d.conninfo) as conn:
        at = dt.datetime(2026, 6, 15, 1, 0, tzinfo=dt.UTC)
        raise_for_alarm(conn, matrix, asset_code="G1", alarm_code="A1", level="重大", at=at)
        restore_for_alarm(conn, matrix, risk_code=code, alarm_code="A1", level_of_alarm={},
                          at=at + dt.timedelta(hours=1))
    lines = run_cli(["risk", "history", f" {code} "], d.env(),
                    check=True).stdout.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("#1     2026-06-15T09:00+08:00")
    assert lines[0].endswith("L5 × C1 重大 红  (alarm A1 raised it)"), lines
    assert lines[1].endswith("L5 × C1 一般 黄  (alarm A1 cleared: restored)"), lines
    assert lines[2].endswith("L5 × C1 一般 黄"), lines


def test_a_measure_recorded_during_an_alarm_makes_no_version_at_the_next_assessment(
        fresh_db):
    """`cim risk measure` while an alarm raises the point hashed the new version with the
    raised level; every later assessment then found the point changed ("updated": 1) and gave
    it a version differing in nothing — during the alarm and after it cleared. By
    construction (the published rules and matrix): G1 is L5 × C1 → 一般; the alarm raises it
    to 重大 and its clearing restores 一般."""
    import json

    from layers.risk.alarm import raise_for_alarm, restore_for_alarm
    from layers.risk.config import load_config

    d = fresh_db
    with psycopg.connect(d.conninfo) as conn:
        insert_gas_main(conn, "G1")
    assess = ["risk", "assess", "--year", "2026", "--json"]
    run_cli(assess, d.env(), check=True)
    code = d.scalar("SELECT code FROM risk_points WHERE asset_code = 'G1'")
    matrix = load_config(d.profile).matrix
    with psycopg.connect(d.conninfo) as conn:
        raise_for_alarm(conn, matrix, asset_code="G1", alarm_code="A1", level="重大")
    run_cli(["risk", "measure", code, "--status", "落实中"], d.env(), check=True)
    now = "SELECT level, measure_status FROM risk_points WHERE code = %s AND valid_to IS NULL"
    versions = "SELECT count(*) FROM risk_points WHERE code = %s"
    assert d.rows(now, (code,)) == [("重大", "落实中")] and d.scalar(versions, (code,)) == 2
    out = json.loads(run_cli(assess, d.env(), check=True).stdout)
    assert out["changes"] == {"inserted": 0, "updated": 0, "unchanged": 1, "retired": 0}
    assert d.rows(now, (code,)) == [("重大", "落实中")] and d.scalar(versions, (code,)) == 2
    with psycopg.connect(d.conninfo) as conn:
        restore_for_alarm(conn, matrix, risk_code=code, alarm_code="A1", level_of_alarm={})
    out = json.loads(run_cli(assess, d.env(), check=True).stdout)
    assert out["changes"]["unchanged"] == 1 and out["changes"]["updated"] == 0
    assert d.rows(now, (code,)) == [("一般", "落实中")] and d.scalar(versions, (code,)) == 2
