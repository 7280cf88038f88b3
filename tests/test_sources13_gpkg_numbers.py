"""A GeoPackage number column holding a text, a blob or (INTEGER) a fraction: SQLite keeps
it, GDAL reads 0 for the text and the blob and the whole part of the fraction, without a
warning — 'abc' floors were loaded as 0, a height 'x1' as 0 m. The load is refused naming
the file, the row and the field with the value as delivered. The values are written into
the file by GDAL's own SQL (ogrinfo -sql), as a desktop GIS's field calculator writes them;
expected rows by construction (the fid written)."""

from __future__ import annotations

import shutil
import subprocess

import geopandas as gpd
import pytest
import shapely

from tests.conftest import run_cli, scratch_db

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="needs GDAL's ogrinfo")


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("src13num", jining_profile) as db:
        yield db


def _gpkg(d, path, updates: list[str]):
    n = 5
    polys = [shapely.box(d.x0 + 30 * i, d.y0, d.x0 + 30 * i + 20, d.y0 + 20) for i in range(n)]
    gpd.GeoDataFrame({"编号": [f"N{i + 1}" for i in range(n)],
                      "地上层数": [3, 4, 5, 6, 7], "建筑高度": [9.5, 12.0, 15.0, 18.0, 21.0]},
                     geometry=polys, crs="EPSG:4527").to_file(path, layer="buildings")
    for sql in updates:
        subprocess.run(["ogrinfo", "-q", str(path), "-sql", sql], check=True,
                       capture_output=True)
    return path


def test_a_text_in_a_number_column_refuses_the_load_naming_row_field_and_value(d, tmp_path):
    path = _gpkg(d, tmp_path / "楼.gpkg", [
        "UPDATE buildings SET 地上层数 = 'abc' WHERE fid = 2",
        "UPDATE buildings SET 建筑高度 = 'x1' WHERE fid = 4"])
    proc = run_cli(["load", "buildings", str(path)], d.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    err = proc.stderr
    assert "楼.gpkg, row 2, field '地上层数'" in err and "'abc'" in err, err
    assert "建筑高度 (row 4)" in err, err
    assert d.scalar("SELECT count(*) FROM buildings") == 0


def test_a_fraction_in_an_integer_column_and_a_blank_height_refuse_it_too(d, tmp_path):
    path = _gpkg(d, tmp_path / "b.gpkg", [
        "UPDATE buildings SET 建筑高度 = '' WHERE fid = 1",
        "UPDATE buildings SET 地上层数 = 3.7 WHERE fid = 3"])
    proc = run_cli(["load", "buildings", str(path)], d.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "row 1, field '建筑高度'" in proc.stderr and "the text ''" in proc.stderr
    assert "地上层数 (row 3)" in proc.stderr, proc.stderr
    assert d.scalar("SELECT count(*) FROM buildings") == 0


def test_numbers_as_written_load_as_they_are(d, tmp_path):
    path = _gpkg(d, tmp_path / "ok.gpkg", [])
    proc = run_cli(["load", "buildings", str(path), "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert sorted(d.rows("SELECT floors_above, height FROM buildings")) == [
        (3, 9.5), (4, 12.0), (5, 15.0), (6, 18.0), (7, 21.0)]
