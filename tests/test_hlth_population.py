"""人均公园绿地面积 takes each district's residents of the check year, else of that district's
own latest earlier year (the catalog's definition). The year was chosen once for the city, so
a delivery of the year for one district left every other district without residents: no value
and no_population although its earlier figures were loaded (a helper's probe)."""

from __future__ import annotations

import psycopg
import pytest

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind


def test_each_district_takes_its_latest_population_year(city):
    # (district, residents, year, retired): D1 delivered for 2026; D2 for 2024 and 2025 only,
    # besides a retired 2026 version and a 2027 figure after the check year
    rows = [(hf.D1, 1000, 2026, False), (hf.D1, 900, 2025, False),
            (hf.D2, 80, 2024, False), (hf.D2, 100, 2025, False), (hf.D2, 7, 2026, True),
            (hf.D2, 9, 2027, False)]
    with psycopg.connect(city.conninfo) as conn:
        for i, (d, n, year, retired) in enumerate(rows):
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, valid_to, geom) SELECT %s, 'grid', %s, %s, %s, code,"
                         " CASE WHEN %s THEN now() END, geom FROM admin_divisions WHERE code = %s",
                         (f"POP{i}", f"G{i}", n, year, retired, d))
    parks = {d: sum(g.intersection(poly).area for g, _ in hf.PARKS.values())
             for d, poly in hf.DISTRICTS.items()}
    assert (parks[hf.D1], parks[hf.D2]) == (11_500, 2_500)  # P1 is 1,000 m² outside the city
    per_capita = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                               "park_area_per_capita"))
    assert per_capita[hf.D1]["value"] == pytest.approx(11_500 / 1000)
    assert per_capita[hf.D1]["detail"]["population_year"] == 2026
    assert per_capita[hf.D1]["flags"] == []
    assert per_capita[hf.D2]["value"] == pytest.approx(2_500 / 100)
    assert per_capita[hf.D2]["detail"]["population_year"] == 2025
    assert per_capita[hf.D2]["flags"] == ["population_of_earlier_year"]
    assert per_capita["city"]["value"] == pytest.approx((11_500 + 2_500) / 1100)
    assert per_capita["city"]["flags"] == ["population_of_earlier_year"]


@pytest.mark.parametrize("d2_residents", [None, 0])
def test_a_district_without_residents_loaded_is_left_out_of_the_citys_figure(city,
                                                                             d2_residents):
    """D1 has 1,000 residents; D2 none loaded: the city's figure is D1's parks over D1's
    residents (D2's 2,500 m² over D1's residents made it 14.0 instead of 11.5: a helper's
    probe), flagged no_population. D2 loaded with 0 residents: its parks are the city's for
    the city's residents, (11,500 + 2,500) / 1,000; D2 itself has no value (no_residents)."""
    with psycopg.connect(city.conninfo) as conn:
        for d, n in ((hf.D1, 1000), (hf.D2, d2_residents)):
            if n is not None:
                conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents,"
                             " year, district_code, geom) SELECT %s, 'grid', %s, %s, 2026,"
                             " code, geom FROM admin_divisions WHERE code = %s",
                             (f"POP{d}", f"G{d}", n, d))
    per_capita = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                               "park_area_per_capita"))
    assert per_capita[hf.D1]["value"] == pytest.approx(11_500 / 1000)
    assert per_capita[hf.D2]["value"] is None and per_capita[hf.D2]["status"] == "no_data"
    if d2_residents is None:
        assert per_capita["city"]["value"] == pytest.approx(11_500 / 1000)
        assert per_capita[hf.D2]["flags"] == per_capita["city"]["flags"] == ["no_population"]
    else:
        assert per_capita["city"]["value"] == pytest.approx((11_500 + 2_500) / 1000)
        assert per_capita[hf.D2]["flags"] == per_capita["city"]["flags"] == ["no_residents"]
