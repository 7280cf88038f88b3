"""Planning control loader (规划管控, issue 11): regulatory-plan parcels, control lines and
height-limit zones — what a proposed project is checked against.

One command, three kinds, each into its layer through the common pipeline (codes, batches,
rejects, history): ``parcels`` → ``planning_parcels`` (控规地块 with land use and indices),
``control_lines`` → ``control_lines`` (道路红线 / 绿线 / 蓝线 / 紫线 / 黄线 as areas or lines),
``height_zones`` → ``height_zones`` (机场净空, 视线通廊 …). The kind is told by the file's
fields (and, for lines, its geometry) when not given. Classes come from the dictionaries
``land_use.csv`` (用地用海分类 codes; GB 50137 codes and names as aliases),
``control_lines.csv`` and ``height_zone_types.csv``; indices are parsed strictly
(:mod:`loaders.planning_values`), and a value that cannot be read rejects its row naming the
field. A parcel's land use is its code's class (else its name's); a composite use, a code and
a name that disagree, an unknown code or name beside a known one are flagged (see
:func:`_land_use`), the delivered values kept in attrs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from psycopg.types.json import Jsonb

from cim.coding.scheme import layer_code_of
from cim.errors import ConfigError, InputError
from cim.layerdefs import CONTROL_LINES, HEIGHT_ZONES, PLANNING_PARCELS, LayerDef
from cim.numbers import ValueProblem
from cim.profile import CityProfile
from cim.text import half_width, header_unit, norm_key
from loaders import planning_values as pv
from loaders.common import (
    ClassLookup,
    check_attrs,
    content_hash,
    delivered_wkts,
    geometry_field,
    reject_record,
    row_attrs,
    source_keys,
)
from loaders.engine.bulk import EWKB
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.report import LoadReport, Reject
from loaders.engine.rows import StagedRows, layer_values
from loaders.field_names import all_matches, map_fields
from loaders.fields import as_text, is_blank
from loaders.geometry import collection_family, ewkb, prepare
from loaders.sources.read import Batch, iter_batches, open_source

KINDS: dict[str, LayerDef] = {"parcels": PLANNING_PARCELS, "control_lines": CONTROL_LINES,
                              "height_zones": HEIGHT_ZONES}
# attributes that tell a kind apart when --kind is not given
DISTINCTIVE = {
    "parcels": ("parcel_code", "land_use", "land_use_code", "max_far", "max_density",
                "min_green_ratio", "setback_road_m", "setback_site_m", "setback_blue_m"),
    "control_lines": ("line_type", "width_m"),
    "height_zones": ("zone_type", "max_elevation"),
}
LIMITS = {
    "parcels": {"max_far": pv.FAR, "max_density": pv.DENSITY, "min_green_ratio": pv.GREEN,
                "max_height": pv.HEIGHT, "setback_road_m": pv.SETBACK,
                "setback_site_m": pv.SETBACK, "setback_blue_m": pv.SETBACK},
    "control_lines": {"width_m": pv.WIDTH},
    "height_zones": {"max_height": pv.HEIGHT, "max_elevation": pv.ELEVATION},
}
PARCEL_OVERLAP = "parcel_overlap"  # a parcel overlapping another of its delivery
_FAMILY = {0: "point", 4: "point", 1: "line", 5: "line", 3: "polygon", 6: "polygon"}


class RowProblem(Exception):
    """One row cannot be loaded: reason, message and the source field at fault."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.field = reason, message, field


def aliases_of(profile: CityProfile, kind: str) -> dict[str, list[str]]:
    return profile.field_aliases.get(KINDS[kind].name, {})


def _geometry_family(geometry_type: str | None) -> str | None:
    g = (geometry_type or "").upper().replace(" Z", "").replace("25D", "").strip()
    if "LINE" in g:
        return "line"
    if "POLYGON" in g or "SURFACE" in g:
        return "polygon"
    if "POINT" in g:
        return "point"
    return None


