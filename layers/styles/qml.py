"""QGIS QML (3.x) from the styles: categorized, rule-based or graduated renderers, labels, scale ranges.

The same XML serves three places: a layer's default style in ``public.layer_styles``, the
layers of the QGIS project (``cim qgis-project``), and a .qml a planner loads by hand.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from cim.profile import CityProfile
from layers.styles.expr import qgis_field, qgis_filter
from layers.styles.fields import field_titles
from layers.styles.model import (
    OTHER_COLOR,
    OTHER_LABEL,
    Color,
    Filter,
    LayerStyle,
    Styles,
    load_styles,
)

QGIS_VERSION = "3.22.16-Białowieża"
GEOMETRY_TYPE = {"point": "0", "line": "1", "fill": "2"}  # QgsWkbTypes::GeometryType
SYMBOL_TYPE = {"point": "marker", "line": "line", "fill": "fill"}
DEFAULT = Color(60, 60, 60)


def _options(parent: ET.Element, props: dict[str, Any]) -> ET.Element:
    m = ET.SubElement(parent, "Option", type="Map")
    for k, v in props.items():
        ET.SubElement(m, "Option", name=k, value=str(v), type="QString")
    return m


def _color(v: Any, default: Color | None = None) -> Color | None:
    return Color(*[int(p) for p in str(v).split(",")]) if v is not None else default


def _data_defined(parent: ET.Element, props: dict[str, str],
                  tag: str = "data_defined_properties") -> None:
    """QGIS data-defined properties (expressions) of a symbol layer (``dd_properties``: of a
    layer's labels); added to those ``parent`` has already."""
    dd = parent.find(tag)
    if dd is None:
        dd = ET.SubElement(parent, tag)
        m = ET.SubElement(dd, "Option", type="Map")
        ET.SubElement(m, "Option", name="name", value="", type="QString")
        ET.SubElement(m, "Option", name="properties", type="Map")
        ET.SubElement(m, "Option", name="type", value="collection", type="QString")
    pm = dd.find("Option/Option[@name='properties']")
    for name, expression in props.items():
        p = ET.SubElement(pm, "Option", name=name, type="Map")
        ET.SubElement(p, "Option", name="active", value="true", type="bool")
        ET.SubElement(p, "Option", name="expression", value=expression, type="QString")
        ET.SubElement(p, "Option", name="type", value="3", type="int")


# the features of a table's current version (cim.layerdefs: valid_to NULL): what a layer added
# by hand draws and labels, its default style's data-defined "enabled" and "Show"
CURRENT_ONLY = '"valid_to" IS NULL'


def map_condition(st: LayerStyle) -> str:
    """The QGIS expression of the features the one map shows of ``st``'s table, for a layer
    that reads the whole table: current, and of a result layer the rows on the map
    (``layers.catalog.map_where``: the active alarms, the open cases) and the style's
    ``where`` (one indicator). A map condition QGIS's expressions cannot read (a subquery: the
    health check's latest year) is left to the project's subset."""
    from layers.catalog import map_where

    parts = [CURRENT_ONLY]
    where = map_where(st.name)
    if where and "select" not in where.lower():
        parts.append(f"({where})")
    if st.where:
        parts.append(f"({qgis_filter(st.where)})")
    return " AND ".join(parts)


def _current_only(root: ET.Element, condition: str) -> None:
    """Draw and label a feature only while ``condition`` holds (:func:`map_condition`). A
    layer added by hand from the database browser reads the whole table, each retired version
    too (a building's old footprint, a retired pipe, beside or under the current one, labelled
    twice; every alarm ever raised in its level's colour); QGIS takes no filter from a style,
    so the style's symbols and labels skip what the one map does not show."""
    for lyr in root.iter("layer"):
        if lyr.get("class"):
            _data_defined(lyr, {"enabled": condition})
    for settings in root.iter("settings"):
        _data_defined(settings, {"Show": condition}, tag="dd_properties")


def _symbol(parent: ET.Element, name: str, kind: str, s: dict, color: Color | None,
            dd: dict[str, str] | None = None) -> None:
    """One symbol (``kind`` point|line|fill) coloured ``color`` unless ``s`` says otherwise."""
    sym = ET.SubElement(parent, "symbol", name=name, type=SYMBOL_TYPE[kind], alpha="1",
                        clip_to_extent="1", force_rhr="0")
    lyr = ET.SubElement(sym, "layer", {"enabled": "1", "locked": "0", "pass": "0"})
    if kind == "fill":
        fill = _color(s.get("fill"), color or Color(200, 200, 200))
        if s.get("fill_opacity") is not None:  # times the fill's own alpha, as on the web map
            fill = fill.with_alpha(round(fill.a * float(s["fill_opacity"])))
        outline = _color(s.get("outline"), color or DEFAULT)
        lyr.set("class", "SimpleFill")
        _options(lyr, {"color": fill.qgis, "style": "no" if fill.a == 0 else "solid",
                       "outline_color": outline.qgis,
                       "outline_style": s.get("outline_style", "solid"),
                       "outline_width": s.get("outline_width", 0.26), "outline_width_unit": "MM",
                       "joinstyle": "bevel"})
    elif kind == "line":
        lyr.set("class", "SimpleLine")
        _options(lyr, {"line_color": _color(s.get("color"), color or DEFAULT).qgis,
                       "line_width": s.get("width", 0.26), "line_width_unit": "MM",
                       "line_style": "solid", "capstyle": "round", "joinstyle": "round"})
    else:
        lyr.set("class", "SimpleMarker")
        ow = float(s.get("outline_width", 0.2))
        _options(lyr, {"name": s.get("shape", "circle"),
                       "color": _color(s.get("fill"), color or DEFAULT).qgis,
                       "outline_color": _color(s.get("outline"), color or DEFAULT).qgis,
                       "outline_style": "solid" if ow > 0 else "no", "outline_width": ow,
                       "outline_width_unit": "MM", "size": s.get("size", 1.6),
                       "size_unit": "MM", "angle": 0, "joinstyle": "bevel",
                       "scale_method": "diameter"})
    if dd:
        _data_defined(lyr, dd)


def _height_alpha(st: LayerStyle) -> dict[str, str]:
    """Fill opacity by height class: ``set_color_part(@symbol_color, 'alpha', CASE …)``."""
    if not st.height_classes:
        return {}
    col = qgis_field(st.height_field or "height")
    whens = [f"WHEN {col} >= {h.min} THEN {round(h.opacity * 255)}"
             for h in reversed(st.height_classes) if h.min is not None]
    low = round(st.height_classes[0].opacity * 255)
    return {"fillColor": "set_color_part(@symbol_color, 'alpha', CASE "
                         + " ".join(whens) + f" ELSE {low} END)"}


def _categorized(root: ET.Element, st: LayerStyle, kind: str, only: str | None) -> None:
    r = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=st.field or "",
                      symbollevels="0", enableorderby="0", forceraster="0")
    cats, syms = ET.SubElement(r, "categories"), ET.SubElement(r, "symbols")
    dd = _height_alpha(st) if kind == "fill" else {}
    for i, c in enumerate(x for x in st.categories if only is None or x.value == only):
        ET.SubElement(cats, "category", render="true", value=c.value, symbol=str(i),
                      label=c.label, type="string")
        _symbol(syms, str(i), kind, st.symbol, c.color, dd)
    if only is None:  # QGIS's "all other values" (empty value, also NULL): drawn grey as on
        # the web map (its match's fallback), never hidden
        n = str(len(cats))
        ET.SubElement(cats, "category", render="true", value="", symbol=n, label=OTHER_LABEL,
                      type="string")
        _symbol(syms, n, kind, st.symbol, OTHER_COLOR, dd)


