"""The risk list's counts against its rows, its times on the city's clock, hand-made points
with blank or past input, and pipes graded without some of their inputs (session 11).

Known by construction: two 灰口铸铁 1980 gas mains (tests/risk_fixture.py) on an empty city
score likelihood 5 under the platform's rules and consequence 1 (nothing stands near them), so
the shipped matrix grades both ``matrix[5][0]``, read here from risk_matrix.yaml; one is then
raised to 重大 by an alarm, as the IoT ingest raises a point (layers/risk/alarm.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import psycopg
import pytest
import shapely
import yaml
from shapely.geometry import LineString

from cim.profile import DICTIONARY_DIR
from tests.conftest import drop_database, make_db, run_cli, server_url
from tests.risk_fixture import X0, Y0, gas_rule, insert_gas_main, insert_pipe

LEVELS = ("重大", "较大", "一般", "低")


@pytest.fixture(scope="module")
def d(jining_profile):
    db = make_db("risk11", jining_profile)
    with psycopg.connect(db.conninfo) as conn:
        insert_gas_main(conn, "G1")
        insert_gas_main(conn, "G2", dx=400.0)
    yield db
    drop_database(server_url(), db.name)


def _current(d) -> dict[str, tuple[str, str]]:
    return {a: (c, lv) for a, c, lv in d.rows(
        "SELECT asset_code, code, level FROM risk_points WHERE valid_to IS NULL")}


def test_counts_are_of_the_points_listed_while_an_alarm_raises_one(d, tmp_path):
    """An assessment while an alarm holds a point at 重大: its counts (--json and the report's
    table) said 重大 0 — this run's grading — beside a list showing a 红 point."""
    from layers.risk.alarm import raise_for_alarm
    from layers.risk.config import load_config

    graded = yaml.safe_load((DICTIONARY_DIR / "risk_matrix.yaml").read_text(
        encoding="utf-8"))["matrix"][5][0]
    assert graded != "重大"  # else the raise would show nothing
    run_cli(["risk", "assess", "--year", "2026"], d.env(), check=True)
    code = _current(d)["G1"][0]
    with psycopg.connect(d.conninfo) as conn:
        assert raise_for_alarm(conn, load_config(d.profile).matrix, asset_code="G1",
                               alarm_code="A-TEST", level="重大") == code
    report = tmp_path / "risk.html"
    out = json.loads(run_cli(["risk", "assess", "--year", "2026", "--json", "--report",
                              str(report)], d.env(), check=True).stdout)
    shown = {lv: 0 for lv in LEVELS}
    for _, lv in _current(d).values():
        shown[lv] += 1
    assert shown == {**{lv: 0 for lv in LEVELS}, "重大": 1, graded: 1}
    assert out["by_level"] == shown and out["total"] == 2
    assert out["graded_by_level"] == {**{lv: 0 for lv in LEVELS}, graded: 2}
    assert out["raised_by_alarms"] == 1
    assert any("alarm" in n for n in out["notes"])
    page = report.read_text(encoding="utf-8")
    levels = page[page.index("<h2>分级"):page.index("<h2>类型")]
    table = dict(re.findall(r"<td>(重大|较大|一般|低)</td><td>(\d+)</td>", levels))
    rows = re.findall(r"<tr style=\"background:rgba[^\"]*\"><td>\d+</td><td>[^<]*</td>"
                      r"<td>(重大|较大|一般|低)</td>", page)
    assert len(rows) == 2
    assert {lv: int(n) for lv, n in table.items()} == {lv: rows.count(lv) for lv in LEVELS}
    assert "<td>合计</td><td>2</td>" in page


def test_history_text_is_on_the_citys_clock(d):
    code = _current(d)["G2"][0]
    rows = json.loads(run_cli(["risk", "history", code, "--json"], d.env(),
                              check=True).stdout)
    text = run_cli(["risk", "history", code], d.env(), check=True).stdout.splitlines()
    assert len(text) == len(rows) >= 1
    zone = ZoneInfo(d.profile.timezone)
    for line, r in zip(text, rows, strict=True):
        local = dt.datetime.fromisoformat(r["assessed_at"]).astimezone(zone)
        assert local.strftime("%Y-%m-%dT%H:%M") + local.strftime("%z")[:3] in line, line


@pytest.mark.parametrize(("args", "field"), [
    (["--unit", "  "], "--unit"),
    (["--unit", "区住建局", "--measure", " "], "--measure"),
    (["--unit", "区住建局", "--description", ""], "--description"),
    (["--unit", "区住建局", "--deadline", "2000-01-01"], "--deadline"),
])
def test_blank_or_past_input_of_a_hand_made_point_is_refused(d, args, field):
    before = d.scalar("SELECT count(*) FROM risk_points")
    proc = run_cli(["risk", "add", "--type", "0301", "--point", f"{Y0 + 50},{X0 + 50}",
                    "--crs", "EPSG:4527", *args], d.env())
    assert proc.returncode == 3, proc.stderr
    assert f"field '{field}'" in proc.stderr, proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == before


