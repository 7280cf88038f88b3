"""The one map's styles, declared once (cim/dictionaries/styles.yaml) and rendered for QGIS
(QML, ``public.layer_styles``, the QGIS project) and for the web (MapLibre style, layer tree).

The names below are imported on first use (PEP 562), so registering ``cim styles`` at the
CLI's start (``layers.styles.cli``, a submodule of this package) imports neither the profile
nor pyproj. The QML writer is ``layers.styles.qml.qml``: lazily, the package attribute ``qml``
is its submodule (Python binds a submodule to its package when it is first imported).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"layer_tree": "maplibre", "maplibre_style": "maplibre", "Styles": "model",
            "load_styles": "model", "style_fields": "model"}
__all__ = ["Styles", "load_styles", "maplibre_style", "layer_tree", "style_fields"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