def _graduated(root: ET.Element, st: LayerStyle, kind: str) -> None:
    """QGIS's graduated renderer: one range per class, manual breaks. QGIS gives a value the
    first range with lower <= value <= upper (so a break value falls in the lower class, as on
    the web map); values outside every range and NULL are not drawn."""
    r = ET.SubElement(root, "renderer-v2", type="graduatedSymbol", attr=st.field or "",
                      graduatedMethod="GraduatedColor", symbollevels="0", enableorderby="0",
                      forceraster="0")
    ranges, syms = ET.SubElement(r, "ranges"), ET.SubElement(r, "symbols")
    for i, c in enumerate(st.classes):
        ET.SubElement(ranges, "range", render="true", symbol=str(i), lower=f"{c.lower:.6f}",
                      upper=f"{c.upper:.6f}", label=c.label)
        _symbol(syms, str(i), kind, st.symbol, c.color)
    ET.SubElement(r, "mode", name="manual")
    ET.SubElement(r, "classificationMethod", id="Manual")


def _single(root: ET.Element, st: LayerStyle, kind: str) -> None:
    r = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0",
                      enableorderby="0", forceraster="0")
    _symbol(ET.SubElement(r, "symbols"), "0", kind, st.symbol, None)


def _rule_based(root: ET.Element, st: LayerStyle, kind: str, only: str | None) -> None:
    r = ET.SubElement(root, "renderer-v2", type="RuleRenderer", symbollevels="0",
                      enableorderby="0", forceraster="0")
    rules, syms = ET.SubElement(r, "rules", key="{root}"), ET.SubElement(r, "symbols")
    n = 0

    def add(parent: ET.Element, color: Color | None, prefix: str,
            cls: tuple[str, ...] | None = None) -> None:
        nonlocal n
        for i, rule in enumerate(st.rules):
            if not st.can_have(rule, cls):  # not in the class's legend (a 电力 阀门)
                continue
            ET.SubElement(parent, "rule", key=f"{{{prefix}-{i}}}", symbol=str(n),
                          label=rule.title,
                          filter=qgis_filter(rule.filter) if rule.filter else "ELSE")
            _symbol(syms, str(n), kind, rule.symbol, color)
            n += 1

    if st.color_by:
        field, colors = st.color_by
        for c in colors:
            if only is not None and c.value != only:
                continue
            parent = ET.SubElement(rules, "rule", key=f"{{class-{c.value}}}",
                                   filter=qgis_filter(Filter(field, (c.value,))), label=c.label)
            add(parent, c.color, f"r{c.value}", (c.value,))
    else:
        add(rules, None, "r")


