"""A point placed by hand and regraded by a later assessment gets the new level's deadline,
as a rule point does (layers/risk/grade.py): it kept the deadline of the level it was added
at — a 低 point (365 days) regraded 一般 by 30 new buildings around it still had a year.

The point: likelihood 3 at (X, Y) in 任城区 with nothing around (consequence = base 1); then
30 buildings within 10–60 m of it (the published matrix: ≥ 30 buildings add 2 → 3). Levels
and deadlines read from cim/dictionaries/risk_matrix.yaml here."""

from __future__ import annotations

import datetime as dt

import psycopg
import pyproj
import shapely
import yaml
from shapely.geometry import Point

X, Y = 39_465_000.0, 3_917_000.0


def test_manual_point_regraded_gets_the_new_levels_deadline(fresh_db):
    from layers.risk.assess import assess
    from layers.risk.config import load_config
    from layers.risk.manual import add_point

    with open("cim/dictionaries/risk_matrix.yaml", encoding="utf-8") as f:
        m = yaml.safe_load(f)
    c = m["consequence"]
    n_buildings, add = c["buildings"][0]["min"], c["buildings"][0]["add"]
    assert (n_buildings, add) == (30, 2)
    low = m["matrix"][3][c["base"] - 1]
    high = m["matrix"][3][c["base"] + add - 1]
    assert low != high
    cfg = load_config(fresh_db.profile)
    day1, day2, day3 = dt.date(2026, 1, 10), dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    lon, lat = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490",
                                           always_xy=True).transform(X, Y)
    got = add_point(fresh_db.conninfo, cfg, "0301", point=(lon, lat), likelihood=3,
                    unit="区住建局", today=day1)
    assert got["level"] == low
    code = got["code"]

    def current():
        return fresh_db.rows("SELECT level, deadline FROM risk_points WHERE code = %s AND "
                             "valid_to IS NULL", (code,))[0]

    assert current() == (low, day1 + dt.timedelta(days=m["levels"][low]["deadline_days"]))
    with psycopg.connect(fresh_db.conninfo) as conn:
        for i in range(n_buildings):
            p = Point(X - 45 + 10 * (i % 10), Y + 10 + 15 * (i // 10)).buffer(2, quad_segs=1)
            assert p.distance(Point(X, Y)) < c["radius_m"]
            conn.execute("INSERT INTO buildings (code, geom) VALUES (%s, ST_Multi("
                         "ST_GeomFromWKB(%s, 4527)))", (f"B{i}", shapely.to_wkb(p)))
    assess(fresh_db.conninfo, cfg, 2026, day2)
    due = day2 + dt.timedelta(days=m["levels"][high]["deadline_days"])
    assert current() == (high, due)
    assess(fresh_db.conninfo, cfg, 2026, day3)  # level unchanged: the deadline stays
    assert current() == (high, due)
