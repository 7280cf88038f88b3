"""社区服务设施步行覆盖率 is the mean of the facility types' shares, each district's detail
listing them; the city's row listed none (``detail`` empty: a reader of the stored row or the
JSON could not see what the city's value was the mean of — a helper's probe). Expected by
construction (tests/health_fixture.py): only the kindergarten K1 exists, covering H300 and
H550 of the city's homes."""

from __future__ import annotations

import pytest

from cim.profile import read_csv_dictionary
from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind, _share


def test_the_citys_row_lists_the_types_it_is_the_mean_of(city):
    result = compute(city.conninfo, 2026, city.profile, store=False)
    walk = _by_unit(_ind(result, "community_facility_walk_coverage"))
    types = [t["type_code"] for t in read_csv_dictionary(
        city.profile.dictionary_path("facility_types"))
        if t["life_circle_minutes"] in ("5", "10", "15") and t["type_code"] != "shelter"]
    city_types = walk["city"]["detail"]["types"]
    assert sorted(city_types) == sorted(types)
    homes = sum(g.area for g, _, use in hf.BUILDINGS.values() if use == "01")
    kg = city_types["kindergarten"]
    assert (kg["walk_distance_m"], kg["life_circle_minutes"], kg["name_zh"]) == (300, 5, "幼儿园")
    assert kg["residential_m2"] == pytest.approx(homes, abs=0.01)
    assert kg["covered_m2"] == pytest.approx(_share(hf.KINDERGARTEN_COVERED, "city") * homes,
                                             abs=0.01)
    assert all(city_types[t]["covered_m2"] == 0 for t in types if t != "kindergarten")
    assert walk["city"]["value"] == pytest.approx(
        100 * _share(hf.KINDERGARTEN_COVERED, "city") / len(types), abs=1e-5)
