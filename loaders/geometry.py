"""Vectorised geometry checks and repairs shared by all loaders (shapely 2 arrays)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyproj
import shapely

from loaders.convexity import convex_rings
from loaders.sources.batch import RING_CLOSED_FLAG, closed_rows
from loaders.sources.wkb import CURVE_FLAG, straightened_rows

MIN_AREA_M2 = 0.01
POLYGONAL = {3, 6}  # Polygon, MultiPolygon
LINEAR = {1, 5}  # LineString, MultiLineString
PUNTAL = {0, 4}  # Point, MultiPoint
FAMILIES = {"polygon": POLYGONAL, "line": LINEAR, "point": PUNTAL}
TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
              5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


class _Rejects(list):
    """The rows' reasons (None: kept) that also keep a mask of the rows given one, so that
    each step tests a NumPy mask instead of a Python pass over every row."""

    def __init__(self, n: int) -> None:
        super().__init__([None] * n)
        self.marked = np.zeros(n, dtype=bool)

    def __setitem__(self, i, value) -> None:
        super().__setitem__(i, value)
        self.marked[i] = value is not None


@dataclass
class Prepared:
    geoms: np.ndarray  # storage-CRS geometries (None where rejected)
    reject: _Rejects  # (reason, message) per row, None where kept; .marked: the rejected
    flags: list[list[str]]
    solid_height: np.ndarray | None = None  # z extent of 3D solids (LOD1 blocks), else NaN


def prepare(geoms: np.ndarray, transformer: pyproj.Transformer | None, family: str,
            keep_z: bool = False, make_multi: bool = True) -> Prepared:
    """Reject empty/non-finite/wrong-type geometries, transform, repair invalid ones.

    A geometry read from a curve, which GDAL straightened, is flagged ``curve_linearized``
    (:func:`loaders.sources.wkb.straightened_rows`), one read closed from a polygon ring that
    was not ``ring_closed`` (:func:`loaders.sources.batch.closed_rows`): nothing to look at
    unless the process holds one."""
    n = len(geoms)
    reject = _Rejects(n)
    flags: list[list[str]] = [[] for _ in range(n)]
    for i in straightened_rows(geoms).tolist():
        flags[i].append(CURVE_FLAG)
    for i in closed_rows(geoms).tolist():
        flags[i].append(RING_CLOSED_FLAG)
    geoms = np.array(geoms, dtype=object, copy=True)  # the caller keeps the input as read
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(np.where(missing, None, geoms))
    for i in np.flatnonzero(missing):
        reject[i] = ("empty_geometry", "the feature has no geometry (null)")
    for i in np.flatnonzero(empty):
        reject[i] = ("empty_geometry", "the geometry is empty")
    ok = ~(missing | empty)
    types = np.full(n, -1)
    types[ok] = shapely.get_type_id(geoms[ok])
    allowed = FAMILIES[family]
    for i in np.flatnonzero(ok & ~np.isin(types, list(allowed))):
        if types[i] == 7 and family in ("polygon", "line"):
            continue  # collections are filtered to their polygons (lines) below
        reject[i] = ("wrong_geometry_type",
                     f"{TYPE_NAMES.get(int(types[i]), types[i])} where a {family} is expected")
    ok &= ~reject.marked
    xy = _reject_nonfinite(geoms, ok, reject, "invalid_coordinates",
                           "coordinates are not finite numbers (NaN or infinity)")
    ok &= ~reject.marked
    has_z = np.zeros(n, dtype=bool)
    has_z[ok] = shapely.has_z(geoms[ok])
    solid_height = np.full(n, np.nan)
    if family == "polygon" and not keep_z:
        for i in np.flatnonzero(ok & has_z & (types == 6)):
            fp, h = _footprint_of_solid(geoms[i])
            if fp is not None:
                geoms[i], solid_height[i] = fp, h
                flags[i].append("footprint_of_solid")
                xy = None  # coordinates no longer those of every row
    if not keep_z and has_z.any():
        solid = np.isfinite(solid_height)
        for i in _elevated(geoms, np.flatnonzero(ok & has_z & ~solid)):
            flags[i].append("z_dropped")  # a layer in 2D: the elevations are not kept
        geoms[ok] = shapely.force_2d(geoms[ok])
    if keep_z:
        for i in np.flatnonzero(ok & ~has_z):
            flags[i].append("no_z")
    if transformer is not None and ok.any():
        geoms[ok] = transform_xy(geoms[ok], transformer)
        xy = _reject_nonfinite(geoms, ok, reject, "transform_failed",
                               "coordinates cannot be transformed to the storage CRS (wrong "
                               "--crs?)")
        ok &= ~reject.marked
    if family in ("polygon", "line") and ok.any():
        # a collection: its polygons (lines) alone, then judged as any other geometry — GEOS
        # holds a collection of overlapping squares valid, the MultiPolygon of them is not
        for i in np.flatnonzero(ok & (types == 7)):
            g = _only_family(geoms[i], family)
            if g is None or g.is_empty:
                reject[i] = ("wrong_geometry_type", f"collection without a {family}")
                continue
            if _dropped_parts(geoms[i], family):
                flags[i].append(PARTS_DROPPED)  # a line or point beside the polygons
            if family == "polygon" and not shapely.is_valid(g):
                if (holes := _hole_problem(g)) is not None:
                    reject[i] = ("invalid_geometry", holes)
                    continue
                # the collection's polygons overlap, or one is invalid itself: the footprint
                # they cover together, each part made valid first (a bowtie's union fails)
                g = _only_family(shapely.union_all(shapely.make_valid(shapely.get_parts(g))),
                                 family)
                if g is None or g.is_empty or g.area <= 0:
                    reject[i] = ("invalid_geometry", "invalid collection that cannot be "
                                 "repaired: " + str(shapely.is_valid_reason(geoms[i])))
                    continue
                flags[i].append("geometry_repaired")
            geoms[i] = g
        ok &= ~reject.marked
        idx = np.flatnonzero(ok)
        if family == "polygon" and xy is not None:
            # one convex ring is valid without GEOS's noding (loaders.convexity)
            at, coords, group = xy
            convex = np.zeros(n, dtype=bool)
            convex[at] = convex_rings(coords, group, len(at))
            idx = idx[~convex[idx] | (types[idx] == 7)]
        invalid = idx[~shapely.is_valid(geoms[idx])]
        for i in invalid:
            why = shapely.is_valid_reason(geoms[i])
            holes = _hole_problem(geoms[i]) if family == "polygon" else None
            if holes is not None:  # bad survey data: a repair would invent or lose an area
                reject[i] = ("invalid_geometry", f"{holes} ({why})")
                continue
            if family == "polygon" and types[i] == 6:
                fixed = _parts_together(geoms[i])
            else:
                fixed = shapely.make_valid(geoms[i])
            fixed = _only_family(fixed, family)
            if fixed is None or fixed.is_empty or (family == "polygon" and fixed.area <= 0):
                what = {"polygon": "encloses no area", "line": "has no length"}.get(
                    family, "is no geometry")
                reject[i] = ("invalid_geometry", f"invalid geometry that cannot be repaired: "
                             f"it {what} ({why})")
            else:
                geoms[i] = fixed
                flags[i].append("geometry_repaired")
    ok &= ~reject.marked
    if family == "polygon":
        # storage CRSs are metric: a polygon under 1 dm² is a sliver or a collapsed ring
        idx = np.flatnonzero(ok)
        tiny = idx[shapely.area(geoms[idx]) < MIN_AREA_M2]
        for i in tiny:
            reject[i] = ("invalid_geometry",
                         f"the polygon has (almost) no area ({shapely.area(geoms[i]):.2g} m²)")
        ok &= ~reject.marked
    if make_multi and ok.any() and family != "point":
        idx = np.flatnonzero(ok)
        parts, pidx = shapely.get_parts(geoms[idx], return_index=True)
        builder = shapely.multipolygons if family == "polygon" else shapely.multilinestrings
        geoms[idx] = builder(parts, indices=pidx)
    for i in np.flatnonzero(~ok):
        geoms[i] = None
    return Prepared(geoms=geoms, reject=reject, flags=flags, solid_height=solid_height)


def _hole_problem(g) -> str | None:
    """Why an invalid polygon ``g`` is not repaired because of its holes, else None:

    - an inner ring lying wholly or partly outside its own outer ring is no hole: make_valid
      keeps what lies outside the outline as land (a hole beside a building became a second
      part of it), an area the survey drew as none;
    - holes whose area make_valid's reading of the rings' linework and the outline less its
      holes disagree on — a hole touching the outline along an edge (a courtyard drawn open
      to the street: make_valid dropped it, the building gained its area), holes overlapping
      or nested: what the survey meant is not to be told from the rings.
    """
    polys = shapely.get_parts(g)
    for p, poly in enumerate(polys, 1):
        if shapely.get_type_id(poly) != 3 or not poly.interiors:
            continue
        of = f" of part {p}" if len(polys) > 1 else ""
        shell = shapely.make_valid(shapely.Polygon(poly.exterior))
        for k, ring in enumerate(poly.interiors, 1):
            hole = shapely.make_valid(shapely.Polygon(ring))
            outside = hole.difference(shell).area
            if outside > 1e-6:  # beyond rounding: a hole on its outline's edge is inside
                whole = "wholly" if not hole.intersects(shell) or outside >= hole.area \
                    else "partly"
                return (f"inner ring {k}{of} lies {whole} outside its outer ring "
                        f"({outside:.3g} m² of it outside): a hole (courtyard) must lie "
                        "inside its outline — not repaired, which would make the hole a part "
                        "the survey did not draw")
        if shapely.is_valid(poly):
            continue
        linework = _only_family(shapely.make_valid(poly), "polygon")
        # the outline less its holes (make_valid's "structure" method, which shapely 2.0
        # has not)
        holes = shapely.union_all(shapely.make_valid(shapely.polygons(poly.interiors)))
        a = 0.0 if linework is None else linework.area
        b = shell.difference(holes).area
        if abs(a - b) > 1e-6 + 1e-9 * max(a, b):
            return (f"the holes{of} cannot be told from the outline: {b:.6g} m² as the "
                    f"outline less its holes, {a:.6g} m² as the rings' linework repairs it — a "
                    "hole touching the outline along an edge (draw a courtyard open to the "
                    "street as part of the outline), or holes overlapping or inside another")
    return None


def _parts_together(g):
    """An invalid MultiPolygon's area: parts that overlap (a footprint drawn as two
    overlapping rectangles) cover it together — make_valid's linework cut the overlap out (two
    20 m squares overlapping by 10 m: 600 m², not 700) — and a part lying wholly inside
    another single part is its hole (a courtyard: a Shapefile's inner ring drawn clockwise
    reads as such a part), an island in that courtyard land again: nested parts alternate, as
    the linework had them. A part repeated (a ring written twice) counts once. Largest parts
    first."""
    parts = sorted((p for p in shapely.get_parts(shapely.make_valid(shapely.get_parts(g)))
                    if not p.is_empty and p.area > 0), key=lambda p: -p.area)
    seen: list = []
    acc = None
    for part in parts:
        if any(part.equals(k) for k in seen):
            continue
        depth = sum(1 for k in seen if k.contains_properly(part))
        seen.append(part)
        if acc is None:
            acc = part
        else:
            acc = acc.difference(part) if depth % 2 else acc.union(part)
    return acc if acc is not None else shapely.make_valid(g)


def _elevated(geoms: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Those of rows ``idx`` whose Z carries elevations: a finite Z other than 0 (a PolygonZ
    Shapefile with every Z 0, as many exports write, loses nothing in 2D)."""
    if not len(idx):
        return idx
    coords, at = shapely.get_coordinates(geoms[idx], include_z=True, return_index=True)
    z = coords[:, 2]
    return np.unique(idx[at[np.isfinite(z) & (z != 0)]])


