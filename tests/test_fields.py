"""Column parsers give exactly what the scalar parsers give, value by value."""

from __future__ import annotations

import numpy as np
import pytest

from loaders.fields import ValueProblem, as_float, as_int, as_text, as_year, numbers, texts, years

TRICKY = np.array([None, "", "  ", " 12 ", "12米", "十二层", 7, 7.0, 7.5, float("nan"),
                   float("inf"), -3, "1,200", "2001-05", b"x", "x" * 300, 12.000000001, "1e3", "1995",
                   1995, "1995年"],
                  dtype=object)


def _scalar(parse, v):
    try:
        return parse(v), None
    except ValueProblem as exc:
        return None, str(exc)


@pytest.mark.parametrize("column, scalar", [
    (lambda c: texts(c, 200), lambda v: as_text(v, 200)),
    (lambda c: numbers(c, 0, 300, integer=True), lambda v: as_int(v, 0, 300)),
    (lambda c: numbers(c, 0, 1000), lambda v: as_float(v, 0, 1000)),
    (years, as_year),
])
@pytest.mark.parametrize("data", [
    TRICKY,
    np.array([1995, 2001, 12, None], dtype=object),  # a numeric column (GPKG integer)
    np.array([3.0, 4.5, float("nan"), 1e9], dtype=object),  # a real column
    np.array(["甲", None, "乙"], dtype=object),  # text only
])
def test_column_parsers_agree_with_scalar_parsers(column, scalar, data):
    values, problems = column(data)
    for i, v in enumerate(data):
        want, why = _scalar(scalar, v)
        got = values[i]
        assert (got, problems.get(i)) == (want, why), (i, v)
        assert type(got) is type(want), (i, v)
