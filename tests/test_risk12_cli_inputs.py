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
