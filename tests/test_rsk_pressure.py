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
    ("6MPa", SUB_HIGH),  # above GB 50028's highest class (高压A ≤ 4.0): high, not unknown
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
    bad = text.replace("{names: [中压A], add: 1}", "{names: [中压A], above_mpa: 中压, add: 1}")
    assert bad != text
    p.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(None, rules=p)
    assert "gas_pipes.likelihood.pressure[1].above_mpa" in str(e.value)


def test_year_built_after_the_assessment_is_an_unknown_age():
    """A year built after the assessment year (2062 typed for 2026) is no age: the rule's
    age_unknown adds, as for no year at all; it added 0 (a negative age matched no row)."""
    import yaml

    from layers.risk.score import pipe_likelihood

    with open("cim/dictionaries/risk_rules.yaml", encoding="utf-8") as fh:
        spec = next(r for r in yaml.safe_load(fh)["rules"] if r["id"] == "gas_pipes")
    unknown = spec["likelihood"]["age_unknown"]
    assert unknown != 0
    props = {"material_code": "PE", "pressure": "低压", "status_code": "0"}
    _, none = pipe_likelihood(_gas_rule(), {**props, "year_built": None}, 2026)
    _, later = pipe_likelihood(_gas_rule(), {**props, "year_built": 2062}, 2026)
    _, same = pipe_likelihood(_gas_rule(), {**props, "year_built": 2026}, 2026)
    assert none["age"] == later["age"] == unknown
    assert later["year_built_after_assessment"] == 2062
    assert (same["age"], same["age_years"]) == (0, 0)


@pytest.mark.parametrize(("text", "grade"), [
    # GB 50028-2006 table 6.1.6: 高压A 2.5 < P ≤ 4.0, 高压B 1.6 < P ≤ 2.5, 次高压A 0.8 < P ≤ 1.6,
    # 次高压B 0.4 < P ≤ 0.8, 中压A 0.2 < P ≤ 0.4, 中压B 0.01 ≤ P ≤ 0.2, 低压 P < 0.01 MPa
    ("中压B级", "中压B"), ("中压 B", "中压B"), ("（中压B）", "中压B"), ("0.2MPa", "中压B"),
    ("0.4MPa", "中压A"), ("高压A", "高压A"), ("高压（A）级", "高压A"), ("次高压B", "次高压B"),
    ("次高压b级", "次高压B"), ("1.0 MPa", "次高压A"), ("3MPa", "高压A"), ("5kPa", "低压"),
    ("10kPa", "中压B"), ("中压", "中压"), ("高压", "高压"), ("", ""), (None, ""),
    ("5MPa", None), ("待查", None), ("PE100", None),
])
def test_one_parser_reads_the_class(text, grade):
    from cim.pressure import grade as read

    assert read(text) == grade


def _medium_a_from(tmp_path, mpa: float):
    """The platform's risk_rules.yaml (its text) and a copy whose 中压A starts above ``mpa``
    (中压B ending there) instead of 0.2 MPa."""
    text = open("cim/dictionaries/risk_rules.yaml", encoding="utf-8").read()
    p = tmp_path / "rules.yaml"
    p.write_text(text.replace("{name: 中压A, above_mpa: 0.2, max_mpa: 0.4}",
                              f"{{name: 中压A, above_mpa: {mpa}, max_mpa: 0.4}}")
                 .replace("{name: 中压B, min_mpa: 0.01, max_mpa: 0.2}",
                          f"{{name: 中压B, min_mpa: 0.01, max_mpa: {mpa}}}"), encoding="utf-8")
    return text, p


def test_pressure_classes_are_data(tmp_path):
    """The bounds come from the file (a city's copy): moved, the class moves with them."""
    from cim.errors import ConfigError
    from cim.pressure import classes, grade

    text, p = _medium_a_from(tmp_path, 0.1)
    assert grade("0.15MPa", classes(p)) == "中压A"
    p.write_text(text.replace("max_mpa: 0.4}", "max_mpa: 四}"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        classes(p)
    assert "pressure_classes[4].max_mpa" in str(e.value)


def test_an_assessment_scores_by_the_citys_pressure_classes(tmp_path):
    """The city's copy of risk_rules.yaml moves 中压A down to 0.1 MPa: a gas pipe written
    0.15MPa scores the 中压A addition (1, the rule's pressure row) under it, nothing under
    the platform's classes (0.15 MPa is 中压B there) — the assessment grades with the classes of
    the rules file it reads, as the clearances do."""
    from cim.pressure import classes
    from layers.risk.config import load_config
    from layers.risk.score import pipe_likelihood

    _text, p = _medium_a_from(tmp_path, 0.1)
    cfg = load_config(None, rules=p)
    gas = next(r for r in cfg.rules if r.kind == "pipe_condition" and r.id.startswith("gas"))
    props = {"material_code": None, "year_built": None, "pressure": "0.15MPa",
             "status_code": "0"}
    assert pipe_likelihood(gas, props, 2026, classes(cfg.rules_path))[1]["pressure"] == 1
    assert pipe_likelihood(gas, props, 2026)[1]["pressure"] == 0
