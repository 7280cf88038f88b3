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

import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from cim.coding.kept import kept_code_notes
from cim.errors import InputError
from cim.layerdefs import COMPONENTS
from cim.profile import CityProfile
from cim.text import norm_key
from loaders.column_values import distinct, mapped
from loaders.common import (
    attrs_json_arrow,
    geometry_field,
    id_column,
    reject_record,
    row_attrs,
    source_keys,
)
from loaders.dates import as_date
from loaders.engine.converted import Converted
from loaders.engine.fingerprint import SourceFingerprint
from loaders.engine.pipeline import LoadContext, run_direct_load
from loaders.engine.report import LoadReport, Reject
from loaders.excel_notation import excel_rounded_ids, lost_coordinates
from loaders.field_names import all_matches
from loaders.fields import arrow_texts, is_blank, texts
from loaders.geometry import collection_family, ewkb, points_iso_wkb, prepare
from loaders.hashing import StoredRecipe, content_hashes_wkb
from loaders.sources.read import Batch
from loaders.sources.wkb import ewkb_from_iso

# what make_columns produces from a source row, beyond its code (a change of this module or of
# the shared conversion modules is seen by the fingerprint's code digest): change it when the
# conversion changes otherwise, so that reloads convert every row again
# (loaders/engine/fingerprint.py)
CONVERTER_VERSION = "components-1"

# the content hash: the layer's columns in declared order, district and grid cell as None
HASHED = StoredRecipe(tuple(COMPONENTS.column_names()),
                      frozenset(COMPONENTS.derived_columns()))

FAMILY_OF_TYPE = {0: "point", 4: "point", 1: "line", 5: "line", 3: "polygon", 6: "polygon"}
TEXT_FIELDS = ("name", "dept_code", "dept_name", "owner_code", "owner_name", "maint_code",
               "maint_name", "material", "location", "note")
# the census fields a component keeps in columns (not repeated in its attrs)
COLUMN_FIELDS = (*TEXT_FIELDS, "initial_date", "change_date", "state", "currency", "data_source")


class ComponentDictionary:
    """Subclasses of the city's component dictionary by code, name or alias."""

    def __init__(self, profile: CityProfile) -> None:
        self.rows = profile.dictionary("components")
        self.by_key: dict[str, dict[str, str]] = {}
        for row in self.rows:
            for k in [row["code"], row["name"], *(row.get("aliases") or "").split("|")]:
                if k:
                    self.by_key.setdefault(_norm(k), row)
        data = profile.yaml_dictionary("component_values", "the component values")
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
        if s not in self.by_key and _WHOLE_FLOAT_TEXT.fullmatch(s):
            s = s.split(".")[0]  # 101.0: a code column written out as floats (a blank in it)
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
_WHOLE_FLOAT_TEXT = re.compile(r"[0-9]{1,4}\.0+")


def id_fields(ctx: LoadContext) -> list[str]:
    first = [ctx.mapping["source_id"]] if "source_id" in ctx.mapping else []
    aliases = ctx.profile.field_aliases.get("components", {}).get("source_id", [])
    return first + [f for f in all_matches(ctx.source.fields, aliases) if f not in first]


def class_fields(ctx: LoadContext) -> list[str]:
    """Every source field naming a component's class (部件小类, 小类代码, XLMC …)."""
    aliases = ctx.profile.field_aliases.get("components", {}).get("class", [])
    return all_matches(ctx.source.fields, aliases)


def _prepare_any(geoms: np.ndarray, transformer) -> tuple[np.ndarray, list, list]:
    """Points, lines and polygons in one batch: each family checked and repaired its way."""
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    reject: list = [None] * n
    flags: list[list[str]] = [[] for _ in range(n)]
    fams = _families(geoms)
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7).tolist():
        fams[i] = collection_family(geoms[i])  # its polygons, else its lines (a CAD export)
    for fam in ("point", "line", "polygon"):
        idx = np.flatnonzero(fams == fam)
        if not idx.size:
            continue
        p = prepare(geoms[idx].copy(), transformer, fam, make_multi=False)
        out[idx] = p.geoms
        for j in np.flatnonzero(p.reject.marked).tolist():
            reject[idx[j]] = p.reject[j]
        for j in np.flatnonzero(np.fromiter(map(bool, p.flags), bool, len(p.flags))).tolist():
            flags[idx[j]] = p.flags[j]
    rest = np.flatnonzero(fams == None)  # noqa: E711  (object array comparison)
    if rest.size:
        p = prepare(geoms[rest].copy(), transformer, "point")
        for j, i in enumerate(rest):
            reject[i] = p.reject[j] or ("wrong_geometry_type", "a component is a point, a line "
                                        "or a polygon")
    return out, reject, flags


