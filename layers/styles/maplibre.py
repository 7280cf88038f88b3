"""The web map's MapLibre style (v8) and layer tree, from the same styles as the QML.

One vector source ``cim`` (the platform's multi-layer tiles); each style layer's source-layer
is the collection id. The tree and the style are built in one walk so every tree entry names
exactly the style layers that draw it; each style layer carries ``metadata["cim:group"]``.
"""

from __future__ import annotations

from typing import Any

from cim.profile import CityProfile
from layers.styles.expr import ml_filter, ml_geometry
from layers.styles.info_formats import info_formats
from layers.styles.model import (
    GEOMETRY_KINDS,
    OTHER_COLOR,
    OTHER_LABEL,
    Color,
    Filter,
    LayerStyle,
    Styles,
    load_styles,
    scale_to_zoom,
)

PX_PER_MM = 3.78  # 96 dpi
BACKGROUND = "#f7f6f2"
DEFAULT_OUTLINE = Color(60, 60, 60)
LEGEND_KIND = {"fill": "fill", "line": "line", "point": "circle"}


def px(mm: Any, default: float) -> float:
    return round(float(mm if mm is not None else default) * PX_PER_MM, 2)


def _color(v: Any, default: Color | None = None) -> Color | None:
    if v is None:
        return default
    parts = [int(p) for p in str(v).split(",")]
    return Color(*parts)


# QGIS marker shapes other than the circle, drawn on the web map as glyphs of the label font
# (geometric shapes U+25A0–25FF and dingbats U+2700–27BF, ✚, are among the served glyph ranges):
# the shape tells a valve (◆) from a hydrant (▲) on both maps. A glyph's shape fills about
# GLYPH_FILL of its em square.
SHAPE_GLYPHS = {"diamond": "◆", "triangle": "▲", "square": "■", "cross_fill": "✚",
                "cross": "✚"}
GLYPH_FILL = 0.62
NO_COLOR = "rgba(0,0,0,0)"
LIVE_SOURCE = "live"  # the live layers' own vector source, reloaded when their data changes


def source_of(layer: str) -> str:
    """The style source of a collection: ``live`` for the layers that change while the
    platform runs (:func:`layers.catalog.live_layers`), else the one map's ``cim``."""
    from layers.catalog import live_layers

    return LIVE_SOURCE if layer in live_layers() else "cim"


def graduated_expr(st: LayerStyle, field: str | None = None, scale: float = 1.0) -> list:
    """A graduated renderer's colour as a MapLibre ``case``: the same classes as QGIS's ranges
    (a value takes the first class with lower <= value <= upper, so a break value is in the
    lower class); NULL and values outside every class are not drawn (transparent). ``field``
    and ``scale`` (breaks × scale): another number on the same classes (a selected indicator's
    score)."""
    field = field or st.field
    v = ["to-number", ["get", field]]
    expr: list = ["case", ["!=", ["typeof", ["get", field]], "number"], NO_COLOR,
                  ["<", v, round(st.classes[0].lower * scale, 12)], NO_COLOR]
    for c in st.classes:
        expr += [["<=", v, round(c.upper * scale, 12)], c.color.hex]
    return expr + [NO_COLOR]


def select_options(st: LayerStyle, profile: CityProfile) -> dict | None:
    """The web map's selector of a graduated result layer: per option its filter and fill
    colour (the style's ``where`` value first, as styled; then each indicator of the catalog
    by its score), the first one shown."""
    sel = st.select
    if sel is None:
        return None
    from layers.health.catalog import load_catalog

    options = []
    if st.where and st.where.values:
        options.append({"value": st.where.values[0], "label": st.title,
                        "filter": ml_filter(st.where), "fill-color": graduated_expr(st)})
    for ind in load_catalog(profile).indicators:
        options.append({"value": ind.id, "label": ind.name_zh,
                        "filter": ml_filter(Filter(sel.field, (ind.id,))),
                        "fill-color": graduated_expr(st, sel.color_field, sel.scale)})
    return {"field": sel.field, "options": options}


