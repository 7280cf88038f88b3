"""Survey result tables (管线点成果表 + 管线段成果表) → a :class:`Delivery`.

Surveyors deliver any number of tables in any order and naming; this module works out which
table holds points and which segments (by their columns), which pipe class each row is (class
column, ``--class``, the mapping file, else the sheet or file name), and which CRS the
coordinates are in. Survey tables write X = northing and Y = easting
(:func:`cim.crs.swap_survey_xy`); a zone-prefixed easting names the Gauss-Krüger zone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cim.errors import InputError
from cim.profile import CityProfile
from loaders.column_values import distinct
from loaders.common import jsonable
from loaders.field_names import check_units_row
from loaders.fields import is_blank
from loaders.pipes.dictionaries import PipeClass, PipeDictionaries
from loaders.pipes.fields import (
    POINT_COLUMNED,
    POINT_VALUES,
    SEGMENT_COLUMNED,
    SEGMENT_IDS,
    SEGMENT_VALUES,
    ClassResolver,
    as_delivered,
    class_column,
    field_aliases,
    parse_columns,
    resolve_features,
    segment_lookups,
    set_size,
)
from loaders.pipes.norecord import UNITS, no_record_rows, rows_named
from loaders.pipes.records import (
    FIELD_ZH,
    Delivery,
    PointRec,
    RowAttrs,
    SegRec,
    StoredView,
    held_out,
)
from loaders.pipes.survey_xy import survey_coordinates
from loaders.sources.tables import (
    Mapping,
    Table,
    known_header_names,
    match_headers,
    norm_header,
    read_tables,
    table_files,
    without_export,
)

POINT_REQUIRED = ("point_no", "x", "y", "ground_elevation")


def _table_kind(table: Table, aliases, mapping: Mapping) -> tuple[str | None, dict[str, str]]:
    po, ps_ = mapping.for_kind("points")
    so, ss = mapping.for_kind("segments")
    pm = match_headers(table.headers, aliases["points"], po, table=table.name, strict=False)
    sm = match_headers(table.headers, aliases["segments"], so, table=table.name, strict=False)
    is_pt = all(k in pm for k in ("point_no", "x", "y"))
    is_seg = "start_no" in sm and "end_no" in sm
    if is_pt and is_seg:
        hint = f"{table.sheet or ''}{table.path.stem}".lower()
        is_pt = not any(w in hint for w in ("段", "线", "segment", "line", "edge"))
        is_seg = not is_pt
    if is_pt:
        if ps_:
            match_headers(table.headers, aliases["points"], po, table=table.name, strict=True)
        return "points", pm
    if is_seg:
        if ss:
            match_headers(table.headers, aliases["segments"], so, table=table.name, strict=True)
        return "segments", sm
    # a table that looks like a survey table but that the mapping file does not fit: say why
    # (a cover sheet such as 说明 has no survey columns and is skipped)
    for kind, override, strict, found in (("points", po, ps_, pm), ("segments", so, ss, sm)):
        if strict and len(found) >= 2:
            match_headers(table.headers, aliases[kind], override, table=table.name, strict=True)
    return None, {}


def read_survey(profile: CityProfile, paths: list[str | Path], *, class_opt: str | None = None,
                crs: str | None = None, mapping: Mapping | None = None,
                encoding: str | None = None) -> Delivery:
    """Read survey point and segment tables into records (storage-CRS coordinates)."""
    mapping = mapping or Mapping()
    dicts = PipeDictionaries(profile)
    aliases = field_aliases(profile)
    known = known_header_names(profile.field_aliases, ("pipe_points", "pipe_segments"))
    for section in ("points", "segments"):
        known |= {norm_header(h) for h in mapping.sections.get(section, {}).values()}
    known |= {norm_header(h) for h in mapping.flat.values()}
    resolver = ClassResolver(dicts, class_opt, mapping)
    files = table_files(paths)
    named = {Path(p) for p in paths if not Path(p).is_dir()}  # files given one by one
    key_names = {norm_header(n) for sec, attrs in (("points", ("point_no", "x", "y")),
                                                   ("segments", ("start_no", "end_no")))
                 for a in attrs for n in aliases[sec].get(a, [])}
    skipped_tables: list[str] = []  # tables with rows that were not read
    points: list[PointRec] = []
    segments: list[SegRec] = []
    names: list[str] = []
    notes: list[str] = []
    columns: dict[str, dict[str, str]] = {}
    seq = 0
    spatial: list[str] = []  # GIS layers read as tables (their geometries unread)
    for path in files:
        # a fixed rejects export of the survey: its own columns are no attributes
        tables = [without_export(t) for t in read_tables(path, known, encoding)]
        spatial += [f"{t.name} ({t.geometry_type})" for t in tables if t.geometry_type]
        kinds = [_table_kind(t, aliases, mapping) for t in tables]
        if path in named and tables and all(k is None for k, _m in kinds):
            # a file named on the command line is part of the delivery: skipped, a replace
            # load retired every feature it holds (a renamed 物探点号 header did so)
            t = tables[0]
            raise InputError("not a point or segment table: no 物探点号/X/Y nor 起始点号/终止点号 "
                             f"columns among {', '.join(map(str, t.headers)) or 'none'} (a "
                             "renamed header? name it with --mapping)", path=t.name)
        for t, (kind, m) in zip(tables, kinds):
            notes += [n for n in t.notes if n not in notes]  # (a workbook's note: each table's)
            if kind is None:
                notes.append(f"{t.name}: not a point or segment table (no 物探点号/X/Y nor "
                             "起始点号/终止点号 columns); skipped")
                if t.rows and any(norm_header(h) in key_names for h in t.headers if h):
                    # a table with a survey table's key columns (X, Y, 起始点号 …) that was not
                    # read (a renamed 物探点号): not a cover sheet or a note (序号, 说明)
                    skipped_tables.append(t.name)
                continue
            _units_row(t, kind, m, aliases, mapping)
            idx = {a: t.headers.index(h) for a, h in m.items()}
            tclass = resolver.for_table(t)
            if tclass is None and "class" not in idx:
                raise InputError(
                    "cannot tell the pipe class of this table: add a class column (管线类别), "
                    "name the sheet or file after the class (e.g. 给水管线点.csv) or pass "
                    "--class", path=t.name)
            names.append(t.name)
            columns[t.name] = dict(m)
            levels = _level_columns(t, aliases[kind], mapping) if kind == "segments" else {}
            idx = dict(idx)
            recs, skipped = _table_records(t, kind, idx, seq, tclass, resolver, dicts,
                                           mapping, levels)
            if levels:
                columns[t.name].update({a: t.headers[j] for a, j in idx.items()
                                        if a in levels})
                notes.append(f"{t.name}: both 管顶 and 管底 columns — "
                             + ", ".join(f"{t.headers[a]}/{t.headers[b]}"
                                         for a, b in levels.values())
                             + ": each pipe read at its class's level (drainage at the invert "
                             "管底, the others at the top 管顶: pipe_classes.csv elevation_ref)")
            seq += len(recs)
            (points if kind == "points" else segments).extend(recs)
            if skipped:
                notes.append(f"{t.name}: {len(skipped)} rows that are no survey record "
                             f"skipped (titles, totals, signatures, a page's header or units): "
                             f"{rows_named(skipped)}")
    if segments and not points and spatial:
        # a GIS network's lines read as a segment table, its nodes (no X/Y columns) skipped:
        # every segment would be 'missing_point' twice
        raise InputError("no point table with X/Y columns, and GIS layers were given: "
                         + ", ".join(spatial) + ". A GIS network (lines with geometries) "
                         "loads with --lines FILE[:LAYER] (its nodes with --points, valves "
                         "with --valves); survey tables are 物探点号/X/Y and 起始点号/终止点号 "
                         "tables", path=", ".join(map(str, paths)))
    if not points and not segments:
        raise InputError("no pipe point or segment table found (expected columns such as "
                         "物探点号, X, Y, 地面高程 or 起始点号, 终止点号)",
                         path=", ".join(map(str, paths)))
    _inherit_point_classes(points, segments, dicts, columns)
    d = Delivery(points=points, segments=segments, tables=names, survey=True, notes=notes,
                 files=files, inputs=[Path(p) for p in paths], columns=columns,
                 skipped_tables=skipped_tables)
    survey_coordinates(d, profile, crs)
    return d


LEVELS = ("start_depth", "end_depth", "start_elevation", "end_elevation")


def _level_columns(t: Table, aliases: dict[str, list[str]], mapping: Mapping
                   ) -> dict[str, tuple[int, int]]:
    """{level attribute: (管顶 column, 管底 column)} where a segment table holds both for it
    (起点管顶埋深 and 起点管底埋深): the aliases' order read the top for every class, and a
    drainage pipe, surveyed at its invert, was stored a diameter too high. A level the
    mapping file names is read as named."""
    override, _strict = mapping.for_kind("segments")
    out: dict[str, tuple[int, int]] = {}
    for attr in LEVELS:
        names = {norm_header(n) for n in aliases.get(attr, [])}
        top = [j for j, h in enumerate(t.headers) if h and norm_header(h) in names and "顶" in h]
        bottom = [j for j, h in enumerate(t.headers)
                  if h and norm_header(h) in names and "底" in h]
        if not top and not bottom and not any(h and norm_header(h) in names
                                               for h in t.headers):
            continue  # the table has no column of this level
        if override and attr in override or len(top) != 1 or len(bottom) != 1 \
                or _level_rest(t.headers[top[0]]) != _level_rest(t.headers[bottom[0]]):
            # a level in one form only, named by the mapping file, or its two columns in
            # other units (管顶埋深(m), 管底埋深(cm)): every level read as before, at one level —
            # a depth at the invert beside an elevation at the top failed ground − depth =
            # elevation by the pipe's diameter
            return {}
        out[attr] = (top[0], bottom[0])
    return out


def _level_rest(header: str) -> str:
    """A level column's header without its level (起点管顶埋深(m) → 起点埋深(m))."""
    import unicodedata

    text = "".join(unicodedata.normalize("NFKC", str(header)).split()).lower()
    return re.sub(r"管?内?[顶底]", "", text)


