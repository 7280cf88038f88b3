"""`cim case evaluate --by grid|unit` names the row of the cases in no grid cell (a city's grid
need not cover its districts) or with no unit '-', as `cim case show` and `list` do: it
printed Python's ``None``."""

from __future__ import annotations

import psycopg

from layers.cases import store
from tests.cases_fixture import case_fixtures
from tests.conftest import run_cli

sdb, conn = case_fixtures("cases12_cli_text")


def test_evaluate_names_the_row_of_no_grid_cell_with_a_dash(sdb):
    with psycopg.connect(sdb.conninfo) as c:
        code, x, y = c.execute(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            "FROM grid_cells WHERE valid_to IS NULL AND code <> %s ORDER BY code LIMIT 1",
            (sdb.cell,)).fetchone()
        c.execute("UPDATE grid_cells SET valid_to = now() WHERE code = %s", (code,))
        case = store.open_case(c, source="巡查上报", category_code="0501", actor="insp",
                               role="监督员", point=(x, y))
    assert case["grid_code"] is None
    out = run_cli(["case", "evaluate", "--from", "2000-01-01", "--to", "2100-01-01", "--by",
                   "grid"], sdb.env(), check=True).stdout
    rows = out.splitlines()
    assert "None" not in out, out
    # one row of the cell-less case, named '-', and the total
    assert any(r.split()[0] == "-" and "上报     1" in r for r in rows), out
