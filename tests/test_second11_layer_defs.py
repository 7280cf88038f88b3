"""The styles, the QGIS project and the vector tiles read their layers from the one catalog
(layers.catalog.layer_defs): each had rebuilt {**LAYERS, **result_layers()} by hand, so a
catalog rule (a layer a room declares, one it drops) could reach one and miss the others."""
import dataclasses
from types import SimpleNamespace

import layers.catalog
from cim.layerdefs import LAYERS
from layers.qgis import project
from layers.styles import model
from services import tiles


def _catalog_with_buildings_as_lines() -> dict:
    # a catalog no hand-built merge gives: buildings declared as lines
    return {**layers.catalog.layer_defs(),
            "buildings": dataclasses.replace(LAYERS["buildings"], geometry_type="LineString")}


def test_the_styles_read_the_catalog(monkeypatch):
    defs = _catalog_with_buildings_as_lines()
    monkeypatch.setattr(layers.catalog, "layer_defs", lambda: defs)
    assert model._declared() is defs


def test_the_qgis_project_reads_the_catalog(monkeypatch):
    defs = _catalog_with_buildings_as_lines()
    monkeypatch.setattr(project, "layer_defs", lambda: defs)
    st = SimpleNamespace(name="buildings", title="建筑", where=None, kind="single")
    ml = project._map_layer(st, "", None, None)
    assert ml.kind == "line"  # from the catalog's LineString, not LAYERS' polygons


def test_the_tiles_read_the_catalog(monkeypatch):
    defs = _catalog_with_buildings_as_lines()
    monkeypatch.setattr(tiles, "layer_defs", lambda: defs)
    monkeypatch.setattr(tiles, "tiled_collections", lambda config: [])
    svc = tiles.TilesService({"server": {"url": "http://x/"}, "resources": {}}, "", None)
    assert svc.defs is defs
