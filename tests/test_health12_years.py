"""Years of the health check computed out of order (session 12), on the hand-built city of
tests/health_fixture.py, whose coverages follow from its construction
(:func:`tests.health_fixture.expected_coverage`).

A later year's stored comparison (previous value, change, trend — what the OGC collection and
the web map serve) was written once, when that year was computed: a past year filled in
afterwards, or recomputed on corrected data, left it comparing with nothing or with the
replaced values.
"""

from __future__ import annotations

import psycopg
import pytest

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`

PARK = "park_service_coverage"


def test_a_year_filled_in_afterwards_is_the_later_years_previous(city):
    # 2026: the fixture and H400, 330 m from the big park P1 by road: covered
    hf.add_building(city.conninfo, "H400", hf.block(400), hf.D1)
    hf.COVERED.add("H400")
    try:
        after = hf.expected_coverage({**hf.BUILDINGS, "H400": (hf.block(400), hf.D1, "01")})
    finally:
        hf.COVERED.discard("H400")
    before = hf.expected_coverage()  # 2025: the fixture as drawn, no H400
    assert after[hf.D1] > before[hf.D1]
    compute(city.conninfo, 2026, city.profile)
    n = city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL"
                    " AND year = 2026")
    assert hf.stored(city, 2026, PARK, hf.D1)[1:5] == (None, None, None, None)

    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE code = 'H400'")
    compute(city.conninfo, 2025, city.profile)  # the past year, filled in afterwards

    value, prev_year, prev, change, trend, flags = hf.stored(city, 2026, PARK, hf.D1)
    assert value == pytest.approx(after[hf.D1])
    assert prev_year == 2025 and prev == pytest.approx(before[hf.D1])
    assert change == pytest.approx(after[hf.D1] - before[hf.D1], abs=1e-5)
    assert trend == "improved" and "boundary_changed" not in flags
    assert hf.stored(city, 2026, PARK, hf.D2)[2:5] == (pytest.approx(before[hf.D2]), 0.0,
                                                     "unchanged")
    city_row = hf.stored(city, 2026, PARK, "city")
    assert city_row[2] == pytest.approx(before["city"]) and city_row[4] == "improved"
    # the index's row too, against the index stored for 2025
    idx25 = hf.stored(city, 2025, "health_index", "city")[0]
    idx26 = hf.stored(city, 2026, "health_index", "city")
    assert idx26[1:3] == (2025, idx25)
    assert idx26[3] == pytest.approx(round(idx26[0] - idx25, 3))
    # the 2026 rows that gained a comparison — one for each 2025 row with a value — are
    # versioned, as a recompute's are: the earlier comparison stays readable; a row of no
    # value in either year compares with nothing still and keeps its one version
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL"
                       " AND year = 2026") == n
    gained = city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NULL"
                         " AND year = 2025 AND value IS NOT NULL")
    assert 0 < gained < n
    assert city.scalar("SELECT count(*) FROM health_indicators WHERE valid_to IS NOT NULL"
                       " AND year = 2026") == gained

    # 2025 recomputed on corrected data (H400 stood in 2025 too): no change any more
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = NULL WHERE code = 'H400'")
    compute(city.conninfo, 2025, city.profile)
    _, prev_year, prev, change, trend, _ = hf.stored(city, 2026, PARK, hf.D1)
    assert (prev_year, prev, change, trend) == (2025, pytest.approx(after[hf.D1]), 0.0,
                                                "unchanged")


def test_only_the_next_stored_year_is_compared_anew(city):
    """2024 filled in under 2025 and 2026: 2025 compares with 2024, 2026 still with 2025."""
    compute(city.conninfo, 2025, city.profile)
    compute(city.conninfo, 2026, city.profile)
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE buildings SET valid_to = now() WHERE code = 'H850'")
    compute(city.conninfo, 2024, city.profile)
    without = hf.expected_coverage({k: v for k, v in hf.BUILDINGS.items() if k != "H850"})
    full = hf.expected_coverage()
    assert hf.stored(city, 2025, PARK, hf.D1)[1:3] == (2024, pytest.approx(without[hf.D1]))
    assert hf.stored(city, 2025, PARK, hf.D1)[4] == "improved"
    assert hf.stored(city, 2026, PARK, hf.D1)[1:5] == (2025, pytest.approx(full[hf.D1]), 0.0,
                                                     "unchanged")
