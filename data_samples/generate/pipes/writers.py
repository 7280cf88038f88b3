"""Deliver the pipe survey as survey offices do: workbook sheets and CSVs in two encodings.

给水, 雨水, 污水 and 燃气 go to one Excel workbook (a merged title row, two-row headers on some
sheets, a signature line), 热力 to a GBK CSV pair with the header variants surveyors use, and
电力 + 通信 to one UTF-8-with-BOM CSV pair with a class column: the variety the loaders read.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from data_samples.generate.files import stable_zip
from data_samples.generate.pipes.classes import (
    PIPE_CLASSES,
    PIPE_CSV_GBK,
    PIPE_CSV_UTF8,
    PIPE_WORKBOOK,
)

# The workbook's creator, as stamped by the generator when it was a single script: the
# committed workbook keeps these bytes.
WORKBOOK_CREATOR = "data_samples/generate.py"


def _csv_value(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


def _drop_empty(df):
    keep = [c for c in df.columns if c in ("备注", "特征", "附属物") or df[c].notna().any()]
    return df[keep]


def _write_sheet(wb, title, df, heading, two_row=None):
    """One 成果表 sheet: a merged title row, the header (one row or two with merged groups),
    the data and the surveyors' signature line."""
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(title)
    cols = list(df.columns)
    ws.append([heading] + [None] * (len(cols) - 1))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(cols))
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    if two_row:  # {group: (first column, second column, sub1, sub2)}
        top, sub = list(cols), [None] * len(cols)
        grouped = set()
        for group, (c1, _c2, s1, s2) in two_row.items():
            j = cols.index(c1)
            top[j], top[j + 1] = group, None
            sub[j], sub[j + 1] = s1, s2
            grouped |= {j, j + 1}
        ws.append(top)
        ws.append(sub)
        for j in range(len(cols)):
            if j not in grouped:
                ws.merge_cells(start_row=2, start_column=j + 1, end_row=3, end_column=j + 1)
        for c1, *_rest in two_row.values():
            j = cols.index(c1)
            ws.merge_cells(start_row=2, start_column=j + 1, end_row=2, end_column=j + 2)
    else:
        ws.append(cols)
    for rec in df.itertuples(index=False, name=None):
        ws.append([None if (isinstance(v, float) and math.isnan(v)) else v for v in rec])
    ws.append([])
    ws.append(["制表：王测绘    检查：李质检    日期：2024年6月30日"])


def write_pipe_survey(tables, out_dir: Path) -> None:
    """Write the survey as delivered: an Excel workbook (给水, 雨水, 污水, 燃气), a GBK CSV
    pair (热力) and a UTF-8-with-BOM CSV pair with a class column (电力, 通信)."""
    import datetime as dt

    import openpyxl

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    wb.properties.creator = WORKBOOK_CREATOR
    wb.properties.created = wb.properties.modified = dt.datetime(2024, 6, 30)
    for letters in ("JS", "YS", "WS", "RQ"):
        name = PIPE_CLASSES[letters]["name"]
        pts, segs = tables[letters]
        pts, segs = _drop_empty(pts), _drop_empty(segs)
        head = "济宁市太白湖新区地下管线普查（示例数据）"
        if letters == "YS":  # a two-row header: 坐标 over X and Y
            pts = pts.rename(columns={"地面高程": "地面高程(m)"})
            _write_sheet(wb, f"{name}管线点", pts, f"{head}  {name}管线点成果表",
                         {"坐标(m)": ("X", "Y", "X", "Y")})
        else:
            _write_sheet(wb, f"{name}管线点", pts, f"{head}  {name}管线点成果表")
        if letters == "WS":  # 埋深 and 管线高程 over 起点 / 终点
            segs = segs.rename(columns={"管径": "管径(mm)"})
            _write_sheet(wb, f"{name}管线段", segs, f"{head}  {name}管线段成果表",
                         {"埋深(m)": ("起点埋深", "终点埋深", "起点", "终点"),
                          "管线高程(m)": ("起点高程", "终点高程", "起点", "终点")})
        else:
            _write_sheet(wb, f"{name}管线段", segs, f"{head}  {name}管线段成果表")
    path = out / PIPE_WORKBOOK
    wb.save(path)
    stable_zip(path)

    def write_csv(path, df, encoding):
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(list(df.columns))
        for rec in df.itertuples(index=False, name=None):
            w.writerow([_csv_value(v) for v in rec])
        Path(path).write_bytes(buf.getvalue().encode(encoding))

    # 热力: GBK (as Excel on a Chinese Windows saves CSV), the header variants surveyors use
    pts, segs = (_drop_empty(t) for t in tables["RL"])
    write_csv(out / PIPE_CSV_GBK[0], pts.rename(columns={
        "物探点号": "点号", "X": "X坐标", "Y": "Y坐标", "地面高程": "地面高程(m)"}), "gbk")
    write_csv(out / PIPE_CSV_GBK[1], segs.rename(columns={
        "起始点号": "起点号", "终止点号": "终点号", "起点埋深": "起点埋深(m)",
        "终点埋深": "终点埋深(m)", "起点高程": "起点管线高程(m)", "终点高程": "终点管线高程(m)",
        "管径": "管径(mm)", "建设年代": "埋设年代", "道路名称": "所在道路"}), "gbk")
    # 电力 + 通信: one pair with a class column, UTF-8 with BOM
    both_p, both_s = [], []
    for letters in ("DL", "TX"):
        pts, segs = tables[letters]
        both_p.append(pts.assign(管线类别=PIPE_CLASSES[letters]["name"]))
        both_s.append(segs.assign(管线类别=PIPE_CLASSES[letters]["name"]))
    pts = _drop_empty(pd.concat(both_p, ignore_index=True))
    segs = _drop_empty(pd.concat(both_s, ignore_index=True)).rename(columns={"电缆条数": "电缆条数/孔数"})
    pts = pts[["管线类别"] + [c for c in pts.columns if c != "管线类别"]]
    segs = segs[["管线类别"] + [c for c in segs.columns if c != "管线类别"]]
    write_csv(out / PIPE_CSV_UTF8[0], pts, "utf-8-sig")
    write_csv(out / PIPE_CSV_UTF8[1], segs, "utf-8-sig")