def _units_row(t: Table, kind: str, m: dict[str, str], aliases, mapping: Mapping) -> None:
    """The table's first row, where it is a row of units (m, cm, mm: no record, passed over),
    held to its columns' units (:func:`loaders.field_names.check_units_row`)."""
    if not t.rows:
        return
    cells = [c.strip().lower() if isinstance(c, str) else c for c in t.rows[0]]
    filled = [c for c in cells if not is_blank(c)]
    if not filled or not all(isinstance(c, str) and c in UNITS for c in filled):
        return
    override, _strict = mapping.for_kind(kind)
    check_units_row(list(t.rows[0]), {a: h for a, h in m.items() if a not in (override or {})},
                    list(t.headers), aliases[kind], t.name, t.row_numbers[0])


def _table_records(t: Table, kind: str, idx: dict[str, int], seq: int,
                   tclass: PipeClass | None, resolver: ClassResolver, dicts: PipeDictionaries,
                   mapping: Mapping, levels: dict[str, tuple[int, int]] | None = None
                   ) -> tuple[list[PointRec] | list[SegRec], list[int]]:
    """The records of one table (numbered from ``seq`` + 1) and the numbers of the rows
    skipped as no survey record. Columns are translated (mapping file) and parsed whole, each distinct value once;
    the records' problems are listed in the order the fields are parsed."""
    width = len(t.headers)
    rows = t.rows
    grid = np.empty((len(rows), width), dtype=object)
    grid[:] = [r if len(r) == width else (list(r[:width]) + [None] * (width - len(r)))
               for r in rows] if rows else grid
    columns = [distinct(grid[:, j]) for j in range(width)]
    texts = [_all_text(uniques) for _, uniques in columns]
    ublank = [_blank_uniques(uniques, text) for (_, uniques), text in zip(columns, texts)]
    blank = np.zeros((len(rows), width), dtype=bool)
    for j, (codes, _) in enumerate(columns):
        blank[:, j] = np.append(ublank[j], True)[codes]
    filled = (~blank).sum(axis=1)
    for i in np.flatnonzero([len(r) > width for r in rows]):  # cells beyond the header
        filled[i] += sum(not is_blank(c) for c in rows[i][width:])
    keys = ("point_no", "x", "y") if kind == "points" else ("start_no", "end_no")
    # a title, total, signature line (制表/审核), a page's header again, a row of units:
    # skipped, and named (loaders.pipes.norecord); a row of data without its key is a record
    no_record = no_record_rows(t.headers, columns, blank, [idx[k] for k in keys if k in idx])
    no_record |= filled < 2
    keep = np.flatnonzero(~no_record)
    skipped = [t.row_numbers[i] for i in np.flatnonzero(no_record).tolist()]
    n = len(keep)

    def raw(attr: str, j: int | None = None) -> np.ndarray:
        """The attribute's values after the mapping file (values, defaults), kept rows (of
        column ``j`` instead of the attribute's own, where given)."""
        j = idx.get(attr) if j is None else j
        if j is None:
            return np.full(n, mapping.value(kind, attr, None), dtype=object)
        codes, uniques = columns[j]
        table = np.empty(len(uniques) + 1, dtype=object)
        if mapping.values.get(attr):  # values translated one by one
            table[:] = [mapping.value(kind, attr, u) for u in uniques] + \
                [mapping.value(kind, attr, None)]
        else:  # untranslated: the default where blank (Mapping.value)
            table[:-1] = uniques
            table[-1] = mapping.value(kind, attr, None)
            table[:-1][ublank[j]] = table[-1]
        return table[codes[keep]]

    # the delivered attributes, and where the row came from unless the delivery has such a
    # column (never overwritten)
    js = np.empty((n, width), dtype=object)
    for j, (codes, uniques) in enumerate(columns):
        table = np.empty(len(uniques) + 1, dtype=object)
        if texts[j]:  # jsonable of a text: None where blank, without NUL characters
            table[:-1] = uniques
            table[:-1][ublank[j]] = None
            for i in np.flatnonzero(_has_nul(uniques)).tolist():
                table[i] = jsonable(uniques[i])
            table[-1] = None
        else:
            table[:] = [jsonable(u) for u in uniques] + [None]
        js[:, j] = table[codes[keep]]
    row_numbers = [t.row_numbers[i] for i in keep]
    name = t.name
    headers = tuple(t.headers)
    stored = None
    if len(set(headers)) == len(headers):  # one names tuple for the table's rows
        extra = tuple(k for k in ("_table", "_row") if k not in headers)
        names = headers + extra
        attrs = [RowAttrs(names, r + tuple({"_table": name, "_row": row}[k] for k in extra))
                 for r, row in zip(map(tuple, js.tolist()), row_numbers)]
        # a loaded row keeps in attrs what no column holds (its table and row too); a value
        # the mapping file translates is kept as delivered
        columned = POINT_COLUMNED if kind == "points" else SEGMENT_COLUMNED
        fields = {a: headers[j] for a, j in idx.items()}
        stored = held_out(names, fields, columned, mapping, kind)
        # a number typed with its unit ("36.30 米", "4根"): the column holds the number only,
        # the row keeps the field as typed (that row alone: a cell corrected to a plain
        # number changes its own row's attrs, no other's)
        typed_rows, typed = np.zeros(n, dtype=bool), set()
        for a in NUMBERS_HELD & set(idx):
            codes, uniques = columns[idx[a]]
            rows_typed = np.append(_typed_numbers(uniques), False)[codes[keep]]
            if rows_typed.any():
                typed_rows |= rows_typed
                typed.add(a)
        if typed:
            as_typed = held_out(names, fields, columned - typed, mapping, kind)
            stored = [as_typed if t else stored for t in typed_rows.tolist()]
    else:  # a name twice: the last of its values, as a dict keeps it
        attrs = [dict(zip(headers, r)) for r in js.tolist()]
        for a, row in zip(attrs, row_numbers):
            a.setdefault("_table", name)
            a.setdefault("_row", row)
    problems: list[list] = [[] for _ in range(n)]
    classes, class_problems = class_column(resolver, tclass, raw("class"), raw("subclass"))
    for i, problem in enumerate(class_problems):
        if problem:
            problems[i].append(problem)
    seqs = range(seq + 1, seq + 1 + n)
    if kind == "points":
        spec = POINT_VALUES
        v = parse_columns(spec, {src: raw(src) for src, *_ in spec}, problems)
        for a in POINT_REQUIRED:
            zh = FIELD_ZH[a]
            for i in np.flatnonzero(v[a] == None):  # noqa: E711
                if not any(f == zh for _, f, _, _ in problems[i]):
                    problems[i].append(("missing_value", zh, None, "empty"))
        as_delivered(problems, {a: headers[j] for a, j in idx.items()})
        recs = _records(PointRec, name, seqs, row_numbers, _storing(attrs, stored, problems),
                        classes, problems, {attr: v[src] for src, attr, _, _ in spec})
        features: dict[tuple, Any] = {}
        for p in recs:
            if p.cls is None:
                continue
            k = (p.cls, p.feature_raw, p.appurtenance_raw)
            if k not in features:
                resolve_features(p, dicts)
                features[k] = (p.feature, p.appurtenance)
            p.feature, p.appurtenance = features[k]
        return recs, skipped
    for i, c in enumerate(classes):
        if c is None and not problems[i]:
            problems[i].append(("missing_value", FIELD_ZH["class"], None, "empty"))
    ids = parse_columns(SEGMENT_IDS, {src: raw(src) for src, *_ in SEGMENT_IDS}, problems)
    for a in ("start_no", "end_no"):
        zh = FIELD_ZH[a]
        for i in np.flatnonzero(ids[a] == None):  # noqa: E711
            if not any(f == zh for _, f, _, _ in problems[i]):
                problems[i].append(("missing_value", zh, None, "empty"))
    raws = {src: raw(src) for src, *_ in SEGMENT_VALUES}
    if levels:
        # a table with both 管顶 and 管底 columns of a level: each row reads its class's
        # (drainage at the invert, the others at the top: pipe_classes.csv elevation_ref)
        invert = np.array([c is not None and c.elevation_ref == "invert" for c in classes],
                          dtype=bool)
        for attr, (top, bottom) in levels.items():
            raws[attr] = np.where(invert, raw(attr, bottom), raw(attr, top))
            if invert.all():  # (a problem is named after the column the rows read)
                idx[attr] = bottom
    v = parse_columns(SEGMENT_VALUES, raws, problems)
    v.update(ids)
    spec = [x for x in SEGMENT_IDS + SEGMENT_VALUES if x[1] is not None]
    as_delivered(problems, {a: headers[j] for a, j in idx.items()})
    recs = _records(SegRec, name, seqs, row_numbers, _storing(attrs, stored, problems),
                    classes, problems, {attr: v[src] for src, attr, _, _ in spec})
    looked: dict[tuple, tuple] = {}
    for s_, size in zip(recs, v["size"].tolist()):
        set_size(s_, size)
        k = (s_.material_raw, s_.burial_raw, s_.status_raw)
        if k not in looked:
            segment_lookups(s_, dicts)
            looked[k] = (s_.material, s_.burial, s_.status)
        s_.material, s_.burial, s_.status = looked[k]
    return recs, skipped


