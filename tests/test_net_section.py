"""Cross-section of pipes delivered with burial depths (埋深) but no heights: a GIS file
without Z, no elevation columns, no ground elevations. The depth at the crossing is the
delivered depths at the pipe's ends interpolated by plan position (hand arithmetic below);
it was dropped (None) because ground − pipe elevation could not be formed.
"""

from __future__ import annotations

import psycopg
import shapely

from tests.conftest import drop_database, make_db, server_url
from tests.test_query_pipes import _seg, _storage_wkt

E, N = 39_483_000.0, 3_921_000.0


def test_section_depth_from_the_delivered_depths_where_heights_are_unknown(jining_profile):
    from layers.query.section import section

    d = make_db("net_section", jining_profile, apply_profile=False)
    try:
        with psycopg.connect(d.conninfo) as conn:
            # T1 water N-S at E+10 from N−10 to N+30, depth 1.0 → 1.4: the line y = N meets
            # it a quarter along (10 of 40 m) → 1.0 + 0.25 × 0.4 = 1.1
            _seg(conn, "T1", "01", [(E + 10, N - 10, 0.0), (E + 10, N + 30, 0.0)], d=200,
                 flags=["no_z"], sd=1.0, ed=1.4)
            # T2 drain at E+20, depth 2.0 at both ends → 2.0; T3 with no depth → None
            _seg(conn, "T2", "02", [(E + 20, N - 10, 0.0), (E + 20, N + 10, 0.0)], d=400,
                 flags=["no_z"], sd=2.0, ed=2.0)
            _seg(conn, "T3", "02", [(E + 30, N - 10, 0.0), (E + 30, N + 10, 0.0)], d=400,
                 flags=["no_z"])
        line = shapely.LineString([(E, N), (E + 40, N)])
        rows = section(d.conninfo, _storage_wkt(line), "EPSG:4527")["rows"]
        got = [(r["segment_code"], r["offset_m"], r["pipe_elev"], r["depth"]) for r in rows]
        assert got == [("T1", 10.0, None, 1.1), ("T2", 20.0, None, 2.0),
                       ("T3", 30.0, None, None)]
    finally:
        drop_database(server_url(), d.name)
