"""A project delivered as Shapefiles (a folder of 用地红线.shp, 建筑.shp …, or one of them) with
a GBK .dbf and no .cpg, as CAD/GIS desks export them: `cim check` refused any Shapefile, and
a .dbf cuts field names to 10 bytes — 计容建筑面积 arrives as 计容建筑面, floors_above as
floors_abo — which the check then ignored without a word (the FAR taken from floors ×
footprint instead of the counted area given). A field the check does not read is now named
in the notes. Expected values by hand from the drawn boxes and the given areas."""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box

from tests import approval_fixture
from tests.approval_fixture import PARCELS, SRID, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE = box(0, 0, 100, 100)  # on parcel PA (FAR ≤ 2.0)
B1 = box(10, 10, 30, 40)    # 600 m²


def _write(folder, layer: str, attrs: dict, geom) -> None:
    gdf = gpd.GeoDataFrame([attrs], geometry=[to_storage(geom)], crs=SRID)
    pyogrio.write_dataframe(gdf, folder / f"{layer}.shp", encoding="GBK")
    (folder / f"{layer}.cpg").unlink(missing_ok=True)  # as desks deliver them: no .cpg


def _project(tmp_path, building: dict):
    folder = tmp_path / "汇景苑"
    folder.mkdir()
    _write(folder, "用地红线", {"名称": "汇景苑用地"}, SITE)
    _write(folder, "建筑", building, B1)
    return folder


def _check(adb, path, *extra):
    proc = run_cli(["check", str(path), "--json", *extra], adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_a_folder_of_gbk_shapefiles_is_checked_with_its_counted_area(adb, tmp_path):
    counted = 25_000.0  # FAR 2.5 > 2.0; floors × footprint would be 10 × 600 = 0.6
    folder = _project(tmp_path, {"名称": "1号楼", "计容建筑面积": counted, "地上层数": 10,
                                 "建筑高度": 30.0, "建筑层数": 10})
    assert b"\xbc\xc6\xc8\xdd" in (folder / "建筑.dbf").read_bytes()  # 计容 in GBK
    res = _check(adb, folder, "--no-record")
    b = res["project"]["buildings"][0]
    assert (b["name"], b["counted_area_m2"], b["counted_area_from"]) == ("1号楼", counted,
                                                                          "given")
    far = next(r for r in res["results"] if r["id"] == "far")
    assert (far["status"], far["measured"], far["required"]) == \
        ("fail", counted / SITE.area, PARCELS["PA"][2])
    notes = " | ".join(res["project"]["notes"])
    assert "建筑.shp: attribute encoding GB" in notes, notes
    assert "layer '建筑': field(s) 建筑层数 not read" in notes, notes


def test_english_names_cut_to_ten_bytes_are_read(adb, tmp_path):
    folder = _project(tmp_path, {"name": "A", "floors_above": 12, "height": 36.0,
                                 "counted_area": 9_000.0, "ground_elevation": 35.5})
    res = _check(adb, folder, "--no-record")
    b = res["project"]["buildings"][0]
    assert (b["floors_above"], b["counted_area_m2"]) == (12, 9_000.0)
    assert not any("not read" in n for n in res["project"]["notes"]), res["project"]["notes"]


def test_the_checksum_covers_the_dbf(adb, tmp_path):
    folder = _project(tmp_path, {"名称": "1号楼", "地上层数": 10, "建筑高度": 30.0})
    first = _check(adb, folder)
    dbf = (folder / "建筑.dbf").read_bytes()
    _write(folder, "建筑", {"名称": "1号楼", "地上层数": 10, "建筑高度": 31.0}, B1)  # a height
    assert (folder / "建筑.shp").read_bytes() and (folder / "建筑.dbf").read_bytes() != dbf
    second = _check(adb, folder)
    sums = dict(adb.rows("SELECT id, file_sha256 FROM approval_checks WHERE id IN (%s, %s)",
                         (first["record_id"], second["record_id"])))
    assert None not in sums.values() and sums[first["record_id"]] != sums[second["record_id"]]
    assert hashlib.sha256((folder / "建筑.shp").read_bytes()).hexdigest() not in sums.values()


def test_one_shapefile_of_buildings_alone_is_refused_for_want_of_a_site(adb, tmp_path):
    folder = _project(tmp_path, {"名称": "1号楼", "地上层数": 10, "建筑高度": 30.0})
    proc = run_cli(["check", str(folder / "建筑.shp"), "--no-record"], adb.env())
    assert proc.returncode == 2 and "no site boundary" in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["empty"])
def test_a_folder_without_shapefiles_is_refused(adb, tmp_path, name):
    (tmp_path / name).mkdir()
    proc = run_cli(["check", str(tmp_path / name), "--no-record"], adb.env())
    assert proc.returncode == 2 and "holds no Shapefile" in proc.stderr, proc.stderr
