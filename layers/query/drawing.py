"""The cross-section drawing surveyors make (横断面图): ground line, pipes at their elevation and
size in their CJJ 61 class colour, labels (class, size, elevation), offset and elevation axes.

Both renderers share one layout (:class:`Layout`): offsets across, elevations up, each axis at
its own scale (a 60 m road over 3 m of depth needs vertical exaggeration), every pipe drawn at
its true size on both axes (a circle becomes an ellipse when the scales differ), never smaller
than a few pixels so it stays visible. SVG is written directly (no dependency; Chinese text is
left to the viewer's fonts). PNG uses matplotlib; Chinese labels need a CJK font
(``fonts-noto-cjk``, installed by ``scripts/ensure-system.sh``): without one the labels fall back
to the classes' English names and a warning says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from layers.query.pipes import ClassFacts, height_m, vertical_extent, width_m

WIDTH, HEIGHT = 900, 360  # plot area, px
LEFT, RIGHT, TOP, BOTTOM = 80, 30, 190, 60  # margins; labels stand in the top one
MIN_R = 3.0  # px: the smallest drawn half-size
GROUND_COLOUR = "#8b5a2b"
FONT = "Noto Sans CJK SC, Source Han Sans SC, WenQuanYi Micro Hei, SimHei, sans-serif"
CJK_FAMILIES = ("Noto Sans CJK", "Noto Serif CJK", "Source Han Sans", "WenQuanYi", "SimHei",
                "Microsoft YaHei", "PingFang", "AR PL")


@dataclass(frozen=True)
class Pipe:
    offset: float
    centre: float  # elevation of the section's centre
    w: float  # m across
    h: float  # m high
    box: bool
    colour: str
    label: str
    top: float
    code: str = ""


def nice_step(span: float, target: int) -> float:
    """A 1-2-5 step giving about ``target`` ticks over ``span``."""
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def ticks(lo: float, hi: float, target: int) -> list[float]:
    step = nice_step(hi - lo, target)
    first = math.ceil(lo / step - 1e-9) * step
    n = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + i * step, 10) for i in range(max(n, 0))]


def pipes_of(result: dict[str, Any], facts: dict[str, ClassFacts], english: bool = False
             ) -> list[Pipe]:
    """The rows of a section result as drawable pipes (rows without elevation:
    :func:`unplaced_of`)."""
    out = []
    for r in result["rows"]:
        if r["pipe_elev"] is None:
            continue
        cf = facts.get(r.get("pipe_class") or "")
        box = not r.get("diameter_mm") and bool(r.get("width_mm") and r.get("height_mm"))
        w = width_m(r.get("diameter_mm"), r.get("width_mm"))
        h = height_m(r.get("diameter_mm"), r.get("height_mm"))
        bottom, top = vertical_extent(r["pipe_elev"], r.get("elev_ref") or "top", h)
        name = (cf.name_en if cf else r["class_name"]) if english else r["class_name"]
        label = " ".join(str(p) for p in (name, r.get("size")) if p) + f" ▽{r['pipe_elev']:.2f}"
        out.append(Pipe(r["offset_m"], (bottom + top) / 2, w, h, box,
                        cf.hex if cf else "#666666", label, top, str(r["segment_code"])))
    return out


@dataclass(frozen=True)
class Unplaced:
    """A crossing whose pipe has no elevation (a GIS delivery without heights): its offset is
    known, its height is not, so it is drawn as a dashed line across the whole height."""

    offset: float
    colour: str
    label: str
    code: str


def unplaced_of(result: dict[str, Any], facts: dict[str, ClassFacts], english: bool = False
                ) -> list[Unplaced]:
    """The rows :func:`pipes_of` cannot place in height. Left out, a section of a network
    delivered without heights (QWAT's LineStringZ at Z 0) was an empty frame: nothing said
    the line crossed nine mains."""
    out = []
    for r in result["rows"]:
        if r["pipe_elev"] is not None:
            continue
        cf = facts.get(r.get("pipe_class") or "")
        name = (cf.name_en if cf else r["class_name"]) if english else r["class_name"]
        label = " ".join(str(p) for p in (name, r.get("size")) if p) + \
            (" (no elevation)" if english else " 高程未知")
        out.append(Unplaced(r["offset_m"], cf.hex if cf else "#666666", label,
                            str(r["segment_code"])))
    return out


class Layout:
    """Data → pixel transform of one drawing."""

    def __init__(self, result: dict[str, Any], pipes: list[Pipe]) -> None:
        self.length = max(float(result.get("length_m") or 0.0), 1e-6)
        ys = [p.centre - p.h / 2 for p in pipes] + [p.centre + p.h / 2 for p in pipes]
        ys += [r["ground_elev"] for r in result["rows"] if r["ground_elev"] is not None]
        lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
        pad = max((hi - lo) * 0.1, 0.5)
        self.ylo, self.yhi = lo - pad, hi + pad
        self.sx = WIDTH / self.length
        self.sy = HEIGHT / (self.yhi - self.ylo)

    def x(self, offset: float) -> float:
        return LEFT + offset * self.sx

    def y(self, elev: float) -> float:
        return TOP + (self.yhi - elev) * self.sy

    def caption(self, unplaced: int = 0, english: bool = False) -> str:
        """Length, the vertical exaggeration when the two scales differ, and how many
        crossings have no elevation."""
        ex = self.sy / self.sx
        text = f"{self.length:.1f} m" + (f", V/H ×{ex:.1f}" if abs(ex - 1) > 0.05 else "")
        if unplaced:
            text += f", {unplaced} without elevation" if english else \
                f", {unplaced} 处无高程 (no elevation)"
        return text

    def half(self, pipe: Pipe) -> tuple[float, float]:
        return max(pipe.w / 2 * self.sx, MIN_R), max(pipe.h / 2 * self.sy, MIN_R)


def ground_line(result: dict[str, Any], length: float) -> list[tuple[float, float]]:
    """(offset, ground) through the crossings, held level to both ends of the line."""
    pts = [(r["offset_m"], r["ground_elev"]) for r in result["rows"]
           if r["ground_elev"] is not None]
    if not pts:
        return []
    return [(0.0, pts[0][1]), *pts, (length, pts[-1][1])]


def draw_svg(result: dict[str, Any], facts: dict[str, ClassFacts], path: Path,
             title: str | None = None) -> None:
    """Write the section drawing as SVG (UTF-8)."""
    pipes = pipes_of(result, facts)
    loose = unplaced_of(result, facts)
    lay = Layout(result, pipes)
    w, h = LEFT + WIDTH + RIGHT, TOP + HEIGHT + BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="{FONT}" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{LEFT}" y="18" font-size="14">{escape(title or "横断面 Cross-section")}'
           f' — {escape(lay.caption(len(loose)))}</text>']
    for t in ticks(lay.ylo, lay.yhi, 6):  # elevation axis and grid
        y = lay.y(t)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + WIDTH}" y2="{y:.1f}" '
                   'stroke="#e0e0e0"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    for t in ticks(0.0, lay.length, 10):  # offset axis
        x = lay.x(t)
        out.append(f'<line x1="{x:.1f}" y1="{TOP + HEIGHT}" x2="{x:.1f}" '
                   f'y2="{TOP + HEIGHT + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + HEIGHT + 18}" text-anchor="middle">{t:g}'
                   '</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH}" height="{HEIGHT}" fill="none" '
               'stroke="black"/>')
    out.append(f'<text x="{LEFT + WIDTH / 2}" y="{TOP + HEIGHT + 40}" text-anchor="middle">'
               '距离 offset (m)</text>')
    out.append(f'<text x="18" y="{TOP + HEIGHT / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {TOP + HEIGHT / 2})">高程 elevation (m)</text>')
    gl = ground_line(result, lay.length)
    if gl:
        pts = " ".join(f"{lay.x(o):.1f},{lay.y(e):.1f}" for o, e in gl)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{GROUND_COLOUR}" '
                   'stroke-width="2"><title>地面 ground</title></polyline>')
    for u in loose:
        cx, ly = lay.x(u.offset), TOP - 6
        out.append(f'<line data-code="{escape(u.code)}" x1="{cx:.1f}" y1="{TOP + HEIGHT}" '
                   f'x2="{cx:.1f}" y2="{ly:.1f}" stroke="{u.colour}" stroke-width="1.5" '
                   f'stroke-dasharray="6,4"/>')
        out.append(f'<text x="{cx + 4:.1f}" y="{ly:.1f}" transform="rotate(-90 {cx + 4:.1f} '
                   f'{ly:.1f})">{escape(u.label)}</text>')
    for p in pipes:
        cx, cy = lay.x(p.offset), lay.y(p.centre)
        rx, ry = lay.half(p)
        if p.box:
            out.append(f'<rect data-code="{escape(p.code)}" x="{cx - rx:.1f}" '
                       f'y="{cy - ry:.1f}" width="{2 * rx:.1f}" '
                       f'height="{2 * ry:.1f}" fill="{p.colour}" fill-opacity="0.35" '
                       f'stroke="{p.colour}" stroke-width="1.5"/>')
        else:
            out.append(f'<ellipse data-code="{escape(p.code)}" cx="{cx:.1f}" cy="{cy:.1f}" '
                       f'rx="{rx:.1f}" ry="{ry:.1f}" '
                       f'fill="{p.colour}" fill-opacity="0.35" stroke="{p.colour}" '
                       'stroke-width="1.5"/>')
        ly = TOP - 6
        out.append(f'<line x1="{cx:.1f}" y1="{cy - ry:.1f}" x2="{cx:.1f}" y2="{ly:.1f}" '
                   f'stroke="{p.colour}" stroke-dasharray="2,2"/>')
        out.append(f'<text x="{cx + 4:.1f}" y="{ly:.1f}" transform="rotate(-90 {cx + 4:.1f} '
                   f'{ly:.1f})">{escape(p.label)}</text>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")


def cjk_font() -> str | None:
    """The family name of an installed CJK font matplotlib can use, else None."""
    from matplotlib import font_manager

    for f in font_manager.fontManager.ttflist:
        if any(f.name.startswith(k) for k in CJK_FAMILIES):
            return f.name
    return None


def draw_png(result: dict[str, Any], facts: dict[str, ClassFacts], path: Path,
             title: str | None = None, dpi: int = 100) -> list[str]:
    """Write the section drawing as PNG with matplotlib; returns warnings."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Ellipse, Rectangle
    except ImportError as exc:  # an install without the drawing dependency
        from cim.errors import InputError

        raise InputError("--png needs matplotlib (pip install matplotlib); --svg needs "
                         "nothing") from exc
    warnings: list[str] = []
    family = cjk_font()
    if family is None:
        warnings.append("no CJK font found (install fonts-noto-cjk): PNG labels in English")
    pipes = pipes_of(result, facts, english=family is None)
    loose = unplaced_of(result, facts, english=family is None)
    lay = Layout(result, pipes)
    w, h = LEFT + WIDTH + RIGHT, TOP + HEIGHT + BOTTOM
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((LEFT / w, BOTTOM / h, WIDTH / w, HEIGHT / h))
    font = {"family": [family, "sans-serif"]} if family else {}
    ax.set_xlim(0, lay.length)
    ax.set_ylim(lay.ylo, lay.yhi)
    ax.set_xticks(ticks(0.0, lay.length, 10))
    ax.set_yticks(ticks(lay.ylo, lay.yhi, 6))
    ax.grid(True, color="#e0e0e0")
    ax.set_xlabel("距离 offset (m)" if family else "offset (m)", fontdict=font)
    ax.set_ylabel("高程 elevation (m)" if family else "elevation (m)", fontdict=font)
    head = title or ("横断面 Cross-section" if family else "Cross-section")
    fig.text(LEFT / w, 1 - 18 / h, f"{head} — {lay.caption(len(loose), family is None)}",
             fontsize=12, fontdict=font)
    gl = ground_line(result, lay.length)
    if gl:
        ax.plot([o for o, _ in gl], [e for _, e in gl], color=GROUND_COLOUR, linewidth=2)
    for u in loose:
        ax.plot([u.offset, u.offset], [lay.ylo, lay.yhi], color=u.colour, linestyle="--",
                linewidth=1.5, clip_on=False)
        ax.annotate(u.label, (u.offset, lay.yhi), xytext=(2, 6), textcoords="offset points",
                    rotation=90, fontsize=8, ha="left", va="bottom", annotation_clip=False,
                    **font)
    for p in pipes:
        rx, ry = lay.half(p)
        dw, dh = 2 * rx / lay.sx, 2 * ry / lay.sy  # back to data units
        if p.box:
            patch = Rectangle((p.offset - dw / 2, p.centre - dh / 2), dw, dh)
        else:
            patch = Ellipse((p.offset, p.centre), dw, dh)
        patch.set(facecolor=p.colour, alpha=0.6, edgecolor=p.colour, linewidth=1.5, zorder=3)
        ax.add_patch(patch)
        ax.plot([p.offset, p.offset], [p.centre + dh / 2, lay.yhi], color=p.colour,
                linestyle=":", linewidth=1, clip_on=False)
        ax.annotate(p.label, (p.offset, lay.yhi), xytext=(2, 6), textcoords="offset points",
                    rotation=90, fontsize=8, ha="left", va="bottom", annotation_clip=False,
                    **font)
    fig.savefig(path, format="png")
    return warnings
