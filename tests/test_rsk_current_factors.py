"""A risk point's ``attrs`` show the factors of the current assessment. A point whose grade
did not change kept the factors of the assessment that wrote its version: a year later the
1980 gas main still showed age 46 in 2027, and a house built beside it since was not among
its exposure (a helper's probe). Expected values by construction: age = year − 1980; the
house is 20 m from the main (radius 100 m), one building, under the 10 of the matrix's first
step, so the grade stays as it was."""

from __future__ import annotations

import datetime as dt

import psycopg
import shapely
import shapely.affinity
from shapely.geometry import box

from tests.risk_fixture import X0, Y0, insert_gas_main


def test_unchanged_point_shows_this_assessments_factors(fresh_db):
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    cfg = load_config(fresh_db.profile)
    with psycopg.connect(fresh_db.conninfo) as conn:
        insert_gas_main(conn)
    assess(fresh_db.conninfo, cfg, 2026, dt.date(2026, 3, 1))

    def point():
        return fresh_db.rows("SELECT id, level, attrs FROM risk_points WHERE valid_to IS NULL")

    (id1, level1, attrs1), = point()
    assert attrs1["likelihood"]["age_years"] == 2026 - 1980
    assert attrs1["consequence"]["exposure"]["buildings"] == 0
    house = shapely.affinity.translate(box(40, 20, 60, 30), X0, Y0)
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("INSERT INTO buildings (code, use_code, geom) VALUES "
                     "('H1', '01', ST_Multi(ST_GeomFromWKB(%s, 4527)))", (shapely.to_wkb(house),))
    r = assess(fresh_db.conninfo, cfg, 2027, dt.date(2027, 3, 1))
    assert r["changes"]["unchanged"] == 1  # the same grade: no new version
    (id2, level2, attrs2), = point()
    assert (id2, level2) == (id1, level1)
    assert attrs2["likelihood"]["age_years"] == 2027 - 1980
    assert attrs2["consequence"]["exposure"]["buildings"] == 1
    # the point shows what the run recorded
    factors = fresh_db.scalar("SELECT factors FROM risk_assessments WHERE run_id = %s",
                              (r["run_id"],))
    assert {k: attrs2[k] for k in ("likelihood", "consequence")} == factors
