"""The Chinese names of each layer's attributes, for what planners read: QGIS's identify panel
and attribute table (aliases in the QML) and the web map's feature info.

They are the Chinese words that open each column's title in ``cim.layerdefs`` (``建筑名称
name`` → 建筑名称), so a column declared there is named the same on both maps; the platform's
own columns, whose titles there are English, are named here. A column with neither keeps its
name.
"""

from __future__ import annotations

import re
from functools import lru_cache

# the base columns every layer table has (cim.layerdefs.BASE_COLUMNS: titles in English)
BASE_TITLES = {"id": "行号", "code": "统一编码", "source_key": "来源标识", "batch_id": "入库批次",
               "valid_from": "生效时间", "valid_to": "失效时间", "row_hash": "内容哈希",
               "source_hash": "来源指纹", "flags": "标记", "attrs": "原始属性",
               "geom": "几何"}
# columns of the result tables (health check, alarms, cases) their LayerDefs leave undeclared:
# used only where no declared title names the column
UNDECLARED_TITLES = {"detail": "详情", "description": "描述", "address": "地址",
                     "run_id": "计算批次", "name_en": "英文名称", "unit": "单位",
                     "direction": "指标方向", "previous_year": "上一年份", "change": "变化",
                     "method": "计算方法"}
_CJK = re.compile(r"[\u3400-\u9fff]")


def chinese_title(title: str) -> str | None:
    """The Chinese name a column title opens with (its first word, when it holds a Chinese
    character), else None."""
    head = title.split(maxsplit=1)[0] if title.strip() else ""
    return head if _CJK.search(head) else None


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, str]]:
    from cim.layerdefs import BASE_COLUMNS, LAYERS
    from layers.catalog import result_layers

    out: dict[str, dict[str, str]] = {}
    for d in [*LAYERS.values(), *result_layers()]:
        names = {**UNDECLARED_TITLES, **BASE_TITLES}
        for c in (*BASE_COLUMNS, *d.columns):
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
