"""City base layers (issue 13): roads, green spaces and parks, public service facilities.

What the city health check (城市体检) and the risk list are computed from, each loaded into its
layer through the common pipeline (codes, batches, rejects, history) like buildings:

- ``roads`` → ``roads``: centre lines (a collection of lines, as CAD exports them, loads as its
  lines, other parts dropped and flagged) with their class (快速路 主干路 次干路 支路; OSM highway
  values as aliases, ``road_classes.csv``), red-line width and lanes;
- ``green`` → ``green_spaces``: areas typed by CJJ/T 85-2017 (综合公园 G11 … ``green_types.csv``);
  the area is computed from the geometry in the storage CRS, never taken from the file (a
  declared 面积 — ``10000``, ``10000㎡``, ``15亩``, ``1公顷``, ``1.5万㎡``, or bare under a header
  naming its unit, 面积(公顷), 面积(万㎡): the units and factors of ``field_units.yaml`` — read
  in m² and more than 5 % off is flagged ``area_differs``; a length
  such as ``9999m`` is refused); ``is_park`` (公园绿地 G1) comes from the dictionary;
- ``facilities`` → ``facilities``: points typed by ``facility_types.csv`` (幼儿园, 小学 … with
  their GB 50180-2018 life circle); a site given as an area loads as a point inside it (flag
  ``point_from_area``).

The type is required and must be in its dictionary; a value that cannot be read (a width of
``wide``, 3.5 lanes, a negative capacity) rejects its row naming the field. Population is in
:mod:`loaders.population`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from psycopg.types.json import Jsonb

from cim.coding.scheme import layer_code_of
from cim.errors import InputError
from cim.layerdefs import FACILITIES, GREEN_SPACES, ROADS, LayerDef
from cim.numbers import ValueProblem
from cim.profile import CityProfile
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
from loaders.field_names import all_matches
from loaders.fields import as_float, as_int, as_text, is_blank
from loaders.geometry import ewkb, prepare
from loaders.planning_values import AreaUnits, parse_area
from loaders.sources.layer_points import single_points
from loaders.sources.read import Batch

AREA_TOLERANCE = 0.05  # a declared area further off than this from the geometry's is flagged


class RowProblem(Exception):
    """One row cannot be loaded: reason, message and the source field at fault."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.field = reason, message, field


@dataclass(frozen=True)
class Kind:
    layer: LayerDef
    family: str  # geometry family the layer stores: line | polygon | point
    dictionary: str
    type_attr: str  # the attribute holding the class (road_class, green_type …)
    type_label: str  # how the message names it
    parse: Callable[[Any, Any, Any, int, Any, list[str], AreaUnits], dict[str, Any]]


def _text(cols, m, attr, i, max_len=200) -> str | None:
    f = m.get(attr)
    if f is None:
        return None
    try:
        return as_text(cols[f][i], max_len)
    except ValueProblem as exc:
        raise RowProblem("bad_value", f"field {f!r}: {exc}", f) from None


def _number(cols, m, attr, i, lo, hi, integer=False, positive=False):
    f = m.get(attr)
    if f is None:
        return None
    try:
        v = as_int(cols[f][i], lo, hi) if integer else as_float(cols[f][i], lo, hi)
    except ValueProblem as exc:
        raise RowProblem("bad_value", f"field {f!r}: {exc}", f) from None
    if positive and v is not None and v <= 0:
        raise RowProblem("bad_value", f"field {f!r}: {v:g} is not a positive number", f)
    return v


def _road(row, cols, m, i, geom, flags, units) -> dict[str, Any]:
    return {"name": _text(cols, m, "name", i), "road_class": row["name"],
            "road_class_code": row["code"],
            "red_line_width_m": _number(cols, m, "red_line_width_m", i, 0, 300, positive=True),
            "lanes": _number(cols, m, "lanes", i, 1, 20, integer=True)}


