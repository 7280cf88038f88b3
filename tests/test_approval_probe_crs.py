"""A project in another CRS: WGS 84 based ones (UTM, lon/lat, Web Mercator) agree with
CGCS2000 to decimetres and are checked as any; a project on Xian 1980 or Beijing 1954 reaches
CGCS2000 through PROJ's ballpark only (no datum shift, an error it cannot bound) — it was
checked as if exact, every setback and clearance measured on a drawing shifted by an unknown
amount. It is refused now, naming the CRS. Expected values from the drawn boxes."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from tests import approval_fixture
from tests.approval_fixture import SRID, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE, B1, B2 = box(0, 0, 100, 100), box(10, 10, 30, 40), box(70, 10, 90, 40)


def _gpkg(path, crs):
    for layer, rows in (("用地红线", [(SITE, {"名称": "s"})]),
                        ("建筑", [(B1, {"名称": "1号楼", "地上层数": 10, "建筑高度": 30.0}),
                                (B2, {"名称": "2号楼", "地上层数": 10, "建筑高度": 30.0})])):
        gdf = gpd.GeoDataFrame([a for _, a in rows], geometry=[to_storage(g) for g, _ in rows],
                               crs=SRID).to_crs(crs)
        gdf.to_file(path, layer=layer, driver="GPKG")
    return path


@pytest.mark.parametrize("crs", ["EPSG:2384", "EPSG:2436"])  # Xian 1980, Beijing 1954 CM 117E
def test_a_project_on_an_old_datum_is_refused_naming_its_crs(adb, tmp_path, crs):
    path = _gpkg(tmp_path / "old.gpkg", crs)
    proc = run_cli(["check", str(path), "--no-record"], adb.env())
    assert proc.returncode == 2, proc.stdout[-500:]
    assert "ballpark" in proc.stderr and ("Xian 1980" in proc.stderr
                                          or "Beijing 1954" in proc.stderr), proc.stderr


@pytest.mark.parametrize("crs", ["EPSG:32650", "EPSG:4326", "EPSG:4548"])
def test_a_project_in_a_crs_alike_is_checked(adb, tmp_path, crs):
    path = _gpkg(tmp_path / "p.gpkg", crs)
    proc = run_cli(["check", str(path), "--json", "--no-record"], adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    res = json.loads(proc.stdout)
    assert res["project"]["site_area_m2"] == pytest.approx(SITE.area, abs=0.01)
    far = next(r for r in res["results"] if r["id"] == "far")
    assert far["measured"] == pytest.approx((B1.area + B2.area) * 10 / SITE.area, abs=1e-3)
