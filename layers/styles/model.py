"""The styles data file (cim/dictionaries/styles.yaml) read into plain objects.

QGIS (QML) and the web map (MapLibre) are both generated from these objects, so a colour or a
scale range is read in one place; pipe class colours come from the pipe_classes dictionary's
``colour`` column (the same column the cross-section drawings use), never repeated here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, CityProfile, read_yaml_mapping

# the web map's zoom of a scale (scale_to_zoom): MapLibre's zoom z draws the world 512 * 2**z
# CSS pixels wide (512-pixel tiles, not WebMercatorQuad's 256), a CSS pixel is 1/96 inch (the
# pixel QGIS measures its scale with on a 96-dpi screen), and Web Mercator stretches the ground
# by 1 / cos(latitude)
EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0  # EPSG:3857's world width, metres
MAPLIBRE_WORLD_PX = 512  # at zoom 0
CSS_PIXEL_M = 0.0254 / 96
KINDS = ("fill", "line", "point", "mixed")
RENDERERS = ("single", "categorized", "rule-based", "graduated")
GEOMETRY_KINDS = ("point", "line", "fill")  # the symbol kinds of a mixed layer, in draw order


@dataclass(frozen=True)
class Color:
    r: int
    g: int
    b: int
    a: int = 255

    @property
    def qgis(self) -> str:
        return f"{self.r},{self.g},{self.b},{self.a}"

    @property
    def hex(self) -> str:
        """#rrggbb, or #rrggbbaa when not opaque (CSS and MapLibre read both)."""
        s = f"#{self.r:02x}{self.g:02x}{self.b:02x}"
        return s if self.a == 255 else s + f"{self.a:02x}"

    @property
    def opacity(self) -> float:
        return round(self.a / 255, 3)

    def with_alpha(self, a: int) -> Color:
        return Color(self.r, self.g, self.b, a)


# the colour of a categorized layer's values that are none of its categories (a NULL class,
# a code a city's dictionary does not list): both maps draw such features in it (QGIS: the
# renderer's "all other values" category, MapLibre: the match's fallback), none is hidden
OTHER_COLOR = Color(136, 136, 136)
OTHER_LABEL = "其他值 (未分类)"


@dataclass(frozen=True)
class Filter:
    """A condition on one field: a list of values, or a numeric range [min, max)."""

    field: str
    values: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Category:
    value: str
    label: str
    color: Color | None


@dataclass(frozen=True)
class GradClass:
    """One class of a graduated renderer: values in [lower, upper) drawn in ``color``
    (the first class also takes values below ``lower``, the last those from ``upper``)."""

    lower: float
    upper: float
    label: str
    color: Color


@dataclass(frozen=True)
class Select:
    """The web map's choice of what a result layer shows: the features whose ``field`` is the
    chosen value; the style's own ``where`` value first, then the indicators of ``catalog``
    (the health check's), coloured by ``color_field`` on the style's classes × ``scale``."""

    field: str
    catalog: str
    color_field: str
    scale: float


@dataclass(frozen=True)
class Rule:
    title: str
    filter: Filter | None  # None: the "else" rule
    symbol: dict[str, Any]


@dataclass(frozen=True)
class HeightClass:
    title: str
    min: float | None
    max: float | None
    opacity: float


@dataclass(frozen=True)
class Label:
    field: str
    size: float
    color: Color
    halo: Color | None
    max_scale: float | None  # shown only at scales larger than 1:max_scale