def infer_kind(profile: CityProfile, path: str | Path, source_layer: str | None = None,
               encoding: str | None = None) -> tuple[str, str]:
    """(kind, why) of a planning source from its fields, class values and geometry.

    Each kind scores the attributes only it has (容积率 / 用地性质 … for parcels, 控制线类型 /
    红线宽度 for control lines, 限高类型 / 限制高程 for height zones); a type field shared by
    control lines and zones (类型) counts for the kind whose dictionary knows its values.
    Line geometry can only be a control line. Undecided by its fields, a file (or layer) whose
    name is a control-line or zone type (蓝线.shp, 机场净空) is of that kind, as its type is
    read from the name; anything else undecided is an error asking for --kind.
    """
    src = open_source(path, source_layer, encoding)
    family = _geometry_family(src.geometry_type)
    if family == "line":
        return "control_lines", "line geometry"
    first = next(iter_batches(src, 500), None)
    scores: dict[str, int] = {}
    for kind, attrs in DISTINCTIVE.items():
        mapped = map_fields(src.fields, aliases_of(profile, kind), where=str(path))
        score = sum(1 for a in attrs if a in mapped)
        type_attr = {"control_lines": "line_type", "height_zones": "zone_type"}.get(kind)
        if type_attr and type_attr in mapped and first is not None:
            lookup = ClassLookup(profile, KINDS[kind].class_dictionary or "")
            vals = [v for v in first.columns[mapped[type_attr]] if not is_blank(v)]
            if vals and not any(lookup.find(v) for v in vals):
                score -= 1  # a 类型 field whose values are not this kind's types
        scores[kind] = score
    best = max(scores.values())
    winners = [k for k, s in scores.items() if s == best]
    if best > 0 and len(winners) == 1:
        return winners[0], "fields " + ", ".join(f"{k} {s}" for k, s in scores.items())
    for kind in ("control_lines", "height_zones"):  # 蓝线.shp of 编号 and 名称 alone
        named = _type_from_name(profile, kind, Path(path), src.layer)
        if named is not None and (best <= 0 or kind in winners):
            return kind, f"its name {named!r}"
    raise InputError("cannot tell whether this is parcels, control_lines or height_zones "
                     f"(fields: {', '.join(src.fields) or 'none'}); pass --kind",
                     path=str(path))


@dataclass
class _Classes:
    land_use: ClassLookup
    control_lines: ClassLookup
    zones: ClassLookup
    spellings: dict[str, str] = field(default_factory=dict)  # unit spellings (field_units)
    percent: frozenset[str] = frozenset()  # this load's fields whose header says %

    def percent_fields(self, ctx: LoadContext) -> frozenset[str]:
        """The mapped fields whose header says % (建筑密度(%)): the spellings of ``pct``."""
        return frozenset(f for f in ctx.mapping.values()
                         if header_unit(f, self.spellings) == "pct")


# a land use as a code (R2, A33, 0701, 070102), told from a name (二类居住用地)
_CODE_LIKE = re.compile(r"[a-z]{1,2}\d{0,3}|\d{2,6}")
# what separates the uses of a composite value: R2(B1), R2 B1, R2/B1, R2+B1, R2、B1
_USE_SEPARATORS = re.compile(r"[\s()（）\[\]【】/／、+＋,，;；]+")
_GB_RUN = re.compile(r"(?:[a-z]\d{1,2}){2,}")  # B1B2: GB 50137 codes run together


@dataclass
class _Uses:
    """The land-use classes one field delivers: the primary first."""

    classes: list[dict]
    conflict: bool  # a code and a name in the field that disagree (商业用地(R2))
    unknown_words: bool = False  # words beside a known code the dictionary has not (现状)
    generalised: bool = False  # a third-level code read as its parent (070102, R21)


def _related(a: dict, b: dict) -> bool:
    """One class, or one within the other (07 居住用地 and 0701 城镇住宅用地)."""
    return a["code"].startswith(b["code"]) or b["code"].startswith(a["code"])