def _green(row, cols, m, i, geom, flags, units) -> dict[str, Any]:
    area = float(shapely.area(geom))
    f = m.get("area_declared")
    declared = None
    if f is not None:  # read with its unit, or its header's (面积(公顷)), into m²
        try:
            declared = parse_area(cols[f][i], units.header(f), units)
        except ValueProblem as exc:
            raise RowProblem("bad_value", f"field {f!r}: {exc}", f) from None
    if declared is not None and abs(declared - area) > AREA_TOLERANCE * area:
        flags.append("area_differs")
    return {"name": _text(cols, m, "name", i), "green_type": row["name"],
            "green_type_code": row["type_code"], "area_m2": round(area, 2),
            "is_park": row.get("is_park", "").strip().lower() in ("true", "1", "yes")}


def _facility(row, cols, m, i, geom, flags, units) -> dict[str, Any]:
    return {"name": _text(cols, m, "name", i), "facility_type": row["name_zh"],
            "facility_type_code": row["type_code"],
            "capacity": _number(cols, m, "capacity", i, 0, 1_000_000, integer=True)}


KINDS: dict[str, Kind] = {
    "roads": Kind(ROADS, "line", "road_classes", "road_class",
                  "道路等级 (快速路 主干路 次干路 支路)", _road),
    "green": Kind(GREEN_SPACES, "polygon", "green_types", "green_type",
                  "绿地类型 (综合公园 社区公园 专类公园 游园 防护绿地 广场用地 …)", _green),
    "facilities": Kind(FACILITIES, "point", "facility_types", "facility_type",
                       "设施类型 (幼儿园 小学 中学 社区卫生服务中心 医院 养老院 菜市场 …)",
                       _facility),
}


def aliases_of(profile: CityProfile, kind: str) -> dict[str, list[str]]:
    return profile.field_aliases.get(KINDS[kind].layer.name, {})


def id_fields(kind: str, ctx: LoadContext) -> list[str]:
    first = [ctx.mapping["source_id"]] if "source_id" in ctx.mapping else []
    names = aliases_of(ctx.profile, kind).get("source_id", [])
    return first + [f for f in all_matches(ctx.source.fields, names) if f not in first]


