"""The assessment's HTML report: counts by level and type, a map of the points in their four
colours (inline SVG in the storage CRS, no external file) and the list, one measure per point.
Self-contained, so it can be mailed or archived as it is."""

from __future__ import annotations

import html
from typing import Any

from layers.risk.config import Matrix

_W, _H, _PAD = 720, 520, 16


def _svg(points: list[dict[str, Any]], rgb: dict[str, str]) -> str:
    if not points:
        return "<p>无风险点 (no risk points)</p>"
    xs, ys = [p["easting"] for p in points], [p["northing"] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span = max(x1 - x0, y1 - y0, 1.0)
    k = min(_W, _H) / span * 0.95

    def xy(p):
        return _PAD + (p["easting"] - x0) * k, _H - _PAD - (p["northing"] - y0) * k

    dots = []
    for p in sorted(points, key=lambda p: ("低", "一般", "较大", "重大").index(p["level"])):
        x, y = xy(p)
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="rgb({rgb[p["level"]]})" '
                    f'stroke="#333" stroke-width="0.5"><title>{html.escape(p["code"])} '
                    f'{html.escape(p["risk_type"] or "")} {p["level"]}</title></circle>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W + 2 * _PAD}" '
            f'height="{_H + _PAD}" style="border:1px solid #ccc;background:#fafafa">'
            + "".join(dots) + "</svg>")


def _label(column: str) -> str:
    """A list column's Chinese name, as the layer declares it (风险等级 …), with its key."""
    from cim.layerdefs import LAYERS

    if column == "code":
        return "风险点编码 code"
    col = next((c for c in LAYERS["risk_points"].columns if c.name == column), None)
    zh = col.title.split(" ", 1)[0] if col is not None else ""
    return html.escape(f"{zh} {column}" if zh else column)


def _cell(p: dict[str, Any], column: str) -> str:
    """A list cell's text; a likelihood nobody assessed (`cim risk add` without
    --likelihood) says so, as `cim risk list --json` does: a bare 3 read as a judgement."""
    v = p.get(column)
    if column == "likelihood" and p.get("likelihood_defaulted"):
        return f"{v} (默认值, 未评估 default, not assessed)"
    return str(v) if v is not None else ""


def render_html(result: dict[str, Any], points: list[dict[str, Any]], matrix: Matrix) -> str:
    """The report of one assessment (``result`` as ``assess`` returns it)."""
    rgb = {lv: spec["rgb"] for lv, spec in matrix.levels.items()}
    e = html.escape
    # the counts are of the rows listed below, counted here: the run's own counts may differ
    # from what the list shows (a point an alarm raised, or one changed since the run)
    by_level = {lv: 0 for lv in matrix.levels}
    types: dict[str, str] = {}
    type_n: dict[str, int] = {}
    for p in points:
        by_level[p["level"]] += 1
        types[p["risk_type_code"]] = p["risk_type"]
        type_n[p["risk_type_code"]] = type_n.get(p["risk_type_code"], 0) + 1
    levels = "".join(f'<tr><td style="background:rgb({rgb[lv]})">{matrix.levels[lv]["color"]}'
                     f"</td><td>{lv}</td><td>{n}</td></tr>" for lv, n in by_level.items()) \
        + f"<tr><td></td><td>合计</td><td>{len(points)}</td></tr>"
    by_type = "".join(f"<tr><td>{e(t)}</td><td>{e(types.get(t) or '')}</td><td>{n}</td></tr>"
                      for t, n in sorted(type_n.items()))
    cols = ("code", "risk_type", "level", "likelihood", "consequence", "asset_code",
            "description", "responsible_unit", "measure", "deadline", "measure_status")
    rows = "".join(
        f'<tr style="background:rgba({rgb[p["level"]]},0.25)">'
        + "".join(f"<td>{e(_cell(p, c))}</td>" for c in cols)
        + "</tr>" for p in points)
    notes = "".join(f"<li>{e(n)}</li>" for n in result.get("notes", []))
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><title>城市治理风险清单 {result['year']}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:3px 6px;font-size:13px}}</style></head><body>
<h1>城市治理风险清单 Risk list — {result['year']}</h1>
<p>评估 assessment #{result['run_id']} on {e(result['date'])}: {len(points)} 风险点;
changes {e(str(result['changes']))}</p>
<h2>分级 Levels</h2><table><tr><th>颜色</th><th>等级</th><th>数量</th></tr>{levels}</table>
<h2>类型 Types</h2><table><tr><th>代码</th><th>类型</th><th>数量</th></tr>{by_type}</table>
<h2>风险分布图 Map</h2>{_svg(points, rgb)}
<h2>风险清单 List (一点一策)</h2>
<table><tr>{''.join(f'<th>{_label(c)}</th>' for c in cols)}</tr>{rows}</table>
<ul>{notes}</ul></body></html>"""
