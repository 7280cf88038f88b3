"""Pipe-network loaders (地下管线): survey result tables and generic GIS network layers.

Two kinds of delivery become the same records (:class:`PointRec`, :class:`SegRec`), go through
the same survey QA (:mod:`loaders.pipe_qa`) and are written the same way: in ONE
:class:`~loaders.pipeline.LoadSession` (one batch, one transaction), points first with one
:class:`~loaders.bulk.BulkWriter`, then segments with a second one that references the points
by their freshly allocated codes (node–edge topology), then — for GIS layers — appurtenances
such as valves, attached to the segment they lie on.

Survey tables (管线点成果表 + 管线段成果表)
    Any number of table files (Excel sheets, CSV, DBF, GeoPackage tables). Each table is told
    to be a point or a segment table by its columns (物探点号 + X + Y, or 起始点号 + 终止点号);
    its pipe class comes from a class column (管线类别), else ``--class``, else the mapping
    file, else the sheet or file name (给水管线点, 雨水_段, JS_points …). Points are PointZ at
    ground elevation; segments LineStringZ from start to end point at the pipe elevation
    (起点高程 / 终点高程 where given, else ground elevation − burial depth). X is northing and
    Y easting (:func:`cim.crs.swap_survey_xy`); zone-prefixed eastings give the CRS.

GIS layers (``--lines`` [``--points``] [``--valves``])
    A line layer whose attributes are mapped by aliases and the mapping file. Topology comes
    from node ids on the lines (node_a/node_b, 起点号/终点号) when present, else from snapping
    line ends within ``--snap`` metres. Appurtenances attach to their pipe by a pipe-id field,
    else to the nearest segment within ``--attach`` metres.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyproj
import shapely
from psycopg.types.json import Jsonb

from cim import crs as cimcrs
from cim.coding.scheme import layer_code_of
from cim.errors import ConfigError, InputError, OutOfAreaError
from cim.layerdefs import PIPE_POINTS, PIPE_SEGMENTS, LayerDef
from cim.profile import CityProfile
from loaders.bulk import EWKB
from loaders.common import content_hash, jsonable
from loaders.fields import ValueProblem, as_float, as_int, as_text, as_year, is_blank
from loaders.geometry import ewkb
from loaders.pipe_codes import PipeClass, PipeDictionaries, parse_size
from loaders.pipe_qa import PointRec, QAResult, Rules, SegRec, run_checks
from loaders.pipeline import LoadSession
from loaders.report import LoadReport, Reject
from loaders.tables import (
    Mapping,
    Table,
    known_header_names,
    match_headers,
    read_mapping,
    read_tables,
    table_files,
)

POINT_REQUIRED = ("point_no", "x", "y", "ground_elevation")
FIELD_ZH = {"point_no": "物探点号", "x": "X", "y": "Y", "ground_elevation": "地面高程",
            "start_no": "起始点号", "end_no": "终止点号", "class": "管线类别",
            "geometry": "geometry"}


@dataclass
class Delivery:
    """A parsed delivery: records, where they came from and how coordinates were read."""

    points: list[PointRec]
    segments: list[SegRec]
    tables: list[str]
    survey: bool
    source_crs: str | None = None
    source_srid: int | None = None
    notes: list[str] = field(default_factory=list)
    derived_nodes: int = 0  # GIS: topology nodes made from line ends (not read from a file)
    files: list[Path] = field(default_factory=list)  # every file read
    inputs: list[Path] = field(default_factory=list)  # the paths given (files or folders)


@dataclass
class PipeLoadReport(LoadReport):
    qa: dict[str, Any] = field(default_factory=dict)
    topology: dict[str, Any] = field(default_factory=dict)
    appurtenances: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = [super().text()]
        if self.qa:
            lines.append(f"  QA         {self.qa.get('errors', 0)} errors, "
                         f"{self.qa.get('warnings', 0)} warnings")
            for rule, n in (self.qa.get("by_rule") or {}).items():
                lines.append(f"    {rule:<24} {n}")
        t = self.topology
        if t:
            lines.append(f"  topology   {t['segments']} segments, {t['nodes']} nodes, "
                         f"{t['connected_components']} connected components (largest "
                         f"{t['largest_component_segments']} segments), {t['dangling_ends']} "
                         f"dangling ends, {t['isolated_points']} points on no segment")
        a = self.appurtenances
        if a:
            lines.append(f"  attached   {a['attached_by_id']} by pipe id, {a['attached_nearest']} "
                         f"to the nearest segment, {a['unattached']} unattached")
        return "\n".join(lines)


# -- reading survey tables -----------------------------------------------------------------
def _aliases(profile: CityProfile) -> dict[str, dict[str, list[str]]]:
    fa = profile.field_aliases
    return {"points": fa.get("pipe_points", {}), "segments": fa.get("pipe_segments", {})}


def _text_id(v: Any) -> str | None:
    if is_blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return as_text(v, 100)


def _attrs(table: Table, values: list[Any], row: int) -> dict[str, Any]:
    out = {h: jsonable(values[j]) if j < len(values) else None
           for j, h in enumerate(table.headers)}
    out["_table"] = table.name
    out["_row"] = row
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


class _ClassResolver:
    def __init__(self, dicts: PipeDictionaries, class_opt: str | None, mapping: Mapping) -> None:
        self.dicts = dicts
        self.given = None
        value = class_opt or mapping.default("lines", "class")
        if value:
            self.given = dicts.find_class(mapping.translate("class", value))
            if self.given is None:
                raise ConfigError(f"unknown pipe class {value!r}; classes are "
                                  + ", ".join(f"{r['name']} ({r['letters']})"
                                              for r in dicts.classes))
        self.mapping = mapping

    def for_table(self, table: Table) -> PipeClass | None:
        if self.given is not None:
            return self.given
        for name in (table.sheet, table.path.stem):
            if name:
                hit = self.dicts.class_in_name(name)
                if hit is not None:
                    return hit
        return None

    def for_row(self, table_class: PipeClass | None, cls_value: Any, sub_value: Any
                ) -> tuple[PipeClass | None, tuple[str, str, Any, str] | None]:
        pc = table_class
        if not is_blank(cls_value):
            pc = self.dicts.find_class(self.mapping.translate("class", cls_value))
            if pc is None:
                return None, ("bad_value", FIELD_ZH["class"], cls_value,
                              "not a pipe class of the dictionary (pipe_classes.csv)")
        if not is_blank(sub_value) and pc is not None:
            sub = self.dicts.find_class(self.mapping.translate("subclass", sub_value))
            if sub is None or sub.code != pc.code or not sub.subclass_name:
                return None, ("bad_value", "管线小类", sub_value,
                              f"not a subclass of {pc.name} (pipe_subclasses.csv)")
            pc = sub
        return pc, None


def _value(row: list[Any], m: dict[str, int], attr: str, mapping: Mapping, kind: str) -> Any:
    j = m.get(attr)
    return mapping.value(kind, attr, row[j] if j is not None and j < len(row) else None)


def _parse(rec, problems, fname: str, parse, v):
    try:
        return parse(v)
    except ValueProblem as exc:
        problems.append(("bad_value", fname, jsonable(v), str(exc)))
        return None


def read_survey(profile: CityProfile, paths: list[str | Path], *, class_opt: str | None = None,
                crs: str | None = None, mapping: Mapping | None = None,
                encoding: str | None = None) -> Delivery:
    """Read survey point and segment tables into records (storage-CRS coordinates)."""
    mapping = mapping or Mapping()
    dicts = PipeDictionaries(profile)
    aliases = _aliases(profile)
    known = known_header_names(profile.field_aliases, ("pipe_points", "pipe_segments"))
    for section in ("points", "segments"):
        known |= {h.lower() for h in mapping.sections.get(section, {}).values()}
    known |= {h.lower() for h in mapping.flat.values()}
    resolver = _ClassResolver(dicts, class_opt, mapping)
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
    p.point_no = _parse(p, pr, FIELD_ZH["point_no"], _text_id, v("point_no"))
    p.map_no = _parse(p, pr, "图上点号", _text_id, v("map_no"))
    p.x = _parse(p, pr, "X", as_float, v("x"))
    p.y = _parse(p, pr, "Y", as_float, v("y"))
    p.ground = _parse(p, pr, "地面高程", lambda x: as_float(x, -500, 9000),
                      v("ground_elevation"))
    p.feature_raw = _parse(p, pr, "特征", lambda x: as_text(x, 50), v("feature"))
    p.appurtenance_raw = _parse(p, pr, "附属物", lambda x: as_text(x, 50), v("appurtenance"))
    p.survey_code = _parse(p, pr, "点编码", _text_id, v("survey_code"))
    p.road = _parse(p, pr, "道路名称", lambda x: as_text(x, 200), v("road"))
    p.note = _parse(p, pr, "备注", lambda x: as_text(x, 1000), v("note"))
    for a in POINT_REQUIRED:
        if getattr(p, {"ground_elevation": "ground"}.get(a, a)) is None and \
                not any(f == FIELD_ZH[a] for _, f, _, _ in pr):
            pr.append(("missing_value", FIELD_ZH[a], None, "empty"))
    _resolve_features(p, dicts)
    return p


def _resolve_features(p: PointRec, dicts: PipeDictionaries) -> None:
    if p.cls is None:
        return
    p.feature = dicts.feature(p.cls, "特征", p.feature_raw)
    p.appurtenance = dicts.feature(p.cls, "附属物", p.appurtenance_raw)


def _segment_record(t: Table, row: int, values, idx, seq, tclass, resolver, dicts, mapping
                    ) -> SegRec:
    s = SegRec(seq=seq, table=t.name, row=row, attrs=_attrs(t, values, row))
    _segment_values(s, lambda a: _value(values, idx, a, mapping, "segments"), tclass, resolver,
                    dicts)
    return s


def _segment_values(s: SegRec, v, tclass, resolver, dicts) -> None:
    pr = s.problems
    s.cls, problem = resolver.for_row(tclass, v("class"), v("subclass"))
    if problem:
        pr.append(problem)
    elif s.cls is None:
        pr.append(("missing_value", FIELD_ZH["class"], None, "empty"))
    s.source_id = _parse(s, pr, "管段编号", _text_id, v("source_id"))
    s.start_no = _parse(s, pr, FIELD_ZH["start_no"], _text_id, v("start_no"))
    s.end_no = _parse(s, pr, FIELD_ZH["end_no"], _text_id, v("end_no"))
    for a in ("start_no", "end_no"):
        if getattr(s, a) is None and not any(f == FIELD_ZH[a] for _, f, _, _ in pr):
            pr.append(("missing_value", FIELD_ZH[a], None, "empty"))
    depth = lambda x: as_float(x, 0, 100)  # noqa: E731
    elev = lambda x: as_float(x, -500, 9000)  # noqa: E731
    s.start_depth = _parse(s, pr, "起点埋深", depth, v("start_depth"))
    s.end_depth = _parse(s, pr, "终点埋深", depth, v("end_depth"))
    s.start_elevation = _parse(s, pr, "起点高程", elev, v("start_elevation"))
    s.end_elevation = _parse(s, pr, "终点高程", elev, v("end_elevation"))
    s.material_raw = _parse(s, pr, "材质", lambda x: as_text(x, 50), v("material"))
    s.material = dicts.materials.find(s.material_raw)
    s.burial_raw = _parse(s, pr, "埋设方式", lambda x: as_text(x, 50), v("burial"))
    s.burial = dicts.burial.find(s.burial_raw)
    size = _parse(s, pr, "管径", parse_size, v("size"))
    if size:
        s.diameter, s.width, s.height, s.size_text = size
    s.pressure = _parse(s, pr, "压力", lambda x: _text_id(x), v("pressure"))
    s.voltage = _parse(s, pr, "电压", lambda x: _text_id(x), v("voltage"))
    s.cable_count = _parse(s, pr, "电缆条数", lambda x: as_int(x, 0, 100000), v("cable_count"))
    s.owner = _parse(s, pr, "权属单位", lambda x: as_text(x, 200), v("owner"))
    s.year = _parse(s, pr, "建设年代", as_year, v("year"))
    s.road = _parse(s, pr, "道路名称", lambda x: as_text(x, 200), v("road"))
    s.status_raw = _parse(s, pr, "状态", lambda x: _text_id(x), v("status"))
    s.status = dicts.status.find(s.status_raw)
    s.note = _parse(s, pr, "备注", lambda x: as_text(x, 1000), v("note"))


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
            _resolve_features(p, dicts)
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
    d.source_crs = f"EPSG:{epsg}" if epsg else crs.name
    d.source_srid = epsg
    if epsg != srid and e.size:
        e, n = cimcrs.transformer(crs.to_wkt(), srid).transform(e, n)
    for p, ee, nn in zip(ok, e, n):
        if np.isfinite(ee) and np.isfinite(nn):
            p.e, p.n = float(ee), float(nn)
        else:
            p.problems.append(("bad_value", "X/Y", [p.x, p.y],
                               "cannot be transformed to the storage CRS (wrong --crs?)"))


# -- reading GIS layers ----------------------------------------------------------------------
def split_layer(path: str | Path) -> tuple[Path, str | None]:
    """``FILE:LAYER`` names a layer of a multi-layer source (network.gpkg:valves)."""
    s = str(path)
    if not Path(s).exists() and ":" in s:
        base, layer = s.rsplit(":", 1)
        if Path(base).exists() and layer:
            return Path(base), layer
    return Path(s), None


def _read_layer(path: Path, encoding: str | None, source_layer: str | None = None):
    from loaders.read import iter_batches, open_source

    path, named = split_layer(path)
    src = open_source(path, source_layer or named, encoding)
    cols: dict[str, list] = defaultdict(list)
    geoms = []
    for b in iter_batches(src):
        for k, v in b.columns.items():
            cols[k].extend(v.tolist())
        geoms.extend(b.geometries.tolist())
    return src, {k: cols[k] for k in src.fields if k in cols}, np.array(geoms, dtype=object)


def _gis_crs(src, crs_opt, geoms, srid) -> tuple[pyproj.CRS, pyproj.Transformer | None]:
    from loaders.pipeline import resolve_source_crs
    from loaders.read import Batch

    first = Batch(first_row=1, columns={}, geometries=geoms[:2000])
    crs, _notes = resolve_source_crs(src, crs_opt, first, srid)
    epsg = cimcrs.epsg_of(crs)
    t = None if epsg == srid else cimcrs.transformer(crs.to_wkt(), srid)
    return crs, t


def _to_storage(geoms: np.ndarray, t: pyproj.Transformer | None) -> np.ndarray:
    ok = ~shapely.is_missing(geoms)
    out = geoms.copy()
    if t is None or not ok.any():
        return out

    def fn(c: np.ndarray) -> np.ndarray:
        x, y = t.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y, c[:, 2]]) if c.shape[1] == 3 else np.column_stack([x, y])

    zs = shapely.has_z(geoms[ok])
    idx = np.flatnonzero(ok)
    for flag in (True, False):
        sel = idx[zs == flag]
        if sel.size:
            out[sel] = shapely.transform(geoms[sel], fn, include_z=flag)
    return out


def _gis_attrs(cols: dict[str, list], i: int, table: str, row: int) -> dict[str, Any]:
    out = {k: jsonable(v[i]) for k, v in cols.items()}
    out["_table"] = table
    out["_row"] = row
    return out


def read_gis(profile: CityProfile, lines: str | Path, *, points: str | Path | None = None,
             valves: str | Path | None = None, class_opt: str | None = None,
             crs: str | None = None, mapping: Mapping | None = None,
             encoding: str | None = None, snap: float = 0.01,
             layers: dict[str, str | None] | None = None) -> Delivery:
    """Read a GIS line layer (plus node and appurtenance point layers) into records."""
    mapping = mapping or Mapping()
    layers = layers or {}
    dicts = PipeDictionaries(profile)
    aliases = _aliases(profile)
    resolver = _ClassResolver(dicts, class_opt, mapping)
    srid = profile.srid
    notes: list[str] = []
    src, cols, geoms = _read_layer(lines, encoding, layers.get("lines"))
    lines = src.path
    source_crs, t = _gis_crs(src, crs, geoms, srid)
    epsg = cimcrs.epsg_of(source_crs)
    override, strict = mapping.for_kind("lines")
    m = match_headers(list(cols), aliases["segments"], override, table=lines.name, strict=strict)
    notes.append("lines fields: " + ", ".join(f"{k}←{v}" for k, v in m.items()))
    tclass = resolver.for_table(Table(lines, src.layer, list(cols), [], []))
    if tclass is None and "class" not in m:
        raise InputError("cannot tell the pipe class of the line layer: pass --class, give "
                         "'class:' in the mapping file or map a class field", path=str(lines))
    has_nodes = "start_no" in m and "end_no" in m
    lgeoms = _to_storage(geoms, t)
    tname = lines.name if not src.layer or src.layer == lines.stem else f"{lines.name}:{src.layer}"
    segs: list[SegRec] = []
    for i in range(len(geoms)):
        s = SegRec(seq=i + 1, table=tname, row=i + 1, attrs=_gis_attrs(cols, i, tname, i + 1))

        def v(a, i=i):
            return mapping.value("lines", a, cols[m[a]][i] if a in m else None)

        _segment_values(s, v, tclass, resolver, dicts)
        if not has_nodes:  # ends come from snapping, not from the attributes
            s.problems = [p for p in s.problems if p[1] not in (FIELD_ZH["start_no"],
                                                                FIELD_ZH["end_no"])]
        g = lgeoms[i]
        problem = _line_problem(g)
        if problem:
            s.problems.append(problem)
        else:
            s.line = shapely.line_merge(g) if g.geom_type == "MultiLineString" else g
        segs.append(s)
    seq = len(segs)
    pts: list[PointRec] = []
    derived = 0
    node_table = None
    if points is not None:
        pts, node_table = _read_gis_points(profile, Path(points), "nodes", aliases, mapping,
                                           resolver, dicts, crs, encoding, seq,
                                           layers.get("points"))
        seq += len(pts)
    if has_nodes:
        derived = _nodes_from_ids(segs, pts, dicts, seq)
        if derived:
            notes.append(f"{derived} topology nodes made at line ends named by node ids "
                         f"({'absent from ' + node_table if node_table else 'no point layer'})")
    else:
        derived = _nodes_by_snapping(segs, pts, dicts, snap, seq)
        notes.append(f"topology rebuilt by snapping line ends within {snap:g} m: "
                     f"{derived} nodes made")
    seq += derived
    if valves is not None:
        vpts, _ = _read_gis_points(profile, Path(valves), "valves", aliases, mapping, resolver,
                                   dicts, crs, encoding, seq, layers.get("valves"))
        for p in vpts:
            p.role = "valve"
        pts += vpts
    tables = [tname] + sorted({p.table for p in pts if not p.table.startswith("(")})
    return Delivery(points=pts, segments=segs, tables=tables, survey=False,
                    source_crs=f"EPSG:{epsg}" if epsg else source_crs.name, source_srid=epsg,
                    notes=notes, derived_nodes=derived,
                    files=[split_layer(x)[0] for x in (lines, points, valves) if x is not None],
                    inputs=[split_layer(lines)[0]])


def _line_problem(g) -> tuple[str, str, Any, str] | None:
    if g is None or shapely.is_missing(g):
        return ("missing_value", "geometry", None, "the feature has no geometry")
    if g.is_empty:
        return ("missing_value", "geometry", None, "the geometry is empty")
    if g.geom_type not in ("LineString", "MultiLineString"):
        return ("bad_value", "geometry", g.geom_type, "a line is expected")
    if not np.isfinite(shapely.get_coordinates(g, include_z=False)).all():
        return ("bad_value", "geometry", None, "coordinates are not finite")
    if g.geom_type == "MultiLineString":
        merged = shapely.line_merge(g)
        if merged.geom_type != "LineString":
            return ("bad_value", "geometry", "MultiLineString",
                    f"{len(merged.geoms)} separate parts: a pipe segment must be one line")
    return None


def _read_gis_points(profile, path: Path, section: str, aliases, mapping: Mapping, resolver,
                     dicts, crs_opt, encoding, seq0: int, source_layer: str | None
                     ) -> tuple[list[PointRec], str]:
    srid = profile.srid
    src, cols, geoms = _read_layer(path, encoding, source_layer)
    path = src.path
    _crs, t = _gis_crs(src, crs_opt, geoms, srid)
    override, strict = mapping.for_kind(section)
    m = match_headers(list(cols), aliases["points"], override, table=path.name, strict=strict)
    g2 = _to_storage(geoms, t)
    tname = path.name if not src.layer or src.layer == path.stem else f"{path.name}:{src.layer}"
    out = []
    for i in range(len(geoms)):
        p = PointRec(seq=seq0 + i + 1, table=tname, row=i + 1,
                     attrs=_gis_attrs(cols, i, tname, i + 1))
        pr = p.problems

        def v(a, i=i):
            return mapping.value(section, a, cols[m[a]][i] if a in m else None)

        p.cls, problem = resolver.for_row(resolver.given, v("class"), v("subclass"))
        if problem:
            pr.append(problem)
        p.point_no = _parse(p, pr, "点号", _text_id, v("point_no"))
        if p.point_no is None and not pr:
            pr.append(("missing_value", FIELD_ZH["point_no"], None, "empty"))
        p.feature_raw = _parse(p, pr, "特征", lambda x: as_text(x, 50), v("feature"))
        p.appurtenance_raw = _parse(p, pr, "附属物", lambda x: as_text(x, 50),
                                    v("appurtenance"))
        p.segment_id = _parse(p, pr, "所在管段", _text_id, v("segment_id"))
        p.road = _parse(p, pr, "道路名称", lambda x: as_text(x, 200), v("road"))
        p.note = _parse(p, pr, "备注", lambda x: as_text(x, 1000), v("note"))
        p.survey_code = _parse(p, pr, "点编码", _text_id, v("survey_code"))
        ground = _parse(p, pr, "地面高程", lambda x: as_float(x, -500, 9000),
                        v("ground_elevation"))
        g = g2[i]
        if g is None or shapely.is_missing(g) or g.is_empty:
            pr.append(("missing_value", "geometry", None, "the feature has no geometry"))
        elif g.geom_type != "Point":
            pr.append(("bad_value", "geometry", g.geom_type, "a point is expected"))
        elif not np.isfinite([g.x, g.y]).all():
            pr.append(("bad_value", "geometry", None, "coordinates are not finite"))
        else:
            p.e, p.n = float(g.x), float(g.y)
            p.ground = ground if ground is not None else (float(g.z) if g.has_z else None)
        _resolve_features(p, dicts)
        out.append(p)
    return out, tname


def _class_of_nodes(segs: list[SegRec]) -> dict[str, PipeClass]:
    out: dict[str, PipeClass] = {}
    for s in segs:
        if s.cls is None:
            continue
        for no in (s.start_no, s.end_no):
            if no:
                out.setdefault(no, s.cls)
    return out


def _derived_feature(dicts: PipeDictionaries, pc: PipeClass, degree: int):
    name = {1: "起讫点", 2: "直线点", 3: "三通", 4: "四通"}.get(degree, "多通")
    return name, dicts.feature(pc, "特征", name)


def _nodes_from_ids(segs: list[SegRec], pts: list[PointRec], dicts, seq0: int) -> int:
    """Nodes named by the lines' node ids: classes for the point layer's nodes, and a node at
    the line end for every id the point layer lacks."""
    cls_of = _class_of_nodes(segs)
    have = set()
    for p in pts:
        if p.point_no and p.point_no in cls_of and p.cls is None:
            p.cls = cls_of[p.point_no]
        if p.cls is not None:
            _resolve_features(p, dicts)
        have.add(p.point_no)
    degree: dict[str, int] = defaultdict(int)
    where: dict[str, tuple[float, float, float | None, SegRec]] = {}
    for s in segs:
        if s.line is None or s.problems:
            continue
        c = shapely.get_coordinates(s.line, include_z=True)
        for no, xyz in ((s.start_no, c[0]), (s.end_no, c[-1])):
            degree[no] += 1
            where.setdefault(no, (float(xyz[0]), float(xyz[1]),
                                  float(xyz[2]) if np.isfinite(xyz[2]) else None, s))
    made = 0
    for no in sorted(where, key=lambda k: where[k][3].seq):
        if no in have:
            continue
        x, y, z, s = where[no]
        made += 1
        p = _derived_node(no, s, x, y, z, degree[no], dicts, seq0 + made)
        pts.append(p)
    if not pts:
        return made
    for p in pts:  # points of no line keep a class only when one is given
        if p.cls is None and not any(r[1] == FIELD_ZH["class"] for r in p.problems):
            p.problems.append(("missing_value", FIELD_ZH["class"], None,
                               "the point is on no line and no --class is given"))
    return made


def _derived_node(no: str, s: SegRec, x, y, z, degree, dicts, seq) -> PointRec:
    name, feat = _derived_feature(dicts, s.cls, degree) if s.cls else (None, None)
    p = PointRec(seq=seq, table="(line ends)", row=0,
                 attrs={"_table": "(line ends)", "_derived_from": s.table, "_row": s.row},
                 cls=s.cls, point_no=no, feature_raw=name, feature=feat, e=x, n=y, ground=z)
    return p


def _nodes_by_snapping(segs: list[SegRec], pts: list[PointRec], dicts, snap: float,
                       seq0: int) -> int:
    """Cluster line ends closer than ``snap``; each cluster is one node (a point of the point
    layer within ``snap`` names it), line ends are moved onto their node."""
    ok = [s for s in segs if s.line is not None and not s.problems]
    if not ok:
        return 0
    ends = np.array([shapely.get_coordinates(s.line, include_z=True)[k]
                     for s in ok for k in (0, -1)], dtype=float)
    pgeom = shapely.points(ends[:, :2])
    tree = shapely.STRtree(pgeom)
    a, b = tree.query(pgeom, predicate="dwithin", distance=snap)
    parent = np.arange(len(ends))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(a, b):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(len(ends))])
    named: dict[int, PointRec] = {}
    if pts:
        ptree_geoms = shapely.points([[p.e, p.n] if p.e is not None else [np.nan, np.nan]
                                      for p in pts])
        ptree = shapely.STRtree(ptree_geoms)
        for r in np.unique(roots):
            qi, dist = ptree.query_nearest(pgeom[r], max_distance=snap, return_distance=True)
            if len(qi):
                named[int(r)] = pts[int(qi[np.argmin(dist)])]
    made = 0
    node_no: dict[int, str] = {}
    degree = np.bincount(roots, minlength=len(ends))
    for r in sorted(set(roots.tolist())):
        if r in named and named[r].point_no:
            node_no[r] = named[r].point_no
            continue
        made += 1
        node_no[r] = f"N{made:06d}"
        s = ok[r // 2]
        x, y, z = ends[r]
        p = _derived_node(node_no[r], s, x, y, z if np.isfinite(z) else None, int(degree[r]),
                          dicts, seq0 + made)
        pts.append(p)
    node_pos = {r: (ends[r, 0], ends[r, 1]) for r in node_no}
    for r, p in named.items():
        if p.e is not None:
            node_pos[r] = (p.e, p.n)
    for k, s in enumerate(ok):
        ra, rb = roots[2 * k], roots[2 * k + 1]
        s.start_no, s.end_no = node_no[ra], node_no[rb]
        c = shapely.get_coordinates(s.line, include_z=True)
        c[0, :2] = node_pos[ra]
        c[-1, :2] = node_pos[rb]
        s.line = shapely.linestrings(c) if s.line.has_z else shapely.linestrings(c[:, :2])
    cls_of = _class_of_nodes(ok)
    for p in pts:
        if p.cls is None and p.point_no in cls_of:
            p.cls = cls_of[p.point_no]
            _resolve_features(p, dicts)
    return made


# -- QA and loading ----------------------------------------------------------------------------
def run_qa(profile: CityProfile, delivery: Delivery, rules: Rules | None = None) -> QAResult:
    return run_checks(delivery.points, delivery.segments, rules or Rules.load(profile),
                      survey=delivery.survey, tables=delivery.tables)


def default_dataset(paths: list[Path]) -> str:
    if len(paths) == 1:
        return paths[0].stem if paths[0].is_file() else paths[0].name
    stems = [p.stem for p in paths]
    common = re.sub(r"[_\-. 点段线成果表管]+$", "", os.path.commonprefix(stems))
    return common or stems[0]


def _source_key(dataset: str, pc: PipeClass | None, ident: str) -> str:
    return f"{dataset}:{pc.key if pc else 'XX'}:{ident}"


def _point_key(dataset: str, p: PointRec) -> str:
    ident = p.point_no if p.role == "node" else f"{p.role}/{p.point_no}"
    return _source_key(dataset, p.cls, ident or f"row{p.seq}")


def _seg_key(dataset: str, s: SegRec) -> str:
    ident = s.source_id or f"{s.start_no}-{s.end_no}"
    return _source_key(dataset, s.cls, ident)


def _reject(rec, reason: str, message: str, key: str | None, fieldname=None, wkt=None) -> Reject:
    return Reject(row_number=rec.seq, reason=reason, message=message, field=fieldname,
                  source_key=key, attrs=rec.attrs, geom_wkt=wkt)


def _point_wkt(p: PointRec) -> str | None:
    if p.x is None or p.y is None:
        return None
    e, n = cimcrs.swap_survey_xy(np.array([p.x]), np.array([p.y]))
    return f"POINT Z ({e[0]} {n[0]} {p.ground if p.ground is not None else 0})"


def _msg(f) -> str:
    return f"{f.table} row {f.row}: {f.message_zh} / {f.message_en}"


def load_pipes(conninfo: str, profile: CityProfile, delivery: Delivery, *,
               mode: str = "update", dataset: str | None = None, district: str | None = None,
               attach: float = 5.0, rules: Rules | None = None, qa: QAResult | None = None,
               options: dict[str, Any] | None = None) -> PipeLoadReport:
    """QA, then points, segments and appurtenances in one LoadSession (one transaction)."""
    qa = qa or run_qa(profile, delivery, rules)
    srid = profile.srid
    dataset = dataset or default_dataset(delivery.inputs or delivery.files)
    first = delivery.files[0] if delivery.files else Path(".")
    report = PipeLoadReport(layer="pipes", path=", ".join(dict.fromkeys(map(str, delivery.files))),
                            mode=mode,
                            notes=list(delivery.notes))
    report.source_crs = delivery.source_crs
    report.qa = {k: v for k, v in qa.to_dict().items() if k != "findings"}
    opts = {"mode": mode, "dataset": dataset, "district": district, "tables": delivery.tables,
            "survey": delivery.survey, **(options or {})}
    pf = qa.by_target("points")
    sf = qa.by_target("segments")
    src_srid = delivery.source_srid if delivery.source_srid not in (None, srid) else None
    nodes = [(i, p) for i, p in enumerate(delivery.points) if p.role == "node"]
    valves = [(i, p) for i, p in enumerate(delivery.points) if p.role != "node"]
    with LoadSession(conninfo, "pipes", first, mode, opts, report) as session:
        conn = session.begin()
        report.read = len(delivery.points) + len(delivery.segments)
        if delivery.derived_nodes:
            report.notes.append(f"read includes {delivery.derived_nodes} topology nodes made "
                                "from line ends")
        codes_pt = layer_code_of(profile, "pipe_points")
        codes_seg = layer_code_of(profile, "pipe_segments")
        point_codes = _write_points(session, conn, nodes, pf, dataset, srid, codes_pt, mode,
                                    district, src_srid, report)
        seg_codes = _write_segments(session, conn, delivery, sf, point_codes, dataset, srid,
                                    codes_seg, mode, district, src_srid, report)
        if valves:
            report.appurtenances = _write_valves(session, conn, valves, pf, seg_codes, dataset,
                                                 srid, codes_pt, mode, district, src_srid,
                                                 report, attach, PipeDictionaries(profile))
        report.topology = topology(conn, dataset)
        session.succeed()
    with psycopg.connect(conninfo, autocommit=True) as c:
        for t in ("pipe_points", "pipe_segments"):
            c.execute(f"ANALYZE {t}")
    return report


def _flags(findings) -> list[str]:
    return sorted({f.rule for f in findings if f.severity == "warning"})


def _errors(findings):
    return [f for f in findings if f.severity == "error"]


def _row(layer: LayerDef, values: dict[str, Any]) -> tuple:
    return tuple(values.get(c) for c in layer.column_names())


def _count_flags(report: LoadReport, rows: list[tuple]) -> None:
    for r in rows:
        for f in r[4]:
            report.flagged_by_reason[f] = report.flagged_by_reason.get(f, 0) + 1


def _write_points(session, conn, nodes, pf, dataset, srid, layer_code, mode, district,
                  src_srid, report) -> dict[str, str]:
    rows, rejects, keys = [], [], []
    for i, p in nodes:
        key = _point_key(dataset, p)
        errs = _errors(pf.get(i, []))
        if errs:
            f = errs[0]
            rejects.append(_reject(p, f.rule, _msg(f), key, f.field, _point_wkt(p)))
            continue
        if p.cls is None or p.e is None:
            rejects.append(_reject(p, "missing_value", "the point has no class or position",
                                   key))
            continue
        kind = "附属物" if p.appurtenance is not None or (p.appurtenance_raw and not p.feature)\
            else "特征"
        feat = p.appurtenance if kind == "附属物" else p.feature
        feature_code = PipeDictionaries.point_code(p.cls, feat, kind)
        geom = shapely.points(p.e, p.n, p.ground if p.ground is not None else 0.0)
        flags = _flags(pf.get(i, []))
        if p.ground is None:
            flags.append("no_z")
        wkb = ewkb(np.array([geom]), srid, with_z=True)[0]
        vals = {"point_no": p.point_no, "map_no": p.map_no, "pipe_class": p.cls.code,
                "class_name": p.cls.name, "subclass_code": p.cls.subclass_code,
                "subclass_name": p.cls.subclass_name, "feature_code": feature_code,
                "feature": p.feature.name if p.feature else p.feature_raw,
                "appurtenance": p.appurtenance.name if p.appurtenance else p.appurtenance_raw,
                "ground_elevation": p.ground, "survey_code": p.survey_code, "road": p.road,
                "segment_code": None, "note": p.note}
        values = _row(PIPE_POINTS, vals)
        rows.append((p.seq, key, content_hash(values, wkb), Jsonb(p.attrs, dumps=_dumps),
                     flags, EWKB(wkb), p.cls.code, None, *values))
        keys.append(key)
    w = session.writer(PIPE_POINTS, srid, layer_code, src_srid)
    w.create_staging()
    w.copy_rows(rows)
    w.copy_rejects(rejects)
    _count_flags(report, rows)
    result = w.finalize(mode, district=district, dataset=dataset)
    result.apply_to(report, w)
    if rows and w.reject_reasons.get("outside_area", 0) == len(rows):
        raise OutOfAreaError("no pipe point lies inside the city profile's districts; check "
                             "--crs and the X/Y columns (X is the northing, Y the easting)",
                             path=", ".join(sorted({p.table for _, p in nodes})))
    return dict(conn.execute("SELECT source_key, code FROM pipe_points WHERE valid_to IS NULL "
                             "AND source_key = ANY(%s)", (keys,)).fetchall())


def _dumps(v) -> str:
    import json

    return json.dumps(v, ensure_ascii=False, default=str)


def _write_segments(session, conn, d: Delivery, sf, point_codes, dataset, srid, layer_code,
                    mode, district, src_srid, report) -> dict[str, str]:
    node_by_key = {}
    for p in d.points:
        if p.role == "node" and p.point_no and p.key not in node_by_key:
            node_by_key[p.key] = p
    rows, rejects, keys = [], [], {}
    why = dict(conn.execute("SELECT source_key, reason FROM load_rejects WHERE batch_id = %s "
                            "AND source_key IS NOT NULL", (session.report.batch_id,)).fetchall())
    for i, s in enumerate(d.segments):
        key = _seg_key(dataset, s)
        errs = _errors(sf.get(i, []))
        if errs:
            f = errs[0]
            rejects.append(_reject(s, f.rule, _msg(f), key, f.field, _seg_wkt(s, node_by_key)))
            continue
        ps, pe = node_by_key.get(s.key("start")), node_by_key.get(s.key("end"))
        ks = _point_key(dataset, ps) if ps else None
        ke = _point_key(dataset, pe) if pe else None
        if ks not in point_codes or ke not in point_codes:
            bad = ps if ks not in point_codes else pe
            bk = ks if ks not in point_codes else ke
            reason = why.get(bk, "not loaded")
            rejects.append(_reject(s, "end_point_rejected",
                                   f"{s.table} row {s.row}: segment {s.label}: its end point "
                                   f"{bad.point_no if bad else '?'} was rejected ({reason}) / "
                                   f"端点 {bad.point_no if bad else '?'} 未入库（{reason}）",
                                   key, None, _seg_wkt(s, node_by_key)))
            continue
        if d.survey:
            coords = [(ps.e, ps.n, s.z_start), (pe.e, pe.n, s.z_end)]
            line = shapely.linestrings(coords)
        else:
            line = s.line if s.line.has_z else shapely.force_3d(s.line)
            s.z_start, s.z_end = (float(c) for c in shapely.get_coordinates(
                line, include_z=True)[[0, -1], 2])
        flags = _flags(sf.get(i, []))
        if not d.survey and not s.line.has_z:
            flags.append("no_z")
        wkb = ewkb(np.array([line]), srid, with_z=True)[0]
        start_depth = s.start_depth if s.start_depth is not None else (
            ps.ground - s.z_start if ps.ground is not None and d.survey else None)
        end_depth = s.end_depth if s.end_depth is not None else (
            pe.ground - s.z_end if pe.ground is not None and d.survey else None)
        vals = {"pipe_class": s.cls.code, "class_name": s.cls.name,
                "subclass_code": s.cls.subclass_code, "subclass_name": s.cls.subclass_name,
                "feature_code": PipeDictionaries.segment_code(s.cls),
                "start_point_no": s.start_no, "end_point_no": s.end_no,
                "start_point_code": point_codes[ks], "end_point_code": point_codes[ke],
                "start_depth": start_depth, "end_depth": end_depth,
                "start_elevation": s.start_elevation if s.start_elevation is not None
                else (s.z_start if d.survey else None),
                "end_elevation": s.end_elevation if s.end_elevation is not None
                else (s.z_end if d.survey else None),
                "material": s.material[1] if s.material else s.material_raw,
                "material_code": s.material[0] if s.material else None,
                "burial": s.burial[1] if s.burial else s.burial_raw,
                "burial_code": s.burial[0] if s.burial else None,
                "diameter_mm": s.diameter, "width_mm": s.width, "height_mm": s.height,
                "size_text": s.size_text, "pressure": s.pressure, "voltage": s.voltage,
                "cable_count": s.cable_count, "owner": s.owner, "year_built": s.year,
                "road": s.road, "status_code": s.status[0] if s.status else None,
                "status": s.status[1] if s.status else s.status_raw,
                "length_m": float(shapely.length(shapely.force_2d(line)))}
        values = _row(PIPE_SEGMENTS, vals)
        rows.append((s.seq, key, content_hash(values, wkb), Jsonb(s.attrs, dumps=_dumps),
                     flags, EWKB(wkb), s.cls.code, None, *values))
        if s.source_id:
            keys[s.source_id] = key
    w = session.writer(PIPE_SEGMENTS, srid, layer_code, src_srid)
    w.create_staging()
    w.copy_rows(rows)
    w.copy_rejects(rejects)
    _count_flags(report, rows)
    w.finalize(mode, district=district, dataset=dataset).apply_to(report, w)
    codes = dict(conn.execute("SELECT source_key, code FROM pipe_segments WHERE valid_to IS NULL "
                              "AND source_key = ANY(%s)", (list(keys.values()),)).fetchall())
    return {sid: codes[k] for sid, k in keys.items() if k in codes}


def _seg_wkt(s: SegRec, node_by_key) -> str | None:
    if s.line is not None:
        return shapely.to_wkt(s.line, rounding_precision=-1)
    ps, pe = node_by_key.get(s.key("start")), node_by_key.get(s.key("end"))
    if ps is None or pe is None or ps.x is None or pe.x is None:
        return None
    return f"LINESTRING ({ps.y} {ps.x}, {pe.y} {pe.x})"


def _write_valves(session, conn, valves, pf, seg_codes, dataset, srid, layer_code, mode,
                  district, src_srid, report, attach: float,
                  dicts: PipeDictionaries) -> dict[str, Any]:
    """Appurtenances (valves …) as pipe points attached to the segment they are on."""
    lines = conn.execute(  # the dataset's current segments (new or unchanged by this load)
        "SELECT code, ST_AsBinary(ST_Force2D(geom)), pipe_class FROM pipe_segments "
        "WHERE valid_to IS NULL AND starts_with(source_key, %s) ORDER BY code",
        (dataset + ":",)).fetchall()
    seg_geoms = shapely.from_wkb([bytes(r[1]) for r in lines]) if lines else np.array([])
    tree = shapely.STRtree(seg_geoms) if len(seg_geoms) else None
    by_id = nearest = unattached = 0
    rows, rejects = [], []
    for i, p in valves:
        key = _point_key(dataset, p)
        errs = _errors(pf.get(i, []))
        if errs:
            f = errs[0]
            rejects.append(_reject(p, f.rule, _msg(f), key, f.field))
            continue
        flags = _flags(pf.get(i, []))
        seg = seg_codes.get(p.segment_id) if p.segment_id else None
        cls = p.cls
        if seg is not None:
            by_id += 1
        elif tree is not None:
            j, dist = tree.query_nearest(shapely.points(p.e, p.n), max_distance=attach,
                                         return_distance=True)
            if len(j):
                k = int(j[np.lexsort((j, dist))[0]])
                seg = lines[k][0]
                nearest += 1
                flags.append("attached_nearest")
        if seg is None:
            unattached += 1
            flags.append("unattached")
        if cls is None and seg is not None:
            cls = dicts.by_code.get(next(r[2] for r in lines if r[0] == seg))
        if cls is None:
            rejects.append(_reject(p, "missing_value", "the appurtenance has no class: pass "
                                   "--class or attach it to a pipe", key, FIELD_ZH["class"]))
            continue
        if p.appurtenance is None:
            p.appurtenance = dicts.feature(cls, "附属物", p.appurtenance_raw)
        feat = p.appurtenance
        geom = shapely.points(p.e, p.n, p.ground if p.ground is not None else 0.0)
        wkb = ewkb(np.array([geom]), srid, with_z=True)[0]
        vals = {"point_no": p.point_no, "pipe_class": cls.code, "class_name": cls.name,
                "subclass_code": cls.subclass_code, "subclass_name": cls.subclass_name,
                "feature_code": PipeDictionaries.point_code(cls, feat, "附属物"),
                "feature": None,
                "appurtenance": feat.name if feat else p.appurtenance_raw,
                "ground_elevation": p.ground, "survey_code": p.survey_code, "road": p.road,
                "segment_code": seg, "note": p.note}
        values = _row(PIPE_POINTS, vals)
        rows.append((p.seq, key, content_hash(values, wkb), Jsonb(p.attrs, dumps=_dumps),
                     sorted(set(flags)), EWKB(wkb), cls.code, None, *values))
    w = session.writer(PIPE_POINTS, srid, layer_code, src_srid)
    w.create_staging()
    w.copy_rows(rows)
    w.copy_rejects(rejects)
    _count_flags(report, rows)
    w.finalize(mode, district=district, dataset=dataset).apply_to(report, w)
    return {"read": len(valves), "attached_by_id": by_id, "attached_nearest": nearest,
            "unattached": unattached, "max_distance_m": attach}


def topology(conn: psycopg.Connection, dataset: str) -> dict[str, Any]:
    """Connected components and dangling ends of the dataset's current network."""
    prefix = dataset + ":"
    segs = conn.execute(
        "SELECT pipe_class, start_point_code, end_point_code FROM pipe_segments "
        "WHERE valid_to IS NULL AND left(source_key, %s) = %s",
        (len(prefix), prefix)).fetchall()
    pts = conn.execute(
        "SELECT code FROM pipe_points WHERE valid_to IS NULL AND segment_code IS NULL "
        "AND left(source_key, %s) = %s", (len(prefix), prefix)).fetchall()
    out = _components([(a, b) for _, a, b in segs])
    used = {c for _, a, b in segs for c in (a, b)}
    out["isolated_points"] = sum(1 for (c,) in pts if c not in used)
    by_class: dict[str, list] = defaultdict(list)
    for cls, a, b in segs:
        by_class[cls].append((a, b))
    out["by_class"] = {c: _components(e) for c, e in sorted(by_class.items())}
    return out


