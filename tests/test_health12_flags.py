"""Why a district has no coverage value (session 12), on the hand-built city of
tests/health_fixture.py: no building loaded there (``no_buildings`` too, as the area
indicators say it) is not the same as buildings none of which is a home (only
``no_residential_buildings``). Both have no value (the standing rule: no value, not 0); the
flags said only "no homes" for a city whose buildings were not loaded at all."""

from __future__ import annotations

import psycopg
import pytest

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`

COVERAGES = ("park_service_coverage", "shelter_service_coverage",
             "community_facility_walk_coverage")


def _units(result: dict, ind_id: str) -> dict:
    ind = next(i for i in result["indicators"] if i["id"] == ind_id)
    return {"city": ind["city"], **{e["unit_code"]: e for e in ind["districts"]}}


def _retire(d, where: str) -> None:
    with psycopg.connect(d.conninfo) as conn:
        conn.execute(f"UPDATE buildings SET valid_to = now() WHERE valid_to IS NULL AND {where}")


def test_buildings_not_loaded_are_no_buildings_not_no_homes(city):
    _retire(city, "true")
    result = compute(city.conninfo, 2026, city.profile, store=False)
    for ind in COVERAGES:
        for unit, e in _units(result, ind).items():
            assert e["value"] is None and e["status"] == "no_data", (ind, unit)
            assert e["flags"] == ["no_buildings"], (ind, unit, e["flags"])


def test_a_district_without_buildings_and_one_without_homes(city):
    # D2's buildings not delivered: D1 and the city keep D1's coverage
    _retire(city, f"district_code = '{hf.D2}'")
    result = compute(city.conninfo, 2026, city.profile, store=False)
    park = _units(result, "park_service_coverage")
    expected = hf.expected_coverage()  # D1's homes and coverage are D2's buildings' none
    for ind in COVERAGES:
        e = _units(result, ind)[hf.D2]
        assert e["value"] is None and "no_buildings" in e["flags"], ind
    assert park[hf.D1]["value"] == pytest.approx(expected[hf.D1])
    assert park["city"]["value"] == pytest.approx(expected[hf.D1])

    # D2's buildings back, as offices: buildings there, no home among them
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = NULL, use_code = '03'"
                     " WHERE district_code = %s", (hf.D2,))
    result = compute(city.conninfo, 2026, city.profile, store=False)
    for ind in COVERAGES:
        e = _units(result, ind)[hf.D2]
        assert e["value"] is None and "no_residential_buildings" in e["flags"], ind
        assert "no_buildings" not in e["flags"], ind
