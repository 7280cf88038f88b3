"""Generic GIS pipe layers (``--lines`` [``--points``] [``--valves``]) → a :class:`Delivery`.

Networks exported from other systems are lines with attributes, not survey tables: their fields
are mapped by the aliases and the mapping file, their geometry is reprojected to the storage
CRS here, and their nodes are either named on the lines (node ids) or rebuilt from the line
ends (:mod:`loaders.pipes.topology`). Valve and other appurtenance layers become points with the
``valve`` role, attached to their pipe when loading.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely

from cim import crs as cimcrs
from cim.errors import InputError
from cim.profile import CityProfile
from loaders.common import jsonable
from loaders.fields import as_float, as_text
from loaders.geometry import transform_xy
from loaders.pipes.dictionaries import PipeDictionaries
from loaders.pipes.fields import (
    POINT_COLUMNED,
    SEGMENT_COLUMNED,
    ClassResolver,
    as_delivered,
    field_aliases,
    id_text,
    parse_value,
    resolve_features,
    segment_values,
    text_id,
)
from loaders.pipes.records import (
    FIELD_ZH,
    LINE_ENDS,
    Delivery,
    PointRec,
    RowAttrs,
    SegRec,
    held_out,
)
from loaders.pipes.topology import nodes_by_snapping, nodes_from_ids
from loaders.sources.layer_points import single_points
from loaders.sources.tables import Mapping, Table, match_headers


def split_layer(path: str | Path) -> tuple[Path, str | None]:
    """``FILE:LAYER`` names a layer of a multi-layer source (network.gpkg:valves)."""
    s = str(path)
    if not Path(s).exists() and ":" in s:
        base, layer = s.rsplit(":", 1)
        if Path(base).exists() and layer:
            return Path(base), layer
    return Path(s), None


def _read_layer(path: Path, encoding: str | None, source_layer: str | None = None):
    from loaders.sources.read import iter_batches, open_source

    path, named = split_layer(path)
    src = open_source(path, source_layer or named, encoding)
    cols: dict[str, list] = defaultdict(list)
    geoms = []
    rows: list[int] = []  # each feature's row as the reader numbers it (a CSV's header, gaps)
    # GDAL's WKT of a geometry it read and GEOS refuses (a line of one point): read as
    # missing, it was "no geometry" and the delivered line was gone from the reject
    refused: dict[int, str] = {}
    for b in iter_batches(src):
        for k, v in b.columns.items():
            cols[k].extend(v.tolist())
        missing = np.flatnonzero(shapely.is_missing(b.geometries)).tolist()
        refused.update({len(geoms) + i: t for i, t in b.refused_geometries(missing).items()})
        geoms.extend(b.geometries.tolist())
        rows.extend(b.row(i) for i in range(len(b)))
    return (src, {k: cols[k] for k in src.fields if k in cols}, np.array(geoms, dtype=object),
            rows, refused)


def _gis_crs(src, crs_opt, geoms, srid, notes: list[str]
             ) -> tuple[pyproj.CRS, pyproj.Transformer | None]:
    from loaders.engine.area import resolve_source_crs
    from loaders.sources.read import Batch

    first = Batch(first_row=1, columns={}, geometries=geoms[:2000])
    crs, said = resolve_source_crs(src, crs_opt, first, srid)
    # of what the resolution says, what a pipe's heights depend on (its Z: 地面高程, inverts)
    # (once a file: a GeoPackage's line and node layers said it twice)
    for n in said:
        if "above the ellipsoid" in n or "height datum" in n:
            n = n if n.startswith(src.path.name) else f"{src.path.name}: {n}"
            if n not in notes:
                notes.append(n)
    return crs, cimcrs.to_storage(crs, srid, str(src.path))


Z_SAME = 0.0005  # m: a point's Z and its 地面高程 the same (to the millimetre they are stored)

# the attributes a GIS point layer's fields give that a column holds as delivered (its map
# number is not read; a blank ground elevation is taken from the point's Z; the pipe id names
# no platform code and is not listed)
GIS_POINT_COLUMNED = POINT_COLUMNED - {"map_no", "ground_elevation"}


def _gis_names(cols: dict[str, list]) -> tuple[str, ...]:
    """A layer's field names, and where a row came from unless the layer has such a field
    (never overwritten)."""
    return tuple(cols) + tuple(k for k in ("_table", "_row") if k not in cols)


def _gis_attrs(cols: dict[str, list], names: tuple[str, ...], i: int, table: str,
               row: int) -> RowAttrs:
    where = {"_table": table, "_row": row}
    return RowAttrs(names, tuple(jsonable(cols[k][i]) if k in cols else where[k]
                                 for k in names))


def read_gis(profile: CityProfile, lines: str | Path, *, points: str | Path | None = None,
             valves: str | Path | None = None, class_opt: str | None = None,
             crs: str | None = None, mapping: Mapping | None = None,
             encoding: str | None = None, snap: float = 0.01,
             layers: dict[str, str | None] | None = None) -> Delivery:
    """Read a GIS line layer (plus node and appurtenance point layers) into records."""
    mapping = mapping or Mapping()
    layers = layers or {}
    dicts = PipeDictionaries(profile)
    aliases = field_aliases(profile)
    resolver = ClassResolver(dicts, class_opt, mapping)
    srid = profile.srid
    notes: list[str] = []
    src, cols, geoms, rows, refused = _read_layer(lines, encoding, layers.get("lines"))
    lines = src.path
    source_crs, t = _gis_crs(src, crs, geoms, srid, notes)
    epsg = cimcrs.epsg_of(source_crs)
    override, strict = mapping.for_kind("lines")
    m = match_headers(list(cols), aliases["segments"], override, table=lines.name, strict=strict)
    notes.append("lines fields: " + ", ".join(f"{k}←{v}" for k, v in m.items()))
    tclass = resolver.for_table(Table(lines, src.layer, list(cols), [], []))
    if tclass is None and "class" not in m:
        raise InputError("cannot tell the pipe class of the line layer: pass --class, give "
                         "'class:' in the mapping file or map a class field", path=str(lines))
    has_nodes = "start_no" in m and "end_no" in m
    lgeoms = _flat_as_2d(transform_xy(geoms, t))
    tname = lines.name if not src.layer or src.layer == lines.stem else f"{lines.name}:{src.layer}"
    segs: list[SegRec] = []
    # the ends' columns only where the ends are read from them (else from the geometry)
    columns = {tname: {a: f for a, f in m.items()
                       if has_nodes or a not in ("start_no", "end_no")}}
    names = _gis_names(cols)
    # without node ids on both ends the ends come from snapping: a delivered one stays
    stored = held_out(names, m, SEGMENT_COLUMNED if has_nodes
                      else SEGMENT_COLUMNED - {"start_no", "end_no"}, mapping, "lines")
    for i in range(len(geoms)):
        s = SegRec(seq=i + 1, table=tname, row=rows[i],
                   attrs=_gis_attrs(cols, names, i, tname, rows[i]))

        def v(a, i=i):
            return mapping.value("lines", a, cols[m[a]][i] if a in m else None)

        segment_values(s, v, tclass, resolver, dicts)
        # rejects keep the geometry as delivered (GDAL's text of one GEOS refuses)
        s.delivered = refused.get(i, geoms[i])
        if not has_nodes:  # ends come from snapping, not from the attributes
            s.problems = [p for p in s.problems if p[1] not in (FIELD_ZH["start_no"],
                                                                FIELD_ZH["end_no"])]
        s.line, problem = _one_line(lgeoms[i]) if i not in refused else (None, (
            "bad_value", "geometry", refused[i][:200], "no usable geometry "
            "(a line needs two points): redraw it"))
        if problem:
            s.problems.append(problem)
        if not s.problems:  # a row with a problem keeps every value (see survey._storing)
            s.attrs = s.attrs.storing(stored)
        segs.append(s)
    seq = len(segs)
    pts: list[PointRec] = []
    derived = 0
    node_table = None
    if points is not None:
        pts, node_table, ncolumns = _read_gis_points(
            profile, Path(points), "nodes", aliases, mapping, resolver, dicts, crs, encoding,
            seq, layers.get("points"), source_crs, notes)
        columns[node_table] = ncolumns
        seq += len(pts)
    if has_nodes:
        derived = nodes_from_ids(segs, pts, dicts, seq, snap)
        turned = sum(s.drawn_reversed for s in segs)
        if turned:
            notes.append(f"{turned} lines drawn from their end node to their start node are "
                         "stored from start to end (flagged drawn_reversed)")
        if derived:
            notes.append(f"{derived} topology nodes made at line ends named by node ids "
                         f"({'absent from ' + node_table if node_table else 'no point layer'})")
    else:
        derived = nodes_by_snapping(segs, pts, dicts, snap, seq)
        notes.append(f"topology rebuilt by snapping line ends within {snap:g} m: "
                     f"{derived} nodes made")
    seq += derived
    _derived_as_delivered(pts, t)
    if valves is not None:
        vpts, vtable, vcolumns = _read_gis_points(
            profile, Path(valves), "valves", aliases, mapping, resolver, dicts, crs, encoding,
            seq, layers.get("valves"), source_crs, notes)
        columns[vtable] = vcolumns
        for p in vpts:
            p.role = "valve"
        pts += vpts
    tables = [tname] + sorted({p.table for p in pts if p.table != LINE_ENDS})
    # problems named by each layer's own fields, once the topology has read them
    as_delivered((s.problems for s in segs), columns[tname])
    for table, cols_of in columns.items():
        if table != tname:
            as_delivered((p.problems for p in pts if p.table == table), cols_of)
    return Delivery(points=pts, segments=segs, tables=tables, survey=False,
                    source_crs=cimcrs.crs_text(source_crs), source_srid=epsg,
                    notes=notes, derived_nodes=derived, columns=columns, snap=snap,
                    files=[split_layer(x)[0] for x in (lines, points, valves) if x is not None],
                    inputs=[split_layer(lines)[0]])


def _derived_as_delivered(pts: list[PointRec], t: pyproj.Transformer | None) -> None:
    """Nodes made at line ends get their position in the delivery's CRS too (for rejects)."""
    made = [p for p in pts if p.delivered is None and p.e is not None]
    if not made:
        return
    e = np.array([p.e for p in made])
    n = np.array([p.n for p in made])
    if t is not None:
        e, n = t.transform(e, n, direction=pyproj.enums.TransformDirection.INVERSE)
    for p, x, y in zip(made, e, n):
        p.delivered = shapely.Point(x, y) if p.ground is None else shapely.Point(x, y, p.ground)


