"""The style of a declared layer that no styles file styles: one grey symbol of its geometry's
kind, in the tree's top group :data:`OTHER_GROUP` — a layer declared once is on the web map and
in QGIS at once (it was left off both without a word), styled properly when the city's or the
platform's styles.yaml gives it an entry."""

from __future__ import annotations

from typing import Any

from layers.styles.model import Styles, TreeGroup

# the style of a declared layer no styles file has: one grey symbol of its geometry's kind, in
# the tree's top group :data:`OTHER_GROUP` (a layer declared once is on both maps, styled later)
OTHER_GROUP = "其他图层"
_DEFAULT_SPECS = {
    "point": {"kind": "point", "symbol": {"shape": "circle", "size": 2.4, "fill": "110,110,110",
                                          "outline": "255,255,255", "outline_width": 0.3}},
    "line": {"kind": "line", "symbol": {"color": "110,110,110", "width": 0.5}},
    "fill": {"kind": "fill", "symbol": {"fill": "150,150,150,90", "outline": "100,100,100",
                                        "outline_width": 0.3}},
}


def give_defaults(styles: Styles, reader: Any, declared: dict[str, Any]) -> None:
    """Give each declared layer that no styles file styles (a layer declared after the
    platform's styles.yaml was written) a default style and a place in :data:`OTHER_GROUP`:
    it was left off the web map, the QGIS project and ``layer_styles`` without a word."""
    placed = {n for g in styles.tree for n in (g.split.layers if g.split else g.layers)}
    other: list[str] = []
    for name, ld in declared.items():
        if name not in styles.layers:
            gt = ld.geometry_type.upper()
            kind = "point" if "POINT" in gt else "line" if "LINE" in gt else "fill"
            spec = {**_DEFAULT_SPECS[kind], "title": ld.title_zh or name}
            styles.layers[name] = reader.layer(name, spec)
        if name not in placed:
            other.append(name)
    if other:
        styles.tree.insert(0, TreeGroup(OTHER_GROUP, tuple(other)))
