"""A label the maps draw below a layer's detail zoom needs its field in the layer's tiles
there: below ``tile_detail_zoom`` a tile carries only ``code``, the class columns and the
layer's ``tile_fields`` (services/tiles_sql.py). The districts are labelled by name
(styles.yaml; they were labelled by their code in both maps)."""

from __future__ import annotations

import dataclasses

from cim.layerdefs import LAYERS
from cim.profile import load_profile
from layers.catalog import result_layers
from layers.styles.model import load_styles, scale_to_zoom

JINING_LATITUDE = 35.4


def _not_in_tiles(styles) -> list[tuple]:
    """(layer, label field, first zoom shown, detail zoom) of labels whose field the tiles
    lack where the label is drawn."""
    defs = {**LAYERS, **{d.name: d for d in result_layers()}}
    missing = []
    for name, st in styles.layers.items():
        d = defs.get(name)
        if st.label is None or d is None:
            continue
        shown_from = max(d.tile_min_zoom, scale_to_zoom(st.label.max_scale, JINING_LATITUDE)
                         if st.label.max_scale else 0)
        if shown_from >= d.tile_detail_zoom:
            continue  # drawn from tiles carrying every column
        low = {"code", d.class_column, *d.tile_fields}
        if d.class_column and d.class_column.endswith("_code"):
            low.add(d.class_column[:-5] + "_name")
        if st.label.field not in low:
            missing.append((name, st.label.field, shown_from, d.tile_detail_zoom))
    return missing


def test_every_label_shown_below_the_detail_zoom_is_in_the_tiles_there(jining_profile):
    styles = load_styles(load_profile(jining_profile.path))
    assert _not_in_tiles(styles) == []
    # the check itself: a building label by name at every zoom (tiles carry use_name,
    # height and floors_above below zoom 15) is found
    b = styles.layers["buildings"]
    styles.layers["buildings"] = dataclasses.replace(
        b, label=dataclasses.replace(b.label, field="name", max_scale=None))
    assert _not_in_tiles(styles) == [("buildings", "name", 12, 15)]


def test_districts_and_health_units_are_labelled_by_name(jining_profile):
    styles = load_styles(load_profile(jining_profile.path))
    assert styles.layer("admin_divisions").label.field == "name"
    assert styles.layer("health_indicators").label.field == "unit_name"
