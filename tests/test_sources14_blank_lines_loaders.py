"""The layers' own loaders number a text table's rows as the reader does: after an empty
line (which GDAL skips and a spreadsheet shows as a row), a planning parcel's reject named
the row above it — `batch.first_row + i` instead of the batch's own row numbers. A WKT CSV
written by hand; the expected row counted on the lines written (header = row 1)."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import box

from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("blank14", jining_profile) as db:
        yield db


def test_a_parcel_after_an_empty_line_is_rejected_naming_its_spreadsheet_row(d, tmp_path):
    x, y = d.x0 - 150, d.y0 - 150
    squares = [box(x + 25 * i, y, x + 25 * i + 20, y + 20).wkt for i in range(3)]
    path = tmp_path / "控规.csv"
    path.write_text("地块编码,用地代码,容积率,WKT\n"           # row 1
                    f'P1,0701,2.5,"{squares[0]}"\n'          # row 2
                    "\n"                                     # row 3: empty
                    f'P2,0701,abc,"{squares[1]}"\n'          # row 4: a bad FAR
                    f'P3,0701,2.0,"{squares[2]}"\n', encoding="utf-8")  # row 5
    p = run_cli(["load", "planning", str(path), "--kind", "parcels", "--crs", "EPSG:4527",
                 "--json"], d.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"], r["rejected"]) == (3, 2, 1), r
    assert d.rows("SELECT row_number FROM load_rejects WHERE batch_id = %s",
                  (r["batch_id"],)) == [(4,)]
