"""A case reported with a point (or an asset) and a grid cell that does not contain it was
filed under the given cell and the point's district: listed, and counted by the evaluation,
in a cell it is not in. It is refused naming the cell the point lies in; a point on the
given cell's edge, or the cell alone, is taken; a sensor alarm's case (role system) takes
the cell its point lies in. Cells and points from the grid itself, with shapely."""

from __future__ import annotations

import psycopg
import pytest
import shapely

from cim.errors import InputError
from layers.cases import store
from tests.conftest import scratch_db


def test_a_grid_cell_not_containing_the_point_is_refused(jining_profile):
    with scratch_db("opsplace", jining_profile) as d, psycopg.connect(d.conninfo) as conn:
        cells = {code: shapely.from_wkb(bytes(g)) for code, g in conn.execute(
            "SELECT code, ST_AsBinary(geom) FROM grid_cells WHERE valid_to IS NULL")}
        a = min(cells)
        inside = cells[a].representative_point()
        far = next(c for c in sorted(cells) if cells[c].distance(cells[a]) > 0)
        near = next(c for c in sorted(cells) if c != a and cells[c].touches(cells[a])
                    and cells[c].intersection(cells[a]).length > 0)
        edge = cells[a].intersection(cells[near]).interpolate(0.5, normalized=True)

        def report(point, grid, role="监督员"):
            return store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                                   role=role, point=(point.x, point.y), grid_code=grid)

        with pytest.raises(InputError) as exc:
            report(inside, far)
        assert exc.value.field == "grid" and a in exc.value.message \
            and far in exc.value.message
        assert report(inside, a)["grid_code"] == a
        assert report(edge, near)["grid_code"] == near  # on the edge: in both cells
        # a sensor's stale registered cell: the cell its point lies in
        assert report(inside, far, role="system")["grid_code"] == a
        conn.rollback()
