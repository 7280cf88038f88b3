"""``cim check --crs`` over layers that declare a CRS: it read every layer in the CRS given,
without a word — a GeoPackage drawn in EPSG:32650 (UTM 50N) checked with ``--crs EPSG:4548``
(Gauss-Krüger on the same 117°E meridian) landed 1.5 km north, inside the city, against
another parcel. Now a layer declaring another CRS is refused (exit 2) naming the layer and both
CRSs; one declaring the CRS given, or one that puts the coordinates in the same place (a
GeoJSON's RFC 7946 lon/lat given as CGCS2000's EPSG:4490), is checked; a layer declaring none
(a Shapefile without .prj) takes ``--crs``. Files written by GDAL (pyogrio); expected values
from pyproj and the drawn boxes."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import shapely
from pyogrio.raw import write
from shapely.geometry import box

from cim.crs import transformer
from tests import approval_fixture
from tests.approval_fixture import SRID, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE, B1 = box(0, 0, 100, 100), box(10, 10, 30, 40)  # metres of EPSG:4527 from the fixture's origin


def _in(g: shapely.Geometry, crs: int) -> shapely.Geometry:
    t = transformer(SRID, crs)
    return shapely.transform(to_storage(g), lambda xy: np.column_stack(t.transform(xy[:, 0],
                                                                                 xy[:, 1])))


def _layer(path, name, g, crs, driver="GPKG", **kw):
    fields = ["名称", "地上层数", "建筑高度"] if name == "建筑" else ["名称"]
    values = [np.array(["1号楼"], dtype=object), np.array([10]), np.array([30.0])] \
        if name == "建筑" else [np.array([name], dtype=object)]
    write(str(path), shapely.to_wkb(np.array([g], dtype=object)), values, fields=fields,
          geometry_type="Polygon", crs=crs, driver=driver, **kw)


def _gpkg(path, crs: int):
    _layer(path, "用地红线", _in(SITE, crs), f"EPSG:{crs}", layer="用地红线")
    _layer(path, "建筑", _in(B1, crs), f"EPSG:{crs}", layer="建筑", append=True)
    return path


def _check(path, env, *args):
    return run_cli(["check", str(path), "--json", "--no-record", *args], env)


def test_crs_over_layers_declaring_another_is_refused_naming_both(adb, tmp_path):
    path = _gpkg(tmp_path / "utm.gpkg", 32650)
    proc = _check(path, adb.env(), "--crs", "EPSG:4548")
    assert proc.returncode == 2, proc.stdout[-300:]
    lines = proc.stderr.strip().splitlines()[1:]
    assert len(lines) == 2, proc.stderr  # one problem a layer
    # how far EPSG:4548 puts the site's centre from where EPSG:32650 does (pyproj)
    c = _in(SITE, 32650).centroid
    a = transformer(32650, SRID).transform(c.x, c.y)
    b = transformer(4548, SRID).transform(c.x, c.y)
    apart = float(np.hypot(a[0] - b[0], a[1] - b[1]))
    for layer, line in zip(("用地红线", "建筑"), lines, strict=True):
        assert f"layer '{layer}'" in line and "declares EPSG:32650" in line \
            and "--crs gives EPSG:4548" in line, line
        moved = float(re.search(r"would lie ([\d,.]+) m", line).group(1).replace(",", ""))
        assert moved == pytest.approx(apart, abs=0.5), line


def test_crs_equal_to_the_declared_one_is_checked(adb, tmp_path):
    path = _gpkg(tmp_path / "utm.gpkg", 32650)
    proc = _check(path, adb.env(), "--crs", "EPSG:32650")
    assert proc.returncode in (0, 1), proc.stderr
    p = json.loads(proc.stdout)["project"]
    assert p["site_area_m2"] == pytest.approx(SITE.area, abs=0.01)
    assert p["buildings"][0]["footprint_m2"] == pytest.approx(B1.area, abs=0.01)


def test_a_geojsons_lonlat_given_as_cgcs2000_is_checked(adb, tmp_path):
    """RFC 7946 lon/lat (GDAL: EPSG:4326) and EPSG:4490 put the coordinates in one place."""
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": role, "name": n, "floors_above": 10,
                                           "height": 30.0},
         "geometry": shapely.geometry.mapping(_in(g, 4490))}
        for role, n, g in (("site", "s", SITE), ("building", "1号楼", B1))]}
    path = tmp_path / "lonlat.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    proc = _check(path, adb.env(), "--crs", "EPSG:4490")
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["project"]["site_area_m2"] == pytest.approx(SITE.area,
                                                                               abs=0.05)


def test_a_shapefile_without_prj_takes_crs_beside_one_with_it(adb, tmp_path):
    folder = tmp_path / "项目"
    folder.mkdir()
    _layer(folder / "用地红线.shp", "用地红线", to_storage(SITE), f"EPSG:{SRID}",
           driver="ESRI Shapefile", encoding="UTF-8")
    with pytest.warns(UserWarning, match="crs"):  # GDAL writes no .prj
        _layer(folder / "建筑.shp", "建筑", to_storage(B1), None, driver="ESRI Shapefile",
               encoding="UTF-8")
    assert not (folder / "建筑.prj").exists()
    same = _check(folder, adb.env(), "--crs", f"EPSG:{SRID}")
    assert same.returncode in (0, 1), same.stderr
    b = json.loads(same.stdout)["project"]["buildings"]
    assert [(x["name"], x["footprint_m2"]) for x in b] == [("1号楼", B1.area)]
    # without --crs the layer declaring none is read in the others' CRS, and the notes say so
    notes = json.loads(_check(folder, adb.env()).stdout)["project"]["notes"]
    assert [n for n in notes if "declares no CRS" in n] == [
        "layer '建筑' declares no CRS: read in EPSG:4527 (CGCS2000 / 3-degree Gauss-Kruger "
        "zone 39), the CRS of layer(s) 用地红线 (--crs names the CRS of layers declaring none)"]
    other = _check(folder, adb.env(), "--crs", "EPSG:4548")
    assert other.returncode == 2, other.stdout[-300:]
    assert "layer '用地红线'" in other.stderr and "declares EPSG:4527" in other.stderr \
        and "layer '建筑'" not in other.stderr, other.stderr


def test_coordinates_beyond_the_crs_given_are_named_not_placed_at_inf(adb, tmp_path):
    """A GeoJSON in metres without a ``crs`` member declares nothing: --crs is taken; read
    in a CRS whose domain its zone-prefixed eastings lie beyond, the problem said "at inf,
    inf"."""
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": role},
         "geometry": shapely.geometry.mapping(to_storage(g))}
        for role, g in (("site", SITE), ("building", B1))]}
    path = tmp_path / "metres.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    proc = _check(path, adb.env(), "--crs", "EPSG:4548")
    assert proc.returncode == 2, proc.stdout[-300:]
    assert "at inf" not in proc.stderr and proc.stderr.count("cannot be placed in CRS") == 2, \
        proc.stderr