# family of each geometry type id (-1: no geometry); a collection (7) or ring (2) has none
_FAMILY_BY_TYPE = np.array([FAMILY_OF_TYPE.get(t) for t in range(-1, 8)], dtype=object)


def _families(geoms: np.ndarray) -> np.ndarray:
    """'point' / 'line' / 'polygon' (None: missing or another type) of each geometry."""
    return _FAMILY_BY_TYPE[shapely.get_type_id(geoms) + 1]


# the subclass columns, each from a dictionary row
_SUBCLASS = {"subclass_code": lambda s: s["code"], "subclass_name": lambda s: s["name"],
             "major_code": lambda s: s.get("major") or s["code"][:2],
             "major_name": lambda s: s.get("major_name"),
             "geometry": lambda s: s.get("geometry")}


def _found(subs: list[dict[str, str] | None], offset: int) -> np.ndarray:
    """For each distinct value (and -1: none, last), the index of its subclass among all the
    subclasses found (``offset`` + its place), -1 where it names none."""
    return np.array([offset + k if s else -1 for k, s in enumerate(subs)] + [-1],
                    dtype=np.int64)


def _subclass_values(subs: list[dict[str, str] | None]) -> dict[str, list]:
    """Each subclass column's value for each distinct class value (``subs``)."""
    return {c: [get(s) if s else None for s in subs] for c, get in _SUBCLASS.items()}


def _subclass_columns(subs: list[dict[str, str] | None], codes: np.ndarray
                      ) -> dict[str, np.ndarray]:
    """The subclass columns of every row from the subclass of each distinct class value
    (``subs``; ``codes`` gives each row's distinct value, -1 for a missing one)."""
    out = {}
    for c, values in _subclass_values(subs).items():
        table = np.empty(len(subs) + 1, dtype=object)
        table[:] = values + [None]
        out[c] = table[codes]
    return out


def _texts_of(values: list[str | None], codes: np.ndarray) -> pa.Array:
    """``values[codes]`` (-1: NULL) as an Arrow string array taken from the distinct values:
    the COPY buffer's form, without a Python string a row (as buildings' texts)."""
    codes = np.asarray(codes, dtype=np.int64)
    return pa.array(values, pa.string()).take(pa.array(codes, mask=codes < 0))


def _rows_of(values: np.ndarray | pa.Array, idx: np.ndarray, n: int) -> np.ndarray | pa.Array:
    """The rows ``idx`` of a column (NumPy or Arrow) of ``n`` rows."""
    if isinstance(values, pa.Array):
        return values if len(idx) == n else values.take(pa.array(idx))
    return values[idx]