@dataclass
class LayerStyle:
    name: str
    title: str
    kind: str
    renderer: str
    field: str | None = None
    categories: list[Category] = dc_field(default_factory=list)
    rules: list[Rule] = dc_field(default_factory=list)
    color_by: tuple[str, list[Category]] | None = None  # rule-based: colour per class
    # rule-based, split by class: per class, the values its features can take (a rule none
    # of whose values a class has gets no legend entry under it); "*": any class
    legend_by_class: dict[str, frozenset[str]] | None = None
    classes: list[GradClass] = dc_field(default_factory=list)  # graduated: ascending
    where: Filter | None = None  # the features the layer shows (a result table's one indicator)
    select: Select | None = None  # graduated: the web map's indicator selector
    symbol: dict[str, Any] = dc_field(default_factory=dict)
    height_field: str | None = None
    height_classes: list[HeightClass] = dc_field(default_factory=list)
    label: Label | None = None
    max_scale: float | None = None  # most zoomed out (scale denominator)
    min_scale: float | None = None  # most zoomed in

    def can_have(self, rule: Rule, classes: tuple[str, ...] | None) -> bool:
        """Whether features of ``classes`` can be drawn by ``rule`` (``legend_by_class``), so
        it belongs in their legend: every pipe class listed 阀门 and 消防栓, 电力 too. Without
        the table, without classes, an else rule or a range: yes."""
        if self.legend_by_class is None or classes is None or rule.filter is None \
                or rule.filter.values is None:
            return True
        can = set(self.legend_by_class.get("*", ()))
        for value in classes:
            can |= self.legend_by_class.get(value, set())
        return bool(can & set(rule.filter.values))

    def category(self, value: str) -> Category | None:
        return next((c for c in self.categories if c.value == value), None)

    @property
    def fields(self) -> set[str]:
        """The attributes the style reads (the tiles must carry them)."""
        out = {"code"}
        for f in (self.field, self.height_field, self.label.field if self.label else None,
                  self.color_by[0] if self.color_by else None):
            if f:
                out.add(f)
        out.update(r.filter.field for r in self.rules if r.filter)
        if self.where:
            out.add(self.where.field)
        if self.select:
            out.update((self.select.field, self.select.color_field))
        return out


@dataclass(frozen=True)
class TreeSplit:
    layers: tuple[str, ...]
    by: str
    categories: tuple[tuple[str, str], ...]  # (value, label) in dictionary order
    suffix: str = ""


@dataclass(frozen=True)
class TreeGroup:
    group: str
    layers: tuple[str, ...] = ()
    split: TreeSplit | None = None


@dataclass
class Styles:
    path: Path
    label_font: str
    tree: list[TreeGroup]
    layers: dict[str, LayerStyle]

    def layer(self, name: str) -> LayerStyle:
        try:
            return self.layers[name]
        except KeyError:
            raise ConfigError(f"no style for layer {name!r} (styles: {', '.join(self.layers)})",
                              path=str(self.path)) from None


def style_fields(styles: Styles) -> dict[str, list[str]]:
    """Per layer, the attributes its style reads (tiles must carry them at every zoom)."""
    return {name: sorted(st.fields) for name, st in styles.layers.items()}


def scale_to_zoom(scale: float, latitude: float = 0.0) -> float:
    """The web map's (MapLibre's) zoom at which its ground scale at ``latitude`` (degrees) is
    1:``scale``, as QGIS measures a scale: so a layer or label appears at the same scale in
    both. (WebMercatorQuad's 1:559 082 264 at zoom 0 is for 256-pixel tiles of 0.28 mm: taken
    as MapLibre's zoom it showed a 1:50 000 layer from 1:21 600 at 35° N.)"""
    metres_per_px = EARTH_CIRCUMFERENCE * math.cos(math.radians(latitude)) / MAPLIBRE_WORLD_PX
    return round(math.log2(metres_per_px / (scale * CSS_PIXEL_M)), 2)


def load_styles(profile: CityProfile) -> Styles:
    """Read the styles file the profile names (``dictionaries: {styles: …}``) or the default.

    A city's file that leaves out a layer the platform declares (written before the layer
    existed, or trimmed) gets the platform's style and place in the tree for it: the layer
    was missing from the QGIS project and the web map without a word."""
    path = profile.dictionary_path("styles", ".yaml")
    styles = _read(profile, path)
    platform = DICTIONARY_DIR / "styles.yaml"
    if path.resolve() != platform.resolve():
        # only the styles the city's file lacks are read of the platform's: the others are
        # checked against the city's dictionaries, which a city extends (a building use 11 of
        # its own, coloured in its file, made the platform's buildings style "no colour for
        # categories 11" — every map 500)
        lacking = set(_declared()) - set(styles.layers)
        _complete(styles, _read(profile, platform, only=lacking))
    from layers.styles.defaults import give_defaults

    give_defaults(styles, _Reader(profile, path), _declared())
    return styles


