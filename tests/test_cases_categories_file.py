"""case_categories.csv as a city edits it: a time limit is a finite number of hours, read by
the platform's strict number reader — inf and nan were accepted (registering a case then
failed on the deadline), 1_5 was read as 15 and a limit of 1e9 hours (a deadline beyond the
year 9999) too; each is refused naming the file, row and field."""

from __future__ import annotations

import datetime as dt

import pytest

from cim.errors import ConfigError
from layers.cases.categories import CATEGORIES_FILE, load_categories


def _file(tmp_path, value: str):
    header, first = CATEGORIES_FILE.read_text(encoding="utf-8").splitlines()[:2]
    assert first.startswith("0101,") and ",24," in first  # 井盖缺失破损, 24 h
    p = tmp_path / f"cats_{abs(hash(value))}.csv"
    p.write_text(f"{header}\n{first.replace(',24,', f',{value},')}\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("value", ["inf", "nan", "1_5", "1e9", "0", "-4", "24h", ""])
def test_a_time_limit_that_is_no_number_of_hours_is_refused(tmp_path, value):
    with pytest.raises(ConfigError) as exc:
        load_categories(_file(tmp_path, value))
    assert exc.value.field == "time_limit_h" and exc.value.row == 2


@pytest.mark.parametrize(("value", "hours"), [("24", 24.0), ("0.5", 0.5), ("２４", 24.0),
                                              ("8760", 8760.0)])
def test_hours_as_typed(tmp_path, value, hours):
    cat = load_categories(_file(tmp_path, value))["0101"]
    assert cat.time_limit_h == hours
    # a deadline can be computed from any accepted limit
    assert dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=cat.time_limit_h)