def _points(geoms: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """Facilities given as areas become a point inside the area (flagged); one-point
    MultiPoints become Points. Anything else is left for :func:`prepare` to judge."""
    out = single_points(geoms)
    flags: list[list[str]] = [[] for _ in range(len(out))]
    for i, g in enumerate(out):
        if g is not None and not g.is_empty and shapely.get_type_id(g) in (3, 6):
            out[i] = shapely.point_on_surface(g)
            flags[i].append("point_from_area")
    return out, flags


def _prepare(kind: Kind, geoms: np.ndarray, transformer):
    if kind.family != "point":
        p = prepare(geoms, transformer, kind.family)
        return list(p.geoms), p.reject, p.flags
    pts, pflags = _points(geoms)
    # an area is judged as every polygon loader judges one (a ring of three points, a hole
    # outside its shell: rejected; a bow-tie repaired) before its point is taken: a ring
    # enclosing nothing became its first vertex, flagged only point_from_area
    # (in the storage CRS, as theirs: an area's limits are square metres, not degrees)
    areas = [i for i, f in enumerate(pflags) if "point_from_area" in f]
    area_reject: dict[int, tuple] = {}
    area_point: dict[int, shapely.Geometry] = {}
    if areas:
        pa = prepare(np.asarray(geoms, dtype=object)[areas], transformer, "polygon")
        for j, i in enumerate(areas):
            if pa.reject[j] is not None:
                area_reject[i] = pa.reject[j]
            else:
                area_point[i] = shapely.point_on_surface(pa.geoms[j])
                pflags[i] += [f for f in pa.flags[j] if f not in pflags[i]]
            pts[i] = None  # judged and transformed above
    p = prepare(pts, transformer, "point")
    reject = list(p.reject)
    out = list(p.geoms)
    for i, r in area_reject.items():
        reject[i] = r
    for i, g in area_point.items():
        out[i], reject[i] = g, None
    for i, g in enumerate(p.geoms):
        if reject[i] is None and g is not None and shapely.get_type_id(g) == 4:
            reject[i] = ("wrong_geometry_type", f"a MultiPoint of {len(g.geoms)} points where "
                         "one facility point is expected")
    return out, reject, [a + b for a, b in zip(pflags, p.flags)]


def make_converter(profile: CityProfile, kind_name: str):
    kind = KINDS[kind_name]
    lookup = ClassLookup(profile, kind.dictionary)
    units = AreaUnits.of(profile)  # a declared area's (field_units.yaml)

    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        cols, m = batch.columns, ctx.mapping
        geoms, greject, gflags = _prepare(kind, batch.geometries, ctx.transformer)
        keyed = np.array([g if g is not None else shapely.Point() for g in geoms], dtype=object)
        keys = source_keys(ctx.dataset, [(f, cols[f]) for f in id_fields(kind_name, ctx)],
                           keyed)
        wkbs = ewkb(keyed, ctx.srid)
        delivered = delivered_wkts(batch.geometries)  # what a reject of the merge keeps
        rows, rejects = StagedRows(kind.layer, delivered=True), []
        type_field = m.get(kind.type_attr)
        for i in range(len(batch.geometries)):
            row_no, attrs = batch.row(i), row_attrs(cols, i)
            try:
                if greject[i] is not None:
                    raise RowProblem(*greject[i], geometry_field(ctx.source))
                bad = check_attrs(cols, i)
                if bad:
                    raise RowProblem("bad_value", f"field {bad[0]!r}: {bad[1]}", bad[0])
                raw = cols[type_field][i] if type_field else ctx.options.get("type_default")
                row = lookup.find(raw)
                if row is None and is_blank(raw):
                    raise RowProblem("missing_class", f"the feature has no {kind.type_label}",
                                     type_field)
                if row is None:
                    raise RowProblem("unknown_class", f"field {type_field!r}: "
                                     f"{str(raw).strip()!r} is not a {kind.type_label} "
                                     f"({kind.dictionary}.csv)", type_field)
                flags = list(gflags[i])
                vals = kind.parse(row, cols, m, i, geoms[i], flags, units)
            except RowProblem as p:
                rejects.append(reject_record(row_no, p.reason, p.message, attrs,
                                             batch.geometries[i], keys[i], field=p.field))
                continue
            rows.append(row_no=row_no, source_key=keys[i],
                        row_hash=content_hash(layer_values(kind.layer, vals), wkbs[i]),
                        attrs=Jsonb(attrs), flags=flags, geom=EWKB(wkbs[i]),
                        class_code=row["code"], delivered_wkt=delivered[i], **vals)
        return rows, rejects

    return convert


def _type_from_name(profile: CityProfile, kind: Kind, path: Path,
                    source_layer: str | None) -> str | None:
    """A file of one type may say it in its name only (主干路.shp, 幼儿园.gpkg)."""
    lookup = ClassLookup(profile, kind.dictionary)
    for name in (source_layer, path.stem):
        if name and lookup.find(name):
            return name
    return None


def load_base(conninfo: str, profile: CityProfile, kind_name: str, path: str | Path,
              **kw) -> LoadReport:
    """Load one source of roads, green spaces or facilities (``kind_name``)."""
    from loaders.field_names import map_fields
    from loaders.sources.read import open_source

    path = Path(path)
    kind = KINDS[kind_name]
    aliases = aliases_of(profile, kind_name)
    options: dict[str, Any] = {"kind": kind_name}
    src = open_source(path, kw.get("source_layer"), kw.get("encoding"))
    if kind.type_attr not in map_fields(src.fields, aliases, kw.get("mapping"),
                                        where=str(path)):
        named = _type_from_name(profile, kind, path, src.layer)
        if named is None:
            raise InputError(f"no {kind.type_label} field (fields: "
                             f"{', '.join(src.fields) or 'none'}) and the file name names no "
                             f"type; name the field with --mapping ({kind.type_attr}: FIELD)",
                             path=str(path))
        options["type_default"] = named
    return run_load(conninfo, profile, kind.layer, layer_code_of(profile, kind.layer.name),
                    make_converter(profile, kind_name), path, aliases=aliases,
                    options=options, **kw)
