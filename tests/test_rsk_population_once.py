"""The consequence of a risk point counts residents per building and per grid cell once, as
the health check does (layers/health/population.py): a cell's figure holds its buildings'
residents, and summed as stored they counted twice (a helper's probe).

By construction: the 1980 gas main of tests/risk_fixture.py runs 100 m east from (X0, Y0);
grid cell C1 = box(0, −50, 100, 50) around it (inside its 100 m radius) reports 1,500
residents, building B1 in it 600 → 1,500 within the radius, which is population step
``min: 500`` (+1) of the published matrix; counted twice (2,100) it was step ``min: 2000``."""

from __future__ import annotations

import datetime as dt

import psycopg
import shapely
import shapely.affinity
from shapely.geometry import box

from tests.risk_fixture import X0, Y0, insert_gas_main


def _wkb(g) -> bytes:
    return shapely.to_wkb(shapely.affinity.translate(g, X0, Y0))


def test_building_and_cell_residents_count_once_in_the_exposure(fresh_db):
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    with psycopg.connect(fresh_db.conninfo) as conn:
        insert_gas_main(conn)
        for code, kind, unit, n, geom in (("R1", "grid", "C1", 1500, box(0, -50, 100, 50)),
                                          ("R2", "building", "B1", 600, box(10, 10, 30, 30))):
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " grid_code, geom) VALUES (%s, %s, %s, %s, 2026, 'C1',"
                         " ST_GeomFromWKB(%s, 4527))", (code, kind, unit, n, _wkb(geom)))
    assess(fresh_db.conninfo, load_config(fresh_db.profile), 2026, dt.date(2026, 3, 1))
    attrs, = fresh_db.rows("SELECT attrs FROM risk_points WHERE valid_to IS NULL")
    cons = attrs[0]["consequence"]
    assert cons["exposure"]["residents"] == 1500
    assert cons["population"] == 1


def test_each_district_takes_its_own_latest_year_up_to_the_assessments(fresh_db):
    """C1 (任城区 370811, around the main) was delivered for 2025 with 1,500 residents;
    another district (370826) for 2026, and 任城区 again for 2027 (after the assessment's
    year, 9,999). One city-wide latest year (2027, or 2026 without it) left the main with no
    residents: 1,500 of 2025 are its exposure in a 2026 assessment."""
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    far = box(50_000, 50_000, 50_100, 50_100)
    with psycopg.connect(fresh_db.conninfo) as conn:
        insert_gas_main(conn)
        for code, n, year, district, geom in (
                ("R1", 1500, 2025, "370811", box(0, -50, 100, 50)),
                ("R2", 800, 2026, "370826", far),
                ("R3", 9999, 2027, "370811", box(0, -50, 100, 50))):
            conn.execute("INSERT INTO population (code, unit_kind, unit_code, residents, year,"
                         " district_code, geom) VALUES (%s, 'grid', %s, %s, %s, %s,"
                         " ST_GeomFromWKB(%s, 4527))", (code, code, n, year, district,
                                                          _wkb(geom)))
    assess(fresh_db.conninfo, load_config(fresh_db.profile), 2026, dt.date(2026, 3, 1))
    attrs, = fresh_db.rows("SELECT attrs FROM risk_points WHERE valid_to IS NULL")
    assert attrs[0]["consequence"]["exposure"]["residents"] == 1500