def _one_line(g) -> tuple[Any, tuple[str, str, Any, str] | None]:
    """A feature's geometry as one LineString, or the problem it has."""
    if g is None or shapely.is_missing(g):
        return None, ("missing_value", "geometry", None, "the feature has no geometry")
    if g.is_empty:
        return None, ("missing_value", "geometry", None, "the geometry is empty")
    if g.geom_type not in ("LineString", "MultiLineString"):
        return None, ("bad_value", "geometry", g.geom_type, "a line is expected")
    if not np.isfinite(shapely.get_coordinates(g, include_z=False)).all():
        return None, ("bad_value", "geometry", None, "coordinates are not finite")
    if g.geom_type == "LineString":
        return g, None
    line, why = merge_parts(g)
    if why:
        return None, ("bad_value", "geometry", "MultiLineString",
                      f"{why}: a pipe segment must be one line")
    return line, None


def _is_flat(geoms: np.ndarray) -> bool:
    """Whether a layer is 2D written in 3D: Z values, every one 0 (ArcGIS and Shapefile
    exports write PointZ and PolylineZ so) — no Z, as ``topology.end_grounds`` takes a line's."""
    zs = _layer_z(geoms)
    return zs is not None and not np.any(np.isfinite(zs) & (zs != 0))


def _layer_z(geoms: np.ndarray) -> np.ndarray | None:
    """Every Z of a layer's geometries, None for a layer without Z."""
    present = ~shapely.is_missing(geoms)
    if not present.any() or not shapely.has_z(geoms[present]).any():
        return None
    return shapely.get_coordinates(geoms[present], include_z=True)[:, 2]


