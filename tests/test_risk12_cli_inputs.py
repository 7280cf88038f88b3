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