def make_columns(profile: CityProfile):
    """The batch converter, column by column: source batch →
    :class:`loaders.engine.converted.Converted`.

    A row is rejected for the first problem found, in this order: its geometry (a table's
    X/Y: blank, no number, or as Excel shows it), an id as Excel shows a long number, its class
    (missing or not in the dictionary), then the first field that cannot be read in the order
    of ``TEXT_FIELDS``, the two dates, state, currency and data source. Each column is parsed
    whole (column functions of ``loaders.fields`` and ``loaders.column_values``; the
    dictionary and the dates once per distinct value); rows are touched one by one only to be
    rejected.
    """
    dictionary = ComponentDictionary(profile)
    comp_columns = COMPONENTS.column_names()
    derived = COMPONENTS.derived_columns()

    def convert(batch: Batch, ctx: LoadContext) -> Converted:
        cols, m = batch.columns, ctx.mapping
        if "class" not in m:
            raise InputError(  # the delivery lacks a field it needs (as roads: exit 3)
                "no component class field (部件小类 / 小类代码 / 部件名称 …; fields: "
                f"{', '.join(ctx.source.fields)}); name it with --mapping (class: FIELD)",
                path=str(ctx.source.path))
        n = len(batch.geometries)
        geoms, reject, gflags = _prepare_any(batch.geometries, ctx.transformer)
        filled = geoms.copy()
        filled[shapely.is_missing(filled)] = shapely.Point()
        keys = source_keys(ctx.dataset, [(f, id_column(batch, f)) for f in id_fields(ctx)],
                           filled)
        # the first problem of each row: (reason, message, field)
        problem: dict[int, tuple[str, str, str | None]] = {
            i: (r[0], r[1], geometry_field(ctx.source)) for i, r in enumerate(reject)
            if r is not None}
        if ctx.source.coordinate_fields:  # a table's X/Y: the coordinate at fault named
            from loaders.sources.xy_table import xy_problems

            problem.update(xy_problems(
                cols, np.flatnonzero(shapely.is_missing(batch.geometries)).tolist(),
                *ctx.source.coordinate_fields))
            # a coordinate saved as Excel shows it (3.91529E+06) made a point metres off
            for f in ctx.source.coordinate_fields:
                for i, msg in lost_coordinates(batch.for_parser(f)).items():
                    problem.setdefault(i, ("bad_value", f"field {f!r}: {msg}", f))
        for f in id_fields(ctx):  # an id saved as Excel shows it: one of many ids
            for i, msg in excel_rounded_ids(id_column(batch, f)).items():
                problem.setdefault(i, ("bad_value", f"field {f!r}: {msg}", f))
        pcodes, distinct_classes = distinct(batch.for_parser(m["class"]))
        subs = [dictionary.find(v) for v in distinct_classes]
        # each row's subclass as an index into subs (-1: none), the class field's first
        at = _found(subs, 0)[pcodes]
        blank = np.array([is_blank(v) for v in distinct_classes] + [True], dtype=bool)[pcodes]
        seconds = []  # (field, each row's subclass by it) of the other class fields
        for f in class_fields(ctx):
            if f == m["class"]:
                continue
            ocodes, others = distinct(batch.for_parser(f))
            found = [dictionary.find(o) for o in others]
            oat = _found(found, len(subs))[ocodes]
            subs += found
            seconds.append((f, oat))
            # a blank class field: another class field naming a subclass gives it (小类代码
            # empty beside 小类名称 污水井盖 was rejected as having no class), flagged
            take = np.flatnonzero(blank & (at < 0) & (oat >= 0))
            at[take] = oat[take]
            blank[take] = False
            for i in take.tolist():
                gflags[i] = gflags[i] + ["class_from_other_field"]
        codes = at
        sub = _subclass_columns(subs, codes)
        for i in np.flatnonzero(sub["subclass_code"] == None):  # noqa: E711
            if i in problem:
                continue
            if blank[i]:
                others = "".join(f"; {f} names no subclass" for f, _ in seconds)
                problem[i] = ("missing_class", f"the component has no class ({m['class']} is "
                              f"empty{others})", m["class"])
            else:
                v = distinct_classes[pcodes[i]]
                problem[i] = ("unknown_class",
                              f"部件小类 {str(v).strip()!r} is not in the components dictionary "
                              f"(components.csv: code, name or alias such as "
                              f"{dictionary.names}) / 部件小类“{str(v).strip()}”不在部件字典中",
                              m["class"])
        vals: dict[str, np.ndarray] = {}
        # texts kept as the COPY buffer takes them (Arrow); the name as Python values: a
        # blank one is its subclass's name, below
        parsers = [(f, (lambda c: texts(c, 500)) if f == "name"
                    else (lambda c: arrow_texts(c, 500))) for f in TEXT_FIELDS] + \
            [(f, lambda c: mapped(c, as_date)) for f in ("initial_date", "change_date")] + \
            [(f, lambda c: texts(c, 50)) for f in ("state", "currency", "data_source")]
        for f, parse in parsers:
            src = m.get(f)
            if src is None:
                vals[f] = np.full(n, None, dtype=object)
                continue
            vals[f], bad = parse(batch.for_parser(src))  # text as read: no string a row
            for i, msg in bad.items():
                problem.setdefault(i, ("bad_value", f"field {src!r}: {msg}", src))
        flags = gflags
        for f in ("state", "currency", "data_source"):
            vcodes, raws = distinct(vals[f])
            found = [dictionary.value(f, r) for r in raws]
            vals[f] = _texts_of([v for v, _ in found], vcodes)
            unknown = np.array([not k for _, k in found] + [False], dtype=bool)[vcodes]
            for i in np.flatnonzero(unknown):
                flags[i] = flags[i] + [f"{f}_unmapped"]
        init, change = vals["initial_date"], vals["change_date"]
        both = np.flatnonzero((init != None) & (change != None))  # noqa: E711
        for i in both[change[both] < init[both]]:
            flags[i] = flags[i] + ["change_before_initial"]
        sub_codes = np.array([(x or {}).get("code") for x in subs] + [None], dtype=object)
        for _f, oat in seconds:
            # a second class field (小类代码 beside 小类名称): a row whose two disagree keeps
            # the first's class, flagged; the other stays in attrs as delivered
            for i in np.flatnonzero((oat >= 0) & (codes >= 0)
                                    & (sub_codes[oat] != sub_codes[codes])):
                flags[i] = flags[i] + ["class_conflict"]
        expected = sub["geometry"]
        fams = _families(geoms)
        for i in np.flatnonzero((expected != None) & (expected != "") & (fams != expected)):  # noqa: E711
            flags[i] = flags[i] + ["geometry_unexpected"]
        if "name" in m:  # a blank 部件名称 shows its subclass's name: said so
            for i in np.flatnonzero((vals["name"] == None) & (sub["subclass_name"] != None)):  # noqa: E711
                flags[i] = flags[i] + ["name_from_class"]
        vals["name"] = np.where(vals["name"] == None, sub["subclass_name"], vals["name"])  # noqa: E711
        distinct_subs = _subclass_values(subs)
        for c in ("subclass_code", "subclass_name", "major_code", "major_name"):
            vals[c] = _texts_of(distinct_subs[c], codes)
        keep = np.ones(n, dtype=bool)
        rejects: list[Reject] = []
        for i, (reason, msg, field) in sorted(problem.items()):
            keep[i] = False
            rejects.append(reject_record(batch.row(i), reason, msg, row_attrs(cols, i),
                                         batch.geometries[i], keys[i], field=field))
        idx = np.flatnonzero(keep)
        # attrs keep what has no column: the delivered class (a code, name or alias) and id
        # stay, the fields parsed into columns go (rejects keep every field as delivered)
        columned = {m[f] for f in COLUMN_FIELDS if f in m} - {m["class"], m.get("source_id")}
        kept = {c: (np.full(len(idx), None, dtype=object) if c in derived
                    else _rows_of(vals[c], idx, n)) for c in comp_columns}
        iso = points_iso_wkb(geoms[idx])  # a census of 2D points: from their coordinates
        if iso is None:
            iso = shapely.to_wkb(geoms[idx], byte_order=1, flavor="iso", include_srid=False,
                                 output_dimension=3)
        return Converted(
            index=idx, source_key=np.asarray(keys, dtype=object)[idx],
            # the layer's columns in declared order (HASHED); unset on a first load: taken
            # from the stored row when a reload compares it
            row_hash=content_hashes_wkb(kept, iso) if ctx.hash_rows
            else np.full(len(idx), None, dtype=object),
            attrs=attrs_json_arrow({k: cols[k][idx] for k in cols if k not in columned},
                                   len(idx)),
            flags=[flags[i] for i in idx], geoms=geoms[idx],
            # the stored EWKB from the hashed ISO WKB's header (2D), else from shapely
            ewkb=_ewkb if (_ewkb := ewkb_from_iso(iso, ctx.srid)) is not None
            else ewkb(geoms[idx], ctx.srid),
            class_code=sub["subclass_code"][idx],
            columns={c: v for c, v in kept.items() if c not in derived}, rejects=rejects)

    return convert