class _Builder:
    """Walks the tree once, collecting style layers (bottom first) and tree entries."""

    def __init__(self, styles: Styles, only: list[str] | None,
                 profile: CityProfile | None = None) -> None:
        self.styles, self.only = styles, set(only) if only else None
        self.profile = profile
        # the scale ranges become zooms at the city's latitude (as QGIS measures scales)
        self.latitude = city_latitude(profile) if profile is not None else 0.0
        self.body: list[dict] = []
        self.labels: list[dict] = []

    def wanted(self, layer: str) -> bool:
        return self.only is None or layer in self.only

    def run(self) -> list[dict]:
        tree = []
        for g in self.styles.tree:
            children = []
            if g.split:
                for value, label in g.split.categories:
                    names = [n for n in g.split.layers if self.wanted(n)]
                    if names:
                        children.append(self.child(g.group, f"{g.split.by}-{value}",
                                                   label + g.split.suffix, names,
                                                   Filter(g.split.by, (value,))))
            else:
                for n in g.layers:
                    if self.wanted(n):
                        children.append(self.child(g.group, n, self.styles.layer(n).title,
                                                   [n], None))
            if children:
                tree.append({"group": g.group, "children": children})
        return tree

    def child(self, group: str, cid: str, title: str, names: list[str],
              cat: Filter | None) -> dict:
        ids, legend = [], []
        for n in names:
            nlabels = len(self.labels)
            layers, items = self.layer(self.styles.layer(n), cid, cat)
            for sl in layers + self.labels[nlabels:]:
                sl["metadata"] = {"cim:group": group, "cim:child": cid, "cim:layer": n,
                                  **sl.get("metadata", {})}
            ids.extend(sl["id"] for sl in layers + self.labels[nlabels:])
            legend.extend(items)
            self.body.append(layers)  # one entry per collection, reordered in style()
        out = {"id": cid, "title": title, "layers": ids, "legend": legend}
        sel = [st for st in map(self.styles.layer, names) if st.select]
        if sel and cat is None and self.profile is not None:
            out["select"] = select_options(sel[0], self.profile)
        return out

    # -- one collection (optionally one category of it) -----------------------------------
    def layer(self, st: LayerStyle, cid: str, cat: Filter | None) -> tuple[list[dict], list]:
        base = f"{cid}-{st.name}" if cat else st.name
        keep = [ml_filter(f) for f in (cat, st.where) if f]
        flt = keep[0] if len(keep) == 1 else ["all", *keep] if keep else None
        zoom: dict[str, float] = {}
        if st.max_scale:
            zoom["minzoom"] = scale_to_zoom(st.max_scale, self.latitude)
        if st.min_scale:
            zoom["maxzoom"] = scale_to_zoom(st.min_scale, self.latitude)
        kinds = GEOMETRY_KINDS[::-1] if st.kind == "mixed" else (st.kind,)
        out, legend = [], []
        for kind in kinds:  # fill under line under point
            gflt = ml_geometry(kind) if st.kind == "mixed" else None
            suffix = f"-{kind}" if st.kind == "mixed" else ""
            if st.renderer == "rule-based":
                made, items = self.rules(st, base + suffix, kind, cat)
            else:
                made, items = self.simple(st, base + suffix, kind, cat)
            for sl in made:
                sl.update({"source": source_of(st.name), "source-layer": st.name, **zoom})
                parts = [p for p in (flt, gflt, sl.pop("filter", None)) if p]
                if parts:
                    sl["filter"] = parts[0] if len(parts) == 1 else ["all", *parts]
            out.extend(made)
            if kind == kinds[-1]:  # a mixed layer's legend shows its points
                legend.extend(items)
        if st.label:
            if st.kind == "mixed":
                # a mixed table's lines are labelled along them, as QGIS does (line placement);
                # a point-placed label of a line is repeated at every vertex of it
                line = ml_geometry("line")
                self.labels.append(self.label(st, base, ["all", *([flt] if flt else []),
                                                         ["!", line]], zoom))
                self.labels.append(self.label(st, base + "-line", ["all", *([flt] if flt
                                                                             else []), line],
                                              zoom, along=True))
            else:
                self.labels.append(self.label(st, base, flt, zoom, along=st.kind == "line"))
        return out, legend

    def color_expr(self, st: LayerStyle, cat: Filter | None) -> tuple[Any, list]:
        """A colour (one category) or a match expression, and the legend's (label, colour)."""
        if st.renderer == "single":
            return None, []
        if st.renderer == "graduated":
            return graduated_expr(st), [(c.label, c.color) for c in st.classes]
        cats = [c for c in st.categories if cat is None or c.value in (cat.values or ())]
        if cat is not None and len(cats) == 1:  # the child shows that value only
            return cats[0].color.hex, [(cats[0].label, cats[0].color)]
        # the whole layer: any other value (also none) grey, listed as in the QML's "all
        # other values" category
        others = [(OTHER_LABEL, OTHER_COLOR)] if cat is None else []
        if not cats:
            return OTHER_COLOR.hex, others
        expr: list = ["match", ["to-string", ["get", st.field]]]
        for c in cats:
            expr += [c.value, c.color.hex]
        return expr + [OTHER_COLOR.hex], [(c.label, c.color) for c in cats] + others

    def simple(self, st: LayerStyle, sid: str, kind: str, cat: Filter | None):
        s = st.symbol
        color, items = self.color_expr(st, cat)
        made, legend_kind = self.shapes(st, sid, kind, s, color, heights=True)
        if not items:
            c = (_color(s.get("outline")) if legend_kind == "line" else
                 _color(s.get("fill") or s.get("color"))) or DEFAULT_OUTLINE
            items = [(st.title, c)]
        if legend_kind == "circle":
            legend = [self.point_legend(lab, s, c.hex, c.hex) for lab, c in items]
        else:
            legend = [{"label": lab, "color": c.hex, "kind": legend_kind} for lab, c in items]
        if st.height_classes:
            legend += [{"label": h.title, "color": Color(90, 90, 90, round(h.opacity * 255)).hex,
                        "kind": "fill"} for h in st.height_classes]
        return made, legend

    def shapes(self, st: LayerStyle, sid: str, kind: str, s: dict, color: Any,
               heights: bool) -> tuple[list[dict], str]:
        """The style layers of one symbol ``s`` of ``kind`` in ``color`` (a colour or an
        expression), as the QML draws it, and its legend swatch kind; ``heights``: the fill's
        opacity by the layer's height classes (its own renderer's symbol, not a rule's)."""
        legend_kind = LEGEND_KIND[kind]
        if kind == "fill":
            # as the QML: the symbol's own fill, else the class colour (a categorized layer
            # with fill "0,0,0,0" is hollow, its outlines in the class colours), times
            # fill_opacity; the outline the symbol's, else the class colour, else dark grey
            own = _color(s.get("fill"))
            fill = own.hex if own else color or Color(200, 200, 200).hex
            outline = _color(s.get("outline"))
            opacity: Any = float(s.get("fill_opacity", 1))
            if own is not None and own.a == 0:
                opacity, legend_kind = 0, "line"
            if heights and st.height_classes:
                opacity = self.height_opacity(st)
            line = {"id": sid + "-outline", "type": "line",
                    "paint": {"line-color": outline.hex if outline else
                              color or DEFAULT_OUTLINE.hex,
                              "line-width": px(s.get("outline_width"), 0.26)}}
            if s.get("outline_style") == "dash":
                line["paint"]["line-dasharray"] = [4, 2]
            made = [{"id": sid + "-fill", "type": "fill",
                     "paint": {"fill-color": fill, "fill-opacity": opacity}}, line]
        elif kind == "line":
            made = [{"id": sid + "-line", "type": "line",
                     "layout": {"line-cap": "round", "line-join": "round"},
                     "paint": {"line-color": _color(s["color"]).hex if s.get("color")
                               else color or DEFAULT_OUTLINE.hex,
                               "line-width": px(s.get("width"), 0.26)}}]
        else:
            made = [self.circle(sid + "-circle", s, color)]
        return made, legend_kind

    @staticmethod
    def point_colors(s: dict, color: Any) -> tuple[Any, Any]:
        """A point symbol's fill and outline as the QML's: the symbol's own, else the class
        colour (a colour or an expression), else dark grey."""
        fill = _color(s.get("fill"))
        outline = _color(s.get("outline"))
        return (fill.hex if fill else color or DEFAULT_OUTLINE.hex,
                outline.hex if outline else color or DEFAULT_OUTLINE.hex)

    def point_legend(self, label: str, s: dict, color: Any, swatch: str) -> dict:
        """A point's legend item drawn as the map draws it, from the same symbol: its shape
        (the glyph of SHAPE_GLYPHS, else a circle), fill, outline and sizes in px. The legend
        showed every point as a round swatch in the class colour: a valve (◆) like a hydrant
        (▲), a well (white, ringed in the class colour) as a solid dot. ``color`` a colour,
        else (every class of a layer in one entry) grey; ``swatch`` the item's ``color`` as
        before (its class colour, which a one-swatch entry and older readers show)."""
        shown = color if isinstance(color, str) else None
        fill_c, line_c = self.point_colors(s, shown or "#888888")
        shape = str(s.get("shape", "circle"))
        item = {"label": label, "color": swatch, "kind": "circle", "shape": shape,
                "fill": fill_c, "stroke": line_c, "size": px(s.get("size"), 1.6),
                "stroke_width": px(s.get("outline_width"), 0.2)}
        if shape in SHAPE_GLYPHS:  # the glyph at the map's text size, its halo the outline
            item.update(glyph=SHAPE_GLYPHS[shape], text_size=round(item["size"] / GLYPH_FILL, 2))
        return item

    def circle(self, sid: str, s: dict, color: Any) -> dict:
        """A point symbol: a circle, or the QGIS marker's shape as a glyph (SHAPE_GLYPHS);
        colours as the QML's (:meth:`point_colors`)."""
        fill_c, line_c = self.point_colors(s, color)
        glyph = SHAPE_GLYPHS.get(str(s.get("shape", "circle")))
        if glyph:
            size = px(s.get("size"), 1.6)
            return {"id": sid, "type": "symbol",
                    "layout": {"text-field": glyph, "text-font": [self.styles.label_font],
                               "text-size": round(size / GLYPH_FILL, 2),  # as point_legend
                               "text-allow-overlap": True, "text-ignore-placement": True,
                               "text-padding": 0},
                    "paint": {"text-color": fill_c, "text-halo-color": line_c,
                              "text-halo-width": px(s.get("outline_width"), 0.2)},
                    "metadata": {"cim:shape": s.get("shape")}}
        return {"id": sid, "type": "circle",
                "paint": {"circle-color": fill_c,
                          "circle-radius": px(s.get("size"), 1.6) / 2,
                          "circle-stroke-color": line_c,
                          "circle-stroke-width": px(s.get("outline_width"), 0.2)}}

    def rules(self, st: LayerStyle, sid: str, kind: str, cat: Filter | None):
        color: Any = None
        if st.color_by:
            field, colors = st.color_by
            keep = [c for c in colors if cat is None or c.value in (cat.values or ())]
            if len(keep) == 1:
                color = keep[0].color.hex
            else:
                color = ["match", ["to-string", ["get", field]]]
                for c in keep:
                    color += [c.value, c.color.hex]
                color.append(OTHER_COLOR.hex)
        made, legend = [], []
        others = [ml_filter(r.filter) for r in st.rules if r.filter]
        for i, r in enumerate(st.rules):
            # a rule's symbol of any kind (a city's rule-based fills and lines too: the web
            # style raised NotImplementedError, /styles/onemap answered 500 and no map drew)
            if kind == "point":
                sls, legend_kind = [self.circle(f"{sid}-r{i}", r.symbol, color)], "circle"
            else:
                sls, legend_kind = self.shapes(st, f"{sid}-r{i}", kind, r.symbol, color,
                                               heights=False)
            for sl in sls:
                sl["filter"] = ml_filter(r.filter) if r.filter else ["!", ["any", *others]]
            made.append(sls)
            if not st.can_have(r, cat.values if cat else None):
                continue
            if kind == "point":
                legend.append(self.point_legend(r.title, r.symbol, color,
                                                self.rule_swatch(r.symbol, color, kind)))
            else:
                legend.append({"label": r.title, "kind": legend_kind,
                               "color": self.rule_swatch(r.symbol, color, kind)})
        return [sl for sls in made[::-1] for sl in sls], legend  # the first rule on top

    @staticmethod
    def rule_swatch(s: dict, color: Any, kind: str) -> str:
        """A rule's legend colour: its class's (one class shown), else the rule symbol's own
        (the facilities' blue school, red clinic: the legend listed every rule grey), else
        grey."""
        if isinstance(color, str):
            return color
        own = _color(s.get("color") if kind == "line" else s.get("fill") or s.get("color"))
        return own.hex if own else "#888888"

    def height_opacity(self, st: LayerStyle) -> list:
        classes = st.height_classes
        expr: list = ["step", ["to-number", ["coalesce", ["get", st.height_field], 0]],
                      classes[0].opacity]
        for h in classes[1:]:
            expr += [h.min, h.opacity]
        return expr

    @staticmethod
    def label_offset(st: LayerStyle, lab: Any) -> float:
        """How far (ems of the label) a point's label stands from the point: half its largest
        symbol plus the QML's 0.5 mm gap (placement dist)."""
        sizes = [float(s.get("size", 1.6)) for s in (st.symbol, *(r.symbol for r in st.rules))
                 if s]
        half_mm = max(sizes, default=1.6) / 2 + 0.5
        return round(px(half_mm, 0) / max(11.0, px(lab.size, 2.5)), 2)

    def label(self, st: LayerStyle, base: str, flt: list | None, zoom: dict,
              along: bool = False) -> dict:
        lab = st.label
        sl: dict = {"id": base + "-label", "type": "symbol", "source": source_of(st.name),
                    "source-layer": st.name,
                    "layout": {"text-field": ["to-string", ["coalesce", ["get", lab.field], ""]],
                               "text-font": [self.styles.label_font],
                               "text-size": max(11.0, px(lab.size, 2.5))},
                    "paint": {"text-color": lab.color.hex},
                    "metadata": {"cim:label": True}}
        if along:
            sl["layout"]["symbol-placement"] = "line"
        elif st.kind == "point":
            # beside the point, as QGIS's "around point" placement: a label centred on its
            # point covered the symbol (a risk point's circle under its own 风险类型)
            sl["layout"].update({"text-variable-anchor": ["left", "right", "top", "bottom"],
                                 "text-radial-offset": self.label_offset(st, lab)})
        if lab.halo:
            sl["paint"].update({"text-halo-color": lab.halo.hex, "text-halo-width": 1.2})
        if flt:
            sl["filter"] = flt
        sl.update(zoom)
        if lab.max_scale:
            sl["minzoom"] = max(zoom.get("minzoom", 0),
                                scale_to_zoom(lab.max_scale, self.latitude))
        return sl