def _covered(these: list[dict], by: list[dict]) -> bool:
    return all(any(_related(t, b) for b in by) for t in these)


def _distinct(rows: list[dict]) -> list[dict]:
    out: list[dict] = []
    for r in rows:
        if not any(_related(r, o) for o in out):
            out.append(r)
    return out


def _uses_of(lookup: ClassLookup, v: Any) -> _Uses | None:
    """The classes of one delivered land-use value; None where any part of it is not in the
    dictionary. A composite value (R2(B1), R2 B1, R2/B1, B1B2) names several uses, the
    first the primary; a code and a name in one value (R2 二类居住用地, 商业用地(R2)): the
    code decides, the name is compared with it."""
    key = _land_use_key(v)
    row, general = _find_use(lookup, key)
    if row is not None:
        return _Uses([row], False, generalised=general)
    if not isinstance(key, str):
        return None
    v = key
    parts: list[str] = []
    for p in _USE_SEPARATORS.split(half_width(v).strip()):
        if p and lookup.find(p) is None and _GB_RUN.fullmatch(p.casefold()):
            parts += re.findall(r"[a-z]\d{1,2}", p.casefold())
        elif p:
            parts.append(p)
    found = [_find_use(lookup, p) for p in parts]
    rows = [r for r, _g in found]
    generalised = any(g for _r, g in found)
    is_code = [bool(_CODE_LIKE.fullmatch(norm_key(p))) for p in parts]
    # a word the dictionary has not beside a known code (R2(二类居住), B1(现状), M1(保留)):
    # the code decides, the word is flagged; an unknown code, or words alone, are unreadable
    unknown_words = any(r is None and not c for r, c in zip(rows, is_code))
    if not parts or any(r is None and c for r, c in zip(rows, is_code)) or (
            unknown_words and not any(r is not None and c for r, c in zip(rows, is_code))):
        return None
    codes = [r for r, c in zip(rows, is_code) if c and r is not None]
    names = [r for r, c in zip(rows, is_code) if not c and r is not None]
    if not codes:
        return _Uses(_distinct(names), False)
    codes = _distinct(codes)
    return _Uses(codes, bool(names) and not (_covered(names, codes) or _covered(codes, names)),
                 unknown_words, generalised)


def _find_use(lookup: ClassLookup, value: Any) -> tuple[dict | None, bool]:
    """(the class of a land-use code or name, whether it is a code's parent): a third-level
    code the dictionary does not list is its parent's class — 070102 (二类城镇住宅用地) is
    0701, GB 50137's R21 is R2's — flagged ``land_use_code_generalised`` by the caller."""
    row = lookup.find(value)
    if row is not None or not isinstance(value, str):
        return row, False
    k = norm_key(value)
    parent = k[:4] if k.isdigit() and len(k) == 6 else \
        k[:2] if re.fullmatch(r"[a-z]\d\d", k) else None
    row = lookup.find(parent) if parent else None
    return row, row is not None


def _land_use(classes: _Classes, cols, m, i, flags: list[str]) -> dict | None:
    """The parcel's land use (its primary class) from the code field, else the name field;
    flags what the choice assumed: ``land_use_mixed`` (a composite use: the first is kept),
    ``land_use_conflict`` (the code and the name disagree: the code is kept),
    ``land_use_code_unknown`` (a code not in the dictionary, the name's class kept),
    ``land_use_name_unknown`` (a name not in the dictionary beside a known code). Both
    values stay in attrs as delivered. Neither readable: RowProblem naming the field."""
    got: list[tuple[str, Any, _Uses | None]] = []
    for attr in ("land_use_code", "land_use"):
        f = m.get(attr)
        if f is not None and not is_blank(cols[f][i]):
            got.append((attr, cols[f][i], _uses_of(classes.land_use, cols[f][i])))
    if not got:
        flags.append("land_use_missing")
        return None
    readable = [u for _a, _v, u in got if u is not None]
    if not readable:
        attr, raw, _ = got[0]
        f = m[attr]
        raise RowProblem("unknown_class", f"field {f!r}: 用地性质 {str(raw).strip()!r} is "
                         "not in the land-use dictionary (land_use.csv: 用地用海分类 code, "
                         "GB 50137 code such as R2 or B1, or name)", f)
    uses = readable[0]
    if any(len(u.classes) > 1 for u in readable):
        flags.append("land_use_mixed")
    if any(u.conflict for u in readable) or (
            len(readable) == 2 and not (_covered(readable[1].classes, uses.classes)
                                        or _covered(uses.classes, readable[1].classes))):
        flags.append("land_use_conflict")
    if got[0][2] is None:  # the code field unreadable: the name decided
        flags.append("land_use_code_unknown")
    elif (len(got) == 2 and got[1][2] is None) or any(u.unknown_words for u in readable):
        flags.append("land_use_name_unknown")
    if any(u.generalised for u in readable):
        flags.append("land_use_code_generalised")
    return uses.classes[0]