@pytest.mark.parametrize("option", ["--unit", "--measure"])
def test_a_blank_measure_report_is_refused(d, option):
    code = _current(d)["G2"][0]
    versions = d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (code,))
    proc = run_cli(["risk", "measure", code, option, " "], d.env())
    assert proc.returncode == 3 and f"field '{option}'" in proc.stderr, proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (code,)) == versions


LIKELIHOOD = {"base": 1, "material": {"ZT": 3}, "material_default": 0,
              "age": [{"min_years": 30, "add": 2}], "age_unknown": 0,
              "pressure": [{"names": ["中压A"], "add": 1}]}


def test_unknown_inputs_are_named_not_silently_scored(fresh_db, tmp_path):
    """A gas pipe without material, year and pressure scores base 1 + the rule's defaults 0 =
    1, under min_likelihood 2: no point, but the assessment says one pipe was left out on
    unknown inputs; a ZT 1980 main without pressure is a point (1 + 3 + 2 = 6 → 5) whose
    factors name the pressure as unknown."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(gas_rule(LIKELIHOOD, min_likelihood=2), encoding="utf-8")
    line = shapely.affinity.translate(LineString([(0, 200), (100, 200)]), X0, Y0)
    with psycopg.connect(fresh_db.conninfo) as conn:
        insert_gas_main(conn, "KNOWN")
        insert_pipe(conn, "BARE", line, start_point_code="c", end_point_code="d")
    out = json.loads(run_cli(["risk", "assess", "--year", "2026", "--json", "--rules",
                              str(rules)], fresh_db.env(), check=True).stdout)
    assert out["rules"]["gas"] == {"candidates": 2, "points": 1, "unknown_not_points": 1}
    assert any("rule gas: 1 pipes with an unknown input" in n for n in out["notes"])
    assert any("1 points scored without their pipe's pressure" in n for n in out["notes"])
    (asset, lk, factors), = fresh_db.rows(
        "SELECT asset_code, likelihood, attrs->'likelihood' FROM risk_points "
        "WHERE valid_to IS NULL")
    assert (asset, lk, factors["unknown"]) == ("KNOWN", 5, ["pressure"])


def test_unknown_inputs_scored_by_the_rules_defaults():
    from layers.risk.config import load_config
    from layers.risk.score import pipe_likelihood

    rule = next(r for r in load_config(None).rules if r.id == "gas_pipes")
    lk = yaml.safe_load((DICTIONARY_DIR / "risk_rules.yaml").read_text(
        encoding="utf-8"))["rules"][0]["likelihood"]
    total, f = pipe_likelihood(rule, {"pressure": "未知"}, 2026)
    assert f["unknown"] == ["material_code", "year_built", "pressure"]
    assert total == lk["base"] + lk["material_default"] + lk["age_unknown"]
    # a material the rule does not list is as unknown (scored by material_default)
    _, f = pipe_likelihood(rule, {"material_code": "XYZ", "year_built": 2000,
                                  "pressure": "中压A"}, 2026)
    assert f["unknown"] == ["material_code"] and f["material"] == lk["material_default"]
    _, f = pipe_likelihood(rule, {"material_code": "PE", "year_built": 2000,
                                  "pressure": "0.3MPa"}, 2026)
    assert "unknown" not in f


@pytest.mark.parametrize(("name", "old", "new", "key"), [
    ("risk_matrix", "{min: 10, add: 1}", "{min: 10}", "consequence.buildings[1].add"),
    ("risk_matrix", "{min: 2000, add: 2}", "{min: 两千, add: 2}", "consequence.population[0].min"),
    ("risk_matrix", "{快速路: 1,", "{快速路: 高,", "consequence.roads.classes.快速路"),
    ("risk_rules", "{min_years: 30, add: 2}", "{min_years: 30}",
     "rules.gas_pipes.likelihood.age[0].add"),
    ("risk_rules", "{ZT: 3,", "{ZT: 三,", "rules.gas_pipes.likelihood.material.ZT"),
    ("risk_rules", "{state: {破损: 2}}", "{state: {破损: 两}}", "rules.bridges.adjust.state.破损"),
])
def test_a_broken_score_table_is_a_configuration_error(d, tmp_path, name, old, new, key):
    """A step without its add, a text where a number goes: refused when the file is read,
    naming the key (they were internal errors at the first asset scored, or never found)."""
    text = (DICTIONARY_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.count(old) >= 1
    f = tmp_path / f"{name}.yaml"
    f.write_text(text.replace(old, new, 1), encoding="utf-8")
    option = "--matrix" if name == "risk_matrix" else "--rules"
    proc = run_cli(["risk", "assess", "--year", "2026", option, str(f)], d.env())
    assert proc.returncode == 2, proc.stderr
    assert f"field '{key}'" in proc.stderr and "internal error" not in proc.stderr


def test_counts_per_unit_take_the_level_and_type_asked(d):
    """`cim risk list --by district --level 红` counted every level (the filters were left
    out of the counts), `--type 9999` too; the risk-list process alike. Expected: the points
    of the first test — one 重大 (raised), one of the graded level — counted here in SQL."""
    from layers.risk.process import run_list

    red = d.scalar("SELECT count(*) FROM risk_points WHERE valid_to IS NULL AND level = '重大'")
    assert red == 1 and d.scalar("SELECT count(*) FROM risk_points WHERE valid_to IS NULL") == 2
    rows = json.loads(run_cli(["risk", "list", "--by", "district", "--level", "红", "--json"],
                              d.env(), check=True).stdout)
    assert sum(r["total"] for r in rows) == red
    assert all(r["total"] == r["重大"] for r in rows)
    assert json.loads(run_cli(["risk", "list", "--by", "grid", "--type", "0102", "--json"],
                              d.env(), check=True).stdout) == []
    proc = run_cli(["risk", "list", "--by", "grid", "--type", "9999"], d.env())
    assert proc.returncode == 3 and "field '--type'" in proc.stderr
    counts = run_list(d.conninfo, {"by": "district", "level": "重大"})["counts"]
    assert sum(r["total"] for r in counts) == red


def test_the_same_risk_entered_twice_is_one_point(d):
    """A second `cim risk add` of the same type on the same asset (a retry, a second person)
    made a second point of the same risk with its own deadline; it is refused naming the
    point to record on — for an asset whose rule point exists, and for the same spot."""
    g2 = _current(d)["G2"][0]
    before = d.scalar("SELECT count(*) FROM risk_points")
    proc = run_cli(["risk", "add", "--type", "0101", "--asset", "G2"], d.env())
    assert proc.returncode == 3 and "field '--asset'" in proc.stderr and g2 in proc.stderr
    spot = ["risk", "add", "--type", "0202", "--point", f"{Y0 + 80},{X0 + 80}", "--crs",
            "EPSG:4527", "--unit", "区住建局", "--json"]
    first = json.loads(run_cli(spot, d.env(), check=True).stdout)["code"]
    proc = run_cli(spot, d.env())
    assert proc.returncode == 3 and "field '--point'" in proc.stderr and first in proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == before + 1
    # the same spot, another type: another risk
    other = [*spot[:2], "--type", "0301", *spot[4:]]
    run_cli(other, d.env(), check=True)


def test_an_asset_of_another_layer_than_the_type_is_refused(d):
    """房屋结构安全 (0301) is a risk of buildings (risk_types.csv asset_layer): on a gas main it
    was accepted, a building's risk on a pipe."""
    before = d.scalar("SELECT count(*) FROM risk_points")
    proc = run_cli(["risk", "add", "--type", "0301", "--asset", "G1", "--unit", "区住建局"],
                   d.env())
    assert proc.returncode == 3 and "field '--asset'" in proc.stderr
    assert "buildings" in proc.stderr and "pipe_segments" in proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == before