def _storing(attrs: list, stored: StoredView | list[StoredView] | None,
             problems: list[list]) -> list:
    """The rows' attributes, each loaded row keeping ``stored`` of them in attrs (one view for
    the table, or one a row) — but a row with a problem (a value that did not parse, a class
    not found): its every value, which its columns may not hold."""
    if stored is None:
        return attrs
    if isinstance(stored, list):
        return [a if p else a.storing(v) for a, p, v in zip(attrs, problems, stored)]
    return [a if p else a.storing(stored) for a, p in zip(attrs, problems)]


def _records(cls: type, table: str, seqs, row_numbers: list[int], attrs: list,
             classes: list, problems: list[list], columns: dict[str, np.ndarray]) -> list:
    """A table's records, their parsed values given as whole columns (record attribute →
    values), each record made at once with them (no setattr a cell afterwards)."""
    names = ("seq", "row", "attrs", "cls", "problems", *columns)
    rows = zip(seqs, row_numbers, attrs, classes, problems,
               *(columns[a].tolist() for a in columns))
    return [cls(table=table, **dict(zip(names, r))) for r in rows]


# the held attributes whose column holds a number parsed from the cell (loaders.pipes.fields)
NUMBERS_HELD = frozenset({"ground_elevation", "cable_count"})
_PLAIN_NUMBER = r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*$"  # ASCII digits only


