"""Found probing ``cim check`` as approval staff use it (session 13):

- a GeoPackage project's reading notes said "read layer '用地红线' of 3; not read: '建筑'
  (2 features), '绿地' (2 features) — load each with --layer NAME": the loaders' note on the
  one layer a load reads, passed on by the project reader, though the check reads them all;
- a Shapefile project saved in UTF-8 (QGIS, ArcGIS Pro; .cpg UTF-8) arrives with its Chinese
  field names cut inside a character at the .dbf's 10 bytes (地上层数 → 地上层, 建筑高度 →
  建筑高, 计容建筑面积 → 计容建): none was read, so the storeys, heights and counted areas were
  unknown and the FAR, height and spacing rules needed review on a complete project.

Files written by GDAL (pyogrio); expected values from the drawn boxes and the numbers given."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyogrio.raw import write
from shapely.geometry import box

from tests import approval_fixture
from tests.approval_fixture import SRID, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE = box(0, 0, 100, 100)  # on parcel PA of the fixture (FAR ≤ 2.0, 80 m)
BUILDINGS = [  # outline, name, storeys, height, counted area, ground elevation, use
    (box(10, 10, 30, 35), "1号楼", 10, 30.0, 5500.0, 36.2, "住宅"),
    (box(70, 10, 90, 40), "2号楼", 12, 36.0, 6000.0, 36.4, "商业")]
FIELDS = ["名称", "地上层数", "建筑高度", "计容建筑面积", "室外地坪标高", "建筑用途"]


def _write(path, geoms, columns, fields, driver, **kw):
    write(str(path), shapely.to_wkb(np.array([to_storage(g) for g in geoms], dtype=object)),
          columns, fields=fields, geometry_type="Polygon", crs=f"EPSG:{SRID}", driver=driver,
          **kw)


def _buildings_columns():
    cols = list(zip(*[b[1:] for b in BUILDINGS], strict=True))
    return [np.array(c, dtype=object if isinstance(c[0], str) else None) for c in cols]


def test_a_geopackage_projects_notes_do_not_say_its_layers_were_not_read(adb, tmp_path):
    path = tmp_path / "p.gpkg"
    _write(path, [SITE], [np.array(["s"], dtype=object)], ["名称"], "GPKG",
           layer="用地红线")
    _write(path, [b[0] for b in BUILDINGS], _buildings_columns(), FIELDS, "GPKG",
           layer="建筑", append=True)
    _write(path, [box(40, 60, 90, 95)], [np.array(["g"], dtype=object)], ["名称"],
           "GPKG", layer="绿地", append=True)
    proc = run_cli(["check", str(path), "--json", "--no-record"], adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    p = json.loads(proc.stdout)["project"]
    assert len(p["buildings"]) == 2 and p["green_drawn_m2"] == pytest.approx(50 * 35)
    assert not [n for n in p["notes"] if "not read" in n], p["notes"]


def test_a_utf8_shapefile_projects_cut_chinese_field_names_are_read(adb, tmp_path):
    folder = tmp_path / "项目"
    folder.mkdir()
    _write(folder / "用地红线.shp", [SITE], [np.array(["s"], dtype=object)],
           ["名称"], "ESRI Shapefile", encoding="UTF-8")
    with pytest.warns(RuntimeWarning):  # GDAL: "Normalized/laundered field name" (cut)
        _write(folder / "建筑.shp", [b[0] for b in BUILDINGS], _buildings_columns(),
               FIELDS, "ESRI Shapefile", encoding="UTF-8")
    assert (folder / "建筑.cpg").read_text().strip().upper().replace("-", "") == "UTF8"
    proc = run_cli(["check", str(folder), "--json", "--no-record"], adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    res = json.loads(proc.stdout)
    got = [(b["name"], b["floors_above"], b["height"], b["counted_area_m2"], b["use"])
           for b in res["project"]["buildings"]]
    assert got == [(n, f, h, c, u) for _, n, f, h, c, _, u in BUILDINGS]
    assert not [n for n in res["project"]["notes"] if "not read (no attribute" in n], \
        res["project"]["notes"]
    by = {r["id"]: r for r in res["results"]}
    far = sum(b[4] for b in BUILDINGS) / SITE.area  # 11,500 m² / 10,000 m²
    assert (by["far"]["status"], by["far"]["measured"]) == ("pass", pytest.approx(far,
                                                                                  abs=1e-3))
    assert (by["height_parcel"]["status"], by["height_parcel"]["measured"]) == ("pass", 36.0)


def test_the_report_prints_a_parcels_area_as_given_not_the_floats_noise(adb, tmp_path):
    """The FAR's item for a parcel gives the site's area under it to 0.1 m² (9,998.7 for a
    100 × 99.9871 m site); the report printed twelve decimals of the float,
    9,998.700000000000728."""
    site = box(0, 0, 100, 99.9871)
    path = tmp_path / "p.gpkg"
    _write(path, [site], [np.array(["s"], dtype=object)], ["名称"], "GPKG", layer="用地红线")
    _write(path, [BUILDINGS[0][0]], [c[:1] for c in _buildings_columns()], FIELDS, "GPKG",
           layer="建筑", append=True)
    report = tmp_path / "r.html"
    proc = run_cli(["check", str(path), "--no-record", "--report", str(report)], adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    html = report.read_text(encoding="utf-8")
    shown = f"{round(site.area, 1):,}"  # 9,998.7
    # (a detail of the parcel's row since session 21: its measured column is the index's)
    assert f"site_area_m2: {shown}" in html and f"{shown}000" not in html