def _read(profile: CityProfile, path: Path, only: set[str] | None = None) -> Styles:
    """The styles of ``path``; with ``only``, of those layers alone (the tree kept whole)."""
    return _Reader(profile, path, only).styles(read_yaml_mapping(path, "the styles"))


def _declared() -> dict[str, Any]:
    """The layers the platform publishes (loaded and result layers): name → LayerDef."""
    from layers.catalog import layer_defs

    return layer_defs()


def _complete(styles: Styles, platform: Styles) -> None:
    """Give each declared layer ``styles`` neither styles nor places in its tree the
    platform's style and place: in the city's group of the platform's group's name, else in a
    group of its own where the platform's tree has it."""
    declared = _declared()
    for name in declared:
        if name not in styles.layers and name in platform.layers:
            styles.layers[name] = platform.layers[name]
    placed = {n for g in styles.tree for n in (g.split.layers if g.split else g.layers)}
    for i, g in enumerate(platform.tree):
        own = g.split.layers if g.split else g.layers
        missing = tuple(n for n in own if n in declared and n not in placed)
        if not missing:
            continue
        same = next((j for j, c in enumerate(styles.tree)
                     if c.group == g.group and not c.split and not g.split), None)
        if same is not None:
            c = styles.tree[same]
            styles.tree[same] = TreeGroup(c.group, c.layers + missing)
        else:
            group = (TreeGroup(g.group, (), TreeSplit(missing, g.split.by, g.split.categories,
                                                      g.split.suffix))
                     if g.split else TreeGroup(g.group, missing))
            styles.tree.insert(min(i, len(styles.tree)), group)
        placed.update(missing)


