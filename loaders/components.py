"""City-management component census loader (城市部件普查, GB/T 30428.2).

A census layer (points; lines and polygons for the subclasses that are lines or areas, in the
same file or in separate ones) whose class is a subclass code (0101), a subclass name (上水井盖)
or an alias (给水井盖) from the city's dictionary ``components.csv``. Each component gets its
16-digit code from the one allocator — district of its location (6) + subclass (4, i.e.
major 2 + subclass 2) + serial (6) — and the 15-digit code of the unit grid cell it lies in
(a component on a cell boundary goes to a cell that contains it; a component in no cell is
rejected with ``no_grid_cell``). Unknown classes are rejected with the unknown value named.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import yaml
from psycopg.types.json import Jsonb

from cim.errors import ConfigError
from cim.layerdefs import COMPONENTS
from cim.profile import CityProfile
from cim.text import norm_key
from loaders.common import content_hash, reject_record, row_attrs, source_keys
from loaders.engine.bulk import EWKB
from loaders.engine.pipeline import LoadContext, run_load
from loaders.engine.report import LoadReport, Reject
from loaders.engine.rows import StagedRows, layer_values
from loaders.fields import ValueProblem, all_matches, as_text, is_blank
from loaders.geometry import ewkb, prepare
from loaders.sources.read import Batch

FAMILY_OF_TYPE = {0: "point", 4: "point", 1: "line", 5: "line", 3: "polygon", 6: "polygon"}
TEXT_FIELDS = ("name", "dept_code", "dept_name", "owner_code", "owner_name", "maint_code",
               "maint_name", "material", "location", "note")


def as_date(v: Any) -> dt.date | None:
    """A census date: a date, 2021-05-12, 2021/5/12, 2021.05.12, 20210512, 2021年5月12日."""
    if is_blank(v):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    s = str(v).strip()
    m = re.match(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", s) or \
        re.match(r"^(\d{4})(\d{2})(\d{2})$", s)
    if not m:
        raise ValueProblem(f"{s!r} is not a date (expected e.g. 2021-05-12)")
    try:
        d = dt.date(*(int(g) for g in m.groups()))
    except ValueError:
        raise ValueProblem(f"{s!r} is not a valid date") from None
    if not 1900 <= d.year <= 2100:
        raise ValueProblem(f"date {s!r} is implausible")
    return d


class ComponentDictionary:
    """Subclasses of the city's component dictionary by code, name or alias."""

    def __init__(self, profile: CityProfile) -> None:
        self.rows = profile.dictionary("components")
        self.by_key: dict[str, dict[str, str]] = {}
        for row in self.rows:
            for k in [row["code"], row["name"], *(row.get("aliases") or "").split("|")]:
                if k:
                    self.by_key.setdefault(_norm(k), row)
        path = profile.dictionary_path("component_values", ".yaml")
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the component values: {exc}", path=str(path)) from exc
        self.values: dict[str, dict[str, str]] = {}
        for field, table in data.items():
            lookup = {}
            for value, variants in (table or {}).items():
                for k in [value, *(variants or [])]:
                    lookup.setdefault(_norm(k), str(value))
            self.values[field] = lookup

    def find(self, value: Any) -> dict[str, str] | None:
        if is_blank(value):
            return None
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        if isinstance(value, (int, np.integer)):
            value = str(int(value)).zfill(4)
        s = _norm(value)
        if s.isdigit() and len(s) < 4:
            s = s.zfill(4)
        return self.by_key.get(s)

    def value(self, field: str, raw: str | None) -> tuple[str | None, bool]:
        """(value, known) of a state / currency / data source."""
        if raw is None:
            return None, True
        hit = self.values.get(field, {}).get(_norm(raw))
        return (hit, True) if hit else (raw, False)

    @cached_property
    def names(self) -> str:
        return ", ".join(f"{r['code']} {r['name']}" for r in self.rows[:5]) + " …"


_norm = norm_key  # the platform's one normaliser (cim/text.py)


def id_fields(ctx: LoadContext) -> list[str]:
    first = [ctx.mapping["source_id"]] if "source_id" in ctx.mapping else []
    aliases = ctx.profile.field_aliases.get("components", {}).get("source_id", [])
    return first + [f for f in all_matches(ctx.source.fields, aliases) if f not in first]


