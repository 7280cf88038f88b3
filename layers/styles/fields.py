"""The Chinese names of each layer's attributes, for what planners read: QGIS's identify panel
and attribute table (aliases in the QML) and the web map's feature info.

They are the Chinese words that open each column's title where the column is declared
(``建筑名称 name`` → 建筑名称): ``cim.layerdefs`` (the base columns every table has and each
layer's own), and beside a result layer the columns of its table it does not carry to the map
(the ``OTHER_COLUMNS`` its module declares next to its LayerDef: JSON detail, bookkeeping, a
case's unpublished text). One source, so a column is named the same on both maps and in the
OGC API's pages; a column declared nowhere keeps its name. The result layers are the ones the
catalog lists (``layers.catalog.result_layers``), never a list of this module's own: a result
layer declared once (its LayerDef and its other columns) is named here without an edit.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

from cim.layerdefs import Column, LayerDef

_CJK = re.compile(r"[\u3400-\u9fff]")


def chinese_title(title: str) -> str | None:
    """The Chinese name a column title opens with (its first word, when it holds a Chinese
    character), else None."""
    head = title.split(maxsplit=1)[0] if title.strip() else ""
    return head if _CJK.search(head) else None


def other_columns() -> dict[str, tuple[Column, ...]]:
    """{result layer: the columns of its table its LayerDef leaves out}, for every result layer
    of the catalog: declared beside it, not carried by its tiles (which carry the LayerDef's
    columns). They named the three result layers of their day by hand, so a fourth had its
    table's other columns shown under their English names in QGIS until this file was edited."""
    from layers.catalog import result_layers

    return {d.name: _declared_beside(d) for d in result_layers()}


def _declared_beside(d: LayerDef) -> tuple[Column, ...]:
    """The ``OTHER_COLUMNS`` of the module that declares ``d`` (it holds ``d`` itself, not an
    equal copy; the catalog imported it to list ``d``), else none: a result table whose
    LayerDef has all its columns."""
    found: dict[int, tuple[Column, ...]] = {}
    for module in list(sys.modules.values()):
        names = getattr(module, "__dict__", None)
        if not isinstance(names, dict) or not isinstance(names.get("OTHER_COLUMNS"), tuple):
            continue
        if any(v is d for v in list(names.values())):
            found[id(names["OTHER_COLUMNS"])] = names["OTHER_COLUMNS"]
    if len(found) > 1:  # two modules hold the layer and other columns: which are its?
        raise RuntimeError(f"result layer {d.name!r}: OTHER_COLUMNS declared in more than one "
                           "module holding its LayerDef")
    columns = next(iter(found.values()), ())
    if not all(isinstance(c, Column) for c in columns):
        raise RuntimeError(f"result layer {d.name!r}: OTHER_COLUMNS holds no Column")
    return columns


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, str]]:
    from cim.layerdefs import BASE_COLUMNS, GEOMETRY_COLUMN, GEOMETRY_TITLE, LAYERS
    from layers.catalog import result_layers

    other = other_columns()
    out: dict[str, dict[str, str]] = {}
    for d in [*LAYERS.values(), *result_layers()]:
        names = {GEOMETRY_COLUMN: chinese_title(GEOMETRY_TITLE)}
        for c in (*BASE_COLUMNS, *d.columns, *other.get(d.name, ())):
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
