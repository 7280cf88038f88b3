"""人均公园绿地面积 divides by the residents of one year for every district: the check year
where every district with population has it, else the latest year they all have, else the
check year (or the latest any has) with the districts lacking it left without a value,
flagged. Each district took its own latest year: D1's residents of 2026 and D2's of 2025
summed into the city's figure, and the districts' values compared residents of different
years (a helper's probe). Before that the year was chosen once for the city as the latest
any district had, which left every other district without residents: no value and
no_population although its earlier figures were loaded — now flagged
no_population_of_year, naming the district's own latest year."""

from __future__ import annotations

import psycopg
import pytest

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind

# park area inside each district, by shapely on the fixture's polygons (P1 is 1,000 m²
# outside the city, counted nowhere)
PARKS = {d: sum(g.intersection(poly).area for g, _ in hf.PARKS.values())
         for d, poly in hf.DISTRICTS.items()}


def _population(city, rows) -> None:
    """rows: (district, residents, year, retired), one grid row each."""
    with psycopg.connect(city.conninfo) as conn:
        for i, (d, n, year, retired) in enumerate(rows):
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, valid_to, geom) SELECT %s, 'grid', %s, %s, %s, code,"
                         " CASE WHEN %s THEN now() END, geom FROM admin_divisions WHERE code = %s",
                         (f"POP{i}", f"G{i}", n, year, retired, d))


def _per_capita(city, year: int = 2026) -> dict:
    return _by_unit(_ind(compute(city.conninfo, year, city.profile, store=False),
                         "park_area_per_capita"))


def test_the_latest_year_every_district_has(city):
    # D1 delivered for 2026 and 2025; D2 for 2024 and 2025 only, besides a retired 2026
    # version and a 2027 figure after the check year: 2025 is the latest year both have
    _population(city, [(hf.D1, 1000, 2026, False), (hf.D1, 900, 2025, False),
                       (hf.D2, 80, 2024, False), (hf.D2, 100, 2025, False),
                       (hf.D2, 7, 2026, True), (hf.D2, 9, 2027, False)])
    assert (PARKS[hf.D1], PARKS[hf.D2]) == (11_500, 2_500)
    per_capita = _per_capita(city)
    assert per_capita[hf.D1]["value"] == pytest.approx(11_500 / 900)  # not 2026's 1,000
    assert per_capita[hf.D2]["value"] == pytest.approx(2_500 / 100)
    assert per_capita["city"]["value"] == pytest.approx((11_500 + 2_500) / (900 + 100))
    for unit in (hf.D1, hf.D2, "city"):
        assert per_capita[unit]["detail"]["population_year"] == 2025
        assert per_capita[unit]["flags"] == ["population_of_earlier_year"]
    # the text output says whose residents the city's figure divides by
    out = run_cli(["health", "compute", "--year", "2026"], city.env(), check=True).stdout
    line = next(x for x in out.splitlines() if "人均公园绿地面积" in x)
    assert f"{14_000 / 1000:.2f}" in line and "(population 2025)" in line, line


def test_the_check_year_when_every_district_has_it(city):
    _population(city, [(hf.D1, 1000, 2026, False), (hf.D1, 900, 2025, False),
                       (hf.D2, 100, 2025, False), (hf.D2, 125, 2026, False)])
    per_capita = _per_capita(city)
    assert per_capita[hf.D1]["value"] == pytest.approx(11_500 / 1000)
    assert per_capita[hf.D2]["value"] == pytest.approx(2_500 / 125)
    assert per_capita["city"]["value"] == pytest.approx(14_000 / 1125)
    for unit in (hf.D1, hf.D2, "city"):
        assert per_capita[unit]["detail"]["population_year"] == 2026
        assert per_capita[unit]["flags"] == []
    # a past year's check takes that year's residents, never a later one's
    past = _per_capita(city, 2025)
    assert past["city"]["value"] == pytest.approx(14_000 / 1000)
    assert past["city"]["detail"]["population_year"] == 2025


def test_no_year_in_common_leaves_the_district_without_it_flagged(city):
    """D1 only 2026, D2 only 2025: no year both have. The check year, 2026: D2 has no value
    (its 2025 residents are not mixed into a 2026 figure), flagged with its latest year;
    the city's figure is D1's alone, flagged."""
    _population(city, [(hf.D1, 1000, 2026, False), (hf.D2, 100, 2025, False)])
    per_capita = _per_capita(city)
    assert per_capita[hf.D1]["value"] == pytest.approx(11_500 / 1000)
    assert per_capita[hf.D1]["flags"] == []
    d2 = per_capita[hf.D2]
    assert d2["value"] is None and d2["status"] == "no_data"
    assert d2["flags"] == ["no_population_of_year"]
    assert (d2["detail"]["population_year"], d2["detail"]["latest_population_year"]) == (
        2026, 2025)
    assert per_capita["city"]["value"] == pytest.approx(11_500 / 1000)
    assert per_capita["city"]["flags"] == ["no_population_of_year"]
    assert per_capita["city"]["detail"]["population_year"] == 2026


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