def _footprint_of_solid(g) -> tuple[object | None, float]:
    """(2D footprint, height) of a 3D solid given as its faces (a LOD1 block), or (None, nan)
    for a surface without walls (a 2.5D polygon: its own projection is the footprint)."""
    faces = shapely.get_parts(g)
    if len(faces) < 4:
        return None, np.nan
    flat = shapely.force_2d(faces)
    area = shapely.area(flat)
    walls = area < 1e-6
    if not walls.any() or walls.all():
        return None, np.nan
    z = shapely.get_coordinates(g, include_z=True)[:, 2]
    footprint = shapely.union_all(shapely.make_valid(flat[~walls]))
    return footprint, float(np.nanmax(z) - np.nanmin(z))


def transform_xy(geoms: np.ndarray, t: pyproj.Transformer | None) -> np.ndarray:
    """Transform the horizontal coordinates; heights (1985 datum) are kept as they are.

    2D and 3D geometries may be mixed; missing geometries stay missing.
    """
    out = np.asarray(geoms, dtype=object).copy()
    ok = ~shapely.is_missing(out)
    if t is None or not ok.any():
        return out

    def fn(c: np.ndarray) -> np.ndarray:
        x, y = t.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y, c[:, 2]]) if c.shape[1] == 3 else np.column_stack([x, y])

    idx = np.flatnonzero(ok)
    zs = shapely.has_z(out[idx])
    for with_z in (True, False):
        sel = idx[zs == with_z]
        if sel.size:
            out[sel] = shapely.transform(out[sel], fn, include_z=with_z)
    return out


