"""Risk grading's exposure on a circle (layers/risk/grade.py): residents of a polygon unit
straddling the radius count by the share of its area within the radius, the circle drawn
fine enough (≤ 5 mm inside the true circle) that the share is right to a resident or two.

A manual point at (X, Y) in 任城区; a 4 × 4 m home centred on the 100 m circle, 1,100
residents: about half of them (≈ 550) within 100 m, ≥ 500 adds 1 to the consequence
(cim/dictionaries/risk_matrix.yaml). The expected share is the home's area inside a circle
of 16,384 segments (within 2 µm of the true circle), computed here with shapely.
"""

from __future__ import annotations

import math

import psycopg
import pyproj
import pytest
import shapely
import yaml
from shapely.geometry import Point, box

X, Y = 39_463_000.0, 3_916_000.0
RESIDENTS = 1100
HALF = 2.0  # the home is 4 × 4 m


def _matrix() -> dict:
    with open("cim/dictionaries/risk_matrix.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize("angle", [5.625, 37.3])  # 5.625°: mid-way between two vertices of
def test_residents_of_a_home_straddling_the_radius(fresh_db, angle):  # an 8-a-quarter circle
    from layers.risk.config import load_config
    from layers.risk.manual import add_point

    m = _matrix()
    r = float(m["consequence"]["radius_m"])
    a = math.radians(angle)
    cx, cy = X + r * math.cos(a), Y + r * math.sin(a)
    home = box(cx - HALF, cy - HALF, cx + HALF, cy + HALF)
    disk = Point(X, Y).buffer(r, quad_segs=4096)
    expected = RESIDENTS * home.intersection(disk).area / home.area
    assert 500 < expected < 560  # about half, over the matrix's 500
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year, "
                     "district_code, geom) VALUES ('POP1', 'building', 'B1', %s, 2026, '370811', "
                     "ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                     (RESIDENTS, shapely.to_wkb(home)))
    lon, lat = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490",
                                           always_xy=True).transform(X, Y)
    got = add_point(fresh_db.conninfo, load_config(fresh_db.profile), "0501",
                    point=(lon, lat), likelihood=3, unit="测试")
    residents = fresh_db.scalar(
        "SELECT (factors->'consequence'->'exposure'->>'residents')::float "
        "FROM risk_assessments ORDER BY id DESC LIMIT 1")
    # a circle ≤ 5 mm inside the true one misses ≤ 4 m × 5 mm of the home; stored to 0.1
    assert residents == pytest.approx(expected, abs=RESIDENTS * 4 * 0.005 / 16 + 0.05)
    base = int(m["consequence"]["base"])
    assert got["consequence"] == base + 1, (got, residents, expected)
    level = m["matrix"][3][base]  # likelihood 3, consequence base + 1
    assert got["level"] == level and got["color"] == m["levels"][level]["color"]