def _components(edges: list[tuple[str, str]]) -> dict[str, Any]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    degree: dict[str, int] = defaultdict(int)
    for a, b in edges:
        degree[a] += 1
        degree[b] += 1
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    size: dict[str, int] = defaultdict(int)
    for a, _ in edges:
        size[find(a)] += 1
    return {"segments": len(edges), "nodes": len(degree),
            "connected_components": len({find(n) for n in degree}),
            "largest_component_segments": max(size.values(), default=0),
            "dangling_ends": sum(1 for v in degree.values() if v == 1)}


# -- entry points used by the CLI ----------------------------------------------------------
def read_delivery(profile: CityProfile, tables: list[str | Path] | None = None, *,
                  lines: str | Path | None = None, points: str | Path | None = None,
                  valves: str | Path | None = None, class_opt: str | None = None,
                  crs: str | None = None, mapping: str | Path | Mapping | None = None,
                  encoding: str | None = None, snap: float = 0.01) -> Delivery:
    m = mapping if isinstance(mapping, Mapping) else read_mapping(mapping)
    if lines is not None:
        if tables:
            raise ConfigError("give either survey tables or --lines (a GIS layer), not both")
        return read_gis(profile, lines, points=points, valves=valves, class_opt=class_opt,
                        crs=crs, mapping=m, encoding=encoding, snap=snap)
    if points is not None or valves is not None:
        raise ConfigError("--points and --valves go with --lines (GIS layers); survey point "
                          "tables are given as arguments")
    if not tables:
        raise ConfigError("give the survey tables (points and segments) or --lines FILE")
    return read_survey(profile, list(tables), class_opt=class_opt, crs=crs, mapping=m,
                       encoding=encoding)


def qa_pipes(profile: CityProfile, tables=None, **kw) -> QAResult:
    d = read_delivery(profile, tables, **kw)
    return run_qa(profile, d)


def load_pipes_files(conninfo: str, profile: CityProfile, tables=None, *, mode="update",
                     dataset=None, district=None, attach: float = 5.0, report_path=None,
                     **kw) -> tuple[PipeLoadReport, QAResult]:
    d = read_delivery(profile, tables, **kw)
    qa = run_qa(profile, d)
    if report_path:
        qa.write(report_path)
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in kw.items()
            if not isinstance(v, Mapping)}
    r = load_pipes(conninfo, profile, d, mode=mode, dataset=dataset, district=district,
                   attach=attach, qa=qa, options=opts)
    return r, qa