def _land_use_key(v: Any) -> Any:
    """A land-use code as the dictionary writes it: 用地用海 codes have 2, 4 or 6 digits, so a
    number — or a text of digits — of 1, 3 or 5 has lost its leading zero (Excel's 701 for
    0701, kept as text by a CSV or a join: it was rejected where the number was read); a whole
    number written out as a float (0701.0) is its digits."""
    if isinstance(v, (bool, np.bool_)):  # Excel's TRUE is no land use (not 01 耕地)
        return str(v)
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer()):
        return _padded_use_code(str(int(v)))
    if isinstance(v, str):
        s = half_width(v).strip()
        if _WHOLE_FLOAT_TEXT.fullmatch(s):
            s = s.split(".")[0]
        if s.isascii() and s.isdigit() and 1 <= len(s) <= 6:
            return _padded_use_code(s)
    return v


_WHOLE_FLOAT_TEXT = re.compile(r"[0-9]{1,6}\.0+")


def _padded_use_code(s: str) -> str:
    return s.zfill(6) if len(s) in (5, 6) else s.zfill(4) if len(s) in (3, 4) else s.zfill(2)


def _limits(kind: str, cols, m, i, flags: list[str],
            percent: frozenset[str] = frozenset()) -> dict[str, float | None]:
    """The row's indices; ``percent``: the fields whose header says % (建筑密度(%))."""
    out = {}
    for attr, spec in LIMITS[kind].items():
        f = m.get(attr)
        if f is None:
            out[attr] = None
            continue
        try:
            out[attr], assumed = pv.parse_limit(cols[f][i], spec, f in percent)
        except ValueProblem as exc:
            raise RowProblem("bad_value", f"field {f!r}: {exc}", f) from None
        if assumed and assumed not in flags:
            flags.append(assumed)
    return out


def _text(cols, m, attr, i, max_len=200) -> str | None:
    f = m.get(attr)
    if f is None:
        return None
    try:
        return as_text(cols[f][i], max_len)
    except ValueProblem as exc:
        raise RowProblem("bad_value", f"field {f!r}: {exc}", f) from None


def _parcel(classes: _Classes, ctx: LoadContext, cols, i, geom, flags):
    m = ctx.mapping
    row = _land_use(classes, cols, m, i, flags)
    vals = {"parcel_code": _text(cols, m, "parcel_code", i, 50),
            "land_use_code": row["code"] if row else None,
            "land_use_name": row["name"] if row else None,
            **_limits("parcels", cols, m, i, flags, classes.percent)}
    return vals, (row["code"][:2] if row else "99")