def _typed_numbers(uniques: list[Any]) -> np.ndarray:
    """Whether each of a column's distinct values is a text that says more than the number
    the column stores ("36.30 米", "３６．３", "1,234"); numbers and plain digits do not."""
    out = np.zeros(len(uniques), dtype=bool)
    at = [i for i, u in enumerate(uniques) if isinstance(u, str) and u.strip()]
    if at:
        texts = pd.Series([uniques[i] for i in at], dtype=object)
        out[at] = ~texts.str.match(_PLAIN_NUMBER).to_numpy(dtype=bool)
    return out


def _all_text(uniques: list[Any]) -> bool:
    """Whether a column's distinct values are all of type ``str`` (none of a subclass)."""
    return bool(uniques) and set(map(type, uniques)) == {str}


def _blank_uniques(uniques: list[Any], text: bool) -> np.ndarray:
    """:func:`is_blank` of each distinct value; of texts (``text``) in one pandas pass."""
    if text:
        return (pd.Series(uniques, dtype=object).str.strip() == "").to_numpy(dtype=bool)
    return np.array([is_blank(u) for u in uniques], dtype=bool).reshape(-1)


def _has_nul(texts: list[str]) -> np.ndarray:
    return pd.Series(texts, dtype=object).str.contains("\x00", regex=False).to_numpy(
        dtype=bool)


def _inherit_point_classes(points: list[PointRec], segments: list[SegRec],
                           dicts: PipeDictionaries, columns: dict[str, dict[str, str]]) -> None:
    """Points of a table without a class take the class of the segments that use them
    (``columns``: each table's delivered columns, as its problems name them)."""
    classes: dict[str, set[PipeClass]] = defaultdict(set)
    for s in segments:
        if s.cls is not None:
            for no in (s.start_no, s.end_no):
                if no:
                    classes[no].add(s.cls)
    for p in points:
        if p.cls is not None or p.point_no is None:
            continue
        found = classes.get(p.point_no, set())
        if len(found) == 1:
            p.cls = next(iter(found))
            resolve_features(p, dicts)
        else:
            col = columns.get(p.table, {}).get("class")  # the table's class column, if any
            if not any(r[1] in (FIELD_ZH["class"], col) for r in p.problems):
                p.problems.append((
                    "missing_value", col or FIELD_ZH["class"], None,
                    ("the class is blank" if col else "no class column")
                    + " and no segment of one class uses the point"))
