"""A problem reported on a pipe (a pipe point or segment as its asset) was an internal error
(CLI) or a 500 (HTTP): the case took ST_PointOnSurface of the 3D pipe, and the 2D cases table
refused its Z. A case is placed where every asset is placed (sensors, risk points): a point
itself, a line's middle, 2D. Expected: the asset's own geometry from PostGIS, its middle by
shapely."""

from __future__ import annotations

import psycopg
import shapely

from layers.cases import sources
from tests.test_cases import people


def test_a_problem_on_a_pipe_is_placed_at_the_pipe(db):
    with psycopg.connect(db.conninfo) as conn:
        insp = people("x")["监督员"]
        for table in ("pipe_points", "pipe_segments"):
            code, wkb = conn.execute(
                f"SELECT code, ST_AsBinary(geom) FROM {table} WHERE valid_to IS NULL "  # noqa: S608
                "ORDER BY code LIMIT 1").fetchone()
            g = shapely.force_2d(shapely.from_wkb(bytes(wkb)))
            want = g if g.geom_type == "Point" else g.interpolate(0.5, normalized=True)
            out = sources.report_problem(conn, insp, source="巡查上报", category_code="0501",
                                         asset_code=code, description="井盖破损")
            x, y, dims = conn.execute("SELECT ST_X(geom), ST_Y(geom), ST_NDims(geom) FROM cases "
                                      "WHERE code = %s", (out["code"],)).fetchone()
            assert dims == 2
            assert shapely.Point(x, y).distance(want) < 1e-6, (table, x, y, want)
        conn.rollback()
