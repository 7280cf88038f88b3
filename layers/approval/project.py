"""A proposed project as the approval check sees it, parsed and validated from plain features.

The features come from a project file (read by ``loaders.project``: GeoPackage, GeoJSON or DXF)
or from the GeoJSON of the ``approval-check`` process; each is ``{"layer", "row",
"properties", "geometry"}`` (shapely, in the source CRS). Its role is its ``role`` property
(site | building | demolish | green, or 用地红线 | 建筑 | 拆除 | 绿地) or else its layer's name by
convention (:data:`ROLE_NAMES`; a DXF layer is the entity's ``Layer``). Attributes are read
by Chinese or English names (:data:`FIELDS`). In a DXF, a building's attributes are a TEXT on
the building layer inside its outline, ``key=value`` pairs joined by ``;`` (``名称=1号楼;
地上层数=18;地下层数=2;建筑高度=54;用途=住宅``), by an MTEXT's line breaks or by several texts;
a closed polyline is a polygon. A label ``18F`` or ``18层`` is the floors above ground; ``H=54``
is the height (``H`` an alias). Numbers are read by :func:`cim.numbers.parse_number`: a height
or elevation may end in one metre sign (``54m``, ``54 米``), a floor count in one ``F``/``层``;
any other unit — ``54000mm`` too — is an input problem naming the label, never converted.
A unit in a field's (or label key's) trailing brackets is read as the loaders read it
(``cim/dictionaries/field_units.yaml``, :func:`cim.text.header_unit`): the
attribute's own unit (建筑高度(米), 计容建筑面积(㎡)) changes nothing, one the file's
``conversions`` convert is converted (计容建筑面积(万㎡) 2.5 is 25,000 m², 建筑高度(mm) 85000 is
85 m; the value is then a bare number), any other (建筑高度(层), 计容建筑面积(m)) or brackets
that look like a unit the file does not spell (计容建筑面积(万), 建筑高度(dm)) is an input
problem naming the field — never a value read as if in the attribute's unit; brackets naming
no unit are a qualifier (地面高程(黄海), 建筑高度(规划)) and change nothing, as in the loaders.
Two labels of one building that disagree (``地上层数=2`` and ``地上层数=30``), or two fields of
one feature giving one number (层数 20 and 地上层数 18), are an input problem naming both (the same value twice is fine); a label inside a building that is none of
these (a block ATTRIB's bare ``18``, an unknown key) is named in the project's notes as not
understood.

A site given in parts is one site, seams a CAD drawing left between them closed (up to twice
the rules file's ``site_seam_m``: 1 cm).
A building outline drawn twice (a CAD hatch over the outline, a copy pasted in place) is read
once, named in the notes; two copies whose attributes disagree are an input problem.

Every problem is collected before anything is checked (nothing half-checked): one
:class:`InputError` lists them all, each naming the file, layer, feature (row) and field.
Counted floor area (计容建筑面积) is the given one, else floors above ground × footprint area.
A building with no floor above ground (地上层数 0) is underground: it covers no ground and
keeps no spacing. One so given that is taller than a storey (``field_units.yaml``
``min_storey_height_m``, 2.2 m: 地上层数 0 and 建筑高度 54) is an input problem naming both
fields — which of the two is wrong decides whether the spacing and density rules count it —,
never skipped by them as underground. So is a height lower than the storeys above ground can be
(30 storeys at 10 m: below storeys × ``min_storey_height_m``): the storeys make the FAR, the
height the height limits and the spacing, and a typo in either passed rules it should not.
A counted floor area of 0 on a building standing above ground (what a Shapefile written by
ArcGIS holds for a number left empty) is one too: it added nothing to the FAR.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import Polygon

from cim.crs import (
    ballpark_refusal,
    detect_gk_from_eastings,
    epsg_of,
    lonlat_srid,
    parse_crs,
    transformer,
)
from cim.errors import InputError
from cim.numbers import ValueProblem, parse_number
from cim.profile import CityProfile, merged_number
from cim.text import norm_name
from layers.approval.config import Config, load_config
from layers.approval.units import Units

ROLES = ("site", "building", "demolish", "green")
ROLE_NAMES = {
    "site": ("site", "用地红线", "用地范围", "红线", "siteboundary", "boundary"),
    "building": ("building", "buildings", "建筑", "新建建筑", "拟建建筑", "建筑物"),
    "demolish": ("demolish", "demolition", "拆除", "拆除建筑"),
    "green": ("green", "绿地", "绿化", "greenarea", "greenareas"),
}
# a Shapefile's .dbf cuts a field name to 10 bytes: 计容建筑面积 (12 bytes in GBK) arrives as
# 计容建筑面, floors_above as floors_abo — read as the names they were cut from
FIELDS = {
    "role": ("role", "角色", "类别"),
    "name": ("name", "名称", "建筑名称", "楼号", "编号", "id"),
    "floors_above": ("floors_above", "floors_abo", "floors", "地上层数", "层数", "地上"),
    "floors_below": ("floors_below", "floors_bel", "地下层数", "地下"),
    "height": ("height", "height_m", "建筑高度", "高度", "H"),
    "use": ("use", "用途", "建筑用途", "使用性质"),
    "counted_area": ("counted_area", "counted_ar", "far_area", "计容建筑面积", "计容建筑面",
                     "计容面积"),
    "ground_elevation": ("ground_elevation", "ground_ele", "室外地坪标高", "室外地坪标",
                         "地面高程"),
    "code": ("code", "building_code", "building_c", "建筑编码", "编码"),
}
# the fields GDAL gives every DXF entity: the drawing's own, no attribute of a feature
DXF_FIELDS = frozenset({"Layer", "PaperSpace", "SubClasses", "Linetype", "EntityHandle",
                        "Text", "RawCodeValues"})
_ROLE_OF = {norm_name(n): r for r, names in ROLE_NAMES.items() for n in names}
_FIELD_OF = {norm_name(a): f for f, aliases in FIELDS.items() for a in aliases}
MIN_AREA_M2 = 0.01


@dataclass
class Building:
    label: str  # name, else "layer row N"
    layer: str
    row: int
    footprint: shapely.Geometry  # storage CRS
    floors_above: int | None = None
    floors_below: int | None = None
    height: float | None = None
    use: str | None = None
    counted_area_given: float | None = None
    ground_elevation: float | None = None

    @property
    def underground(self) -> bool:
        """No floor above ground (地上层数 0: a 地下车库 outline): no ground covered, no
        spacing to keep. (地上层数 0 on a building taller than a storey is refused when the
        project is read: :func:`_building`.)"""
        return self.floors_above == 0

    @property
    def counted_area(self) -> float | None:
        """计容建筑面积: as given, else floors above ground × footprint (None: unknown)."""
        if self.counted_area_given is not None:
            return self.counted_area_given
        if self.floors_above is not None:
            return self.floors_above * self.footprint.area
        return None


@dataclass
class Demolish:
    label: str
    layer: str
    row: int
    outline: shapely.Geometry
    code: str | None = None


@dataclass
class Project:
    name: str
    source: str
    source_crs: str
    site: shapely.Geometry
    buildings: list[Building]
    demolish: list[Demolish] = field(default_factory=list)
    green: list[shapely.Geometry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def green_union(self) -> shapely.Geometry:
        return shapely.union_all(self.green) if self.green else shapely.Polygon()


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, msg: str, layer: str | None = None, row: int | None = None,
            field: str | None = None) -> None:
        where = [self.source]
        if layer is not None:
            where.append(f"layer {layer!r}")
        if row is not None:
            where.append(f"feature {row}")
        if field is not None:
            where.append(f"field {field!r}")
        self.items.append(f"{', '.join(where)}: {msg}")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            head = self.items[0] if n == 1 else f"{n} problems in the project:\n  " + \
                "\n  ".join(self.items)
            raise InputError(head)


def _attrs(props: dict[str, Any], also: list[tuple[str, str, Any]] | None = None
           ) -> tuple[dict[str, tuple[str, Any]], str | None]:
    """Known attributes (canonical → (delivered name, value): the first field of the
    attribute's names given) and a DXF TEXT's content; the other fields giving an attribute
    already given are added to ``also`` as (attribute, name, value)."""
    out: dict[str, tuple[str, Any]] = {}
    for k, v in props.items():
        f = _FIELD_OF.get(norm_name(k))
        if f and v is not None and not (isinstance(v, float) and math.isnan(v)):
            if not (isinstance(v, str) and not v.strip()):
                if f not in out:
                    out[f] = (str(k), v)
                elif also is not None:
                    also.append((f, str(k), v))
    text = props.get("Text")
    return out, text if isinstance(text, str) and text.strip() else None


_LABEL_SPLIT = re.compile(r"[;；\r\n]|\\P")  # an MTEXT's \\P reaches us as a newline from GDAL
_FLOORS_LABEL = re.compile(r"\s*[0-9０-９]+\s*(?:[Ff]|层)\s*")  # 18F, 18层: floors above ground
_FLOOR_SIGN = re.compile(r"(.*?)\s*(?:[Ff]|层)")  # one floor sign after a count


def _text_attrs(text: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """A label's attributes as (field, delivered key, value) in order — a key given twice is
    there twice — and the parts that are not understood (see the module doc)."""
    out: list[tuple[str, str, str]] = []
    unread: list[str] = []
    for part in _LABEL_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        if "=" in part or "＝" in part:
            k, _, v = part.replace("＝", "=").partition("=")
            f = _FIELD_OF.get(norm_name(k))
            if f and v.strip():
                out.append((f, k.strip(), v.strip()))
                continue
        elif _FLOORS_LABEL.fullmatch(part):
            out.append(("floors_above", part, part))
            continue
        unread.append(part)
    return out, unread


def _num(value: Any, name: str, rec: dict, probs: _Problems, integer: bool = False,
         positive: bool = False, metres: bool = False) -> float | None:
    """``value`` as a number (None and the problem recorded): a text is read by
    :func:`parse_number` — a metre sign allowed where ``metres``, one floor sign (F, 层) on a
    whole number, any other unit (``mm``) refused."""
    kind = "a whole number >= 0" if integer else "a number > 0" if positive else \
        "a number >= 0"
    try:
        if isinstance(value, bool):
            raise ValueProblem(f"{value!r} is not {kind}")
        if isinstance(value, str):
            s = value
            if integer and (m := _FLOOR_SIGN.fullmatch(value.strip())) is not None:
                s = m.group(1)
            v = parse_number(s, metres=metres)
        else:
            v = float(value)
        if not math.isfinite(v) or v < 0 or (positive and v <= 0) or \
                (integer and v != int(v)):
            raise ValueProblem(f"{value!r} is not {kind}")
    except (TypeError, ValueError):
        unit = " ending in at most one m or 米" if metres else \
            " ending in at most one F or 层" if integer else ""
        why = f"{value!r} is not {kind}{unit}"
        if isinstance(value, str) and any(u in value for u in ("mm", "cm", "毫米", "厘米")):
            why += " (a length is read in metres; mm or cm is not converted)"
        probs.add(why, rec["layer"], rec["row"], name)
        return None
    return int(v) if integer else v


def _polygonal(g: shapely.Geometry, why: list[str] | None = None,
               repairs: list[str] | None = None) -> shapely.Geometry | None:
    """The polygon(s) of ``g`` in 2D; a closed line is its polygon; None if not areal, or
    an invalid polygon whose repair would change its area (the reason appended to ``why``;
    one repaired keeping it is said in ``repairs``: :func:`_repaired`)."""
    if g is None or g.is_empty:
        return None
    g = shapely.force_2d(g)
    if g.geom_type in ("LineString", "LinearRing") and len(g.coords) >= 4 and \
            g.coords[0] == g.coords[-1]:
        g = Polygon(g.coords)
    if g.geom_type == "MultiLineString" and all(
            len(p.coords) >= 4 and p.coords[0] == p.coords[-1] for p in g.geoms):
        g = shapely.union_all([Polygon(p.coords) for p in g.geoms])
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    if not g.is_valid:
        reason = shapely.is_valid_reason(g)
        g = _repaired(g, why if why is not None else [])
        if g is not None and repairs is not None:
            repairs.append(f"the polygon is not valid ({reason}), read as its valid outline "
                           f"of the same area ({g.area:,.2f} m²)")
    return g


def _areal(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.union_all([p for p in getattr(g, "geoms", [g])
                              if p.geom_type in ("Polygon", "MultiPolygon")])


def _repaired(g: shapely.Geometry, why: list[str]) -> shapely.Geometry | None:
    """An invalid polygon made valid where that keeps the area it was drawn with — a spike
    or a ring touching itself (CAD), parts of one feature overlapping (covered once, as the
    site's features are) —, else None and the reason in ``why``: an outline crossing itself
    (a bowtie, two corners swapped) encloses as drawn another area than repaired (0 m² and
    300 m² for a 20 × 30 m bowtie), and the FAR and density would be of an area nobody
    drew. Checked part by part (each part's area as drawn, by its rings)."""
    parts = list(getattr(g, "geoms", [g]))
    fixed = []
    for part in parts:
        if part.is_valid:
            fixed.append(part)
            continue
        f = _areal(shapely.make_valid(part))
        drawn = part.area  # the rings' own (shoelace) area, holes taken off
        if abs(f.area - drawn) > MIN_AREA_M2:
            why.append(f"the polygon is not valid ({shapely.is_valid_reason(part)}): its "
                       f"outline crosses itself, enclosing {drawn:,.2f} m² as drawn and "
                       f"{f.area:,.2f} m² as repaired; redraw it")
            return None
        fixed.append(f)
    return shapely.union_all(fixed)


def resolve_crs(records: list[dict], crs: str | pyproj.CRS | None, storage_srid: int,
                source: str) -> pyproj.CRS:
    """``crs`` (--crs or the file's), else detected from the coordinates like the loaders
    do: zone-prefixed or six-digit Gauss-Krüger eastings, or degrees (CRS84)."""
    if crs is not None:
        return crs if isinstance(crs, pyproj.CRS) else parse_crs(crs)
    xs = np.concatenate([shapely.get_coordinates(r["geometry"])[:, 0] for r in records
                         if r["geometry"] is not None] or [np.empty(0)])
    ys = np.concatenate([shapely.get_coordinates(r["geometry"])[:, 1] for r in records
                         if r["geometry"] is not None] or [np.empty(0)])
    epsg = detect_gk_from_eastings(xs, storage_srid)
    if epsg is not None:
        return parse_crs(epsg)
    if xs.size and np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90):
        # lon/lat (RFC 7946): named EPSG:4326 as GDAL names a GeoJSON file's CRS, so a posted
        # project says what `cim check` says of the same file (transforms are easting first)
        return parse_crs("EPSG:4326")
    raise InputError("the project has no coordinate reference system and none can be "
                     "detected from its coordinates; pass --crs EPSG:n", path=source)


def build_project(records: list[dict], *, source: str, name: str | None,
                  crs: str | pyproj.CRS | None, storage_srid: int,
                  profile: CityProfile | None = None, config: Config | None = None
                  ) -> Project:
    """Validate the features and return the project in the storage CRS (see module doc);
    header units by ``profile``'s ``field_units`` (else the configured profile's), the site's
    seams by ``config`` (the rules file; else the profile's)."""
    from layers.query.pipes import resolve_profile

    prof = resolve_profile(profile)
    cfg = config or load_config(prof)
    units = Units.of(prof)
    # a building taller than a storey has a floor above ground (field_units.yaml, the city's
    # value over the platform's: the loaders read 地上层数 0 on one so as unknown)
    min_storey = merged_number(prof.yaml_dictionary("field_units", "the field units")
                               if prof is not None else {}, "min_storey_height_m")
    probs = _Problems(source)
    src_crs = resolve_crs(records, crs, storage_srid, source)
    src_epsg = epsg_of(src_crs)
    same = src_epsg == storage_srid
    # an EPSG code, not WKT: PROJ finds the operation for a code much faster
    tx = None if same else transformer(f"EPSG:{src_epsg}" if src_epsg else src_crs.to_wkt(),
                                       f"EPSG:{storage_srid}")
    if tx is not None:
        _refuse_ballpark(src_crs, storage_srid, tx, source)
    to_lonlat = transformer(storage_srid, lonlat_srid(storage_srid))  # see result.crs84
    area_of_use = parse_crs(storage_srid).area_of_use
    sites, buildings, demolish, green, texts = [], [], [], [], []
    repairs: list[str] = []  # invalid polygons read as their valid outline: noted
    unread_fields: dict[str, dict[str, None]] = {}  # layer → fields of no attribute, given
    roleless: dict[str, list[int]] = {}  # layer → rows of features without a role
    for rec in records:
        _unread_fields(rec, unread_fields)
        again: list[tuple[str, str, Any]] = []
        attrs, text = _attrs(rec["properties"], again)
        for f, k, v in again:  # 层数 20 and 地上层数 18: which one holds is not ours to pick
            if f in _NUMERIC and _comparable(f, k, v, units) != _comparable(
                    f, attrs[f][0], attrs[f][1], units):
                probs.add(f"fields {attrs[f][0]!r} ({attrs[f][1]!r}) and {k!r} ({v!r}) both "
                          f"give {f} and disagree (give one)", rec["layer"], rec["row"], k)
        role_src = attrs.get("role")
        role = _ROLE_OF.get(norm_name(role_src[1])) if role_src else _ROLE_OF.get(
            norm_name(rec["layer"]))
        if role is None:
            if role_src:
                probs.add(f"role {role_src[1]!r} is not one of {', '.join(ROLES)} "
                          "(or 用地红线, 建筑, 拆除, 绿地)", rec["layer"], rec["row"], role_src[0])
            else:  # said once a layer: a CAD plan's furniture (图框, 标注) is many entities
                roleless.setdefault(str(rec["layer"]), []).append(rec["row"])
            continue
        g = rec["geometry"]
        if g is not None and not g.is_empty:
            c = shapely.get_coordinates(g)
            if not np.all(np.isfinite(c)):
                probs.add("coordinates are not finite numbers", rec["layer"], rec["row"],
                          "geometry")
                continue
            if tx is not None:
                g = shapely.transform(g, lambda xy: np.column_stack(tx.transform(xy[:, 0],
                                                                                 xy[:, 1])))
            lon, lat = to_lonlat.transform(*shapely.get_coordinates(g).mean(axis=0))
            if area_of_use and not (area_of_use.west - 1 <= lon <= area_of_use.east + 1
                                    and area_of_use.south - 1 <= lat <= area_of_use.north + 1):
                probs.add(f"lies outside the city's storage CRS area (at {lon:.4f}, {lat:.4f}; "
                          f"CRS {src_crs.name}): wrong --crs, or X/Y swapped?", rec["layer"],
                          rec["row"], "geometry")
                continue
        if role == "building" and text and g is not None and g.geom_type == "Point":
            texts.append((g, text, rec))
            continue
        invalid: list[str] = []
        fixed: list[str] = []
        poly = _polygonal(g, invalid, fixed)
        if invalid:
            probs.add(invalid[0], rec["layer"], rec["row"], "geometry")
            continue
        repairs.extend(f"{rec['layer']} feature {rec['row']}: {n}" for n in fixed)
        if poly is None or poly.is_empty:
            if g is not None and g.geom_type in ("Polygon", "MultiPolygon") and \
                    not g.is_empty:  # a ring collapsed to a line, its points on one line
                probs.add(f"the polygon encloses no area ({shapely.is_valid_reason(g)}); "
                          f"a {role} needs its outline", rec["layer"], rec["row"], "geometry")
                continue
            what = "empty" if g is None or g.is_empty else f"a {g.geom_type}"
            probs.add(f"the geometry is {what}; a {role} needs a polygon (or a closed "
                      "polyline)", rec["layer"], rec["row"], "geometry")
            continue
        if poly.area < MIN_AREA_M2:
            probs.add(f"the polygon's area {poly.area:.4f} m² is below {MIN_AREA_M2} m²",
                      rec["layer"], rec["row"], "geometry")
            continue
        if role == "site":
            sites.append(poly)
        elif role == "green":
            green.append(poly)
        elif role == "demolish":
            code = attrs.get("code")
            demolish.append(Demolish(_label(attrs, rec), rec["layer"], rec["row"], poly,
                                     str(code[1]).strip() if code else None))
        else:
            buildings.append((poly, attrs, rec))
    _no_role(roleless, probs)
    buildings, twins = _one_outline_each(buildings, probs)
    labels: dict[int, list[tuple[str, str, str, dict, str]]] = {}  # building → its labels' values
    unread: list[tuple[int, dict, str]] = []
    outlines = shapely.STRtree([b[0] for b in buildings])
    for pt, text, rec in texts:
        hits = sorted(outlines.query(pt, predicate="within").tolist())  # outlines holding pt
        if len(hits) != 1:
            probs.add(f"the text lies in {len(hits)} building outlines (needs exactly one)",
                      rec["layer"], rec["row"], "Text")
            continue
        tattrs, parts = _text_attrs(text)
        labels.setdefault(hits[0], []).extend((f, k, v, rec, text) for f, k, v in tattrs)
        unread.extend((hits[0], rec, p) for p in parts)
    for i, found in labels.items():
        _merge_labels(buildings[i], found, probs, units)
    out_buildings = [_building(poly, attrs, rec, probs, units, min_storey)
                     for poly, attrs, rec in buildings]
    notes = [f"{rec['layer']} feature {rec['row']}: the label {part!r} inside building "
             f"{_label(buildings[i][1], buildings[i][2])} is not understood (neither key=value "
             f"with a known key nor 18F/18层), so it was not read" for i, rec, part in unread]
    notes.extend(twins)
    notes.extend(f"layer {layer!r}: field(s) {', '.join(names)} not read (no attribute the "
                 "check reads; see the project README for the names)"
                 for layer, names in unread_fields.items())
    notes.extend(repairs)
    if not sites:
        probs.add("no site boundary (用地红线): a polygon with role 'site'")
    if not buildings:
        probs.add("no proposed building (建筑): a polygon with role 'building'")
    probs.raise_if_any()
    auth = src_crs.to_authority()  # OGC:CRS84 named so, not by a page of WKT in the report
    return Project(name or source, source, f"EPSG:{src_epsg}" if src_epsg else
                   ":".join(auth) if auth else src_crs.to_wkt(),
                   _one_site(sites, cfg.site_seam_m),
                   [b for b in out_buildings if b is not None], demolish, green, notes)


def _no_role(roleless: dict[str, list[int]], probs: _Problems) -> None:
    """One problem a layer for its features of no role, naming how many and the first rows:
    still refused (a building on a misnamed layer left out would pass the FAR), but a CAD
    plan's frame and thousand dimension lines are not a thousand lines of one message."""
    why = ("no role: give a 'role' property (site, building, demolish, green) or put the "
           "feature on a layer named 用地红线/site, 建筑/building, 拆除/demolish or 绿地/green")
    for layer, rows in roleless.items():
        if len(rows) == 1:
            probs.add(why, layer, rows[0])
            continue
        shown = ", ".join(map(str, rows[:5])) + (f", … {rows[-1]}" if len(rows) > 5 else "")
        them = why.replace("the feature", "them")
        probs.add(f"{len(rows)} features (features {shown}) have {them} (or remove the layer "
                  "from the drawing)", layer)


def _unread_fields(rec: dict, out: dict[str, dict[str, None]]) -> None:
    """Add the fields of ``rec`` holding a value that no attribute reads (建筑层数, a name a
    Shapefile cut short) to ``out`` by layer: a value the check leaves aside is said, never
    dropped silently (a given 计容建筑面积 ignored made the FAR floors × footprint)."""
    props = rec["properties"]
    dxf = "EntityHandle" in props and "SubClasses" in props
    for k, v in props.items():
        if dxf and k in DXF_FIELDS or _FIELD_OF.get(norm_name(k)) is not None:
            continue
        if v is None or (isinstance(v, float) and math.isnan(v)) or \
                (isinstance(v, str) and not v.strip()):
            continue
        out.setdefault(str(rec["layer"]), {})[str(k)] = None


def _refuse_ballpark(src: pyproj.CRS, storage_srid: int, tx: pyproj.Transformer,
                     source: str) -> None:
    """A project whose datum PROJ can reach from the storage's by a ballpark only (Xian 1980,
    Beijing 1954 to CGCS2000) is refused (:func:`cim.crs.ballpark_refusal`): every setback
    and clearance would be measured on a drawing shifted by an unknown amount, and the check
    would pass or fail it as if exact."""
    why = ballpark_refusal(src, parse_crs(storage_srid), tx, "the project")
    if why is not None:
        raise InputError(why, path=source)


def _one_site(sites: list[shapely.Geometry], seam_m: float) -> shapely.Geometry:
    """The site's parts as one, seams narrower than 2 × ``seam_m`` (the rules file's
    ``site_seam_m``) closed (a morphological closing, added to the parts: nothing of them is
    lost)."""
    site = shapely.union_all(sites)
    if len(sites) < 2 or seam_m <= 0:
        return site
    closed = site.buffer(seam_m, join_style="mitre").buffer(-seam_m, join_style="mitre")
    return shapely.union_all([site, closed])


def _one_outline_each(buildings: list[tuple], probs: _Problems
                      ) -> tuple[list[tuple], list[str]]:
    """The buildings with an outline drawn twice read once — a CAD drawing hatches its
    buildings (the HATCH is a second polygon of the outline), a copy pasted in place —, and
    notes saying so: the copy without attributes goes, else the second (two copies whose
    attributes disagree are a problem naming both). Two buildings never share an outline;
    read twice, one is spaced 0 m from itself and counted twice in the floor area."""
    keep: list[tuple] = []
    notes: list[str] = []
    kept_at: dict[int, int] = {}  # index in buildings → index in keep
    tree = shapely.STRtree([b[0] for b in buildings])
    for n, b in enumerate(buildings):
        poly, attrs, rec = b
        k = next((kept_at[j] for j in sorted(tree.query(poly).tolist()) if j in kept_at and
                  keep[kept_at[j]][0].symmetric_difference(poly).area <= MIN_AREA_M2), None)
        if k is None:
            kept_at[n] = len(keep)
            keep.append(b)
            continue
        first = keep[k]
        mine = {f: str(v).strip() for f, (_, v) in attrs.items()}
        theirs = {f: str(v).strip() for f, (_, v) in first[1].items()}
        if mine and theirs and mine != theirs:
            probs.add(f"the same outline as feature {first[2]['row']} of layer "
                      f"{first[2]['layer']!r}, with other attributes ({theirs} and {mine}): "
                      "draw a building once", rec["layer"], rec["row"], "geometry")
            continue
        if mine and not theirs:
            keep[k], first, b = b, b, first
        notes.append(f"{b[2]['layer']} feature {b[2]['row']}: the same outline as "
                     f"{first[2]['layer']} feature {first[2]['row']} (a hatch or a copy "
                     "drawn in place), read once")
    return keep, notes


_NUMERIC = {"floors_above": {"integer": True}, "floors_below": {"integer": True},
            "height": {"positive": True, "metres": True}, "counted_area": {},
            "ground_elevation": {"metres": True}}


def _read(f: str, name: str, value: Any, rec: dict, probs: _Problems, units: Units
          ) -> Any:
    """Field ``name``'s ``value`` as attribute ``f`` in its unit (None and the problem
    recorded): its header's unit converted (:meth:`Units.factor`), then read by :func:`_num`
    (a ground elevation may be below 0)."""
    factor, why = units.factor(f, name)
    if factor is None:
        probs.add(why, rec["layer"], rec["row"], name)
        return None
    if f == "ground_elevation":  # may be below 0
        try:
            v = parse_number(value, metres=factor == 1.0) if isinstance(value, str) \
                else float(value)
            if isinstance(value, bool) or not math.isfinite(v):
                raise ValueError
        except (TypeError, ValueError):
            probs.add(f"{value!r} is not a number", rec["layer"], rec["row"], name)
            return None
    else:
        kw = dict(_NUMERIC[f])
        if factor != 1.0:  # the header gives the unit: a bare number
            kw["metres"] = False
        v = _num(value, name, rec, probs, **kw)
    if v is None or factor == 1.0:
        return v
    return float(Decimal(repr(float(v))) * Decimal(repr(factor)))  # 85000 mm: 85.0, not 85.00…1


def _comparable(f: str, k: str, value: Any, units: Units) -> Any:
    """What two labels' values are compared by: the number in the attribute's unit (None:
    not a number, reported when the building is read), else the stripped text."""
    if f not in _NUMERIC:
        return str(value).strip()
    return _read(f, k, value, {"layer": None, "row": None}, _Problems(""), units)


def _merge_labels(building: tuple, found: list[tuple[str, str, str, dict, str]],
                  probs: _Problems, units: Units) -> None:
    """Add the labels' values to a building's attributes; two values of one field that
    disagree (among the labels, or with the outline's own attribute) are a problem naming
    both, the same value given twice is fine."""
    _, attrs, brec = building
    first: dict[str, tuple[Any, str]] = {}  # field → (comparable value, where it was given)
    for f, (k, v) in attrs.items():
        first[f] = (_comparable(f, k, v, units), f"the outline's {k}={v}")
    for f, k, v, rec, text in found:
        where = f"the text {text!r} (layer {rec['layer']!r}, feature {rec['row']})"
        if f not in first:
            first[f] = (_comparable(f, k, v, units), where)
            attrs[f] = (k, v)
            continue
        known, known_where = first[f]
        now = _comparable(f, k, v, units)
        if known is not None and now is not None and known != now:
            probs.add(f"its labels disagree on {f}: {known_where} and {where} "
                      "(give one value)", brec["layer"], brec["row"], k)


def _label(attrs: dict, rec: dict) -> str:
    return str(attrs["name"][1]) if "name" in attrs else f"{rec['layer']} #{rec['row']}"


def _building(poly, attrs: dict, rec: dict, probs: _Problems, units: Units,
              min_storey: float) -> Building | None:
    def get(key: str) -> Any:
        if key not in attrs:
            return None
        return _read(key, attrs[key][0], attrs[key][1], rec, probs, units)

    floors, height = get("floors_above"), get("height")

    def given(f: str) -> str:  # a DXF label 0F is its own key
        k, v = attrs[f]
        return str(k) if str(k) == str(v) else f"{k}={v}"

    if floors and height is not None and round(height, 3) < round(floors * min_storey, 3):
        # lower than its storeys can be (30 storeys at 10 m): the storeys make the FAR, the
        # height the height limits and the spacing — a typo in either passes rules it should
        # not, and which one is wrong is not ours to pick
        probs.add(f"{given('floors_above')} and {given('height')} contradict each other: "
                  f"{floors} storeys above ground need at least {floors * min_storey:g} m "
                  f"({height / floors:.2f} m a storey, lower than field_units.yaml "
                  f"min_storey_height_m {min_storey:g} m): give the height in metres above "
                  "ground and the storeys above ground", rec["layer"], rec["row"],
                  attrs["floors_above"][0])
    if floors == 0 and height is not None and height > min_storey:
        # no floor above ground on a building taller than a storey: one of the two is wrong,
        # and which one decides the rules (an underground structure covers no ground and is
        # spaced from none; a tower is) — not ours to pick
        probs.add(f"{given('floors_above')} (no floor above ground) and {given('height')} "
                  f"({height:g} m, "
                  f"taller than a storey: field_units.yaml min_storey_height_m "
                  f"{min_storey:g} m) contradict each other: give its floors above ground if it "
                  "stands above ground, or, if it is an underground structure, its height "
                  f"above ground (at most {min_storey:g} m)", rec["layer"], rec["row"],
                  attrs["floors_above"][0])
    counted = get("counted_area")
    if counted == 0 and (floors or (floors is None and height is not None
                                    and height > min_storey)):
        # 0 m² counted on a building standing above ground (what a Shapefile written by
        # ArcGIS holds for a number left empty): read as given, a 30-storey tower added
        # nothing to the FAR; which of the two is wrong decides the FAR — not ours to pick
        other = given("floors_above") if floors else given("height")
        probs.add(f"{given('counted_area')} and {other} contradict each other: a building "
                  "standing above ground has a counted floor area; give it, or leave the "
                  "field out to count storeys above ground × footprint (a Shapefile written "
                  "by ArcGIS holds a number left empty as 0)",
                  rec["layer"], rec["row"], attrs["counted_area"][0])
    return Building(_label(attrs, rec), rec["layer"], rec["row"], poly,
                    floors_above=floors, floors_below=get("floors_below"),
                    height=height,
                    use=str(attrs["use"][1]).strip() if "use" in attrs else None,
                    counted_area_given=counted,
                    ground_elevation=get("ground_elevation"))


def records_from_geojson(obj: Any, source: str = "project") -> list[dict]:
    """The features of a GeoJSON FeatureCollection as records (layer = the ``role``)."""
    from shapely.geometry import shape

    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection" or \
            not isinstance(obj.get("features"), list):
        raise InputError("the project must be a GeoJSON FeatureCollection", path=source)
    out, probs = [], _Problems(source)
    for i, f in enumerate(obj["features"], start=1):
        props = (f or {}).get("properties") or {}
        if not isinstance(props, dict):
            probs.add("properties must be an object", "features", i, "properties")
            continue
        try:
            g = shape(f["geometry"]) if f.get("geometry") else None
        except (KeyError, TypeError, ValueError, AttributeError,
                shapely.errors.GEOSException) as exc:
            probs.add(f"the geometry cannot be read: {exc}", "features", i, "geometry")
            continue
        out.append({"layer": "features", "row": i, "properties": props, "geometry": g})
    probs.raise_if_any()
    if not out:
        raise InputError("the FeatureCollection has no features", path=source)
    return out