class _Reader:
    """Turns the YAML into objects, naming the file and key of anything wrong."""

    def __init__(self, profile: CityProfile, path: Path, only: set[str] | None = None) -> None:
        self.profile, self.path, self.only = profile, path, only

    def fail(self, msg: str, key: str) -> ConfigError:
        return ConfigError(msg, path=str(self.path), field=key)

    def styles(self, raw: dict) -> Styles:
        if not isinstance(raw, dict):
            raise self.fail("the styles file is a mapping of label_font, tree and layers", "")
        layers = {name: self.guarded(f"layers.{name}", self.layer, name, spec or {})
                  for name, spec in (raw.get("layers") or {}).items()
                  if self.only is None or name in self.only}
        tree = [self.guarded(f"tree[{i}]", self.group, g, i, layers)
                for i, g in enumerate(raw.get("tree") or [])]
        return Styles(self.path, str(raw.get("label_font") or "Noto Sans CJK SC Regular"),
                      tree, layers)

    def guarded(self, key: str, read: Any, *args: Any) -> Any:
        """``read(*args)``, a key left out or a value of the wrong kind (a label without its
        field, an opacity that is no number) named by file and key: they were internal errors
        with a traceback."""
        try:
            return read(*args)
        except KeyError as exc:
            raise self.fail(f"needs {exc.args[0]!r}", key) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise self.fail(f"cannot be read: {exc}", key) from None

    def color(self, v: Any, key: str) -> Color:
        try:
            parts = [int(p) for p in str(v).split(",")]
            if len(parts) not in (3, 4) or not all(0 <= p <= 255 for p in parts):
                raise ValueError
        except ValueError:
            raise self.fail(f"colour {v!r} is not 'R,G,B' or 'R,G,B,A' (0-255)", key) from None
        return Color(*parts)

    def dictionary(self, spec: dict, key: str) -> list[dict[str, str]]:
        try:
            return self.profile.dictionary(spec["dictionary"])
        except KeyError:
            raise self.fail("needs 'dictionary'", key) from None

    def from_dictionary(self, spec: dict, key: str) -> list[Category]:
        """Categories (value, label, colour) from a CSV dictionary, one per distinct value."""
        out: dict[str, Category] = {}
        for row in self.dictionary(spec, key):
            value = row.get(spec.get("value", "code"), "")
            if value and value not in out:
                colour = row.get(spec["color"]) if spec.get("color") else None
                out[value] = Category(value, row.get(spec.get("label", "name"), value),
                                      self.color(colour, key) if colour else None)
        return list(out.values())

    def class_values(self, spec: dict, key: str) -> dict[str, frozenset[str]]:
        """Per class, the values a class's features can take (``dictionary`` rows: ``class``
        column, ``value`` column; a row of class ``all`` belongs to every class)."""
        out: dict[str, set[str]] = {}
        every = str(spec.get("all", "*"))
        for row in self.dictionary(spec, key):
            value = row.get(spec.get("value", "name"), "")
            if value:
                out.setdefault(row.get(spec.get("class", "class"), ""), set()).add(value)
        common = out.pop(every, set())
        return {k: frozenset(v | common) for k, v in out.items()} | {"*": frozenset(common)}

    def filter(self, spec: Any, key: str) -> Filter | None:
        if spec is None:
            return None
        if not isinstance(spec, dict) or len(spec) != 1:
            raise self.fail("a filter is {field: {in: [...]}} or {field: {min:, max:}}", key)
        (fname, cond), = spec.items()
        if not isinstance(cond, dict):
            raise self.fail(f"filter on {fname!r} needs in/min/max", key)
        if cond.get("well_appurtenances"):
            wells = [r["name"] for r in self.profile.dictionary("pipe_features")
                     if r.get("kind") == "附属物" and r.get("well") == "1"]
            return Filter(fname, tuple(dict.fromkeys(wells)))
        if "in" in cond:
            return Filter(fname, tuple(str(v) for v in cond["in"]))
        return Filter(fname, None, cond.get("min"), cond.get("max"))

    def classes(self, spec: dict, key: str) -> list[GradClass]:
        """A graduated renderer's classes from ``breaks`` (n+1 ascending numbers), ``colors``
        (n) and optional ``labels`` (n; default "a–b")."""
        if not spec.get("field"):
            raise self.fail("a graduated renderer needs 'field'", key + ".field")
        breaks, colors = spec.get("breaks") or [], spec.get("colors") or []
        try:
            breaks = [float(b) for b in breaks]
        except (TypeError, ValueError):
            raise self.fail(f"breaks {breaks!r} are not numbers", key + ".breaks") from None
        if len(breaks) < 2 or any(a >= b for a, b in zip(breaks, breaks[1:])):
            raise self.fail("breaks: at least two numbers, ascending", key + ".breaks")
        if len(colors) != len(breaks) - 1:
            raise self.fail(f"{len(breaks) - 1} classes need {len(breaks) - 1} colours, "
                            f"got {len(colors)}", key + ".colors")
        labels = spec.get("labels") or [f"{a:g}–{b:g}" for a, b in zip(breaks, breaks[1:])]
        if len(labels) != len(colors):
            raise self.fail(f"{len(colors)} classes need {len(colors)} labels", key + ".labels")
        return [GradClass(a, b, str(lab), self.color(c, f"{key}.colors[{i}]"))
                for i, (a, b, lab, c) in enumerate(zip(breaks, breaks[1:], labels, colors))]

    def label(self, spec: dict | None, key: str) -> Label | None:
        if not spec:
            return None
        return Label(spec["field"], float(spec.get("size", 2.5)),
                     self.color(spec.get("color", "50,50,50"), key),
                     self.color(spec["halo"], key) if spec.get("halo") else None,
                     spec.get("max_scale"))

    def layer(self, name: str, spec: dict) -> LayerStyle:
        key = f"layers.{name}"
        kind, renderer = spec.get("kind"), spec.get("renderer", "single")
        if kind not in KINDS:
            raise self.fail(f"kind {kind!r} is not one of {', '.join(KINDS)}", key + ".kind")
        if renderer not in RENDERERS:
            raise self.fail(f"renderer {renderer!r} is not one of {', '.join(RENDERERS)}",
                            key + ".renderer")
        st = LayerStyle(name, str(spec.get("title", name)), kind, renderer,
                        field=spec.get("field"), symbol=dict(spec.get("symbol") or {}),
                        label=self.label(spec.get("label"), key + ".label"),
                        max_scale=spec.get("max_scale"), min_scale=spec.get("min_scale"),
                        where=self.filter(spec.get("where"), key + ".where"))
        if renderer == "graduated":
            st.classes = self.classes(spec, key)
            sel = spec.get("select")
            if sel:
                try:
                    st.select = Select(str(sel["field"]), str(sel["catalog"]),
                                       str(sel["color_field"]), float(sel.get("scale", 1)))
                except (KeyError, TypeError, ValueError):
                    raise self.fail("select needs field, catalog, color_field and a number "
                                    "scale", key + ".select") from None
                if st.select.catalog != "health_indicators":
                    raise self.fail(f"select: catalog {st.select.catalog!r} is not "
                                    "health_indicators (the one catalog of indicators)",
                                    key + ".select")
        if renderer == "categorized":
            if not st.field:
                raise self.fail("a categorized renderer needs 'field'", key + ".field")
            cats = (self.from_dictionary(spec["categories_from"], key + ".categories_from")
                    if spec.get("categories_from") else
                    [Category(str(c["value"]), str(c.get("label", c["value"])),
                              self.color(c["color"], key + ".categories") if c.get("color")
                              else None) for c in spec.get("categories") or []])
            colors = {str(k): self.color(v, f"{key}.colors.{k}")
                      for k, v in (spec.get("colors") or {}).items()}
            st.categories = [Category(c.value, c.label, colors.get(c.value, c.color))
                             for c in cats]
            missing = [c.value for c in st.categories if c.color is None]
            if missing:
                raise self.fail(f"no colour for categories {', '.join(missing)}", key + ".colors")
        if renderer == "rule-based":
            st.rules = [Rule(str(r.get("title", "")), self.filter(r.get("filter"),
                                                                  f"{key}.rules[{i}]"),
                             dict(r.get("symbol") or {}))
                        for i, r in enumerate(spec.get("rules") or [])]
            if spec.get("color_by"):
                cb = spec["color_by"]
                st.color_by = (cb["field"], [c for c in self.from_dictionary(cb, key + ".color_by")
                                             if c.color])
            if spec.get("legend_by_class"):
                st.legend_by_class = self.class_values(spec["legend_by_class"],
                                                       key + ".legend_by_class")
        hc = spec.get("height_classes")
        if hc:
            st.height_field = hc.get("field", "height")
            st.height_classes = [HeightClass(str(c["title"]), c.get("min"), c.get("max"),
                                             float(c["opacity"])) for c in hc["classes"]]
        self.check_fields(st, key)
        return st

    def check_fields(self, st: LayerStyle, key: str) -> None:
        """A style is of a layer the platform declares, and reads columns of its table: a
        style of another name made ``cim qgis-project`` fail with a KeyError, and a field
        misspelt drew every feature as 其他值 (or no label) on both maps without a word."""
        from cim.layerdefs import BASE_COLUMNS, GEOMETRY_COLUMN

        declared = _declared()
        d = declared.get(st.name)
        if d is None:
            raise self.fail(f"{st.name!r} is no layer of the platform (the layers: "
                            f"{', '.join(declared)})", key)
        columns = {c.name for c in (*BASE_COLUMNS, *d.columns)} | {GEOMETRY_COLUMN}
        unknown = sorted(st.fields - columns)
        if unknown:
            raise self.fail(f"{', '.join(unknown)}: no such column of {st.name} (its columns: "
                            f"{', '.join(c.name for c in d.columns)})", key)

    def group(self, spec: dict, i: int, layers: dict[str, LayerStyle]) -> TreeGroup:
        key = f"tree[{i}]"
        names = list(spec.get("layers") or [])
        split = None
        if spec.get("split"):
            s = spec["split"]
            names = list(s.get("layers") or [s.get("layer")])
            cats = self.from_dictionary(s, key + ".split")
            split = TreeSplit(tuple(names), s["by"], tuple((c.value, c.label) for c in cats),
                              str(s.get("suffix", "")))
        for n in names:
            if n not in layers and (self.only is None or n in self.only):
                raise self.fail(f"layer {n!r} has no style under 'layers'", key)
        return TreeGroup(str(spec["group"]), tuple(names) if not split else (), split)