def _reject_nonfinite(geoms, ok, reject, reason, message
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Reject the rows ``ok`` whose coordinates are not all finite; the XY coordinates
    read for it, (rows, coordinates, index of each coordinate's row among them), kept for
    the validity check."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return None
    coords, cidx = shapely.get_coordinates(geoms[idx], include_z=False, return_index=True)
    bad = np.unique(cidx[~np.isfinite(coords).all(axis=1)])
    for j in bad:
        reject[idx[j]] = (reason, message)
    return idx, coords, cidx


# a collection's parts of another family (a line beside its polygons) left out of the feature
PARTS_DROPPED = "collection_parts_dropped"


def collection_family(g) -> str | None:
    """The family a GeometryCollection loads as: its polygons' where it has any, else its
    lines'; None for one of points only."""
    for family in ("polygon", "line"):
        if _only_family(g, family) is not None:
            return family
    return None


def _leaves(g) -> list:
    """The single geometries of ``g``, collections inside collections flattened (a CAD
    export nests them)."""
    out: list = []
    for p in shapely.get_parts(g):
        if shapely.get_type_id(p) in (4, 5, 6, 7):
            out.extend(_leaves(p))
        elif not p.is_empty:
            out.append(p)
    return out


def _dropped_parts(g, family: str) -> int:
    """How many parts of collection ``g`` are of another family (as :func:`_only_family`
    flattens it)."""
    allowed = FAMILIES[family]
    return sum(1 for q in _leaves(g) if shapely.get_type_id(q) not in allowed)


def _only_family(g, family: str):
    if g is None:
        return None
    allowed = FAMILIES[family]
    parts = [p for p in _leaves(g) if shapely.get_type_id(p) in allowed]
    if not parts:
        return None
    if family == "polygon":
        return shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]
    if family == "line":
        return shapely.MultiLineString(parts) if len(parts) > 1 else parts[0]
    return shapely.MultiPoint(parts) if len(parts) > 1 else parts[0]


def geometry_keys(geoms: np.ndarray) -> list[str]:
    """Stable identity of geometries (rounded to 1 mm) for sources without ids."""
    g = shapely.normalize(shapely.set_precision(geoms, 0.001))
    return ["g" + hashlib.sha1(w).hexdigest()[:20] if w is not None else ""
            for w in shapely.to_wkb(g)]


_MULTI_OF = {"polygon": (3, 6), "line": (1, 5)}


def multi_iso_wkb(geoms: np.ndarray, family: str, as_read: np.ndarray | None = None,
                  arrow: Any = None) -> np.ndarray | Any:
    """ISO WKB (little-endian, Z kept, no SRID; None where missing) of ``geoms`` with each
    single Polygon (LineString) written as a MultiPolygon (MultiLineString) of one part:
    byte for byte what ``shapely.to_wkb`` gives of :func:`as_multi`'s geometries, without
    building them (a one-part multi's WKB is its header, then the part's own WKB).
    ``as_read``: the rows' own WKB where it is what shapely would write
    (:func:`loaders.sources.wkb.as_read_wkb`), not written again. ``arrow``: the Arrow
    binary column ``as_read``'s bytes were read from, row for row: the result is then an
    Arrow binary array built from it, with no Python bytes a row (a batch's 50,000 WKB turned
    into Arrow from Python bytes: 11 ms, three times on the way to the COPY buffer)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if arrow is not None and as_read is not None:
        if isinstance(arrow, pa.ExtensionArray):
            arrow = arrow.storage
        if isinstance(arrow, pa.Array) and pa.types.is_binary(arrow.type) \
                and len(arrow) == len(geoms):
            return _multi_iso_arrow(geoms, family, as_read, arrow)
    if as_read is not None and (given := np.asarray(as_read != None)).any():  # noqa: E711
        wkb = np.asarray(as_read, dtype=object).copy()
        rest = np.flatnonzero(~given)
        if len(rest):
            wkb[rest] = shapely.to_wkb(geoms[rest], byte_order=1, flavor="iso",
                                       include_srid=False, output_dimension=3)
    else:
        wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso", include_srid=False,
                             output_dimension=3)
    one, many = _MULTI_OF[family]
    types = shapely.get_type_id(geoms)
    idx = np.flatnonzero(types == one)
    if not len(idx):
        return wkb
    heads = _one_part_heads(geoms[idx], many)
    joined = pc.binary_join_element_wise(heads, pa.array(wkb[idx], pa.binary()), b"")
    out = wkb.copy()
    out[idx] = joined.to_numpy(zero_copy_only=False)
    return out


def _one_part_heads(singles: np.ndarray, many: int) -> Any:
    """The header of a one-part multi (type ``many``, Z where the part has it) for each of
    ``singles``, as an Arrow binary array to join before each part's own WKB."""
    import pyarrow as pa

    code = np.where(shapely.has_z(singles), 1000 + many, many).astype("<u4")
    head = np.empty((len(singles), 9), dtype=np.uint8)
    head[:, 0] = 1
    head[:, 1:5] = code.view(np.uint8).reshape(-1, 4)
    head[:, 5:9] = np.frombuffer(np.uint32(1).astype("<u4").tobytes(), dtype=np.uint8)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(9), len(singles), [
        None, pa.py_buffer(head.tobytes())]).cast(pa.binary())


