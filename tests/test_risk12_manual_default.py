"""`cim risk add` without --likelihood: the likelihood taken is the matrix's default
(``manual_likelihood``), and the point says so — in what `add` prints, in `cim risk list
--json`, and in every row of `cim risk history` (text and JSON), also after a reassessment —
so a reviewer tells an assessed 3 from a defaulted one.

Known by construction: a fresh database with nothing around the points (no building, resident,
facility or road), so consequence = the matrix's base 1; the test's matrix grades consequence 1
by likelihood alone: L1 低, L2 一般, L3 较大, L4/L5 重大.
"""

from __future__ import annotations

import json
import re

from tests.conftest import run_cli

# inside 任城区 (the sample boundary's point on surface), two spots ~18 m apart
SPOT_A, SPOT_B, SPOT_C = "116.6038,35.3744", "116.6040,35.3744", "116.6042,35.3744"
MATRIX = """
consequence: {radius_m: 100, base: 1, max: 5}
levels:
  重大: {color: 红, rgb: "230,0,18", deadline_days: 30}
  较大: {color: 橙, rgb: "255,128,0", deadline_days: 90}
  一般: {color: 黄, rgb: "245,200,0", deadline_days: 180}
  低: {color: 蓝, rgb: "0,112,192", deadline_days: 365}
matrix:
  1: [低, 低, 低, 低, 一般]
  2: [一般, 一般, 一般, 一般, 较大]
  3: [较大, 较大, 较大, 较大, 较大]
  4: [重大, 重大, 重大, 重大, 重大]
  5: [重大, 重大, 重大, 重大, 重大]
"""


def _add(d, spot, *extra):
    proc = run_cli(["risk", "add", "--type", "0301", "--point", spot, "--unit", "区住建局",
                    *extra], d.env())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_defaulted_likelihood_is_recorded_and_shown(fresh_db, tmp_path):
    d = fresh_db
    (tmp_path / "m.yaml").write_text(MATRIX, encoding="utf-8")
    m = ["--matrix", str(tmp_path / "m.yaml")]
    dflt = json.loads(_add(d, SPOT_A, "--json", *m))
    given = json.loads(_add(d, SPOT_B, "--likelihood", "3", "--json", *m))
    # the platform's default is 3, as before: both L3 (→ 较大 at consequence 1), told apart
    assert (dflt["likelihood"], dflt["level"], dflt["likelihood_defaulted"]) == (3, "较大", True)
    assert (given["likelihood"], given["level"], given["likelihood_defaulted"]) == (
        3, "较大", False)
    text = _add(d, SPOT_C, *m)
    assert "likelihood 3 (default, not assessed) × consequence 1" in text, text

    listed = {r["code"]: r for r in json.loads(run_cli(["risk", "list", "--json"], d.env(),
                                                       check=True).stdout)}
    assert listed[dflt["code"]]["likelihood_defaulted"] is True
    assert listed[given["code"]]["likelihood_defaulted"] is False

    # kept by a reassessment: the point's factors (its attrs) and each history row say it;
    # the report's list too (its likelihood cell)
    report = tmp_path / "r.html"
    out = json.loads(run_cli(["risk", "assess", "--year", "2026", "--report", str(report),
                              "--json", *m], d.env(), check=True).stdout)
    # the run names the points graded on a likelihood nobody gave (A and C, not B)
    assert any(n.startswith("2 points added by hand have the default likelihood")
               for n in out["notes"]), out["notes"]
    page = report.read_text(encoding="utf-8")

    def row(code):  # the report's list row of the point
        return re.search(rf"<tr[^>]*><td>{code}</td>.*?</tr>", page).group(0)

    assert "<td>3 (默认值, 未评估 default, not assessed)</td>" in row(dflt["code"])
    assert "<td>3</td>" in row(given["code"]) and "默认" not in row(given["code"])
    for code, flag in ((dflt["code"], True), (given["code"], False)):
        rows = json.loads(run_cli(["risk", "history", code, "--json"], d.env(),
                                  check=True).stdout)
        assert len(rows) == 2
        assert [r["likelihood_defaulted"] for r in rows] == [flag, flag]
        assert [r["factors"]["likelihood"].get("defaulted", False) for r in rows] == [flag,
                                                                                     flag]
        lines = run_cli(["risk", "history", code], d.env(), check=True).stdout.splitlines()
        assert len(lines) == 2
        assert all(("L3 (default, not assessed) × C1" in ln) == flag for ln in lines), lines
    assert d.scalar("SELECT (attrs->'likelihood'->>'defaulted')::boolean FROM risk_points "
                    "WHERE code = %s AND valid_to IS NULL", (dflt["code"],)) is True


def test_the_default_is_the_city_matrix_s(fresh_db, tmp_path):
    """A city's matrix names its own default (``manual_likelihood: 2`` → 一般 here); a value
    out of 1..5 is a configuration error naming the file and the key, and adds nothing."""
    d = fresh_db
    (tmp_path / "m.yaml").write_text(MATRIX + "manual_likelihood: 2\n", encoding="utf-8")
    got = json.loads(_add(d, SPOT_A, "--json", "--matrix", str(tmp_path / "m.yaml")))
    assert (got["likelihood"], got["level"], got["likelihood_defaulted"]) == (2, "一般", True)
    (tmp_path / "bad.yaml").write_text(MATRIX + "manual_likelihood: 7\n", encoding="utf-8")
    proc = run_cli(["risk", "add", "--type", "0301", "--point", SPOT_B, "--unit", "x",
                    "--matrix", str(tmp_path / "bad.yaml")], d.env())
    assert proc.returncode == 2, proc.stderr
    assert "bad.yaml" in proc.stderr and "manual_likelihood" in proc.stderr, proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == 1

