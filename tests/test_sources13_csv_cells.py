"""A CSV row with more cells than its header has names: GDAL reads the cells up to the
header's last column and drops the rest without a word (a value holding the separator
unquoted shifts every cell after it). The load is refused naming the file, the row (as a
spreadsheet shows it: the header is row 1) and the cells that would be lost; empty trailing
cells (a spreadsheet's export) are no loss. Expected rows and cells by construction."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("src13cells", jining_profile) as db:
        yield db


def _poly(d, i: int) -> str:
    a, y = d.x0 + 30 * i, d.y0
    return f'"POLYGON(({a} {y},{a + 20} {y},{a + 20} {y + 20},{a} {y + 20},{a} {y}))"'


def test_extra_cells_refuse_the_load_naming_row_and_cells(d, tmp_path):
    path = tmp_path / "楼.csv"
    path.write_text("编号,名称,地上层数,WKT\n"
                    f"C1,甲楼,3,{_poly(d, 0)}\n"
                    f'C2,"两行\n的名称",4,{_poly(d, 1)}\n'
                    f"C3,济宁水务集团,二分公司,5,{_poly(d, 2)}\n", encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path)], d.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "楼.csv, row 4:" in proc.stderr and "5 cells where the header has 4" in proc.stderr
    assert "'POLYGON((" in proc.stderr.split("column (")[1], proc.stderr
    assert d.scalar("SELECT count(*) FROM buildings") == 0


def test_empty_cells_past_the_header_load(d, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("编号;地上层数;WKT\n"
                    f"E1;3;{_poly(d, 5)};;\n", encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path), "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert d.rows("SELECT floors_above FROM buildings") == [(3,)]