def _prepare_any(geoms: np.ndarray, transformer) -> tuple[np.ndarray, list, list]:
    """Points, lines and polygons in one batch: each family checked and repaired its way."""
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    reject: list = [None] * n
    flags: list[list[str]] = [[] for _ in range(n)]
    missing = shapely.is_missing(geoms)
    types = np.full(n, -1)
    types[~missing] = shapely.get_type_id(geoms[~missing])
    fams = np.array([FAMILY_OF_TYPE.get(int(t)) for t in types], dtype=object)
    for fam in ("point", "line", "polygon"):
        idx = np.flatnonzero(fams == fam)
        if not idx.size:
            continue
        p = prepare(geoms[idx].copy(), transformer, fam, make_multi=False)
        for j, i in enumerate(idx):
            out[i], reject[i], flags[i] = p.geoms[j], p.reject[j], p.flags[j]
    rest = np.flatnonzero(fams == None)  # noqa: E711  (object array comparison)
    if rest.size:
        p = prepare(geoms[rest].copy(), transformer, "point")
        for j, i in enumerate(rest):
            reject[i] = p.reject[j] or ("wrong_geometry_type", "a component is a point, a line "
                                        "or a polygon")
    return out, reject, flags


def make_converter(profile: CityProfile):
    dictionary = ComponentDictionary(profile)

    def convert(batch: Batch, ctx: LoadContext) -> tuple[StagedRows, list[Reject]]:
        cols, m = batch.columns, ctx.mapping
        if "class" not in m:
            raise ConfigError(
                "no component class field (部件小类 / 小类代码 / 部件名称 …; fields: "
                f"{', '.join(ctx.source.fields)}); name it with --mapping (class: FIELD)",
                path=str(ctx.source.path))
        geoms, reject, gflags = _prepare_any(batch.geometries, ctx.transformer)
        keys = source_keys(ctx.dataset, [(f, cols[f]) for f in id_fields(ctx)],
                           np.array([g if g is not None else shapely.Point() for g in geoms],
                                    dtype=object))
        wkbs = ewkb(np.array([g if g is not None else shapely.Point() for g in geoms],
                             dtype=object), ctx.srid)
        rows = StagedRows(COMPONENTS)
        rejects: list[Reject] = []
        for i in range(len(batch.geometries)):
            row_no = batch.first_row + i
            attrs = row_attrs(cols, i)
            if reject[i] is not None:
                reason, msg = reject[i]
                rejects.append(reject_record(row_no, reason, msg, attrs, batch.geometries[i],
                                             keys[i]))
                continue
            raw_class = cols[m["class"]][i]
            sub = dictionary.find(raw_class)
            if sub is None:
                reason = "missing_class" if is_blank(raw_class) else "unknown_class"
                msg = ("the component has no class (部件小类 is empty)" if is_blank(raw_class)
                       else f"部件小类 {str(raw_class).strip()!r} is not in the components "
                            f"dictionary (components.csv: code, name or alias such as "
                            f"{dictionary.names}) / 部件小类“{str(raw_class).strip()}”不在部件字典中")
                rejects.append(reject_record(row_no, reason, msg, attrs, batch.geometries[i],
                                             keys[i], field=m["class"]))
                continue
            vals: dict[str, Any] = {}
            flags = list(gflags[i])
            try:
                for f in TEXT_FIELDS:
                    vals[f] = _field(cols, m, f, i, lambda v: as_text(v, 500))
                for f in ("initial_date", "change_date"):
                    vals[f] = _field(cols, m, f, i, as_date)
                for f in ("state", "currency", "data_source"):
                    raw = _field(cols, m, f, i, lambda v: as_text(v, 50))
                    vals[f], known = dictionary.value(f, raw)
                    if not known:
                        flags.append(f"{f}_unmapped")
            except _FieldProblem as exc:
                rejects.append(reject_record(row_no, "bad_value", f"field {exc.field!r}: "
                                             f"{exc.problem}", attrs, batch.geometries[i],
                                             keys[i], field=exc.field))
                continue
            if vals["initial_date"] and vals["change_date"] and \
                    vals["change_date"] < vals["initial_date"]:
                flags.append("change_before_initial")
            fam = FAMILY_OF_TYPE.get(shapely.get_type_id(geoms[i]))
            if sub.get("geometry") and fam != sub["geometry"]:
                flags.append("geometry_unexpected")
            vals.update(subclass_code=sub["code"], subclass_name=sub["name"],
                        major_code=sub.get("major") or sub["code"][:2],
                        major_name=sub.get("major_name"),
                        name=vals["name"] or sub["name"])
            values = layer_values(COMPONENTS, vals)
            rows.append(row_no=row_no, source_key=keys[i], row_hash=content_hash(values, wkbs[i]),
                        attrs=Jsonb(attrs), flags=flags, geom=EWKB(wkbs[i]),
                        class_code=sub["code"], **vals)
        return rows, rejects

    return convert


class _FieldProblem(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field, self.problem = field, problem


def _field(cols, m, attr: str, i: int, parse):
    src = m.get(attr)
    if src is None:
        return None
    try:
        return parse(cols[src][i])
    except ValueProblem as exc:
        raise _FieldProblem(src, str(exc)) from None


def load_components(conninfo: str, profile: CityProfile, path: str | Path, **kw) -> LoadReport:
    return run_load(conninfo, profile, COMPONENTS, None, make_converter(profile), path,
                    aliases=profile.field_aliases.get("components", {}), **kw)
