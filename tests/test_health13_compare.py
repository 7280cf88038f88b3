"""A year's comparison with the previous stored year (previous value, change, trend,
``boundary_changed``) is one rule, whichever way the two years were stored (session 13).

A year computed after its previous year was compared in Python (``compute``); a later year
compared anew when an earlier one was filled in, recomputed or deleted was compared by a copy
of the rule in SQL (``store``), which had to be kept in step by hand. And every computation of
a year wrote a new version of each row of the next stored year, its comparison changed or not.

Expected values by construction (tests/health_fixture.py; design lives 排水 02 50 a, 燃气 03
30 a): in 2020 neither S1 (排水, 1970: 50 a) nor S3 (燃气, 1990: 30 a) is past its life, so
地下管网老化率 is 0 % in D1 and the city; in 2026 they are (56 a, 36 a): 150 m of the 350 m of
known year, 42.857143 % — a rise of a "down" indicator, worsened. Today's buildings and parks
serve both years alike: 公园绿地服务半径覆盖率 unchanged.
"""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import box

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`

AGING, PARK, INDEX = "pipe_aging_rate", "park_service_coverage", "health_index"


def _comparisons(d, year: int) -> dict[tuple[str, str], tuple]:
    """(indicator, unit) → (previous_year, previous_value, change, trend, flags) of ``year``'s
    current rows."""
    return {(i, u): tuple(rest) for i, u, *rest in d.rows(
        "SELECT indicator_id, unit_code, previous_year, previous_value, change, trend, flags"
        " FROM health_indicators WHERE valid_to IS NULL AND year = %s", (year,))}


def _versions(d, year: int) -> dict[tuple[str, str], int]:
    return {(i, u): n for i, u, n in d.rows(
        "SELECT indicator_id, unit_code, count(*) FROM health_indicators WHERE year = %s"
        " GROUP BY 1, 2", (year,))}


def test_a_year_compared_anew_is_compared_as_when_computed(city):
    compute(city.conninfo, 2026, city.profile)  # first: compared with nothing
    compute(city.conninfo, 2020, city.profile)  # filled in afterwards: 2026 compared anew
    anew = _comparisons(city, 2026)
    compute(city.conninfo, 2026, city.profile)  # computed again: compared as it is computed
    fresh = _comparisons(city, 2026)
    assert anew == fresh  # every indicator and unit, the index too

    aged = round(100 * 150 / 350, 6)
    for unit in (hf.D1, "city"):
        prev_year, prev, change, trend, flags = fresh[(AGING, unit)]
        assert (prev_year, prev, trend) == (2020, 0.0, "worsened"), unit
        assert change == pytest.approx(aged, abs=1e-9) and "boundary_changed" not in flags
        # the index falls with it: the resilient dimension scored 1 in 2020
        prev_year, prev, change, trend, _ = fresh[(INDEX, unit)]
        assert prev_year == 2020 and change < 0 and trend == "worsened", unit
    assert fresh[(AGING, hf.D2)][:4] == (None, None, None, None)  # no pipes in D2
    # the same indicators scored in both years: the index compares like with like
    assert not any("indicators_changed" in r[4] for r in fresh.values())
    assert fresh[(INDEX, hf.D2)][2:4] == (0.0, "unchanged")
    coverage = hf.expected_coverage()
    for unit in (hf.D1, hf.D2, "city"):
        prev_year, prev, change, trend, _ = fresh[(PARK, unit)]
        assert (prev_year, change, trend) == (2020, 0.0, "unchanged")
        assert prev == pytest.approx(coverage[unit], abs=1e-5)


def test_a_year_compared_anew_across_a_boundary_change_is_flagged(city):
    """2026 stored under the fixture's boundaries; D1 then hands D2 the strip x 1100–2000 and
    2020 is filled in: 2026's districts compare with other areas (flagged), the city's outline
    is the same (not flagged)."""
    compute(city.conninfo, 2026, city.profile)
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE admin_divisions SET valid_to = now() WHERE valid_to IS NULL")
        for code, g in {hf.D1: box(0, 0, 1100, 1000), hf.D2: box(1100, 0, 3000, 1000)}.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, f"区{code}", hf._wkb(g)))
    compute(city.conninfo, 2020, city.profile)
    rows = _comparisons(city, 2026)
    for (ind, unit), (_, prev, _, _, flags) in rows.items():
        expected = prev is not None and unit != "city"
        assert ("boundary_changed" in flags) == expected, (ind, unit, prev, flags)
    assert rows[("road_network_density", hf.D1)][1] is not None  # some were compared


def test_the_next_year_is_written_only_when_its_comparison_changes(city):
    compute(city.conninfo, 2025, city.profile)
    compute(city.conninfo, 2026, city.profile)
    before = _versions(city, 2026)
    assert set(before.values()) == {1}
    compared = _comparisons(city, 2026)

    compute(city.conninfo, 2025, city.profile)  # the same inputs again
    assert _versions(city, 2026) == before
    assert _comparisons(city, 2026) == compared

    # S2 (排水) was built in 1960, not 2000: 65 a in 2025, so all 350 m of known year are past
    # their life (S1 55 a, S3 燃气 35 a): 100 % in 2025. 2026 is not recomputed: its stored
    # 42.857143 % now compares with 100 %, improved (less is better); the index moves with it
    # in D1 and the city. Nothing else of 2026 changes.
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE pipe_segments SET year_built = 1960 WHERE code = 'S2'")
    compute(city.conninfo, 2025, city.profile)
    after = _versions(city, 2026)
    moved = {(AGING, hf.D1), (AGING, "city"), (INDEX, hf.D1), (INDEX, "city")}
    assert {k for k, n in after.items() if n != 1} == moved
    assert all(after[k] == 2 for k in moved)  # exactly one new version each
    now = _comparisons(city, 2026)
    for unit in (hf.D1, "city"):
        prev_year, prev, change, trend, _ = now[(AGING, unit)]
        assert (prev_year, prev, trend) == (2025, 100.0, "improved")
        assert change == pytest.approx(round(100 * 150 / 350 - 100, 6), abs=1e-9)
        assert now[(INDEX, unit)][1] == hf.stored(city, 2025, INDEX, unit)[0]
    assert {k: v for k, v in now.items() if k not in moved} == \
        {k: v for k, v in compared.items() if k not in moved}


def test_an_index_averaging_other_indicators_than_the_previous_years_is_flagged(city):
    """Residents loaded for 2026 only (the sample city's case: its population is of 2026):
    人均公园绿地面积 has a value and a score in 2026 and none in 2025, so the 2026 index of
    every unit averages one indicator more than the 2025 index — its change (the sample
    city's "improved" +2.8) is partly that of the basket. Flagged ``indicators_changed`` on
    the index rows, computed after 2025 and compared anew alike; the indicators' own rows
    compare like with like and are not."""
    with psycopg.connect(city.conninfo) as conn:
        for code, n, g, d in (("U1", 1000, box(0, 0, 2000, 1000), hf.D1),
                              ("U2", 500, box(2000, 0, 3000, 1000), hf.D2)):
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, geom) VALUES (%s, 'grid', %s, %s, 2026, %s,"
                         " ST_GeomFromWKB(%s, 4527))", (f"P{code}", code, n, d, hf._wkb(g)))
    compute(city.conninfo, 2026, city.profile)  # first: compared with nothing
    compute(city.conninfo, 2025, city.profile)  # filled in: 2026 compared anew
    anew = _comparisons(city, 2026)
    proc = run_cli(["health", "compute", "--year", "2026"], city.env(), check=True)
    assert proc.stdout.splitlines()[0].endswith("  [indicators_changed]"), proc.stdout
    fresh = _comparisons(city, 2026)
    assert anew == fresh
    for unit in (hf.D1, hf.D2, "city"):
        assert hf.stored(city, 2025, "park_area_per_capita", unit)[0] is None
        assert hf.stored(city, 2026, "park_area_per_capita", unit)[0] is not None
        assert fresh[(INDEX, unit)][0] == 2025 and fresh[(INDEX, unit)][4] == \
            ["indicators_changed"], unit
    assert not any("indicators_changed" in r[4] for k, r in fresh.items() if k[0] != INDEX)