def load_components(conninfo: str, profile: CityProfile, path: str | Path, **kw) -> LoadReport:
    """Load a component census: written directly into the layer (see
    :mod:`loaders.engine.direct`: district and grid cell, duplicates and codes decided beside
    the data, in a converter process for a large census)."""
    # the X/Y reader makes the batches a census table's rows are read as (their values and
    # points are what a reload fingerprints, loaders.engine.fingerprint): imported when a load
    # runs, as the source reader's part, not the conversion's
    from loaders.sources.xy_table import points_from_xy

    aliases = profile.field_aliases.get("components", {})
    others = [n for names in aliases.values() for n in names]
    with points_from_xy(*_xy_names(profile, kw.get("mapping")), others):
        report = run_direct_load(conninfo, profile, COMPONENTS, None, make_columns(profile),
                                 path, aliases=aliases,
                                 fingerprint=SourceFingerprint("components",
                                                               CONVERTER_VERSION, id_fields,
                                                               _dictionaries, __name__),
                                 recipe=HASHED, **kw)
    if report.updated and report.batch_id is not None:
        import psycopg

        with psycopg.connect(conninfo) as conn:
            report.notes += kept_code_notes(conn, COMPONENTS, report.batch_id,
                                            class_word="subclass")
    return report


def _xy_names(profile: CityProfile, mapping: dict[str, str] | None
              ) -> tuple[list[str], list[str]]:
    """The headers of a census table's X (northing) and Y (easting): the mapping file's, then
    the city's components aliases, else those of its survey point tables (one convention)."""
    aliases = profile.field_aliases
    own = aliases.get("components", {})
    points = aliases.get("pipe_points", {})
    out = []
    for a in ("x", "y"):
        names = list(own.get(a) or points.get(a) or [])
        if mapping and mapping.get(a):
            names.insert(0, mapping[a])
        out.append(names)
    return out[0], out[1]


def _dictionaries(ctx: LoadContext) -> list:
    """What of the city's dictionaries the conversion reads (the fingerprint's context)."""
    d = ComponentDictionary(ctx.profile)
    return [d.rows, d.values]