# a point layer whose every other Z lies farther than this from 0 holds no real elevation 0
ZERO_Z_AWAY = 10.0  # m


def _zero_is_no_z(geoms: np.ndarray) -> bool:
    """Whether a Z of exactly 0 in this point layer means "no elevation": the layer has
    elevations, and none of them within :data:`ZERO_Z_AWAY` of 0 (a terrain at 400–1,050 m
    has no point at 0; a coastal city's, at −1 to 5 m, may)."""
    zs = _layer_z(geoms)
    if zs is None:
        return False
    real = zs[np.isfinite(zs) & (zs != 0)]
    return bool(len(real)) and bool(np.all(np.abs(real) > ZERO_Z_AWAY)) and bool(
        np.any(zs == 0))


def _flat_as_2d(geoms: np.ndarray) -> np.ndarray:
    """A line layer 2D written in 3D as 2D: its lines stored without Z and flagged ``no_z``
    (their Z of 0 read as elevations put every pipe at sea level in a cross-section)."""
    if _is_flat(geoms):
        present = ~shapely.is_missing(geoms)
        geoms = geoms.copy()
        geoms[present] = shapely.force_2d(geoms[present])
    return geoms


def merge_parts(g) -> tuple[Any, str | None]:
    """A MultiLineString's parts as one LineString, every vertex kept (or why they are not one
    line: separate parts, a branch).

    Parts join where one ends at the place (easting, northing) another starts or ends at,
    exactly, as GEOS's line merge joins them; the line runs the way its first part is drawn.
    Two parts meeting at one place at different heights keep both vertices — a drop (跌水) is
    a line with two vertices at one place, the upper and the lower — and the same vertex is
    kept once. A part with no length in plan (a vertical part, a point repeated) joins where
    the line passes its place; a line whose parts all have none is a line of no length (QA:
    length_under_min), as a LineString of one point repeated is."""
    parts = [shapely.get_coordinates(p, include_z=g.has_z) for p in g.geoms if not p.is_empty]
    if len(parts) == 1:
        return _linestring(parts[0]), None
    flat = [c for c in parts if (c[:, :2] == c[0, :2]).all()]
    runs = [c for c in parts if not (c[:, :2] == c[0, :2]).all()]
    if not runs:
        places = {tuple(c[0, :2]) for c in flat}
        return (_linestring(_joined(flat)), None) if len(places) == 1 else (
            None, f"{len(places)} separate parts")
    ends: dict[tuple, list[int]] = {}
    for k, c in enumerate(runs):
        ends.setdefault(tuple(c[0, :2]), []).append(k)
        ends.setdefault(tuple(c[-1, :2]), []).append(k)
    if any(len(v) > 2 for v in ends.values()):
        return None, "the parts branch"
    # walk from a free end (or the first part's start where the parts close a ring)
    at = next((p for p, v in ends.items() if len(v) == 1), tuple(runs[0][0, :2]))
    used: set[int] = set()
    chain: list[np.ndarray] = []
    while (k := next((k for k in ends[at] if k not in used), None)) is not None:
        used.add(k)
        c = runs[k] if tuple(runs[k][0, :2]) == at else runs[k][::-1]
        chain.append(c)
        at = tuple(c[-1, :2])
    if not any(c is runs[0] for c in chain):  # the way the first part is drawn
        chain = [c[::-1] for c in reversed(chain)]
    left = flat

    def at_place(xy) -> list[np.ndarray]:
        nonlocal left
        here = [f for f in left if (f[0, :2] == xy).all()]
        left = [f for f in left if not (f[0, :2] == xy).all()]
        return here

    out = at_place(chain[0][0, :2])
    for c in chain:
        out += [c, *at_place(c[-1, :2])]
    if len(used) < len(runs) or left:
        return None, f"{_pieces(runs, ends) + len(left)} separate parts"
    return _linestring(_joined(out)), None


