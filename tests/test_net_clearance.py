"""Clearances of pipes whose attributes the rules do not spell: answers by hand arithmetic.

Pipes and buildings are inserted row by row (the helpers of tests/test_query_pipes.py) in the
storage CRS EPSG:4527, easting first. A gas main's pressure written as delivered (``0.4MPa``)
is none of the values the gas rules of pipe_clearances.csv name (低压, 中压B, 中压A, 中压,
次高压B, 次高压A): it was matched by no rule and never checked, so a gas main 0.5 m from a
house passed. It is read as its GB 50028 class (0.4 MPa: 中压A) and gets that class's rule; a
class the rules do not grade (高压A) or an unreadable text is unchecked.
"""

from __future__ import annotations

import psycopg
import pytest
import shapely

from tests.conftest import drop_database, make_db, server_url
from tests.test_query_pipes import _building, _seg

E, N = 39_482_000.0, 3_921_000.0


@pytest.fixture(scope="module")
def cdb(jining_profile):
    d = make_db("net_clear", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        # G1 gas DN100 along y = N, pressure "0.4MPa"; house from y = N + 0.55:
        # plan gap 0.55 − 0.05 (half of DN100) = 0.50
        _seg(conn, "G1", "03", [(E, N, 10.0), (E + 40, N, 10.0)], d=100)
        _building(conn, "B1", shapely.box(E + 10, N + 0.55, E + 30, N + 20))
        # G2 the same with pressure 中压B (a value the rules name: 1.0 m), 100 m north
        _seg(conn, "G2", "03", [(E, N + 100, 10.0), (E + 40, N + 100, 10.0)], d=100)
        _building(conn, "B2", shapely.box(E + 10, N + 100.55, E + 30, N + 120))
        # G3 gas "0.4MPa" DN100 beside a drain DN400 1.0 m away (centre lines), 200 m north:
        # gap 1.0 − 0.05 − 0.2 = 0.75
        _seg(conn, "G3", "03", [(E, N + 200, 10.0), (E + 40, N + 200, 10.0)], d=100)
        _seg(conn, "R3", "02", [(E, N + 201, 8.0), (E + 40, N + 201, 8.0)], d=400)
        # W4 water main DN200, top 35.0, along y = N + 300; Q4 a water branch DN100 tapped into
        # it (starts on W4's interior at x = E + 20, top 35.0; its own point codes, the main
        # not split there) and Q5 the same without heights (no_z): joints, not crossings.
        # R4 a drain DN300 whose end lies on W4 in plan at x = E + 30, invert 35.1: a
        # different network, checked: bottom 35.1 − top 35.0 = 0.10 < 0.40
        _seg(conn, "W4", "01", [(E, N + 300, 35.0), (E + 40, N + 300, 35.0)], d=200)
        _seg(conn, "Q4", "01", [(E + 20, N + 300, 35.0), (E + 20, N + 320, 35.0)], d=100)
        _seg(conn, "Q5", "01", [(E + 10, N + 300, 0.0), (E + 10, N + 280, 0.0)], d=100,
             flags=["no_z"])
        _seg(conn, "R4", "02", [(E + 30, N + 300, 35.1), (E + 30, N + 330, 34.9)], d=300)
        # G6 gas "中压B级" and G7 "0.2MPa" (both 中压B: 1.0 m) 0.85 m from houses (gap 0.80);
        # G8 "高压A" (GB 50028: far stricter than any building rule of the table) and G9
        # "待查" (unreadable) 0.55 m from houses: not checked
        for i, (code, text) in enumerate((("G6", "中压B级"), ("G7", "0.2MPa"), ("G8", "高压A"),
                                          ("G9", "待查"))):
            y = N + 400 + 100 * i
            _seg(conn, code, "03", [(E, y, 10.0), (E + 40, y, 10.0)], d=100)
            gap = 0.85 if code in ("G6", "G7") else 0.55
            _building(conn, f"B{code}", shapely.box(E + 10, y + gap, E + 30, y + 20))
            conn.execute("UPDATE pipe_segments SET pressure = %s WHERE code = %s", (text, code))
        conn.execute("UPDATE pipe_segments SET pressure = CASE code WHEN 'G2' THEN '中压B' "
                     "ELSE '0.4MPa' END WHERE code IN ('G1', 'G2', 'G3')")
    yield d
    drop_database(server_url(), d.name)


def test_unspelt_gas_pressure_gets_the_strictest_rule_not_none(cdb):
    from layers.query.clearance import clearance

    rows = {(r["a_code"], r["b_code"]): r
            for r in clearance(cdb.conninfo, kind="horizontal")["rows"]}
    # building–gas rules: 低压 0.7, 中压B 1.0, 中压A 1.5, 中压 1.5 → the strictest 1.5
    assert rows[("G1", "B1")]["clearance_m"] == pytest.approx(0.50, abs=1e-3)
    assert rows[("G1", "B1")]["required_m"] == 1.5
    # a pressure the rules name keeps its own rule
    assert rows[("G2", "B2")]["clearance_m"] == pytest.approx(0.50, abs=1e-3)
    assert rows[("G2", "B2")]["required_m"] == 1.0
    # 0.4 MPa is 中压A (GB 50028: 0.2 < P ≤ 0.4): the drain–gas rule of 中压A, 1.2 (it got
    # the strictest of the table, 次高压A's 2.0)
    pair = rows.get(("G3", "R3")) or rows[("R3", "G3")]
    assert pair["clearance_m"] == pytest.approx(0.75, abs=1e-3) and pair["required_m"] == 1.2


def test_gas_pressure_is_read_as_its_class_or_left_unchecked(cdb):
    from layers.query.clearance import clearance

    res = clearance(cdb.conninfo, kind="horizontal")
    rows = {(r["a_code"], r["b_code"]): r for r in res["rows"]}
    # 中压B级 and 0.2MPa are 中压B: 1.0 m (they got the strictest, 1.5: false violations)
    for code in ("G6", "G7"):
        r = rows[(code, f"B{code}")]
        assert (r["clearance_m"], r["required_m"]) == (pytest.approx(0.80, abs=1e-3), 1.0)
    # 高压A and an unreadable text: no rule of the table grades them — unchecked, not passed
    # under 中压A's 1.5 m
    assert ("G8", "BG8") not in rows and ("G9", "BG9") not in rows
    assert res["unchecked"] == 2


@pytest.mark.parametrize(("text", "building_m", "drain_m"), [
    # GB 50289 table 4.1.9 rows of pipe_clearances.csv: building 低压 0.7, 中压B 1.0, 中压A 1.5,
    # 次高压B 5.0, 次高压A 13.5 (the last two unverified); drain 低压 1.0, 中压B/中压A 1.2,
    # 次高压B 1.5, 次高压A 2.0; the classes by GB 50028; a blank takes the strictest
    ("中压B级", 1.0, 1.2), ("0.2MPa", 1.0, 1.2), ("0.4MPa", 1.5, 1.2), ("0.41MPa", 5.0, 1.5),
    ("次高压B", 5.0, 1.5), ("高压A", None, None), ("高压", None, None), ("5MPa", None, None),
    ("待查", None, None), ("", 13.5, 2.0),
])
def test_pick_by_the_pressure_class(text, building_m, drain_m):
    from cim.pressure import grade
    from layers.query.clearance_rules import UNCHECKED, load_rules, pick

    rules = load_rules(None)
    gas = {"what": "03", "d": 100, "subclass": None, "burial": None, "pressure": grade(text)}
    drain = {"what": "02", "d": 400, "subclass": None, "pressure": "", "burial": None}
    for other, want in (({"what": "building"}, building_m), (drain, drain_m)):
        got = pick(rules, "horizontal", gas, other)
        assert (got is UNCHECKED if want is None else got.required_m == want), (text, other)


def test_pick_blanks_only_values_no_rule_names():
    from layers.query.clearance_rules import load_rules, pick

    rules = load_rules(None)
    building = {"what": "building"}
    gas = {"what": "03", "d": 100, "subclass": None, "burial": None}
    assert pick(rules, "horizontal", {**gas, "pressure": "低压"}, building).required_m == 0.7
    assert pick(rules, "horizontal", {**gas, "pressure": ""}, building).required_m == 13.5
    # a burial method the rules do not name still meets burial!=直埋 (no fallback needed)
    cable = {"what": "05", "d": 100, "subclass": None, "pressure": None, "burial": "管块"}
    drain = {"what": "02", "d": 400, "subclass": None, "pressure": None, "burial": None}
    assert pick(rules, "vertical", cable, drain).required_m == 0.25


def test_a_branch_tapped_into_a_main_is_a_joint_not_a_crossing(cdb):
    from layers.query.clearance import clearance

    res = clearance(cdb.conninfo, kind="vertical")
    rows = {(r["a_code"], r["b_code"]): r["clearance_m"] for r in res["rows"]}
    # Q4 met W4 at its own end: read as a crossing of two sections at one height, a collision
    # (−0.15); Q5 was counted as a crossing without heights
    assert rows == {("R4", "W4"): pytest.approx(0.10, abs=1e-3)}
    assert res["unchecked"] == 0


def test_the_widest_section_is_read_again_after_new_pipes(jining_profile):
    from layers.query.clearance import clearance

    d = make_db("net_widest", jining_profile, apply_profile=False)
    try:
        x, y = E + 5000, N
        with psycopg.connect(d.conninfo) as conn:
            _building(conn, "B9", shapely.box(x, y, x + 10, y + 10))
        assert clearance(d.conninfo, kind="horizontal")["rows"] == []  # widest known: 0
        with psycopg.connect(d.conninfo) as conn:
            # a 12 m wide box culvert (drain, 2.5 m rule) whose axis runs 8 m from B9: outer
            # wall 8 − 6 = 2.0 m; found only with a reach that counts this width
            _seg(conn, "K9", "02", [(x - 8, y - 10, 30.0), (x - 8, y + 20, 30.0)], w=12000,
                 h=3000)
        rows = clearance(d.conninfo, kind="horizontal")["rows"]
        assert [(r["a_code"], r["b_code"], r["clearance_m"]) for r in rows] == [
            ("K9", "B9", pytest.approx(2.0, abs=1e-3))]
    finally:
        drop_database(server_url(), d.name)


def test_a_citys_rule_written_as_a_pressure_reads_it_as_its_class(tmp_path, jining_profile):
    """A city's copy of pipe_clearances.csv may write a rule's pressure as the survey writes
    it (中压A级, 0.4MPa): read as the pipes' pressures are (the class 中压A), the rule applies
    to a 中压A pipe; compared raw it could never match one. A value that is no class (待查) is
    refused naming the row and field."""
    from dataclasses import replace

    import pytest as _pytest

    from cim.errors import ConfigError
    from layers.query.clearance_rules import load_rules, pick

    f = tmp_path / "clear.csv"
    f.write_text("kind,a,a_when,b,b_when,required_m,verified,source\n"
                 "horizontal,03,pressure=0.4MPa,building,,1.23,no,city\n"
                 "horizontal,03,pressure=中压B级,building,,0.98,no,city\n", encoding="utf-8")
    prof = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "pipe_clearances": f})
    rules = load_rules(prof)
    gas = {"what": "03", "d": 100, "subclass": None, "burial": None}
    assert pick(rules, "horizontal", {**gas, "pressure": "中压A"}, {"what": "building"}
                ).required_m == 1.23
    assert pick(rules, "horizontal", {**gas, "pressure": "中压B"}, {"what": "building"}
                ).required_m == 0.98
    f.write_text("kind,a,a_when,b,b_when,required_m,verified,source\n"
                 "horizontal,03,,building,,1.0,no,city\n"
                 "horizontal,03,pressure=待查,building,,1.5,no,city\n", encoding="utf-8")
    with _pytest.raises(ConfigError) as e:
        load_rules(prof)
    assert e.value.row == 3 and e.value.field == "a_when" and "待查" in str(e.value)


def test_an_unreadable_pressure_beside_an_unnamed_burial_is_unchecked():
    """No rule applies to 直埋敷设 (the rules say 直埋): blanked, the burial meets every rule,
    and an unreadable pressure beside it must not take the strictest (4.0 m) of them."""
    from cim.text import norm_key
    from layers.query.clearance_rules import UNCHECKED, Cond, Rule, Side, pick

    def rule(req, pressure, row):
        return Rule("horizontal", Side("building", ()), Side("03", (
            Cond("burial", "=", norm_key("直埋")), Cond("pressure", "=", norm_key(pressure)))),
            req, False, "", row)

    rules = [rule(0.7, "低压", 1), rule(1.0, "中压B", 2), rule(4.0, "次高压A", 3)]
    building = {"what": "building"}
    for burial in ("直埋", "直埋敷设"):
        gas = {"what": "03", "burial": burial, "pressure": None}
        assert pick(rules, "horizontal", building, gas) is UNCHECKED, burial
    # a readable pressure beside the unnamed burial still gets its own rule
    gas = {"what": "03", "burial": "直埋敷设", "pressure": norm_key("中压B")}
    assert pick(rules, "horizontal", building, gas).required_m == 1.0
