"""The Chinese names of each layer's attributes, for what planners read: QGIS's identify panel
and attribute table (aliases in the QML) and the web map's feature info.

They are the Chinese words that open each column's title where the column is declared
(``建筑名称 name`` → 建筑名称): ``cim.layerdefs`` (the base columns every table has and each
layer's own), and for a result layer the columns of its table it does not carry to the map
(``LayerDef.other_columns``: JSON detail, bookkeeping, a case's unpublished text). One source,
so a column is named the same on both maps and in the OGC API's pages; a column declared
nowhere keeps its name. The layers are the catalog's (``layers.catalog.layer_defs``), never a
list of this module's own: a result layer declared once is named here without an edit.
"""

from __future__ import annotations

import re
from functools import lru_cache

from cim.layerdefs import Column

_CJK = re.compile(r"[\u3400-\u9fff]")


# the units a column title ends with (``管径 diameter (mm)``), said beside its Chinese name:
# the feature info showed 管径 300, 时限 48 (hours) and 上报周期 300 (seconds) without them
_UNIT = re.compile(r"\((mm|m|m²|s|h)\)\s*$")


def chinese_title(title: str) -> str | None:
    """The Chinese name a column title opens with (its first word, when it holds a Chinese
    character), with the unit the title ends with (管径(mm)), else None."""
    head = title.split(maxsplit=1)[0] if title.strip() else ""
    if not _CJK.search(head):
        return None
    unit = _UNIT.search(title)
    return f"{head}({unit.group(1)})" if unit and "(" not in head else head


def without_unit(name: str) -> str:
    """A shown name without the unit :func:`chinese_title` adds (管径(mm) → 管径): what a
    planner types, or a survey's header says."""
    return re.sub(r"\((mm|m|m²|s|h)\)$", "", name)


def other_columns() -> dict[str, tuple[Column, ...]]:
    """{result layer: the columns of its table its LayerDef leaves out}, for every result layer
    of the catalog (``LayerDef.other_columns``), not carried by its tiles (which carry the
    LayerDef's columns). They were named for the three result layers of their day by hand,
    then found by scanning the loaded modules for an ``OTHER_COLUMNS`` beside the LayerDef."""
    from layers.catalog import result_layers

    return {d.name: d.other_columns for d in result_layers()}


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, str]]:
    from cim.layerdefs import BASE_COLUMNS, GEOMETRY_COLUMN, GEOMETRY_TITLE
    from layers.catalog import layer_defs

    out: dict[str, dict[str, str]] = {}
    for d in layer_defs().values():
        names = {GEOMETRY_COLUMN: chinese_title(GEOMETRY_TITLE)}
        for c in (*BASE_COLUMNS, *d.columns, *d.other_columns):
            zh = chinese_title(c.title)
            if zh:
                names[c.name] = zh
        out[d.name] = names
    return out


def field_titles(layer: str) -> dict[str, str]:
    """{column: Chinese name} of a layer's table (every declared column, the base ones too);
    empty for a layer the platform does not declare."""
    return dict(_all().get(layer, {}))


def all_field_titles() -> dict[str, dict[str, str]]:
    """:func:`field_titles` of every declared and result layer."""
    return {k: dict(v) for k, v in _all().items()}
