"""An indicator is judged on the value stored and shown (6 places): a district whose building
density is exactly the 30 % limit by construction measured 30.000000000298 % in its storage
coordinates (EPSG:4527, x ≈ 39.5e6) and was not met, stored and reported as 30.0 against a
target of 30 — 未达标 beside two equal numbers (a helper's probe)."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind


def test_a_value_at_its_limit_is_met(city):
    # D2 (1,000,000 m²) holds H2a and H2b (400 m² each); a store of 299,200 m² along D2's
    # west boundary (shared with D1) makes the footprint 300,000 m²: 30 %, the limit
    big = box(2000, 0, 2299.2, 1000)
    assert big.area + sum(g.area for g, d, _ in hf.BUILDINGS.values() if d == hf.D2) == \
        pytest.approx(300_000, abs=1e-6)
    hf.add_building(city.conninfo, "STORE", big, hf.D2, "02")
    result = compute(city.conninfo, 2026, city.profile)
    density = _by_unit(_ind(result, "building_density"))[hf.D2]
    assert density["target"] == 30 and density["value"] == 30
    assert density["status"] == "met" and density["score"] == 1
    assert city.rows("SELECT value, status, score FROM health_indicators WHERE valid_to IS NULL"
                     " AND indicator_id = 'building_density' AND unit_code = %s",
                     (hf.D2,)) == [(30.0, "met", 1.0)]