def test_year_zero_is_refused_not_read_as_this_year(d):
    """`--year 0` assessed the current year (0 read as no year), silently."""
    runs = d.scalar("SELECT count(DISTINCT run_id) FROM risk_assessments")
    proc = run_cli(["risk", "assess", "--year", "0"], d.env())
    assert proc.returncode == 2 and "--year" in proc.stderr
    assert d.scalar("SELECT count(DISTINCT run_id) FROM risk_assessments") == runs


def test_report_list_headed_in_chinese(d, tmp_path):
    out = tmp_path / "r.html"
    run_cli(["risk", "assess", "--year", "2026", "--report", str(out)], d.env(), check=True)
    page = out.read_text(encoding="utf-8")
    for label in ("风险等级", "责任单位", "管控措施", "整改期限", "措施状态"):
        assert f"<th>{label} " in page, label


def test_a_rule_finding_a_risk_added_by_hand_makes_no_second_point(fresh_db, tmp_path):
    """A risk added by hand on a pipe no rule found, then a rule finding it (here its
    min_likelihood lowered to 1): the assessment made a second point of the same risk on the
    same pipe. The point by hand stands for it; a second run changes nothing."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(gas_rule(LIKELIHOOD, min_likelihood=1), encoding="utf-8")
    line = shapely.affinity.translate(LineString([(0, 300), (100, 300)]), X0, Y0)
    with psycopg.connect(fresh_db.conninfo) as conn:  # PE 2020: base 1 + 0 + 0 = 1
        insert_pipe(conn, "PE1", line, start_point_code="e", end_point_code="f",
                    material_code="PE", year_built=2020, pressure="低压")
    assess = ["risk", "assess", "--year", "2026", "--json"]
    assert json.loads(run_cli(assess, fresh_db.env(), check=True).stdout)["total"] == 0
    code = json.loads(run_cli(["risk", "add", "--type", "0101", "--asset", "PE1", "--unit",
                               "燃气公司", "--json"], fresh_db.env(), check=True).stdout)["code"]
    for _ in range(2):
        out = json.loads(run_cli([*assess, "--rules", str(rules)], fresh_db.env(),
                                 check=True).stdout)
        assert out["rules"]["gas"]["points_by_hand"] == 1
        assert fresh_db.rows("SELECT code, source FROM risk_points WHERE valid_to IS NULL") == [
            (code, "manual")]
    assert fresh_db.scalar("SELECT count(DISTINCT code) FROM risk_points") == 1


def test_a_risk_outside_the_districts_is_said(fresh_db):
    """A gas main 60 km east of the sample districts: a risk by the rules, in no district, so
    no point — said in the notes (it was a count in --json only, nothing in the text)."""
    with psycopg.connect(fresh_db.conninfo) as conn:
        insert_gas_main(conn, "FAR", dx=60_000.0)
        assert not conn.execute(
            "SELECT bool_or(ST_Intersects(d.geom, p.geom)) FROM admin_divisions d, "
            "pipe_segments p WHERE p.code = 'FAR'").fetchone()[0]
    out = run_cli(["risk", "assess", "--year", "2026"], fresh_db.env(), check=True).stdout
    assert "note: 1 risks lie outside every district" in out


def test_a_cleared_alarm_restores_the_level_the_point_was_graded(d, tmp_path):
    """An assessment run with the city's matrix of the day (--matrix: every cell 较大) grades
    G2 较大; an alarm raises it to 重大 and clears: the point goes back to 较大, its graded
    level, not to the level the profile's matrix would give its likelihood × consequence."""
    from layers.risk.alarm import raise_for_alarm, restore_for_alarm
    from layers.risk.config import load_config

    text = (DICTIONARY_DIR / "risk_matrix.yaml").read_text(encoding="utf-8")
    head, _ = text.split("\nmatrix:", 1)
    m = tmp_path / "matrix.yaml"
    m.write_text(head + "\nmatrix:\n" + "".join(f"  {k}: [较大, 较大, 较大, 较大, 较大]\n"
                                               for k in range(1, 6)), encoding="utf-8")
    run_cli(["risk", "assess", "--year", "2026", "--matrix", str(m)], d.env(), check=True)
    code = _current(d)["G2"][0]
    assert _current(d)["G2"][1] == "较大"
    profile_matrix = load_config(d.profile).matrix
    lk, cons = d.rows("SELECT likelihood, consequence FROM risk_points WHERE code = %s AND "
                      "valid_to IS NULL", (code,))[0]
    assert profile_matrix.level(lk, cons)[0] != "较大"
    with psycopg.connect(d.conninfo) as conn:
        raise_for_alarm(conn, profile_matrix, asset_code="G2", alarm_code="A-G2",
                        level="重大", risk_code=code)
        assert restore_for_alarm(conn, profile_matrix, risk_code=code, alarm_code="A-G2",
                                 level_of_alarm={}) == "较大"
    assert _current(d)["G2"][1] == "较大"


def test_a_drain_without_its_elevations_is_said_not_judged(fresh_db):
    """Two drains: one whose end lies 0.5 m above its start (reversed: a point by the shipped
    rule drain_reverse_slope), one without its end elevation — no point, as before, but said
    (it read as a drain found in order)."""
    with psycopg.connect(fresh_db.conninfo) as conn:
        for i, (code, end) in enumerate((("REV", 30.5), ("NOEND", None))):
            line = shapely.affinity.translate(LineString([(0, 0), (50, 0)]), X0, Y0 + 100 * i)
            insert_pipe(conn, code, line, pipe_class="02", start_elevation=30.0,
                        end_elevation=end)
    out = json.loads(run_cli(["risk", "assess", "--year", "2026", "--json"], fresh_db.env(),
                             check=True).stdout)
    assert out["rules"]["drain_reverse_slope"] == {"candidates": 1, "points": 1, "unjudged": 1}
    assert any("drain_reverse_slope: 1 features" in n for n in out["notes"])
    assert [a for (a,) in fresh_db.rows("SELECT asset_code FROM risk_points WHERE "
                                        "valid_to IS NULL")] == ["REV"]
