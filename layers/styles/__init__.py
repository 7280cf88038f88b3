"""The one map's styles, declared once (cim/dictionaries/styles.yaml) and rendered for QGIS
(QML, ``public.layer_styles``, the QGIS project) and for the web (MapLibre style, layer tree)."""

from layers.styles.maplibre import layer_tree, maplibre_style
from layers.styles.model import Styles, load_styles, style_fields
from layers.styles.qml import qml

__all__ = ["Styles", "load_styles", "qml", "maplibre_style", "layer_tree", "style_fields"]
