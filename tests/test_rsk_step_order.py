"""Threshold tables of the rules and the matrix (age, buildings, residents) in any order: the
step reached is the highest threshold at most the value. Read as the first match, a city's
table written from the lowest step up gave every value the lowest step (a helper's probe).
Expected steps by construction of the tables here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from layers.risk.config import Rule
from layers.risk.score import consequence, pipe_likelihood

DOWN = {"buildings": [{"min": 30, "add": 2}, {"min": 10, "add": 1}],
        "population": [{"min": 2000, "add": 2}, {"min": 500, "add": 1}]}
UP = {k: list(reversed(v)) for k, v in DOWN.items()}


@pytest.mark.parametrize("steps", [DOWN, UP], ids=["high_first", "low_first"])
@pytest.mark.parametrize(("buildings", "residents", "add_b", "add_p"), [
    (35, 2500, 2, 2), (30, 2000, 2, 2), (12, 600, 1, 1), (9, 499, 0, 0)])
def test_consequence_steps_in_any_order(steps, buildings, residents, add_b, add_p):
    m = SimpleNamespace(consequence={"base": 1, "max": 5, **steps})
    _total, f = consequence(m, {"buildings": buildings, "residents": residents})
    assert (f["buildings"], f["population"]) == (add_b, add_p)


@pytest.mark.parametrize("age", [[{"min_years": 30, "add": 2}, {"min_years": 20, "add": 1}],
                                 [{"min_years": 20, "add": 1}, {"min_years": 30, "add": 2}]])
@pytest.mark.parametrize(("built", "add"), [(1980, 2), (2000, 1), (2010, 0)])
def test_age_steps_in_any_order(age, built, add):
    rule = Rule("r", "t", "pipe_condition", "pipe_segments", {}, (), "u", "m",
                {"likelihood": {"base": 1, "age": age}})
    _lk, f = pipe_likelihood(rule, {"year_built": built}, 2026)
    assert f["age"] == add
