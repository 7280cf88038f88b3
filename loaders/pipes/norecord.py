"""Which rows of a survey table are no survey record: a title, a signature or date line
(制表：, 审核：, 日期：), a total (合计, 小计), a printed page's number or its header repeated
(第2页; 物探点号, X, Y … again), a row of units below the header (m, mm).

Such rows are skipped, and the load's notes name them. Every other row is a record, even
with its key cells blank: a row that carries a valve's 特征 and 地面高程 but no 物探点号 is a
delivered point that cannot be loaded — a reject naming the blank field, never a row dropped
because it looked like a signature (nothing silently lost). Decided on each column's distinct
values, so a 100,000-row table costs a few pandas passes, not a Python call a cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# a cell that makes its row an annotation: a total's label at its start; a signature's or a
# date's label at its start (制表：, 制表人：, 审核人 李四, 作业员 王五, 测量单位 XX院,
# 坐标系：CGCS2000), or one with its colon anywhere (…日期：2024-05-01); a page number. A
# note's label (注：, 说明：) is one only where a record's key would be: a record's 备注 may
# read 注：待补测
_SIGNED = (r"制\s*表|审\s*核|校\s*核|检\s*查|复\s*核|编\s*制|填\s*表|绘\s*图|负\s*责|签\s*字"
           r"|签\s*名|日\s*期|作\s*业|测\s*量|技\s*术\s*负\s*责|项\s*目\s*负\s*责"
           r"|坐\s*标\s*系|高\s*程\s*系|单\s*位")
_NOTED = r"说\s*明|注"
_TOTAL_OR_PAGE = r"^\s*(?:合\s*计|小\s*计|总\s*计|共\s*计)|第\s*\d+\s*页|共\s*\d+\s*页"
# elsewhere in a row whose keys are blank: a signature's label, with its colon or its name
SIGNATURE = (_TOTAL_OR_PAGE
             + rf"|^\s*(?:{_SIGNED})\s*(?:人|员|者|单\s*位|系统)?\s*(?:[:：]|\s+\S)"
             + rf"|(?:{_SIGNED})\s*(?:人|员)?\s*[:：]")
# in a key column: any label with its colon (a point numbered "检查 1" is a number)
ANNOTATION = (_TOTAL_OR_PAGE
              + rf"|^\s*(?:{_SIGNED}|{_NOTED})\s*(?:人|员|者|单\s*位|系统)?\s*[:：]"
              + rf"|(?:{_SIGNED})\s*(?:人|员)?\s*[:：]")
# a total's count where a key would be (合计 | 9个点 | … : the 合计 under 图上点号, the count under
# 物探点号): a number with its measure word, never a point number
COUNT = r"^\s*(?:共\s*)?\d+\s*(?:个|条|段|处|根|个点|条管线)\S{0,3}\s*$"
# a total's label as a cell of its own (合计, 小 计：): a 备注 reading 共计2处渗漏 is a record's
TOTAL_LABEL = r"^\s*(?:合|小|总|共)\s*计\s*[:：]?\s*$"
# a cell that is a unit (the row below a header that gives the columns' units)
UNITS = frozenset({"m", "mm", "cm", "km", "米", "毫米", "厘米", "(m)", "(mm)", "（m）", "（mm）",
                   "[m]", "[mm]", "m²", "mpa", "kpa", "kv", "根", "孔", "个"})


def no_record_rows(headers: list[str], columns: list[tuple[np.ndarray, list[Any]]],
                   blank: np.ndarray, keys: list[int]) -> np.ndarray:
    """Whether each row is no record (see the module). ``columns``: each column's (codes,
    distinct values) (:func:`loaders.column_values.distinct`, -1 where missing); ``blank``: rows ×
    columns, whether the cell is blank; ``keys``: the columns of the record's key (物探点号,
    X, Y; 起始点号, 终止点号). An annotation's label in a key column (日期： under X) makes
    its row no record; elsewhere only in a row whose key cells are all blank and whose every
    cell but one is labelled: a record's 备注 may well read "说明：…"."""
    n = blank.shape[0]
    filled = (~blank).sum(axis=1)
    key_blank = blank[:, keys].all(axis=1) if keys else np.ones(n, dtype=bool)
    annotation = np.zeros(n, dtype=bool)  # a label in a key column
    labels = np.zeros(n, dtype=np.int64)  # labelled cells elsewhere
    totals = np.zeros(n, dtype=bool)  # a total's label (合计) outside the keys
    key_counts = np.zeros(n, dtype=np.int64)  # key cells holding a count (9个点)
    header_cells = np.zeros(n, dtype=np.int64)
    unit_cells = np.zeros(n, dtype=np.int64)
    for j, (codes, uniques) in enumerate(columns):
        if not uniques:
            continue
        text = pd.Series([u if isinstance(u, str) else None for u in uniques], dtype=object)
        stripped = text.str.strip()
        pattern = ANNOTATION if j in keys else SIGNATURE
        ann = text.str.contains(pattern, regex=True).fillna(False).to_numpy(dtype=bool)
        head = (stripped == str(headers[j]).strip()).fillna(False).to_numpy(dtype=bool)
        unit = stripped.str.lower().isin(UNITS).to_numpy(dtype=bool)
        at = np.append(ann, False)[codes]
        if j in keys:
            annotation |= at
            count = text.str.contains(COUNT, regex=True).fillna(False).to_numpy(dtype=bool)
            key_counts += np.append(count, False)[codes]
        else:
            labels += at
            total = text.str.contains(TOTAL_LABEL, regex=True).fillna(False).to_numpy(
                dtype=bool)
            totals |= np.append(total, False)[codes]
        header_cells += np.append(head, False)[codes]
        unit_cells += np.append(unit, False)[codes]
    # keys blank and every cell but one a label (制表：张三, 审核：李四; 测量单位 XX院): a
    # signature line; a row of data whose 备注 reads 注：待补测 is a record without its key
    signed = key_blank & (labels > 0) & (labels >= filled - 1)
    # 合计 alone in a cell outside the keys, the keys filled holding counts (9个点): a total,
    # whatever else it sums (keys all blank: the signature rule above decides)
    keys_filled = (~blank[:, keys]).sum(axis=1) if keys else np.zeros(n, dtype=np.int64)
    total = totals & (key_counts > 0) & (keys_filled == key_counts)
    return (filled < 2) | annotation | signed | total | (header_cells >= 2) | \
        ((unit_cells > 0) & (unit_cells == filled))


def rows_named(numbers: list[int], most: int = 10) -> str:
    """Row numbers for a note: ``rows 3, 17, 40`` (the first ``most``, then how many more)."""
    shown = ", ".join(map(str, numbers[:most]))
    more = f" and {len(numbers) - most} more" if len(numbers) > most else ""
    return f"row{'s' if len(numbers) > 1 else ''} {shown}{more}"