def _pieces(runs: list[np.ndarray], ends: dict[tuple, list[int]]) -> int:
    """How many separate lines the parts make."""
    parent = list(range(len(runs)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for ks in ends.values():
        for k in ks[1:]:
            parent[root(k)] = root(ks[0])
    return len({root(k) for k in range(len(runs))})


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """Parts end to end: a vertex one part ends and the next begins with is kept once (the
    same place and height), two at one place and different heights both; a part of no length
    turned to begin at the height the line is at."""
    out = [parts[0]]
    for c in parts[1:]:
        last = out[-1][-1]
        if (c[:, :2] == c[0, :2]).all() and (c[-1] == last).all() and not (c[0] == last).all():
            c = c[::-1]
        out.append(c[1:] if (c[0] == last).all() else c)
    return np.concatenate(out)


def _linestring(c: np.ndarray):
    return shapely.linestrings(c if len(c) > 1 else np.repeat(c, 2, axis=0))


def _read_gis_points(profile, path: Path, section: str, aliases, mapping: Mapping, resolver,
                     dicts, crs_opt, encoding, seq0: int, source_layer: str | None,
                     delivery_crs: pyproj.CRS, notes: list[str]
                     ) -> tuple[list[PointRec], str, dict[str, str]]:
    srid = profile.srid
    src, cols, geoms, rows, _ = _read_layer(path, encoding, source_layer)
    path = src.path
    pcrs, t = _gis_crs(src, crs_opt, geoms, srid, notes)
    # rejects are kept in the delivery's CRS (the line layer's): a point layer in another
    # CRS has its delivered geometries brought into it
    delivered = geoms if pcrs.equals(delivery_crs) else transform_xy(
        geoms, cimcrs.transformer(pcrs.to_wkt(), delivery_crs.to_wkt()))
    override, strict = mapping.for_kind(section)
    m = match_headers(list(cols), aliases["points"], override, table=path.name, strict=strict)
    g2 = transform_xy(single_points(geoms), t)
    flat = _is_flat(g2)
    zero_unknown = _zero_is_no_z(g2)
    tname = path.name if not src.layer or src.layer == path.stem else f"{path.name}:{src.layer}"
    out = []
    zeros = 0
    names = _gis_names(cols)
    stored = held_out(names, m, GIS_POINT_COLUMNED, mapping, section)
    for i in range(len(geoms)):
        p = PointRec(seq=seq0 + i + 1, table=tname, row=rows[i],
                     attrs=_gis_attrs(cols, names, i, tname, rows[i]), delivered=delivered[i])
        pr = p.problems

        def v(a, i=i):
            return mapping.value(section, a, cols[m[a]][i] if a in m else None)

        p.cls, problem = resolver.for_row(resolver.given, v("class"), v("subclass"))
        if problem:
            pr.append(problem)
        p.point_no = parse_value(p, pr, "点号", id_text, v("point_no"))
        if p.point_no is None and not pr:
            pr.append(("missing_value", FIELD_ZH["point_no"], None, "empty"))
        p.feature_raw = parse_value(p, pr, "特征", lambda x: as_text(x, 50), v("feature"))
        p.appurtenance_raw = parse_value(p, pr, "附属物", lambda x: as_text(x, 50),
                                    v("appurtenance"))
        p.segment_id = parse_value(p, pr, "所在管段", id_text, v("segment_id"))
        p.road = parse_value(p, pr, "道路名称", lambda x: as_text(x, 200), v("road"))
        p.note = parse_value(p, pr, "备注", lambda x: as_text(x, 1000), v("note"))
        p.survey_code = parse_value(p, pr, "点编码", text_id, v("survey_code"))
        ground = parse_value(p, pr, "地面高程", lambda x: as_float(x, -500, 9000),
                        v("ground_elevation"))
        g = g2[i]  # (one-point MultiPoints read as their points: single_points)
        if g is None or shapely.is_missing(g) or g.is_empty:
            pr.append(("missing_value", "geometry", None, "the feature has no geometry"))
        elif g.geom_type != "Point":
            pr.append(("bad_value", "geometry", g.geom_type, "a point is expected"
                       + (" (a MultiPoint of one point is read as its point)"
                          if g.geom_type == "MultiPoint" else "")))
        elif not np.isfinite([g.x, g.y]).all():
            pr.append(("bad_value", "geometry", None, "coordinates are not finite"))
        else:
            p.e, p.n = float(g.x), float(g.y)
            p.z = float(g.z) if g.has_z and np.isfinite(g.z) and not flat else None
            if p.z == 0.0 and zero_unknown:
                # 0 beside elevations of 400–1,050 m is no elevation (QWAT's unknown): read
                # as one, a cross-section sloped from 485 m to 0 at its end; kept in attrs
                p.z, p.extra = None, {"_geometry_z": 0.0}
                zeros += 1
            p.ground = ground if ground is not None else p.z
            # a blank 地面高程 in its column: the Z stands in for it, said so (flagged)
            p.ground_from_z = ground is None and p.z is not None and "ground_elevation" in m
            if p.z is not None and p.ground is not None and abs(p.z - p.ground) > Z_SAME:
                # stored at its 地面高程: the Z it was delivered at is kept beside it (QA
                # flags it beyond its tolerance: z_differs_from_ground)
                p.extra = {"_geometry_z": p.z}
        resolve_features(p, dicts)
        if not pr:
            p.attrs = p.attrs.storing(stored)
        out.append(p)
    if zeros:
        notes.append(f"{tname}: {zeros} points with Z 0 among elevations all farther than "
                     f"{ZERO_Z_AWAY:g} m from 0: taken as no elevation (flagged no_z where no "
                     "地面高程 gives one; the Z kept in attrs as _geometry_z)")
    if "ground_elevation" not in m and any(p.z is not None for p in out):
        notes.append(f"{tname}: no ground elevation field (地面高程): the points' Z is taken "
                     "as their ground elevation")
    return out, tname, dict(m)
