"""Survey result tables (管线点成果表 + 管线段成果表) → a :class:`Delivery`.

Surveyors deliver any number of tables in any order and naming; this module works out which
table holds points and which segments (by their columns), which pipe class each row is (class
column, ``--class``, the mapping file, else the sheet or file name), and which CRS the
coordinates are in. Survey tables write X = northing and Y = easting
(:func:`cim.crs.swap_survey_xy`); a zone-prefixed easting names the Gauss-Krüger zone.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from cim import crs as cimcrs
from cim.errors import InputError
from cim.profile import CityProfile
from loaders.common import jsonable
from loaders.fields import as_float, as_text, is_blank
from loaders.pipes.dictionaries import PipeClass, PipeDictionaries
from loaders.pipes.fields import (
    ClassResolver,
    field_aliases,
    parse_value,
    resolve_features,
    segment_values,
    text_id,
)
from loaders.pipes.records import FIELD_ZH, Delivery, PointRec, SegRec
from loaders.sources.tables import (
    Mapping,
    Table,
    known_header_names,
    match_headers,
    norm_header,
    read_tables,
    table_files,
)

POINT_REQUIRED = ("point_no", "x", "y", "ground_elevation")


def _attrs(table: Table, values: list[Any], row: int) -> dict[str, Any]:
    out = {h: jsonable(values[j]) if j < len(values) else None
           for j, h in enumerate(table.headers)}
    # where the row came from, unless the delivery has such a column (never overwritten)
    out.setdefault("_table", table.name)
    out.setdefault("_row", row)
    return out


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


def _value(row: list[Any], m: dict[str, int], attr: str, mapping: Mapping, kind: str) -> Any:
    j = m.get(attr)
    return mapping.value(kind, attr, row[j] if j is not None and j < len(row) else None)


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
    points: list[PointRec] = []
    segments: list[SegRec] = []
    names: list[str] = []
    notes: list[str] = []
    seq = 0
    for path in files:
        tables = read_tables(path, known, encoding)
        for t in tables:
            notes += t.notes
            kind, m = _table_kind(t, aliases, mapping)
            if kind is None:
                notes.append(f"{t.name}: not a point or segment table (no 物探点号/X/Y nor "
                             "起始点号/终止点号 columns); skipped")
                continue
            idx = {a: t.headers.index(h) for a, h in m.items()}
            tclass = resolver.for_table(t)
            if tclass is None and "class" not in idx:
                raise InputError(
                    "cannot tell the pipe class of this table: add a class column (管线类别), "
                    "name the sheet or file after the class (e.g. 给水管线点.csv) or pass "
                    "--class", path=t.name)
            names.append(t.name)
            keys = ("point_no", "x", "y") if kind == "points" else ("start_no", "end_no")
            skipped = 0
            for row, values in zip(t.row_numbers, t.rows):
                if sum(not is_blank(c) for c in values) < 2 or all(
                        is_blank(values[idx[k]]) if idx[k] < len(values) else True
                        for k in keys):
                    skipped += 1  # a title, subtotal or signature line (制表/审核)
                    continue
                seq += 1
                if kind == "points":
                    points.append(_point_record(t, row, values, idx, seq, tclass, resolver,
                                                dicts, mapping))
                else:
                    segments.append(_segment_record(t, row, values, idx, seq, tclass,
                                                    resolver, dicts, mapping))
            if skipped:
                notes.append(f"{t.name}: {skipped} rows that are no survey record skipped "
                             "(titles, signatures)")
    if not points and not segments:
        raise InputError("no pipe point or segment table found (expected columns such as "
                         "物探点号, X, Y, 地面高程 or 起始点号, 终止点号)",
                         path=", ".join(map(str, paths)))
    _inherit_point_classes(points, segments, dicts)
    d = Delivery(points=points, segments=segments, tables=names, survey=True, notes=notes,
                 files=files, inputs=[Path(p) for p in paths])
    _survey_coordinates(d, profile, crs)
    return d


def _point_record(t: Table, row: int, values, idx, seq, tclass, resolver, dicts, mapping
                  ) -> PointRec:
    attrs = _attrs(t, values, row)
    p = PointRec(seq=seq, table=t.name, row=row, attrs=attrs)
    pr = p.problems
    v = lambda a: _value(values, idx, a, mapping, "points")  # noqa: E731
    p.cls, problem = resolver.for_row(tclass, v("class"), v("subclass"))
    if problem:
        pr.append(problem)
    p.point_no = parse_value(p, pr, FIELD_ZH["point_no"], text_id, v("point_no"))
    p.map_no = parse_value(p, pr, "图上点号", text_id, v("map_no"))
    p.x = parse_value(p, pr, "X", as_float, v("x"))
    p.y = parse_value(p, pr, "Y", as_float, v("y"))
    p.ground = parse_value(p, pr, "地面高程", lambda x: as_float(x, -500, 9000),
                      v("ground_elevation"))
    p.feature_raw = parse_value(p, pr, "特征", lambda x: as_text(x, 50), v("feature"))
    p.appurtenance_raw = parse_value(p, pr, "附属物", lambda x: as_text(x, 50), v("appurtenance"))
    p.survey_code = parse_value(p, pr, "点编码", text_id, v("survey_code"))
    p.road = parse_value(p, pr, "道路名称", lambda x: as_text(x, 200), v("road"))
    p.note = parse_value(p, pr, "备注", lambda x: as_text(x, 1000), v("note"))
    for a in POINT_REQUIRED:
        if getattr(p, {"ground_elevation": "ground"}.get(a, a)) is None and \
                not any(f == FIELD_ZH[a] for _, f, _, _ in pr):
            pr.append(("missing_value", FIELD_ZH[a], None, "empty"))
    resolve_features(p, dicts)
    return p


def _segment_record(t: Table, row: int, values, idx, seq, tclass, resolver, dicts, mapping
                    ) -> SegRec:
    s = SegRec(seq=seq, table=t.name, row=row, attrs=_attrs(t, values, row))
    segment_values(s, lambda a: _value(values, idx, a, mapping, "segments"), tclass, resolver,
                    dicts)
    return s


def _inherit_point_classes(points: list[PointRec], segments: list[SegRec],
                           dicts: PipeDictionaries) -> None:
    """Points of a table without a class take the class of the segments that use them."""
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
        elif not any(r[1] == FIELD_ZH["class"] for r in p.problems):
            p.problems.append(("missing_value", FIELD_ZH["class"], None,
                               "no class column and no segment of one class uses the point"))


def _survey_coordinates(d: Delivery, profile: CityProfile, crs_opt: str | None) -> None:
    """X/Y of the survey (X northing, Y easting) → storage-CRS easting/northing."""
    srid = profile.srid
    ok = [p for p in d.points if p.x is not None and p.y is not None]
    xs = np.array([p.x for p in ok], dtype=float)
    ys = np.array([p.y for p in ok], dtype=float)
    e, n = cimcrs.swap_survey_xy(xs, ys)
    if crs_opt:
        crs = cimcrs.parse_crs(crs_opt)
    else:
        code = cimcrs.detect_gk_from_eastings(e, srid) if e.size else None
        if code is None and e.size and cimcrs.detect_gk_from_eastings(n, srid) is not None:
            raise InputError("the X column holds eastings and Y northings: survey tables write "
                             "X = northing (北) and Y = easting (东); the columns look exchanged — "
                             "map them with --mapping (x: <northing column>, y: <easting column>)",
                             path=", ".join(sorted({p.table for p in ok})), field="X")
        if code is None:
            crs = cimcrs.parse_crs(f"EPSG:{srid}")
            d.notes.append(f"coordinates taken to be in the storage CRS EPSG:{srid} (no "
                           "Gauss-Krüger zone prefix found; pass --crs otherwise)")
        else:
            crs = cimcrs.parse_crs(f"EPSG:{code}")
            d.notes.append(f"coordinates: EPSG:{code} detected from the easting magnitudes")
    if e.size:
        problem = cimcrs.check_gk_consistency(crs, e)
        if problem:
            raise InputError(problem, path=", ".join(sorted({p.table for p in ok})))
    epsg = cimcrs.epsg_of(crs)
    d.source_crs = cimcrs.crs_text(crs)  # the CRS its rejects are kept in
    d.source_srid = epsg
    if epsg != srid and e.size:
        e, n = cimcrs.transformer(crs.to_wkt(), srid).transform(e, n)
    for p, ee, nn in zip(ok, e, n):
        if np.isfinite(ee) and np.isfinite(nn):
            p.e, p.n = float(ee), float(nn)
        else:
            p.problems.append(("bad_value", "X/Y", [p.x, p.y],
                               "cannot be transformed to the storage CRS (wrong --crs?)"))
