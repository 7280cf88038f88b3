"""The health check report: one self-contained HTML file (inline CSS, maps as base64 PNG).

Sections: the city health index with its dimension scores and per district; then one table per
dimension (each indicator for the city and every district: value, target, status, previous
year, change, trend, flags) followed by a choropleth map per indicator (matplotlib, CJK labels
with ``fonts-noto-cjk``), each district labelled with its value. The maps colour as the web
map does (the health_indicators style of styles.yaml, its classes and colours): the index by
its value, an indicator by its score (the share of its target reached, 1 = met) on the same
classes × 0.01 — so a district far from its target is red whatever its neighbours' values.
An indicator without a target (no score) is coloured by value relative to the other
districts, green = better by its direction.
"""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

import psycopg
import shapely

from layers.query.drawing import cjk_font

STATUS_COLOUR = {"met": "#1a7f37", "not_met": "#c00000", "no_target": "#555",
                 "no_data": "#777"}
# the direction a trend word is drawn with beside its word (value_labels.yaml's)
TREND_ARROW = {"improved": " ↑", "worsened": " ↓"}
CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;
 margin:24px;color:#222;font-size:14px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;
 text-align:left;vertical-align:top}th{background:#f2f2f2}.note{color:#555;font-size:12px}
.maps{display:flex;flex-wrap:wrap;gap:8px}.maps img{border:1px solid #ccc;width:320px}
"""


def _v(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return escape(str(v))


def _whole(e: dict[str, Any]) -> dict[str, Any]:
    """A count's entry (栋) with its numbers whole: 2 buildings, not 2.00."""
    return {**e, **{k: int(e[k]) for k in ("value", "target", "previous_value", "change")
                    if isinstance(e.get(k), float) and e[k].is_integer()}}


def district_shapes(conninfo: str) -> dict[str, Any]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT code, ST_AsBinary(geom) FROM admin_divisions "
                            "WHERE valid_to IS NULL").fetchall()
    return {c: shapely.from_wkb(bytes(g)) for c, g in rows}


def health_classes(profile: Any) -> list[Any]:
    """The classes the web map colours the health layer by (styles.yaml health_indicators:
    breaks, colours, labels on the 0–100 index)."""
    from layers.styles.model import load_styles

    return load_styles(profile).layer("health_indicators").classes


def class_of(classes: list[Any], v: float) -> Any:
    """The class of ``v`` as the maps take it: the first whose upper break is not below it
    (a break value in the lower class); below the first class the first, above the last the
    last."""
    return next((c for c in classes if v <= c.upper), classes[-1])


def choropleth(shapes: dict[str, Any], values: dict[str, float | None], title: str,
               direction: str = "up", names: dict[str, str] | None = None,
               classed: dict[str, float | None] | None = None,
               classes: list[Any] | None = None) -> bytes:
    """A PNG map of the districts (grey: no value), each labelled with its name and value:
    coloured by ``classed`` (0–100: the index, or a score × 100) on ``classes`` with their
    legend when given; else by value relative to the other districts (green = better by
    ``direction``, all alike: the middle colour) with a colour bar."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    family = cjk_font()
    fig = Figure(figsize=(4, 3.2), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    use_classes = bool(classes) and classed is not None and \
        any(v is not None for v in classed.values())
    known = [v for v in values.values() if v is not None]
    lo, hi = min(known, default=0), max(known, default=1)
    norm = Normalize(lo, hi) if hi > lo else (lambda _v: 0.5)
    cmap = colormaps["RdYlGn" if direction == "up" else "RdYlGn_r"]
    for code, geom in shapes.items():
        v = values.get(code)
        if use_classes:
            c = classed.get(code)
            colour = "#cccccc" if c is None else class_of(classes, c).color.hex
        else:
            colour = "#cccccc" if v is None else cmap(norm(v))
        for poly in getattr(geom, "geoms", [geom]):
            x, y = poly.exterior.xy
            ax.fill(x, y, facecolor=colour, edgecolor="#333", linewidth=0.8)
        c = geom.representative_point()
        label = (names or {}).get(code) if family else None
        ax.annotate(f"{label}\n{_v(v)}" if label else _v(v), (c.x, c.y), ha="center",
                    va="center", fontsize=8, fontfamily=family or "sans-serif")
    if use_classes:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor=c.color.hex, edgecolor="#333",
                                 label=c.label if family else f"{c.lower:g}-{c.upper:g}")
                           for c in reversed(classes)], loc="center left",
                  bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False,
                  prop={"family": family or "sans-serif", "size": 7})
    elif known and hi > lo:
        from matplotlib.cm import ScalarMappable

        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title if family else title.encode("ascii", "ignore").decode() or "indicator",
                 fontsize=9, fontfamily=family or "sans-serif")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _img(png: bytes) -> str:
    return f'<img alt="map" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def health_labels(profile: Any) -> dict[str, dict[str, str]]:
    """The words of the health layer's coded columns (status met → 达标, trend improved → 改善
    …) as the web map's feature info shows them: value_labels.yaml's ``health_indicators``,
    the city's copy named in its profile else the platform's
    (:func:`layers.styles.info_formats.info_formats`). The report kept its own copies, so a city's
    wording showed on the map and not in the report. ``flags``: every layer's words
    (:func:`layers.styles.info_formats.flag_labels`): the report printed no_population_of_year."""
    from layers.styles.info_formats import flag_labels, info_formats

    formats = info_formats(profile)
    return {**formats["values"].get("health_indicators", {}),
            "flags": flag_labels(formats, "health_indicators")}


def _flags(flags: list[str], labels: dict[str, dict[str, str]]) -> str:
    """A row's flags in their words (the map's 、 between them), a flag without one as it is."""
    words = labels.get("flags", {})
    return "、".join(words.get(f, f) for f in flags)


def _trend(trend: str | None, labels: dict[str, dict[str, str]]) -> str:
    if trend is None:
        return "—"
    word = labels.get("trend", {}).get(trend, trend)
    return escape(word) + TREND_ARROW.get(trend, "")


def _row(label: str, e: dict[str, Any], labels: dict[str, dict[str, str]]) -> str:
    st = e["status"]
    # a per-capita value says whose residents it divides by: the year may be an earlier one
    py = (e.get("detail") or {}).get("population_year")
    pop = f" <small>(人口 {py} 年)</small>" if py is not None else ""
    return (f"<tr><td>{escape(label)}</td><td>{_v(e['value'])}{pop}</td>"
            f"<td>{_v(e['target'])}</td>"
            f'<td style="color:{STATUS_COLOUR.get(st, "#000")}">{escape(labels.get("status", {}).get(st, st))}</td>'
            f"<td>{_v(e['previous_value'])}</td><td>{_v(e['change'])}</td>"
            f"<td>{_trend(e['trend'], labels)}</td>"
            f"<td>{escape(_flags(e['flags'], labels)) or '—'}</td></tr>")


def _g(v: Any) -> str:
    return "—" if v is None else f"{v:g}" if isinstance(v, int | float) else escape(str(v))


def _types_table(ind: dict[str, Any]) -> str:
    """The shares of each facility type a mean-of-types value (社区服务设施步行覆盖率) is the
    mean of, for the city and every district: the value alone did not say which type the
    city lacks (the shares were in the JSON detail only). Empty for other indicators."""
    units = [("全市 city", ind["city"])] + [(e["unit_name"] or e["unit_code"], e)
                                           for e in ind["districts"]]
    kinds = (ind["city"].get("detail") or {}).get("types") or {}
    if not kinds:
        return ""

    def share(e: dict[str, Any], k: str) -> str:
        t = ((e.get("detail") or {}).get("types") or {}).get(k) or {}
        res = t.get("residential_m2")
        return _v(100 * t["covered_m2"] / res if res else None)

    rows = ["<table><tr><th>设施类型 facility type</th><th>生活圈 circle</th>"
            "<th>步行距离 walk</th>" + "".join(f"<th>{escape(u)} %</th>" for u, _ in units)
            + "</tr>"]
    for k, t in kinds.items():
        rows.append(f"<tr><td>{escape(str(t.get('name_zh') or k))}</td>"
                    f"<td>{_g(t.get('life_circle_minutes'))} 分钟</td>"
                    f"<td>{_g(t.get('walk_distance_m'))} m</td>"
                    + "".join(f"<td>{share(e, k)}</td>" for _, e in units) + "</tr>")
    return "".join(rows) + "</table>"


def render_html(result: dict[str, Any], shapes: dict[str, Any],
                classes: list[Any] | None = None,
                labels: dict[str, dict[str, str]] | None = None) -> str:
    """The report as one HTML string; ``classes``: the web map's (:func:`health_classes`),
    the maps' colours; ``labels``: the coded columns' words (:func:`health_labels`; none given,
    the codes)."""
    labels = labels or {}
    year, idx = result["year"], result["index"]
    dims = {d["id"]: d for d in result["dimensions"]}
    names = {e["unit_code"]: e["unit_name"] or e["unit_code"]
             for i in result["indicators"] for e in i["districts"]}
    city = idx["units"].get("city", {})
    out = ['<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
           f"<title>城市体检报告 {year}</title><style>{CSS}</style></head><body>",
           f"<h1>城市体检报告 City health check {year}</h1>",
           f"<p>城市体检指数 City health index: <b>{_v(city.get('value'))}</b>"
           f" (上一年 previous {_v(result['previous_year'])}: {_v(city.get('previous_value'))},"
           f" {_trend(city.get('trend'), labels)})"
           + (f" <small>[{escape(_flags(city['flags'], labels))}]</small>" if city.get("flags")
              else "") + "</p>",
           f"<p class='note'>{escape(idx['method'])}</p>",
           "<p class='note'>地图颜色 map colours: 指数按其值, 各指标按目标达成度 (score × 100, "
           "1 = 达标) — as on the web map; the index, by its value; an indicator, by the share "
           "of its target reached</p>",
           "<table><tr><th>维度 dimension</th><th>权重 weight</th><th>全市 city</th>"
           + "".join(f"<th>{escape(names.get(c, c))}</th>" for c in idx["units"] if c != "city")
           + "</tr>"]
    if result.get("weights_changed"):
        # a stored year drawn again after its catalog's weights were edited: no weight is
        # printed beside an index it was not computed with (layers.health.stored)
        out.insert(6, "<p class='note'>权重 weights: 目录已修改, 非计算时的权重 — the "
                      "catalog's weights were edited since this year was computed</p>")
    for d in result["dimensions"]:
        out.append(f"<tr><td>{escape(d['name_zh'])} {escape(d['name_en'])}</td>"
                   f"<td>{_v(d['weight'])}</td>" + "".join(
                       f"<td>{_v(None if u['dimensions'].get(d['id']) is None else 100 * u['dimensions'][d['id']])}</td>"
                       for u in idx["units"].values()) + "</tr>")
    out.append("<tr><th>指数 index</th><td></td>" + "".join(
        f"<th>{_v(u['value'])}</th>" for u in idx["units"].values()) + "</tr></table>")
    index_values = {c: u["value"] for c, u in idx["units"].items() if c != "city"}
    out.append('<div class="maps">' + _img(choropleth(
        shapes, index_values, f"城市体检指数 {year}", names=names, classed=index_values,
        classes=classes)) + "</div>")
    for dim_id, dim in dims.items():
        inds = [i for i in result["indicators"] if i["dimension"] == dim_id]
        if not inds:
            continue
        out.append(f"<h2>{escape(dim['name_zh'])} {escape(dim['name_en'])}</h2>")
        maps = []
        for ind in inds:
            if ind.get("count"):
                ind = {**ind, "city": _whole(ind["city"]),
                       "districts": [_whole(e) for e in ind["districts"]]}
            out.append(f"<h3>{escape(ind['name_zh'])} {escape(ind['name_en'])} "
                       f"({escape(ind['unit'])}, {'↑' if ind['direction'] == 'up' else '↓'})</h3>"
                       f"<p class='note'>{escape(ind['definition'])} — {escape(ind['source'])}</p>"
                       "<table><tr><th>单元 unit</th><th>值 value</th><th>目标 target</th>"
                       "<th>状态 status</th><th>上一年 previous</th><th>变化 change</th>"
                       "<th>趋势 trend</th><th>标记 flags</th></tr>")
            out.append(_row("全市 city", ind["city"], labels))
            out += [_row(e["unit_name"] or e["unit_code"], e, labels) for e in ind["districts"]]
            out.append("</table>")
            out.append(_types_table(ind))
            scores = {e["unit_code"]: None if e["score"] is None else 100 * e["score"]
                      for e in ind["districts"]}
            maps.append(_img(choropleth(shapes, {e["unit_code"]: e["value"]
                                                 for e in ind["districts"]},
                                        f"{ind['name_zh']} ({ind['unit']})", ind["direction"],
                                        names, scores, classes)))
        out.append('<div class="maps">' + "".join(maps) + "</div>")
    out.append("</body></html>")
    return "\n".join(out)
