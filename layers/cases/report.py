"""The evaluation's HTML report (``cim case report``): the period's figures in total, per grid
cell and per unit, the formulas they follow and the overdue list. One self-contained file (no
script, no CDN, inline CSS), so it can be mailed or archived as it is. No personal data: no
reporter, phone or photo appears in it."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

_CSS = ("body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;"
        "margin:8px 0 24px}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
        "th{background:#eee}td.k{text-align:left}.late{color:#b00}")
_COLS = (("reported", "上报数"), ("registered", "立案数"), ("registration_rate", "立案率"),
         ("dispatched", "派遣数"), ("due", "应处置数"), ("on_time", "按期处置数"),
         ("on_time_rate", "按期处置率"), ("handled", "处置数"), ("closed", "结案数"),
         ("closing_rate", "结案率"), ("mean_handling_h", "平均处置时长(h)"))


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "—"
    if key.endswith("_rate"):
        return f"{v * 100:.1f}%"
    if key == "mean_handling_h":
        return f"{v:.1f}"
    return html.escape(str(v))


def _table(title: str, key_name: str | None, rows: list[dict[str, Any]]) -> str:
    head = (f"<th>{html.escape(key_name)}</th>" if key_name else "") + "".join(
        f"<th>{label}</th>" for _, label in _COLS)
    body = []
    for r in rows:
        k = (f'<td class="k">{html.escape(str(r.get("_key") or "—"))}</td>'
             if key_name else "")
        body.append("<tr>" + k + "".join(f"<td>{_cell(c, r.get(c))}</td>" for c, _ in _COLS)
                    + "</tr>")
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{''.join(body)}</table>"


def _local(t: Any, zone: str | None) -> str:
    """A deadline as the city reads it (its clock, to the minute, with the offset)."""
    if not isinstance(t, dt.datetime):
        return "" if t is None else str(t)
    if zone:
        from cim.cityclock import on_city_clock

        t = on_city_clock(t, zone)
    return t.isoformat(sep=" ", timespec="minutes")


def _local_text(text: str, zone: str | None) -> str:
    """A bound of the period or the moment deadlines are judged at, which the evaluation
    gives as RFC 3339 text, on the city's clock to the second: ``as_of`` is the database's
    clock, in UTC (the report said ``2026-12-05T22:13:40.718912+00:00`` for 06:13 in China),
    and a bound typed with another offset is shown in it."""
    from cim.cityclock import on_city_clock

    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    return (on_city_clock(t, zone) if zone else t).isoformat(timespec="seconds")


def render_html(total: dict[str, Any], by_grid: dict[str, Any],
                by_unit: dict[str, Any]) -> str:
    """The report from three :func:`layers.cases.evaluate.evaluate` results of one period
    (total, by grid, by unit)."""
    e = html.escape
    grid_rows = [{**r, "_key": r["grid"]} for r in by_grid["rows"]]
    unit_rows = [{**r, "_key": r["unit"]} for r in by_unit["rows"]]
    late = total["overdue"]
    zone = total.get("timezone")  # deadlines on the city's clock, as the period is given
    late_rows = "".join(
        f"<tr><td class='k'>{e(r['code'])}</td><td class='k'>{e(r['state'])}</td>"
        f"<td class='k'>{e(r['category_name'] or '')}</td><td class='k'>{e(r['grid_code'] or '')}"
        f"</td><td class='k'>{e(r['unit'] or '')}</td><td>{e(_local(r['deadline'], zone))}</td>"
        f"<td class='late'>{r['overdue_h']:.1f}</td></tr>" for r in late)
    formulas = "".join(f"<li><b>{e(k)}</b> = {e(v)}</li>" for k, v in total["formulas"].items())
    start, end = _local_text(total["from"], zone), _local_text(total["to"], zone)
    return (
        "<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'>"
        f"<title>城市管理案件评价 {e(start[:10])} – {e(end[:10])}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>城市管理案件综合评价</h1><p>统计期 {e(start)} 至 {e(end)}（上报时间，"
        f"含起不含止）；期限判定时点 {e(_local_text(total['as_of'], zone))}</p>"
        + _table("合计", None, [total["total"]])
        + _table("按单元网格", "网格", grid_rows)
        + _table("按处置单位", "单位", unit_rows)
        + f"<h2>超期案件（{len(late)}）</h2><table><tr><th>案件编码</th><th>状态</th><th>类别</th>"
        "<th>网格</th><th>单位</th><th>处置期限</th><th>超期(h)</th></tr>" + late_rows
        + "</table><h2>指标口径</h2><ul>" + formulas + "</ul></body></html>")
