"""Residents per building and per grid cell of the same year are counted once (a cell's figure
holds its buildings' residents; summed as stored they counted twice: a helper's probe), and a
unit delivered twice for a year counts its last delivery only.

By construction, in D1 for 2026: cell C1 reports 1,000 residents; its buildings B1 (300, then
310 in a later delivery) and B2 (200) → 310 + 200 + (1,000 − 510) = 1,000. Cell C2 reports
100, its building B3 150 (the cell's figure is older than the building's) → 150. D1 counts
1,150; its parks inside it are 11,500 m² (tests/health_fixture.py)."""

from __future__ import annotations

import psycopg
import pytest

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind

# (row code, kind, unit code, residents, grid code, seconds after now the row was loaded)
ROWS = [("R1", "grid", "C1", 1000, "C1", 0), ("R2", "building", "B1", 300, "C1", 0),
        ("R3", "building", "B2", 200, "C1", 0), ("R4", "grid", "C2", 100, "C2", 0),
        ("R5", "building", "B3", 150, "C2", 0), ("R6", "building", "B1", 310, "C1", 5)]


def test_building_and_cell_residents_are_counted_once(city):
    with psycopg.connect(city.conninfo) as conn:
        for code, kind, unit, n, cell, later in ROWS:
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, grid_code, valid_from, geom) SELECT %s, %s, %s, %s,"
                         " 2026, code, %s, now() + make_interval(secs => %s), geom"
                         " FROM admin_divisions WHERE code = %s",
                         (code, kind, unit, n, cell, later, hf.D1))
    residents = (310 + 200 + (1000 - 510)) + 150
    assert residents == 1150
    per_capita = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                               "park_area_per_capita"))
    assert per_capita[hf.D1]["value"] == pytest.approx(11_500 / residents)
    assert per_capita["city"]["value"] == pytest.approx(11_500 / residents)
