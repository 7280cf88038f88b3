"""A load reads its context (the CRS told from the coordinates when the file has none) from
its first 2,000 features — unless some of them have no geometry: then from its first batch,
as before (review 14: a CSV whose first 2,500 rows had an empty WKT was refused "no CRS and
it cannot be told" where the batch's later rows told it). The rows are written here; the
zone (EPSG:4527, 3-degree zone 39) is known by construction of the eastings."""

from __future__ import annotations

import json

import pytest
import shapely

from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("peek14", jining_profile) as db:
        yield db


def test_rows_without_geometry_first_leave_the_crs_to_the_rows_after_them(d, tmp_path):
    lines = ["编号,WKT"] + [f"E{i},"for i in range(2_500)]
    lines += [f'B{i},"{shapely.box(d.x0 + 30 * i, d.y0, d.x0 + 30 * i + 20, d.y0 + 20).wkt}"'
              for i in range(5)]
    path = tmp_path / "无坐标系.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = run_cli(["load", "buildings", str(path), "--json"], d.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"], r["rejected"]) == (2_505, 5, 2_500), r
    assert "EPSG:4527 detected" in " ".join(r["notes"]), r["notes"]