def _labeling(root: ET.Element, st: LayerStyle, styles: Styles, kind: str) -> None:
    lab = st.label
    lb = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(lb, "settings", calloutType="simple")
    family, _, named = styles.label_font.rpartition(" ")
    ts = ET.SubElement(settings, "text-style", fieldName=lab.field, isExpression="0",
                       fontFamily=family or styles.label_font, namedStyle=named or "Regular",
                       fontSize=str(lab.size), fontSizeUnit="MM", textColor=lab.color.qgis,
                       textOpacity="1", fontWeight="50", fontItalic="0", multilineHeight="1")
    if lab.halo:
        ET.SubElement(ts, "text-buffer", bufferDraw="1", bufferSize="0.6",
                      bufferSizeUnits="MM", bufferColor=lab.halo.qgis, bufferOpacity="1",
                      bufferNoFill="1", bufferJoinStyle="128")
    ET.SubElement(settings, "text-format", wrapChar="", multilineAlign="3")
    # QgsPalLayerSettings placement: 0 around point, 2 line, 1 over point (polygons)
    ET.SubElement(settings, "placement", placement={"point": "0", "line": "2"}.get(kind, "1"),
                  dist="0.5", distUnits="MM", placementFlags="10")
    ET.SubElement(settings, "rendering", scaleVisibility="1" if lab.max_scale else "0",
                  scaleMin="0", scaleMax=str(lab.max_scale or 0), obstacle="1",
                  displayAll="0", upsidedownLabels="0", limitNumLabels="0")


def _aliases(root: ET.Element, layer: str) -> None:
    """The columns' Chinese names as QGIS field aliases (by field name, as QGIS reads them):
    the identify panel, attribute table and forms show 建筑名称, not ``name``."""
    titles = field_titles(layer)
    if titles:
        al = ET.SubElement(root, "aliases")
        for name, zh in titles.items():
            ET.SubElement(al, "alias", field=name, name=zh)


def qml_element(st: LayerStyle, styles: Styles, *, geometry: str | None = None,
                category: str | None = None, current_only: bool = False) -> ET.Element:
    """The ``<qgis>`` element of one layer's style (see :func:`qml`)."""
    kind = st.kind if st.kind != "mixed" else (geometry or "point")
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories",
                      hasScaleBasedVisibilityFlag="1" if st.max_scale or st.min_scale else "0",
                      minScale=str(st.max_scale or 0), maxScale=str(st.min_scale or 0))
    if st.renderer == "categorized":
        _categorized(root, st, kind, category)
    elif st.renderer == "rule-based":
        _rule_based(root, st, kind, category)
    elif st.renderer == "graduated":
        _graduated(root, st, kind)
    else:
        _single(root, st, kind)
    if st.label:
        _labeling(root, st, styles, kind)
    _aliases(root, st.name)
    if current_only:
        _current_only(root, map_condition(st))
    ET.SubElement(root, "layerGeometryType").text = GEOMETRY_TYPE[kind]
    return root


def qml(layer: str, profile: CityProfile, *, geometry: str | None = None,
        category: str | None = None, styles: Styles | None = None,
        current_only: bool = True) -> str:
    """QGIS QML of ``layer``'s style. ``geometry`` (point|line|fill) picks the symbol kind of a
    mixed layer (components; default point); ``category`` keeps one class (the project's
    per-class sublayers); ``current_only`` (a default style, a .qml loaded by hand: the
    layer reads the whole table) draws and labels current features only."""
    styles = styles or load_styles(profile)
    root = qml_element(styles.layer(layer), styles, geometry=geometry, category=category,
                       current_only=current_only)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"
