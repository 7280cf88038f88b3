"""A district whose boundary changed (a new version of the districts): 人均公园绿地面积 took the
park area inside the new boundary over the residents of the rows' ``district_code`` — the
district each row was assigned when it was loaded, under the old boundary. After moving a
strip of D1 with its residents to D2, D2's parks grew and its residents did not (a helper's
probe on the sample: 137.9 → 239.5 m²/人 for 微山县 where 42.0 was right). Residents now
follow the current polygons: a unit inside a district wholly, one a boundary cuts by the
share of its area inside, as the park area is clipped.

Expected values by shapely on the fixture's geometry: the boundary moves from x = 2000 to
x = 1100 (P2, box(1110, 475, 1160, 525), changes district); residents are three grid rows
loaded under the old boundary."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import Point, box

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import (
    _wkb,
    city_db,  # noqa: F401 - fixture `city`
)
from tests.test_health import _by_unit, _ind

NEW = {hf.D1: box(0, 0, 1100, 1000), hf.D2: box(1100, 0, 3000, 1000)}
# (unit, residents, footprint, district when loaded)
UNITS = [("U1", 1000, box(0, 0, 1000, 1000), hf.D1), ("U2", 600, box(1000, 0, 2000, 1000), hf.D1),
         ("U3", 400, box(2000, 0, 3000, 1000), hf.D2)]


def test_residents_follow_the_new_boundary(city):
    with psycopg.connect(city.conninfo) as conn:
        for code, n, g, d in UNITS:
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, geom) VALUES (%s, 'grid', %s, %s, 2026, %s,"
                         " ST_GeomFromWKB(%s, 4527))", (f"P{code}", code, n, d, _wkb(g)))
        conn.execute("UPDATE admin_divisions SET valid_to = now() WHERE valid_to IS NULL")
        for code, g in NEW.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, f"区{code}", _wkb(g)))
    parks = {d: sum(g.intersection(poly).area for g, _ in hf.PARKS.values())
             for d, poly in NEW.items()}
    residents = {d: sum(n * g.intersection(poly).area / g.area for _, n, g, _ in UNITS)
                 for d, poly in NEW.items()}
    assert (parks[hf.D1], parks[hf.D2]) == (9_000, 5_000)
    assert residents[hf.D1] == pytest.approx(1060) and residents[hf.D2] == pytest.approx(940)
    per_capita = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                               "park_area_per_capita"))
    for d in NEW:
        assert per_capita[d]["value"] == pytest.approx(parks[d] / residents[d], abs=1e-6)
        assert per_capita[d]["flags"] == []
    assert per_capita["city"]["value"] == pytest.approx(14_000 / 2_000)


def test_features_counted_in_the_district_they_lie_in_now(city):
    """The boundary moves from x = 2000 to x = 280: every pipe (x 300–500), the homes
    H300…H850 and the component C2 now lie in D2; they were loaded with D1's code. By hand
    (tests/health_fixture.py): pipes aged S1 100 m (排水, 56 a) + S3 50 m (燃气, 36 a) over
    the 350 m of known year (S4's year unknown); combined sewer S1 100 m of 300 m drainage;
    C1 (完好) stays in D1, C2 (破损) moves; H300 is made an 85 m home of 2026."""
    with psycopg.connect(city.conninfo) as conn:
        for code, x, state in (("C1", 100, "完好"), ("C2", 500, "破损")):
            conn.execute("INSERT INTO components (code, state, subclass_code, subclass_name,"
                         " major_code, grid_code, district_code, geom) VALUES (%s, %s, '0101',"
                         " '上水井盖', '01', 'G', %s, ST_GeomFromWKB(%s, 4527))",
                         (code, state, hf.D1, _wkb(Point(x, 100))))
        conn.execute("UPDATE buildings SET height = 85, year_built = 2026 WHERE code = 'H300'")
        conn.execute("UPDATE admin_divisions SET valid_to = now() WHERE valid_to IS NULL")
        for code, g in {hf.D1: box(0, 0, 280, 1000), hf.D2: box(280, 0, 3000, 1000)}.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, f"区{code}", _wkb(g)))
    result = compute(city.conninfo, 2026, city.profile, store=False)
    aging = _by_unit(_ind(result, "pipe_aging_rate"))
    assert aging[hf.D1]["value"] is None
    assert aging[hf.D2]["value"] == aging["city"]["value"] == pytest.approx(
        100 * 150 / 350, abs=1e-6)
    combined = _by_unit(_ind(result, "combined_sewer_share"))
    assert combined[hf.D1]["value"] is None
    assert combined[hf.D2]["value"] == pytest.approx(100 * 100 / 300, abs=1e-6)
    intact = _by_unit(_ind(result, "component_intact_rate"))
    assert (intact[hf.D1]["value"], intact[hf.D2]["value"], intact["city"]["value"]) == (
        100, 0, 50)
    high = _by_unit(_ind(result, "new_high_rise_residential"))
    assert (high[hf.D1]["value"], high[hf.D2]["value"]) == (0, 1)
    park = _by_unit(_ind(result, "park_service_coverage"))
    assert park[hf.D1]["value"] is None  # no home left in D1
    assert park[hf.D2]["value"] == pytest.approx(hf.expected_coverage()["city"], abs=1e-5)


def test_a_change_against_a_year_of_other_boundaries_is_flagged(city):
    """2025 stored under the old boundaries, 2026 after D1 handed D2 the strip x 1100–2000:
    建成区绿地率's change compares two different areas in both districts (and the city's,
    whose outline is the same: not flagged). A rerun without a change flags nothing."""
    compute(city.conninfo, 2025, city.profile)
    again = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                          "green_space_ratio"))
    assert all("boundary_changed" not in again[u]["flags"] for u in (hf.D1, hf.D2, "city"))
    with psycopg.connect(city.conninfo) as conn:
        conn.execute("UPDATE admin_divisions SET valid_to = now() WHERE valid_to IS NULL")
        for code, g in NEW.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, f"区{code}", _wkb(g)))
    result = compute(city.conninfo, 2026, city.profile)
    green = _by_unit(_ind(result, "green_space_ratio"))
    for d in (hf.D1, hf.D2):
        assert green[d]["previous_value"] is not None and "boundary_changed" in green[d]["flags"]
    assert "boundary_changed" not in green["city"]["flags"]
    assert result["index"]["units"][hf.D1]["boundary_changed"] is True
    assert result["index"]["units"]["city"]["boundary_changed"] is False
