"""A zipped Shapefile's .dbf had its encoding decided by nobody (the reader looked for a .dbf
beside a .shp only): field names a writer cut inside a UTF-8 character (建筑名称 → 10 bytes)
refused the load saying "not UTF-8 … save it as UTF-8 (--encoding applies to a Shapefile's
.dbf only)", and a GBK .dbf without .cpg was read as GDAL's ISO-8859-1. The zip's .dbf is
decided as the one beside a .shp is. Expected names and values by construction."""

from __future__ import annotations

import subprocess
import zipfile

import geopandas as gpd
import pytest
import shapely

from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("src13zip", jining_profile) as db:
        yield db


def _zip(d, tmp_path, name: str, encoding: str, dy: int, cpg: bool = True):
    folder = tmp_path / name
    folder.mkdir()
    polys = [shapely.box(d.x0 + 30 * i, d.y0 + dy, d.x0 + 30 * i + 20, d.y0 + dy + 20)
             for i in range(2)]
    frame = gpd.GeoDataFrame({"编号": ["Z1", "Z2"], "建筑名称": ["甲楼", "乙楼"],
                              "地上层数": [3, 4]}, geometry=polys, crs="EPSG:4527")
    if encoding == "utf-8":
        # by ogr2ogr in a process of its own: in the test session's process an earlier
        # test's GDAL state had the .dbf written in GBK whatever the encoding said (seen in
        # the full suite only); the names cut at 10 bytes, as a UTF-8 writer cuts them
        gpkg = tmp_path / f"{name}.gpkg"
        frame.to_file(gpkg)
        subprocess.run(["ogr2ogr", "-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8",
                        str(folder / "楼.shp"), str(gpkg)], check=True, capture_output=True)
        assert len("地上层数".encode()) > 10 and (folder / "楼.dbf").read_bytes().find(
            "地上层".encode()) > 0  # cut at 10 bytes, as the test means
    else:
        frame.to_file(folder / "楼.shp", encoding=encoding)
    if not cpg:
        (folder / "楼.cpg").unlink()
    out = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    return out


def _stored(d, dataset):
    return d.rows("SELECT source_key, name, floors_above FROM buildings "
                  "WHERE source_key LIKE %s ORDER BY 1", (dataset + ":%",))


def test_a_zipped_utf8_shapefile_with_cut_names_loads(d, tmp_path):
    path = _zip(d, tmp_path, "u8", "utf-8", 0)
    proc = run_cli(["load", "buildings", str(path), "--dataset", "u"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert _stored(d, "u") == [("u:Z1", "甲楼", 3), ("u:Z2", "乙楼", 4)]


def test_a_zipped_gbk_shapefile_without_cpg_loads_its_names(d, tmp_path):
    path = _zip(d, tmp_path, "gbk", "gbk", 40, cpg=False)
    proc = run_cli(["load", "buildings", str(path), "--dataset", "g"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert _stored(d, "g") == [("g:Z1", "甲楼", 3), ("g:Z2", "乙楼", 4)]
