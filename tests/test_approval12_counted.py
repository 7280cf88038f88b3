"""A counted floor area (计容建筑面积) of 0 on a building that stands above ground: a 30-storey
tower so given counted 0 m² in the FAR, which passed at 0.6 where the tower's storeys make
it 2.4 against the parcel's 2.0 — and 0 is what a Shapefile written by ArcGIS holds for a
number left empty. It is an input problem naming both fields now (which one is wrong decides
the FAR), as the other contradictions of a building's numbers are; 0 on an underground
structure (地上层数 0) stays 0. Written as real Shapefiles (GBK .dbf) and read by the CLI;
expected FAR from the drawn boxes (tests/approval_fixture.py parcel A, FAR <= 2.0)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from cim.errors import InputError
from layers.approval.project import build_project, records_from_geojson
from tests import approval_fixture
from tests.approval_fixture import PARCELS, SRID, collection, feature, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE, B1, B2 = box(0, 0, 100, 100), box(10, 10, 30, 40), box(70, 10, 90, 40)
ARGS = dict(source="t", name="t", crs=f"EPSG:{SRID}", storage_srid=SRID)


def _shapefiles(folder, tower: dict) -> str:
    folder.mkdir()
    for layer, rows in (("用地红线", [(SITE, {"名称": "s"})]),
                        ("建筑", [(B1, {"名称": "1号楼", **tower}),
                                (B2, {"名称": "2号楼", "地上层数": 10, "建筑高度": 30.0,
                                      "计容建筑面积": 6000.0})])):
        gpd.GeoDataFrame([a for _, a in rows], geometry=[to_storage(g) for g, _ in rows],
                         crs=SRID).to_file(folder / f"{layer}.shp", encoding="GBK")
    return str(folder)


def test_a_tower_with_a_counted_area_of_0_is_refused_naming_both_fields(adb, tmp_path):
    far = (30 * B1.area + 6000.0) / SITE.area
    assert far > PARCELS["PA"][2] > 6000.0 / SITE.area  # premise: 0 m² passed the FAR
    path = _shapefiles(tmp_path / "p", {"地上层数": 30, "建筑高度": 90.0, "计容建筑面积": 0.0})
    proc = run_cli(["check", path, "--no-record"], adb.env())
    assert proc.returncode == 2, proc.stdout
    assert "建筑" in proc.stderr and "feature 1" in proc.stderr, proc.stderr
    assert "field '计容建筑面'" in proc.stderr and "地上层数=30" in proc.stderr, proc.stderr


def test_a_counted_area_given_is_read(adb, tmp_path):
    path = _shapefiles(tmp_path / "p", {"地上层数": 30, "建筑高度": 90.0,
                                         "计容建筑面积": 17_500.0})
    proc = run_cli(["check", path, "--json", "--no-record"], adb.env())
    far = next(r for r in json.loads(proc.stdout)["results"] if r["id"] == "far")
    assert far["measured"] == pytest.approx((17_500.0 + 6000.0) / SITE.area, abs=1e-3)


@pytest.mark.parametrize("props", [{"地上层数": 0, "计容建筑面积": 0},
                                   {"地上层数": 0, "建筑高度": 2.0, "计容建筑面积": 0}])
def test_0_on_an_underground_structure_stays_0(props):
    fc = collection(feature("site", SITE), feature("building", B1, name="车库", **props))
    b = build_project(records_from_geojson(fc), **ARGS).buildings[0]
    assert (b.underground, b.counted_area) == (True, 0.0)


def test_0_on_a_building_of_unknown_storeys_taller_than_a_storey_is_refused():
    fc = collection(feature("site", SITE), feature("building", B1, name="A", 建筑高度=54,
                                                   计容建筑面积=0))
    with pytest.raises(InputError, match="计容建筑面积"):
        build_project(records_from_geojson(fc), **ARGS)
