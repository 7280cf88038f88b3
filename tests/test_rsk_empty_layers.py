"""A base layer the consequence counts but that holds no current feature (never loaded: the
migrations make every layer's table, so none is ever "missing") adds nothing to the
consequence, and the assessment says so in its notes; they were empty, the consequence
silently understated. The published matrix counts buildings, population, facilities and
roads; here only buildings are loaded."""

from __future__ import annotations

import datetime as dt

import psycopg
import shapely
from shapely.geometry import Point

from tests.risk_fixture import X0, Y0, insert_gas_main


def test_empty_base_layers_are_named_in_the_notes(fresh_db):
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    home = shapely.affinity.translate(Point(50, 20), X0, Y0).buffer(3, quad_segs=1)
    with psycopg.connect(fresh_db.conninfo) as conn:
        insert_gas_main(conn)
        conn.execute("INSERT INTO buildings (code, geom) VALUES ('B1', ST_Multi("
                     "ST_GeomFromWKB(%s, 4527)))", (shapely.to_wkb(home),))
        conn.execute("INSERT INTO facilities (code, name, facility_type, facility_type_code, "
                     "geom, valid_to) VALUES ('S1', 'S1', '小学', 'primary_school', "
                     "ST_GeomFromWKB(%s, 4527), now())",  # retired: no current feature
                     (shapely.to_wkb(shapely.affinity.translate(Point(50, 10), X0, Y0)),))
    out = assess(fresh_db.conninfo, load_config(fresh_db.profile), 2026, dt.date(2026, 12, 5))
    assert out["total"] == 1
    named = {n.split()[1] for n in out["notes"] if n.startswith("layer ")}
    assert named == {"population", "facilities", "roads"}, out["notes"]
