"""The stored city health index rows are named as the indicators' rows of the same unit: they
had unit_name NULL, so the OGC collection (and a QGIS label by name) showed the index of a
district without its name while every indicator row of the district had it (a helper's
probe). Expected: admin_divisions' names, the profile's city name."""

from __future__ import annotations

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`


def test_index_rows_carry_the_units_name(city):
    result = compute(city.conninfo, 2026, city.profile)
    names = dict(city.rows("SELECT code, name FROM admin_divisions WHERE valid_to IS NULL"))
    names["city"] = city.profile.city_name
    assert names[hf.D1] == f"区{hf.D1}" and names["city"]
    rows = city.rows("SELECT indicator_id, unit_code, unit_name, value FROM health_indicators"
                     " WHERE valid_to IS NULL AND year = 2026")
    assert {u for _, u, _, _ in rows} == set(names)
    for ind, unit, name, value in rows:
        assert name == names[unit], (ind, unit, name)
        if ind == "health_index":
            assert value == result["index"]["units"][unit]["value"]
