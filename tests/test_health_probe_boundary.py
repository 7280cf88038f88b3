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
from shapely.geometry import box

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
