"""A size with one value under 5 mm names that value alone: 89×4.5 (89 mm × 4.5, a wall
written without its Φ) was told to be written 89000×4500 — an 89 m pipe."""
import pytest

from cim.numbers import ValueProblem
from loaders.pipes.dictionaries import parse_size


def _problem(value) -> str:
    with pytest.raises(ValueProblem) as exc:
        parse_size(value)
    return str(exc.value)


def test_only_the_value_under_5_mm_is_named_and_converted():
    msg = _problem("89×4.5")
    assert "4.5 is under 5 mm" in msg and "(4500)" in msg  # 4.5 m = 4500 mm
    assert "89000" not in msg  # 89 is millimetres already
    assert "Φ" in msg  # a steel pipe's wall is written after Φ


def test_every_value_under_5_mm_is_named():
    msg = _problem("0.8×0.6")
    assert "0.8 and 0.6 are under 5 mm" in msg and "(800 and 600)" in msg
    assert "Φ" not in msg
    assert "(300)" in _problem(0.3)
