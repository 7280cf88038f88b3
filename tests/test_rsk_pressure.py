"""The pressure factor of a gas pipe's likelihood by the published rule (risk_rules.yaml,
gas_pipes): 高压 and 次高压 add 2, 中压A adds 1, anything else 0. The survey writes a class
with its grade (GB 50028-2006 §6.1.6: 次高压A/B, 中压A/B) and the MPa on the classes' bounds,
each class's lower bound excluded — 次高压B 0.4 < P ≤ 0.8, 中压A 0.2 < P ≤ 0.4, 中压B
0.01 ≤ P ≤ 0.2 MPa. Expected adds written here from that table, not from the code."""

from __future__ import annotations

import pytest

SUB_HIGH, MEDIUM_A, OTHER = 2, 1, 0  # the rule's adds for 次高压 (and 高压), 中压A, the rest


def _gas_rule():
    from layers.risk.config import load_config

    return next(r for r in load_config(None).rules if r.id == "gas_pipes")


@pytest.mark.parametrize(("text", "add"), [
    ("次高压A", SUB_HIGH), ("次高压B", SUB_HIGH), ("高压A", SUB_HIGH), ("次高压", SUB_HIGH),
    ("次高压（A）级", SUB_HIGH), ("次高压 B级", SUB_HIGH), ("中压A", MEDIUM_A),
    ("中压a级", MEDIUM_A), ("中压B", OTHER), ("中压", OTHER), ("低压", OTHER),
])
def test_pressure_class_with_its_grade(text, add):
    _, f = _gas_rule_score(text)
    assert f["pressure"] == add, (text, f)


@pytest.mark.parametrize(("text", "add"), [
    ("0.4MPa", MEDIUM_A), ("0.41MPa", SUB_HIGH), ("0.8 MPa", SUB_HIGH), ("400kPa", MEDIUM_A),
    ("0.2MPa", OTHER), ("0.21MPa", MEDIUM_A), ("0.4兆帕", MEDIUM_A), ("0.5ＭＰａ", SUB_HIGH),
])
def test_pressure_on_the_class_bounds(text, add):
    _, f = _gas_rule_score(text)
    assert f["pressure"] == add, (text, f)


def _gas_rule_score(text):
    from layers.risk.score import pipe_likelihood

    # PE (adds 0), 2020 (6 years: adds 0), in use: base 1 + pressure
    return pipe_likelihood(_gas_rule(), {"material_code": "PE", "year_built": 2020,
                                         "pressure": text, "status_code": "0"}, 2026)


def test_subhigh_graded_pipe_is_a_risk_point():
    """次高压A PE 2020: 1 + 0 + 0 + 2 = 3, over min_likelihood 2 (it scored 1, no point)."""
    lk, _ = _gas_rule_score("次高压A")
    assert lk == 1 + SUB_HIGH


def test_bad_pressure_row_names_the_key(tmp_path):
    from cim.errors import ConfigError
    from layers.risk.config import load_config

    text = open("cim/dictionaries/risk_rules.yaml", encoding="utf-8").read()
    p = tmp_path / "rules.yaml"
    p.write_text(text.replace("above_mpa: 0.2, add: 1", "above_mpa: 中压, add: 1"),
                 encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(None, rules=p)
    assert "gas_pipes.likelihood.pressure[1].above_mpa" in str(e.value)
