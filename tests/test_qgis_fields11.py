"""A result layer's other columns are named from its own declaration (review 11):
layers/styles/fields.py listed the three result layers of its day (cases, health, alarms) by
hand, so a result layer the catalog lists later — its LayerDef and the other columns of its
table declared once, beside each other — had those columns shown in QGIS's attribute table
and identify panel (and the web map's feature info) under their English names until
fields.py was edited too. Now the names come from whatever ``layers.catalog.result_layers``
lists."""

from __future__ import annotations

import sys
import types

import pytest

import layers.catalog
from cim.layerdefs import Column, LayerDef
from layers.styles import fields
from layers.styles.qml import _aliases


@pytest.fixture
def a_new_result_layer(monkeypatch):
    """A result layer declared once, in a module of its own (as layers/iot/layer.py declares
    alarms), and listed by the catalog."""
    module = types.ModuleType("tests_review11_noise_layer")
    module.OTHER_COLUMNS = (Column("detail", "jsonb", "详情 detail (JSON)", required=True),
                            Column("station_note", "text", "站点说明 note on the station"))
    module.NOISE = LayerDef(
        name="noise_levels", title_zh="噪声监测", title_en="Noise levels",
        geometry_type="POINT", code_scheme="result", assign_district=False, assign_grid=False,
        columns=(Column("db_a", "float8", "声级 level dB(A)"),),
        other_columns=module.OTHER_COLUMNS)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    listed = layers.catalog.result_layers()
    monkeypatch.setattr(layers.catalog, "result_layers", lambda: [*listed, module.NOISE])
    fields._all.cache_clear()
    yield module
    fields._all.cache_clear()


def test_a_result_layer_declared_once_has_its_other_columns_named(a_new_result_layer):
    m = a_new_result_layer
    assert fields.other_columns()["noise_levels"] == m.OTHER_COLUMNS
    titles = fields.field_titles("noise_levels")
    assert titles["station_note"] == "站点说明" and titles["detail"] == "详情"
    assert titles["db_a"] == "声级" and titles["valid_to"] == "失效时间"
    # the QML QGIS reads (project layers, a layer added by hand) carries them as aliases
    import xml.etree.ElementTree as ET

    root = ET.Element("qgis")
    _aliases(root, "noise_levels")
    aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
    assert aliases["station_note"] == "站点说明"


def test_the_catalogs_result_layers_keep_the_columns_declared_beside_them():
    """Read independently of fields.py: each module's own OTHER_COLUMNS (the tuple its
    LayerDef carries)."""
    from layers.cases import layer as cases
    from layers.health import layer as health
    from layers.iot import layer as iot

    got = fields.other_columns()
    assert set(got) == {d.name for d in layers.catalog.result_layers()}
    assert got["cases"] is cases.OTHER_COLUMNS
    assert got["health_indicators"] is health.OTHER_COLUMNS
    assert got["alarms"] is iot.OTHER_COLUMNS


def test_a_result_layer_without_other_columns_has_none(monkeypatch):
    module = types.ModuleType("tests_review11_plain_layer")
    module.PLAIN = LayerDef(name="plain_results", title_zh="结果", title_en="Results",
                            geometry_type="POINT", code_scheme="result",
                            columns=(Column("v", "float8", "值 value"),))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    listed = layers.catalog.result_layers()
    monkeypatch.setattr(layers.catalog, "result_layers", lambda: [*listed, module.PLAIN])
    assert fields.other_columns()["plain_results"] == ()
