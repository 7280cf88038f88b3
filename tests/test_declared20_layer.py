"""A layer declared once (cim/layerdefs.py) and nothing else: it is on the web map's style
and tree and in QGIS with a default style of its geometry's kind, in the group 其他图层 — it
was left off both maps without a word; and `cim db upgrade` refuses, naming its table, a
declaration no migration made a table for — it reported success and `profile apply` then
failed half-way with an internal error. The declarations are the real ones, each copied under
a new name (as a maintainer adds one)."""

from __future__ import annotations

import dataclasses

import pytest

from cim.errors import ConfigError
from cim.layerdefs import LAYERS


@pytest.fixture
def declared(monkeypatch):
    new = {"manholes_x": dataclasses.replace(LAYERS["facilities"], name="manholes_x",
                                              title_zh="井盖"),
           "parks_x": dataclasses.replace(LAYERS["green_spaces"], name="parks_x",
                                          title_zh="公园")}
    from layers import catalog
    from layers.styles import fields

    for k, v in new.items():
        monkeypatch.setitem(LAYERS, k, v)
    fields._all.cache_clear()  # (the field names are read once: read with these, then again)
    yield new
    monkeypatch.undo()
    catalog._registry.cache_clear()
    fields._all.cache_clear()


def test_a_declared_layer_without_a_style_is_on_both_maps(declared, jining_profile):
    from layers.styles import layer_tree, load_styles, maplibre_style
    from layers.styles.defaults import OTHER_GROUP
    from layers.styles.qml import qml

    styles = load_styles(jining_profile)
    assert (styles.layers["manholes_x"].kind, styles.layers["parks_x"].kind) == ("point", "fill")
    assert styles.layers["parks_x"].title == "公园"
    assert styles.tree[0].group == OTHER_GROUP
    assert set(styles.tree[0].layers) == {"manholes_x", "parks_x"}
    style = maplibre_style("http://h:1/", jining_profile)
    drawn = {sl["source-layer"] for sl in style["layers"] if "source-layer" in sl}
    assert {"manholes_x", "parks_x"} <= drawn
    assert "manholes_x" in style["sources"]["cim"]["url"]
    tree = layer_tree(jining_profile)
    assert tree[0]["group"] == OTHER_GROUP
    for name in declared:
        assert "<renderer-v2" in qml(name, jining_profile)
    # the platform's own layers keep their groups and order below it
    assert [g["group"] for g in tree[1:4]] == ["城市运行监测", "城市部件", "城市治理风险"]


def test_db_upgrade_refuses_a_declared_layer_no_migration_made(fresh_db, declared):
    from cim.db.migrate import upgrade

    with pytest.raises(ConfigError) as e:
        upgrade(fresh_db.url, fresh_db.profile.srid)
    assert "manholes_x" in str(e.value) and "parks_x" in str(e.value)
    assert "migration" in str(e.value)


def test_db_upgrade_of_the_declared_layers_passes(fresh_db):
    from cim.db.migrate import upgrade

    upgrade(fresh_db.url, fresh_db.profile.srid)  # every declared layer has its table
