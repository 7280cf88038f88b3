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
