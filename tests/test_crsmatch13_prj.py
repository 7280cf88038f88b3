"""A project whose layers declare one CRS written two ways: ``cim check`` compared the layers'
CRSs by their WKT text, so a surveyor's ``.prj`` (``Gauss_Kruger_117E``: Transverse Mercator,
central meridian 117°E, scale 1, false easting 39,500,000 — EPSG:4527's projection, which
GDAL cannot identify) beside a layer in EPSG:4527 was refused "its layers are in different
CRSs" unless ``--crs`` was given. Now layers are one CRS when they put their coordinates in
one place (``cim.crs.same_place``, the test ``--crs`` over declared layers makes too), tested
at the corners and centre of the project's extent; a genuinely different CRS (EPSG:4548, the
six-digit form of the same meridian) is still refused.

Files written by GDAL (pyogrio) and a ``.prj`` written by hand; expected areas from the drawn
boxes, the distances from pyproj transformations made here."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyproj
import pytest
import shapely
from pyogrio import read_info
from pyogrio.raw import write
from shapely.geometry import Polygon, box

from cim.crs import extent_points, parse_crs, places_apart, same_place, transformer
from tests import approval_fixture
from tests.approval_fixture import SRID, to_storage
from tests.conftest import run_cli

adb = approval_fixture.adb

SITE, B1 = box(0, 0, 100, 100), box(10, 10, 30, 40)  # metres from the fixture's origin

# as a surveyor's software writes EPSG:4527 (ESRI WKT 1, its own names, Transverse_Mercator
# rather than Gauss_Kruger): the parameters are EPSG:4527's (pyproj: +proj=tmerc +lat_0=0
# +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80)
SURVEYOR_PRJ = (
    'PROJCS["Gauss_Kruger_117E",GEOGCS["GCS_CGCS2000",DATUM["D_CGCS2000",'
    'SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",39500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')


def test_the_surveyor_prj_is_epsg_4527_spelt_otherwise():
    """The premise, from pyproj alone: same parameters, different WKT, no EPSG code."""
    mine, epsg = pyproj.CRS(SURVEYOR_PRJ), pyproj.CRS.from_epsg(SRID)
    assert mine.to_wkt() != epsg.to_wkt() and mine.to_epsg(min_confidence=20) is None
    with warnings.catch_warnings():  # PROJ strings lose names: these are its parameters
        warnings.simplefilter("ignore", UserWarning)
        p, q = mine.to_dict(), epsg.to_dict()
    for k in ("proj", "lon_0", "k", "x_0", "y_0", "lat_0"):
        assert p[k] == q[k], k


def _shp(folder, name, g, crs):
    write(str(folder / f"{name}.shp"), shapely.to_wkb(np.array([g], dtype=object)),
          *_fields(name), geometry_type="Polygon", crs=crs, driver="ESRI Shapefile",
          encoding="UTF-8")


def _fields(name):
    if name == "建筑":
        return [np.array(["1号楼"], dtype=object), np.array([10]), np.array([30.0])], \
            ["名称", "地上层数", "建筑高度"]
    return [np.array([name], dtype=object)], ["名称"]


def _check(path, env, *args):
    return run_cli(["check", str(path), "--json", "--no-record", *args], env)


def _folder(tmp_path, building_crs: int):
    folder = tmp_path / "项目"
    folder.mkdir()
    _shp(folder, "用地红线", to_storage(SITE), f"EPSG:{SRID}")
    (folder / "用地红线.prj").write_text(SURVEYOR_PRJ, encoding="ascii")  # the surveyor's
    t = transformer(SRID, building_crs)
    _shp(folder, "建筑", shapely.transform(to_storage(B1), lambda xy: np.column_stack(
        t.transform(xy[:, 0], xy[:, 1]))), f"EPSG:{building_crs}")
    assert read_info(str(folder / "用地红线.shp"))["crs"].startswith(
        'PROJCS["Gauss_Kruger_117E"')  # GDAL reads the .prj as written, unidentified
    return folder


def test_a_surveyors_prj_beside_a_layer_in_epsg_4527_is_checked(adb, tmp_path):
    proc = _check(_folder(tmp_path, SRID), adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    p = json.loads(proc.stdout)["project"]
    assert p["site_area_m2"] == pytest.approx(SITE.area, abs=0.01)
    assert [(b["name"], b["footprint_m2"]) for b in p["buildings"]] == [("1号楼", B1.area)]
    assert [n for n in p["notes"] if "Gauss_Kruger_117E" in n] == [
        "layer '用地红线' declares Gauss_Kruger_117E, which puts its coordinates where "
        "EPSG:4527 (CGCS2000 / 3-degree Gauss-Kruger zone 39) does (within 1 mm): read in "
        "EPSG:4527 (CGCS2000 / 3-degree Gauss-Kruger zone 39)"]


def test_a_geopackage_layer_in_the_surveyors_wkt_beside_epsg_4527_is_checked(adb, tmp_path):
    path = tmp_path / "p.gpkg"
    for i, (name, g, crs) in enumerate((("用地红线", SITE, SURVEYOR_PRJ),
                                        ("建筑", B1, f"EPSG:{SRID}"))):
        write(str(path), shapely.to_wkb(np.array([to_storage(g)], dtype=object)),
              *_fields(name), geometry_type="Polygon", crs=crs, driver="GPKG", layer=name,
              append=i > 0)
    assert "Gauss_Kruger_117E" in read_info(str(path), layer="用地红线")["crs"]
    proc = _check(path, adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["project"]["site_area_m2"] == pytest.approx(SITE.area,
                                                                               abs=0.01)


def test_a_layer_in_epsg_4548_beside_the_surveyors_prj_is_still_refused(adb, tmp_path):
    """EPSG:4548 is 117°E without the zone prefix: another CRS, its layer's coordinates
    written as it has them (same ground, other numbers)."""
    proc = _check(_folder(tmp_path, 4548), adb.env())
    assert proc.returncode == 2, proc.stdout[-300:]
    assert "its layers are in different CRSs" in proc.stderr \
        and "建筑: EPSG:4548" in proc.stderr and "用地红线: Gauss_Kruger_117E" in proc.stderr, \
        proc.stderr


def test_places_apart_is_where_two_crss_put_the_same_numbers():
    """EPSG:32650 and EPSG:4548 (both on 117°E) put one pair of numbers 1.5 km apart in the
    storage CRS: the distance of the two transformations made here."""
    x, y = 500_050.0, 3_920_050.0
    a = transformer(32650, SRID).transform(x, y)
    b = transformer(4548, SRID).transform(x, y)
    xy = np.array([(x, y)])
    assert places_apart(parse_crs(32650), parse_crs(4548), xy, SRID) == pytest.approx(
        float(np.hypot(a[0] - b[0], a[1] - b[1])), abs=1e-6)
    assert not same_place(parse_crs(32650), parse_crs(4548), xy)
    assert same_place(pyproj.CRS(SURVEYOR_PRJ), parse_crs(SRID),
                      np.array([(39_500_050.0, 3_920_050.0)]))


def test_extent_points_are_five_whatever_the_vertices():
    ring = Polygon([(np.cos(t) * 100, np.sin(t) * 50)
                    for t in np.linspace(0, 2 * np.pi, 5000, endpoint=False)])
    pts = extent_points([ring, None, Polygon()])
    assert pts.shape == (5, 2)
    assert pts[:, 0].min() == pytest.approx(-100) and pts[:, 1].max() == pytest.approx(50,
                                                                                     abs=0.01)
    assert extent_points([None]).shape == (0, 2)