def city_latitude(profile: CityProfile) -> float:
    """The latitude of the city's centre (degrees): its boundary file's, else that of its
    storage CRS's area of use (:func:`layers.catalog.profile_extent_lonlat`)."""
    from layers.catalog import profile_extent_lonlat

    _, south, _, north = profile_extent_lonlat(profile)
    return (south + north) / 2


def _build(profile: CityProfile, layers: list[str] | None) -> tuple[list[dict], list[dict],
                                                                    _Builder]:
    b = _Builder(load_styles(profile), layers, profile)
    tree = b.run()
    # the tree lists top first; draw bottom first
    body = [sl for chunk in reversed(b.body) for sl in chunk]
    return tree, body, b


def layer_tree(profile: CityProfile, layers: list[str] | None = None) -> list[dict]:
    """The web map's layer tree: groups in Chinese, each child with its style layer ids and
    legend (label, colour, kind line|fill|circle); a result layer's child also its ``select``
    (options, each with the filter and fill colour its style layers take)."""
    return _build(profile, layers)[0]


def maplibre_style(base_url: str, profile: CityProfile, layers: list[str] | None = None,
                   basemap_url: str | None = None) -> dict:
    """The MapLibre style JSON (v8) of the one map, tiles and glyphs from ``base_url``."""
    from layers.catalog import live_layers

    base_url = base_url.rstrip("/")
    tree, body, b = _build(profile, layers)
    # the one-map source names the collections it draws: without `collections` its tiles
    # held the live layers too (drawn from their own source), and their ETags the live
    # layers' versions, so every alarm or case change re-sent every one-map tile
    drawn = list(dict.fromkeys(sl["source-layer"] for sl in body if sl.get("source") == "cim"))
    sources: dict[str, dict] = {"cim": {"type": "vector", "url": base_url
                                        + "/tiles/WebMercatorQuad?f=tilejson"
                                        + ("&collections=" + ",".join(drawn) if drawn else "")}}
    live = [n for n in live_layers() if any(sl.get("source") == LIVE_SOURCE and
                                            sl.get("source-layer") == n for sl in body)]
    if live:  # the web map reloads these tiles when /tiles/versions says their data moved
        sources[LIVE_SOURCE] = {"type": "vector", "url": base_url + "/tiles/WebMercatorQuad"
                                "?f=tilejson&collections=" + ",".join(live)}
    head: list[dict] = [{"id": "background", "type": "background",
                         "paint": {"background-color": BACKGROUND}}]
    if basemap_url:
        sources["basemap"] = {"type": "raster", "tiles": [basemap_url], "tileSize": 256}
        head.append({"id": "basemap", "type": "raster", "source": "basemap"})
    return {"version": 8, "name": f"{profile.city_name} CIM 一张图",
            "metadata": {"cim:tree": tree, "cim:live": live,
                         "cim:info": info_formats(profile)},
            "sources": sources,
            "glyphs": base_url + "/map/fonts/{fontstack}/{range}.pbf",
            "layers": head + body + list(reversed(b.labels))}
