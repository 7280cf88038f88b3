"""A CSV with WKT footprints numbered its rows from its first data row (row 1), while the
survey tables' reader — X/Y tables, population, pipes — numbers them as a spreadsheet shows
them (the header is row 1), as README says of every table: a reject said "row 2" of the row
a surveyor finds on row 3. Expected rows by construction (the lines written)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("src13rows", jining_profile) as db:
        yield db


def test_a_wkt_csv_reject_names_the_row_a_spreadsheet_shows(d, tmp_path):
    x, y = d.x0, d.y0
    ok = f'"POLYGON(({x} {y},{x + 20} {y},{x + 20} {y + 20},{x} {y + 20},{x} {y}))"'
    path = tmp_path / "楼.csv"
    path.write_text("编号,名称,WKT\n"
                    f'R1,"两行\n的名称",{ok}\n'          # row 2 (over two lines)
                    'R2,乙,"POLYGON((1 2,3"\n'         # row 3
                    "R3,丙,\n", encoding="utf-8")       # row 4
    proc = run_cli(["load", "buildings", str(path), "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    got = d.rows("SELECT row_number, reason, field FROM load_rejects ORDER BY row_number")
    assert got == [(3, "invalid_geometry", "WKT"), (4, "empty_geometry", "WKT")], got
