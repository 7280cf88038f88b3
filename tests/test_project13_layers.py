"""How ``loaders.project.read_project`` reads a project's layers (session 13):

- a file of several layers was first opened as a load opens it, on its default layer: its
  notes said "read layer '用地红线' of 3; not read: '建筑' (1 feature) … load each with
  --layer NAME" though every layer is read (``cim check`` filtered the note out afterwards),
  and a project whose default layer is empty — a template's 拆除 layer, nothing demolished —
  was refused as "the input has no features (layer '拆除' is empty)", its site and buildings
  unread; a folder of Shapefiles with an empty 拆除.shp likewise;
- the CRS each layer declares is on the ``ProjectFile`` (``layer_crs``), whatever ``--crs``
  is, so the check can refuse ``--crs`` over a layer declaring another without reading the
  layers' CRSs again.

Files written by GDAL (pyogrio); expected values from the drawn boxes and the CRSs written."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyogrio.raw import write
from shapely.geometry import box

from loaders.project import read_project

X0, Y0 = 39_500_000.0, 3_920_000.0  # EPSG:4527 metres
SITE = box(X0, Y0, X0 + 100, Y0 + 100)
B1 = box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 40)
GREEN = box(X0 + 50, Y0 + 50, X0 + 90, Y0 + 90)


def _layer(path, name, geoms, crs, **kw):
    write(str(path), shapely.to_wkb(np.array(geoms, dtype=object)),
          [np.array([name] * len(geoms), dtype=object)], fields=["名称"],
          geometry_type="Polygon", crs=crs, **kw)


def _gpkg(path, layers):
    for i, (name, geoms, crs) in enumerate(layers):
        _layer(path, name, geoms, crs, driver="GPKG", layer=name, append=i > 0)
    return path


def _areas(pf):
    return sorted((r["layer"], r["geometry"].area) for r in pf.records)


def test_a_geopackage_of_several_layers_reads_them_all_without_the_loads_note(tmp_path):
    path = _gpkg(tmp_path / "p.gpkg", [("用地红线", [SITE], "EPSG:4527"),
                                       ("建筑", [B1], "EPSG:4527"),
                                       ("绿地", [GREEN], "EPSG:4527")])
    pf = read_project(path)
    assert _areas(pf) == sorted([("用地红线", 10_000.0), ("建筑", 600.0), ("绿地", 1_600.0)])
    assert pf.notes == []  # it said "read layer '用地红线' of 3; not read: …"


def test_an_empty_default_layer_is_skipped_not_the_project_refused(tmp_path):
    path = _gpkg(tmp_path / "p.gpkg", [("拆除", [], "EPSG:4527"),
                                       ("用地红线", [SITE], "EPSG:4527"),
                                       ("建筑", [B1], "EPSG:4527")])
    pf = read_project(path)
    assert _areas(pf) == sorted([("用地红线", 10_000.0), ("建筑", 600.0)])
    assert list(pf.layer_crs) == ["用地红线", "建筑"]  # the layers read
    assert pf.notes == []


def test_a_folder_of_shapefiles_with_an_empty_one_is_read_each_layers_crs_given(tmp_path):
    folder = tmp_path / "项目"
    folder.mkdir()
    _layer(folder / "用地红线.shp", "用地红线", [SITE], "EPSG:4527",
           driver="ESRI Shapefile", encoding="UTF-8")
    _layer(folder / "拆除.shp", "拆除", [], "EPSG:4527", driver="ESRI Shapefile",
           encoding="UTF-8")
    with pytest.warns(UserWarning, match="crs"):  # GDAL writes no .prj
        _layer(folder / "建筑.shp", "建筑", [B1], None, driver="ESRI Shapefile",
               encoding="UTF-8")
    pf = read_project(folder)
    assert _areas(pf) == sorted([("用地红线", 10_000.0), ("建筑", 600.0)])
    assert {n: (c.to_epsg() if c else None) for n, c in pf.layer_crs.items()} == \
        {"用地红线": 4527, "建筑": None}
    assert pf.crs.to_epsg() == 4527
    # an empty folder's worth: every Shapefile empty is no project
    (folder / "用地红线.shp").unlink()
    (folder / "建筑.shp").unlink()
    with pytest.raises(Exception, match="no features"):
        read_project(folder)


def test_crs_given_leaves_each_layers_declared_crs_on_the_project_file(tmp_path):
    path = _gpkg(tmp_path / "p.gpkg", [("用地红线", [SITE], "EPSG:4527"),
                                       ("建筑", [B1], "EPSG:4527")])
    pf = read_project(path, "EPSG:4548")
    assert pf.crs.to_epsg() == 4548
    assert {n: c.to_epsg() for n, c in pf.layer_crs.items()} == {"用地红线": 4527, "建筑": 4527}


def test_a_note_every_layer_has_is_given_once(tmp_path):
    path = _gpkg(tmp_path / "p.gpkg", [("用地红线", [SITE], "EPSG:4527"),
                                       ("建筑", [B1], "EPSG:4527")])
    pf = read_project(path, encoding="GBK")
    assert len(pf.notes) == 1 and pf.notes[0].startswith("--encoding GBK ignored"), pf.notes
