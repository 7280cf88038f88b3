"""The report's map (matplotlib, PNG): parcels, height zones, control lines, existing buildings
and pipes near the site, the site boundary, the new buildings and green areas, and every
violation in red on top.

Colours are the shared layer styles (``cim/dictionaries/styles.yaml`` through
:func:`layers.styles.load_styles`: parcels by land use, control lines by type, height zones by
type) and the CJJ 61 pipe colours of ``pipe_classes.csv``; Chinese labels need a CJK font
(``fonts-noto-cjk``), else the legend falls back to English.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.polygon import orient

from cim.crs import lonlat_srid, transformer
from cim.profile import CityProfile
from layers.approval.data import Context
from layers.approval.project import Project
from layers.query.drawing import cjk_font
from layers.query.pipes import class_facts

# a violation in magenta: the road red line (HX) and the site are red already (it was the
# red of the road band's pink, and its legend patch read as either)
VIOLATION = "#e000d0"
NEW_BUILDING = "#3060c0"
SITE = "#d00000"
GREEN = "#58b858"
EXISTING = "#9a9a9a"
MARGIN_M = 30.0


def _categories(profile: CityProfile | None, *layers: str) -> list[dict[str, str]]:
    """Per layer, value → hex colour of its categorized style (empty when there is no style).
    The styles file is read once (parsing its YAML is a tenth of a check's time)."""
    if profile is None:
        return [{} for _ in layers]
    from layers.styles.model import load_styles

    try:
        styles = load_styles(profile).layers
    except Exception:  # noqa: BLE001 - a broken styles file must not stop a check's report
        return [{} for _ in layers]
    return [{c.value: f"#{c.color.r:02x}{c.color.g:02x}{c.color.b:02x}"
             for c in (styles[n].categories if n in styles else []) if c.color}
            for n in layers]


def _paths(ax, g: shapely.Geometry, **kw: Any) -> None:
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    for part in getattr(g, "geoms", [g]):
        if part.is_empty:
            continue
        if part.geom_type == "Polygon":
            # matplotlib fills by the nonzero rule: a hole running the same way round as its
            # outline (GeoJSON, GeoPackage and CAD keep the drawing's) is filled over — a
            # courtyard building drawn solid. Outline counter-clockwise, holes clockwise
            part = orient(part, 1.0)
            verts, codes = [], []
            for ring in [part.exterior, *part.interiors]:
                c = np.asarray(ring.coords)[:, :2]
                verts.extend(c)
                codes.extend([MPath.MOVETO] + [MPath.LINETO] * (len(c) - 2) + [MPath.CLOSEPOLY])
            ax.add_patch(PathPatch(MPath(verts, codes), **kw))
        elif part.geom_type in ("LineString", "LinearRing"):
            c = np.asarray(part.coords)
            ax.plot(c[:, 0], c[:, 1], color=kw.get("edgecolor", "#000"),
                    linewidth=kw.get("linewidth", 1), linestyle=kw.get("linestyle", "-"),
                    zorder=kw.get("zorder", 2))
        elif part.geom_type == "Point":
            ax.plot([part.x], [part.y], "o", color=kw.get("edgecolor", "#000"), markersize=6,
                    zorder=kw.get("zorder", 2))
        else:
            _paths(ax, part, **kw)


def violations(result: dict[str, Any], srid: int) -> list[shapely.Geometry]:
    """The offending geometries of every failed rule, back in the storage CRS."""
    t = transformer(lonlat_srid(srid), srid)  # as result.crs84 wrote them
    out = []
    for r in result["results"]:
        if r["status"] != "fail":
            continue
        for f in r["geometry"]["features"]:
            g = shape(f["geometry"])
            out.append(shapely.transform(g, lambda xy: np.column_stack(
                t.transform(xy[:, 0], xy[:, 1]))))
    return out


def draw_map(project: Project, ctx: Context, result: dict[str, Any],
             profile: CityProfile | None, width_px: int = 900, dpi: int = 100) -> bytes:
    """The map as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    family = cjk_font()
    zh = family is not None
    x0, y0, x1, y1 = project.site.buffer(MARGIN_M).bounds
    for b in project.buildings:
        bx0, by0, bx1, by1 = b.footprint.bounds
        x0, y0, x1, y1 = min(x0, bx0 - 5), min(y0, by0 - 5), max(x1, bx1 + 5), max(y1, by1 + 5)
    aspect = (y1 - y0) / (x1 - x0)
    h_px = int(min(max(width_px * aspect, 400), 1400))
    fig = Figure(figsize=(width_px / dpi, (h_px + 120) / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 120 / (h_px + 120), 0.96, h_px / (h_px + 120) * 0.97))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    ax.add_patch(Rectangle(
        (x0 - 1e4, y0 - 1e4), x1 - x0 + 2e4, y1 - y0 + 2e4, facecolor="#fbfbf8", zorder=0))
    land, lines, zones = _categories(profile, "planning_parcels", "control_lines",
                                     "height_zones")
    pipes = {k: v.hex for k, v in class_facts(profile).items()}
    for p in ctx.parcels:
        _paths(ax, p["geom"], facecolor=land.get(p["land_use_code"] or "", "#f3e7b0"),
               alpha=0.3, edgecolor="#666666", linewidth=0.6, zorder=1)
        c = p["geom"].intersection(shapely.box(x0, y0, x1, y1)).representative_point()
        if not c.is_empty:
            ax.annotate(p["parcel_code"] or p["code"], (c.x, c.y), fontsize=7, color="#444",
                        ha="center", zorder=6, **({"family": family} if zh else {}))
    for z in ctx.zones:
        _paths(ax, z["geom"], facecolor="none", edgecolor=zones.get(z["zone_type"], "#e07800"),
               linewidth=1.2, linestyle="--", hatch="//", zorder=2)
    for ln in ctx.lines:
        colour = lines.get(ln["line_type_code"], "#555555")
        g = ln["geom"]
        if ln.get("width_m") and g.geom_type in ("LineString", "MultiLineString"):
            g = g.buffer(float(ln["width_m"]) / 2, cap_style="flat")
        _paths(ax, g, facecolor=colour, alpha=0.25, edgecolor=colour, linewidth=1.6, zorder=3)
    for e in ctx.buildings:
        _paths(ax, e["geom"], facecolor=EXISTING, edgecolor="#666", linewidth=0.5, zorder=4)
    for d in project.demolish:
        _paths(ax, d.outline, facecolor="none", edgecolor="#555", hatch="xx", linewidth=0.8,
               zorder=5)
    for r in ctx.pipes:
        c = pipes.get(r["pipe_class"], "#666666")
        _paths(ax, r["geom"], edgecolor=c, linewidth=2.0, zorder=5)
    for g in project.green:
        _paths(ax, g, facecolor=GREEN, alpha=0.9, edgecolor="#2e8b2e", linewidth=0.6, zorder=6)
    for b in project.buildings:
        _paths(ax, b.footprint, facecolor=NEW_BUILDING, alpha=0.75, edgecolor="#102060",
               linewidth=1.0, zorder=7)
        c = b.footprint.representative_point()
        ax.annotate(b.label if zh else b.label.encode("ascii", "replace").decode(),
                    (c.x, c.y), fontsize=8, color="white", ha="center", va="center", zorder=8,
                    **({"family": family} if zh else {}))
    _paths(ax, project.site.boundary, edgecolor=SITE, linewidth=2.2, linestyle="--", zorder=9)
    for g in violations(result, ctx.srid):
        if g.area >= 0.99 * project.site.area:  # an index of the whole site: outline only,
            # under the site's dashed line (which the legend names), not over it
            _paths(ax, g.boundary, edgecolor=VIOLATION, linewidth=6.0, alpha=0.6, zorder=8.5)
            continue
        _paths(ax, g, facecolor=VIOLATION, alpha=0.35, edgecolor=VIOLATION, linewidth=3.0,
               zorder=10)
    # scale bar: a round length about a fifth of the width
    span = (x1 - x0) / 5
    step = 10 ** np.floor(np.log10(span))
    bar = float(max(m * step for m in (1, 2, 5) if m * step <= span))
    ax.plot([x0 + 5, x0 + 5 + bar], [y0 + 5, y0 + 5], color="black", linewidth=3, zorder=11)
    ax.annotate(f"{bar:g} m", (x0 + 5 + bar / 2, y0 + 7), ha="center", fontsize=8, zorder=11)
    # north arrow (指北针, as a filed site plan carries it): up is the storage CRS's grid north
    ax.annotate("北" if zh else "N", xy=(0.965, 0.975), xytext=(0.965, 0.89),
                xycoords="axes fraction", textcoords="axes fraction", ha="center",
                va="top", fontsize=11, fontweight="bold", zorder=11,
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3,
                            "headwidth": 11, "headlength": 12},
                **({"family": family} if zh else {}))

    def t(zh_: str, en: str) -> str:
        return zh_ if zh else en

    pipe_classes = sorted({(r["pipe_class"], r.get("class_name") or r["pipe_class"])
                           for r in ctx.pipes if r.get("pipe_class")})

    handles = [
        Line2D([], [], color=SITE, linestyle="--", linewidth=2, label=t("用地红线", "site")),
        Patch(facecolor=NEW_BUILDING, alpha=0.75, label=t("新建建筑", "new buildings")),
        Patch(facecolor=GREEN, label=t("绿地", "green areas")),
        Patch(facecolor=EXISTING, label=t("现状建筑", "existing buildings")),
        Patch(facecolor="#f3e7b0", alpha=0.6, label=t("控规地块", "parcels")),
        Patch(facecolor="none", edgecolor="#e07800", hatch="//", label=t("限高区", "height zones")),
        *[Line2D([], [], color=lines.get(c, "#555"), linewidth=3, label=t(n, e))
          for c, n, e in (("HX", "道路红线", "road red line"), ("LVX", "绿线", "green line"),
                          ("LX", "蓝线", "blue line"), ("ZX", "紫线", "purple line"),
                          ("HUX", "黄线", "yellow line"))],
        # the pipes in the colours they are drawn in (CJJ 61, pipe_classes.csv), a class each
        *[Line2D([], [], color=pipes.get(c, "#666666"), linewidth=2,
                 label=t(f"{n}管线", f"pipes {c}")) for c, n in pipe_classes],
        Patch(facecolor="none", edgecolor="#555", hatch="xx", label=t("拆除", "demolition")),
        Patch(facecolor=VIOLATION, alpha=0.5, edgecolor=VIOLATION, label=t("违规", "violation")),
    ]
    # (10 pt: 8 pt on the 900-pixel image printed at about 6 pt)
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=10, frameon=False,
               prop={"family": family, "size": 10} if zh else {"size": 10})
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
