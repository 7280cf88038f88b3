"""A plan-target scenario does not take the one map over (session 16, a probe's finding):
after `cim health compute --year 2040 --future-year` the map (tiles, the QGIS project's
subset, `aoi --on-map`: the layer's map condition) showed only 2040, and every later real
check stayed behind it. It shows the latest year not after the current one; with only
scenarios stored, the latest of them. The years are known by construction (computed here)."""

from __future__ import annotations

import datetime as dt

from layers.catalog import map_where
from layers.health.compute import compute
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`


def _shown(city) -> set[int]:
    return {y for y, in city.rows("SELECT DISTINCT year FROM health_indicators WHERE "
                                  f"valid_to IS NULL AND ({map_where('health_indicators')})")}


def test_the_map_shows_the_latest_real_year_not_a_scenario(city):
    this_year = dt.datetime.now(dt.UTC).year  # Beijing's too but for 8 hours at new year
    scenario = this_year + 14
    compute(city.conninfo, scenario, city.profile)
    assert _shown(city) == {scenario}  # only a scenario stored: the map shows it
    compute(city.conninfo, this_year - 2, city.profile)
    assert _shown(city) == {this_year - 2}
    compute(city.conninfo, this_year - 1, city.profile)  # a later real check shows at once
    assert _shown(city) == {this_year - 1}
    assert {y for y, in city.rows("SELECT DISTINCT year FROM health_indicators WHERE "
                                  "valid_to IS NULL")} == {scenario, this_year - 2,
                                                           this_year - 1}
