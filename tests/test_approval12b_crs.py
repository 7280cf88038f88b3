"""A project file whose layers are in different CRSs: one --crs cannot fix layers that
really differ (the check refuses a layer declaring another CRS), so the refusal says what to do —
reproject the layers to one CRS — naming each layer and its CRS, not "give --crs"."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyogrio.raw import write

from cim.crs import transformer
from cim.errors import InputError
from loaders.project import read_project


def _layer(path, name, geom, crs):
    write(str(path), shapely.to_wkb(np.array([geom], dtype=object)),
          [np.array(["x"], dtype=object)], fields=["name"], geometry_type="Polygon",
          crs=crs, driver="GPKG", layer=name, append=path.exists())


def test_layers_in_different_crss_are_told_to_be_reprojected(tmp_path):
    path = tmp_path / "p.gpkg"
    site = shapely.box(39_500_000, 3_920_000, 39_500_100, 3_920_100)  # EPSG:4527: E, N
    t = transformer(4527, 4490)
    lonlat = shapely.transform(site, lambda xy: np.column_stack(t.transform(xy[:, 0],
                                                                            xy[:, 1])))
    _layer(path, "用地红线", site, "EPSG:4527")
    _layer(path, "建筑", lonlat, "EPSG:4490")
    with pytest.raises(InputError) as e:
        read_project(path)
    msg = str(e.value)
    assert "用地红线: EPSG:4527" in msg and "建筑: EPSG:4490" in msg, msg
    assert "reproject" in msg and "give --crs" not in msg, msg
    # --crs reads no layer declaring another CRS in it: the check refuses such a layer
    assert "would read every layer" not in msg and "--crs does not make them one" in msg, msg