def _multi_iso_arrow(geoms: np.ndarray, family: str, as_read: np.ndarray, arrow: Any) -> Any:
    """:func:`multi_iso_wkb` in Arrow: the rows as read are ``arrow``'s own, the others
    written by shapely, the single parts given their one-part multi's header."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(geoms)
    given = np.asarray(as_read != None)  # noqa: E711
    out = arrow
    if not given.all():
        rest = shapely.to_wkb(geoms[~given], byte_order=1, flavor="iso", include_srid=False,
                              output_dimension=3)
        out = pc.replace_with_mask(out, pa.array(~given), pa.array(rest, pa.binary()))
    one, many = _MULTI_OF[family]
    idx = np.flatnonzero(shapely.get_type_id(geoms) == one)
    if not len(idx):
        return out
    heads = _one_part_heads(geoms[idx], many)
    parts = out if len(idx) == n else out.take(pa.array(idx))
    joined = pc.binary_join_element_wise(heads, parts, b"")
    if len(idx) == n:
        return joined
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(out, pa.array(mask), joined)


def points_iso_wkb(geoms: np.ndarray) -> Any:
    """ISO WKB (little-endian, no SRID) of 2D points as an Arrow binary array, written from
    their coordinates with NumPy — byte for byte what ``shapely.to_wkb`` writes (byte order,
    type 1, x, y); None unless every geometry is a non-empty 2D point (the caller then asks
    shapely). A component census is mostly points: 50,000 of them written by shapely and
    turned into Arrow cost ~20 ms a batch."""
    import pyarrow as pa

    n = len(geoms)
    if not n or (shapely.get_type_id(geoms) != 0).any() or shapely.has_z(geoms).any() \
            or shapely.is_empty(geoms).any():
        return None
    rec = np.empty(n, dtype=[("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
    xy = shapely.get_coordinates(geoms)
    rec["order"], rec["type"], rec["x"], rec["y"] = 1, 1, xy[:, 0], xy[:, 1]
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(21), n, [
        None, pa.py_buffer(rec.tobytes())]).cast(pa.binary())


def as_multi(geoms: np.ndarray, family: str) -> np.ndarray:
    """Polygons (lines) as one-part multis, as :func:`prepare` stores them by default; other
    geometries and None unchanged."""
    out = np.array(geoms, dtype=object, copy=True)
    one = _MULTI_OF[family][0]
    idx = np.flatnonzero(shapely.get_type_id(out) == one)
    if len(idx):
        builder = shapely.multipolygons if family == "polygon" else shapely.multilinestrings
        out[idx] = builder(out[idx], indices=np.arange(len(idx)))
    return out


def ewkb(geoms: np.ndarray, srid: int, with_z: bool = False) -> np.ndarray:
    return shapely.to_wkb(shapely.set_srid(geoms, srid), include_srid=True,
                          output_dimension=3 if with_z else 2)