def _control_line(classes: _Classes, ctx: LoadContext, cols, i, geom, flags):
    m = ctx.mapping
    f = m.get("line_type")
    raw = cols[f][i] if f else ctx.options.get("line_type_default")
    row = classes.control_lines.find(raw)
    if row is None:
        if is_blank(raw):
            raise RowProblem("missing_class", "the control line has no type (控制线类型 is "
                             "empty; 道路红线 绿线 蓝线 紫线 黄线)", f)
        raise RowProblem("unknown_class", f"field {f!r}: 控制线类型 {str(raw).strip()!r} is not "
                         "one of 道路红线 绿线 蓝线 紫线 黄线 (HX LVX LX ZX HUX; "
                         "control_lines.csv)", f)
    vals = {"line_type": row["name"], "line_type_code": row["type_code"],
            "name": _text(cols, m, "name", i), **_limits("control_lines", cols, m, i, flags)}
    fam = _FAMILY.get(int(shapely.get_type_id(geom)))
    if fam == "polygon" and vals["width_m"] is not None:
        flags.append("width_ignored")  # an area carries its own width
        vals["width_m"] = None
    elif fam == "line" and row["type_code"] == "HX" and vals["width_m"] is None:
        flags.append("width_missing")
    if vals["width_m"] == 0:
        raise RowProblem("bad_value", f"field {m['width_m']!r}: a width of 0", m["width_m"])
    return vals, row["code"]


def _height_zone(classes: _Classes, ctx: LoadContext, cols, i, geom, flags):
    m = ctx.mapping
    f = m.get("zone_type")
    raw = cols[f][i] if f else ctx.options.get("zone_type_default")
    row = classes.zones.find(raw)
    if row is None and not is_blank(raw):
        raise RowProblem("unknown_class", f"field {f!r}: 限高类型 {str(raw).strip()!r} is not "
                         "one of 机场净空 视线通廊 其他 (height_zone_types.csv)", f)
    if row is None:
        flags.append("zone_type_missing")
        row = classes.zones.find("99")
    vals = {"zone_type": row["name"], "name": _text(cols, m, "name", i),
            **_limits("height_zones", cols, m, i, flags)}
    if vals["max_height"] is None and vals["max_elevation"] is None:
        raise RowProblem("missing_value", "the zone has no limit (限高 or 限制高程 is needed)",
                         m.get("max_height") or m.get("max_elevation"))
    return vals, row["code"]


ROW_PARSERS = {"parcels": _parcel, "control_lines": _control_line,
               "height_zones": _height_zone}


def _prepare(kind: str, geoms: np.ndarray, transformer) -> tuple[list, list, list]:
    """Geometries in the storage CRS, rejects and flags: parcels and zones are polygons;
    control lines are lines or polygons (points rejected); a GeometryCollection is loaded as
    its polygons where it has any, else as its lines (the other parts dropped, flagged)."""
    if kind != "control_lines":
        p = prepare(geoms, transformer, "polygon")
        return list(p.geoms), p.reject, p.flags
    n = len(geoms)
    out, reject = [None] * n, [None] * n
    flags: list[list[str]] = [[] for _ in range(n)]
    missing = shapely.is_missing(geoms)
    types = np.full(n, -1)
    types[~missing] = shapely.get_type_id(geoms[~missing])
    fams = np.array([_FAMILY.get(int(t)) if t != 7 else collection_family(g)
                     for t, g in zip(types, geoms)], dtype=object)
    for fam in ("line", "polygon"):
        idx = np.flatnonzero(fams == fam)
        if idx.size:
            p = prepare(geoms[idx].copy(), transformer, fam, make_multi=False)
            for j, i in enumerate(idx):
                out[i], reject[i], flags[i] = p.geoms[j], p.reject[j], p.flags[j]
    rest = np.flatnonzero((fams != "line") & (fams != "polygon"))
    if rest.size:
        p = prepare(geoms[rest].copy(), transformer, "line")
        for j, i in enumerate(rest):
            reject[i] = p.reject[j] or ("wrong_geometry_type", "a control line is a line or "
                                        "an area")
    return out, reject, flags


def id_fields(kind: str, ctx: LoadContext) -> list[str]:
    first = [ctx.mapping["source_id"]] if "source_id" in ctx.mapping else []
    names = aliases_of(ctx.profile, kind).get("source_id", [])
    return first + [f for f in all_matches(ctx.source.fields, names) if f not in first]


OVERLAP_SHARE = 0.01  # of the smaller parcel: more is an overlap, less a digitising sliver


