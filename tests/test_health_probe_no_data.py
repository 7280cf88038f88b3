"""A district a layer was not delivered for read 0 where the layer is absent there: 建筑密度
0 %, met, 80 m 以上新建住宅 0, met — it scored best in the index for the missing data (a
helper's probe on the sample: 微山县's buildings and plan parcels retired, its index rose
from 62.8 to 84.5).
A district no feature of the layer lies in now has no value, flagged ``no_<layer>``, and is
left out of the city's figure, as a layer absent everywhere is; a district without homes or
pipes says why it has none.

Expected by construction (tests/health_fixture.py): D2's homes H2a, H2b retired, no building
left in D2; D1's footprints over D1's area; no pipe in D2."""

from __future__ import annotations

import psycopg
import pytest

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind


def test_a_district_without_the_layer_has_no_value(city):
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE district_code = %s",
                     (hf.D2,))
    result = compute(city.conninfo, 2026, city.profile, store=False)
    density = _by_unit(_ind(result, "building_density"))
    d1 = 100 * sum(g.area for g, d, _ in hf.BUILDINGS.values() if d == hf.D1) / \
        hf.DISTRICTS[hf.D1].area
    assert density[hf.D1]["value"] == pytest.approx(d1, abs=1e-5)
    assert density[hf.D2]["value"] is None and density[hf.D2]["status"] == "no_data"
    assert density[hf.D2]["flags"] == ["no_buildings"]
    # the city's figure is D1's: D2's area is no built-up land of 0 %
    assert density["city"]["value"] == pytest.approx(d1, abs=1e-5)
    assert density["city"]["flags"] == ["no_buildings"]
    high = _by_unit(_ind(result, "new_high_rise_residential"))
    assert high[hf.D1]["value"] == 0 and high[hf.D2]["value"] is None
    assert high[hf.D2]["flags"] == ["no_buildings"]
    park = _by_unit(_ind(result, "park_service_coverage"))
    assert park[hf.D2]["value"] is None
    assert "no_residential_buildings" in park[hf.D2]["flags"]
    aging = _by_unit(_ind(result, "pipe_aging_rate"))
    assert aging[hf.D2]["value"] is None and aging[hf.D2]["flags"] == ["no_pipe_segments"]
    # D1: S1 100 m (56 a) + S3 50 m (36 a) aged of the 350 m with a year (S4 unknown)
    assert aging[hf.D1]["value"] == aging["city"]["value"] == pytest.approx(
        100 * 150 / 350, abs=1e-6)
    # D2 takes no part in the index for what it lacks: only what it has is scored
    d2_index = result["index"]["units"][hf.D2]["dimensions"]
    assert d2_index["character"] is None  # 建筑密度 and 80 m 住宅 are its two indicators