def _overlapping_rows(path: Path, kw: dict[str, Any]) -> tuple[dict[int, set[int]], list[str]]:
    """Parcels of one delivery that overlap — two plans' parcels drawn over each other, a
    parcel delivered twice under two codes — by more than :data:`OVERLAP_SHARE` of the smaller
    one: {row: the rows it overlaps} and their parcel codes for the note. A regulatory plan
    gives each place one parcel; the approval check takes the strictest where they overlap,
    but the delivery's error went unsaid. Read once before the load (a plan's parcels are
    thousands, not millions), in the delivery's CRS: the share is a ratio of areas."""
    src = open_source(path, kw.get("source_layer"), kw.get("encoding"))
    geoms, rows = [], []
    for batch in iter_batches(src):
        g = np.array(batch.geometries, dtype=object)
        ok = ~shapely.is_missing(g)
        ok[ok] = ~shapely.is_empty(g[ok])
        at = np.flatnonzero(ok)
        xy, of = shapely.get_coordinates(g[at], return_index=True)
        ok[at[np.unique(of[~np.isfinite(xy).all(axis=1)])]] = False  # the load rejects them
        for i in np.flatnonzero(ok):
            try:
                geoms.append(shapely.make_valid(shapely.force_2d(g[i])))
            except shapely.errors.GEOSException:  # what make_valid cannot read the load rejects
                continue
            rows.append(batch.row(int(i)))
    if len(geoms) < 2:
        return {}, []
    arr = np.array(geoms, dtype=object)
    area = shapely.area(arr)
    a, b = shapely.STRtree(arr).query(arr, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.area(shapely.intersection(arr[a], arr[b]))
    over = shared > OVERLAP_SHARE * np.minimum(area[a], area[b])
    out: dict[int, set[int]] = {}
    pairs = []
    for i, j in zip(a[over].tolist(), b[over].tolist()):
        out.setdefault(rows[i], set()).add(rows[j])
        out.setdefault(rows[j], set()).add(rows[i])
        pairs.append(f"rows {rows[i]} and {rows[j]}")
    return out, pairs


def make_converter(profile: CityProfile, kind: str,
                   overlaps: dict[int, set[int]] | None = None):
    layer = KINDS[kind]
    classes = _Classes(ClassLookup(profile, "land_use"), ClassLookup(profile, "control_lines"),
                       ClassLookup(profile, "height_zone_types"),
                       pv.AreaUnits.of(profile).spellings)
    parse_row = ROW_PARSERS[kind]

    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        cols = batch.columns
        classes.percent = classes.percent_fields(ctx)
        geoms, greject, gflags = _prepare(kind, batch.geometries, ctx.transformer)
        keyed = np.array([g if g is not None else shapely.Point() for g in geoms], dtype=object)
        keys = source_keys(ctx.dataset, [(f, cols[f]) for f in id_fields(kind, ctx)], keyed)
        wkbs = ewkb(keyed, ctx.srid)
        delivered = delivered_wkts(batch.geometries)  # what a reject of the merge keeps
        rows, rejects = StagedRows(layer, delivered=True), []
        for i in range(len(batch.geometries)):
            row_no, attrs = batch.row(i), row_attrs(cols, i)
            try:
                if greject[i] is not None:
                    raise RowProblem(*greject[i], geometry_field(ctx.source))
                bad = check_attrs(cols, i)
                if bad:
                    raise RowProblem("bad_value", f"field {bad[0]!r}: {bad[1]}", bad[0])
                flags = list(gflags[i])
                if overlaps and row_no in overlaps:
                    flags.append(PARCEL_OVERLAP)
                vals, class_code = parse_row(classes, ctx, cols, i, geoms[i], flags)
            except RowProblem as p:
                rejects.append(reject_record(row_no, p.reason, p.message, attrs,
                                             batch.geometries[i], keys[i], field=p.field))
                continue
            rows.append(row_no=row_no, source_key=keys[i],
                        row_hash=content_hash(layer_values(layer, vals), wkbs[i]),
                        attrs=Jsonb(attrs), flags=flags, geom=EWKB(wkbs[i]),
                        class_code=class_code, delivered_wkt=delivered[i], **vals)
        return rows, rejects

    return convert


def _type_from_name(profile: CityProfile, kind: str, path: Path,
                    source_layer: str | None) -> str | None:
    """A file of one control-line (or zone) type may say it in its name only (蓝线.shp)."""
    dictionary = {"control_lines": "control_lines", "height_zones": "height_zone_types"}[kind]
    lookup = ClassLookup(profile, dictionary)
    for name in (source_layer, path.stem):
        if name and lookup.find(name):
            return name
    return None


def _require_land_use(path: Path, aliases: dict[str, list[str]], kw: dict[str, Any]) -> None:
    """A parcel layer without a land-use field loaded every parcel as 99 (no class), each
    merely flagged ``land_use_missing``: a 控规 parcel is its land use (the approval check
    reads it), so a field the aliases do not know (地块性质, 用地功能 …) is asked for by name,
    as a control line's type field is. A blank cell of a land-use field is still the row's
    own flag."""
    src = open_source(path, kw.get("source_layer"), kw.get("encoding"))
    mapped = map_fields(src.fields, aliases, kw.get("mapping"), where=str(path))
    if "land_use_code" not in mapped and "land_use" not in mapped:
        raise InputError(  # the delivery lacks a field it needs (as roads: exit 3)
            f"no land-use field (用地代码 / 用地性质 / 地类 …; fields: "
            f"{', '.join(src.fields) or 'none'}): a parcel needs its land use; name the field "
            "with --mapping (land_use: FIELD for a name, land_use_code: FIELD for a code)",
            path=str(path))


def load_planning(conninfo: str, profile: CityProfile, path: str | Path,
                  kind: str | None = None, **kw) -> LoadReport:
    """Load one planning source; ``kind`` None: told from the source (:func:`infer_kind`)."""
    path = Path(path)
    note = None
    if kind is None:
        kind, why = infer_kind(profile, path, kw.get("source_layer"), kw.get("encoding"))
        note = f"kind {kind} (told by {why})"
    if kind not in KINDS:
        raise ConfigError(f"unknown planning kind {kind!r}; one of {', '.join(KINDS)}")
    layer = KINDS[kind]
    aliases = aliases_of(profile, kind)
    options: dict[str, Any] = {"kind": kind, **({"kind_from": note} if note else {})}
    type_attr = {"control_lines": "line_type", "height_zones": "zone_type"}.get(kind)
    overlaps: dict[int, set[int]] = {}
    pairs: list[str] = []
    if kind == "parcels":
        _require_land_use(path, aliases, kw)
        overlaps, pairs = _overlapping_rows(path, kw)
    if type_attr:
        src = open_source(path, kw.get("source_layer"), kw.get("encoding"))
        mapped = map_fields(src.fields, aliases, kw.get("mapping"), where=str(path))
        if type_attr not in mapped:
            named = _type_from_name(profile, kind, path, src.layer)
            if named is None and kind == "control_lines":
                raise InputError(
                    f"no control-line type field (控制线类型 / 类型 …; fields: "
                    f"{', '.join(src.fields) or 'none'}) and the file name names no type; "
                    "name the field with --mapping (line_type: FIELD)", path=str(path))
            options[f"{type_attr}_default"] = named
    report = run_load(conninfo, profile, layer, layer_code_of(profile, layer.name),
                      make_converter(profile, kind, overlaps), path, aliases=aliases,
                      options=options, **kw)
    if note:
        report.notes.insert(0, note)
    if overlaps:
        report.notes.append(f"{len(pairs)} pair(s) of parcels overlap by more than "
                            f"{OVERLAP_SHARE:.0%} of the smaller (flagged {PARCEL_OVERLAP}): "
                            + ", ".join(pairs[:10]) + (" …" if len(pairs) > 10 else ""))
    return report
