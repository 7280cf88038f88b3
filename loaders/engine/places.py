"""Where a direct write places its rows: the current districts and grid cells (:class:`Areas`,
read once before the converters fork) and the rule that picks a feature's district and grid
cell beside the data (:class:`AreaIndex`), the staged writer's SQL join's rule
(:func:`share_sql` is that rule's share, in SQL)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import psycopg
import shapely

from cim.errors import DatabaseError
from cim.layerdefs import LayerDef

# a share is compared as a fraction of the feature rounded to this many parts: shares within
# one part of each other tie (the lowest code wins), so that PostGIS's and shapely's GEOS,
# which may differ in the last bits of an intersection, decide alike
SHARE_PARTS = 1e9
# an area that covers a feature within this many metres holds it though its share is 0: a line
# drawn along the city's boundary, its vertices snapped onto the edge a few 1e-10 m outside
TOUCH_TOLERANCE = 1e-3


@dataclass
class Areas:
    """Current districts and grid cells (storage CRS), sorted by code; ``grid_districts``: the
    district code of each grid cell (None: unknown, no cell is preferred by district)."""

    district_codes: list[str]
    districts: np.ndarray
    grid_codes: list[str]
    grid: np.ndarray
    grid_districts: list[str] | None = None


def share_sql(area: str, geom: str) -> str:
    """SQL of the share of the feature ``geom`` (an expression of its normalized, valid
    geometry: :func:`share_geometry_sql`) that area ``area`` holds, as
    :meth:`AreaIndex.shares` takes it: its area, length or number of points (by the feature's
    dimension) in the area, in :data:`SHARE_PARTS` of the feature's, rounded."""
    def size(g: str) -> str:
        return (f"(CASE ST_Dimension({geom}) WHEN 2 THEN ST_Area({g}) WHEN 1 THEN "
                f"ST_Length({g}) ELSE ST_NPoints({g}) END)::float8")
    return (f"(SELECT CASE WHEN t > 0 THEN floor(p / t * {SHARE_PARTS:.0f} + 0.5) ELSE 0 END "
            f"FROM (SELECT {size(f'ST_Intersection({geom}, {area})')} AS p, {size(geom)} AS t"
            ") z)")


def share_geometry_sql(geom: str) -> str:
    """SQL of the geometry a share is taken of: made valid where it is not, normalized (a
    line digitised either way is the same line)."""
    return (f"ST_Normalize(CASE WHEN ST_IsValid({geom}) THEN {geom} "
            f"ELSE ST_MakeValid({geom}) END)")


class _Covers:
    """Which areas of one tree cover a feature, decided mostly without GEOS: each area meeting
    the feature's bounding box (a candidate) covers the feature or not. An axis-aligned box
    (most grid cells) answers by the feature's bounds; an area met by many features (a
    district) by a raster of the cells it covers and of those it does not meet, looked up
    with the feature's bounds (all covered: it covers the feature; all clear: it does not); the
    rest by a prepared ``covers``, asked only where no lower area is already known to cover
    the feature. Each answer is exact."""

    RASTER = 256  # cells a side of an area's raster (a 30 km district: 117 m; a power of 2)
    RASTER_AFTER = 4096  # features that met a non-box area (all calls) before its raster

    def __init__(self, areas: np.ndarray) -> None:
        shapely.prepare(areas)
        self.areas = areas
        self.tree = shapely.STRtree(areas)
        self.bounds = tuple(np.ascontiguousarray(shapely.bounds(areas).T))
        self.box = shapely.equals(areas, shapely.envelope(areas)) & (shapely.area(areas) > 0)
        self.rasters: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.met = np.zeros(len(areas), dtype=np.int64)  # features met, per non-box area

    def decide(self, geoms: np.ndarray, bounds: tuple[np.ndarray, ...]) -> np.ndarray:
        """Per feature (``bounds`` theirs: xmin, ymin, xmax, ymax columns), the lowest index
        of the areas covering it; -2 where none covers it but some meet its bounding box (its
        shares decide: :meth:`AreaIndex.shares`); -1 where no area's bounding box meets the
        feature's (no area has a share of it)."""
        n = len(geoms)
        fi, ai = self.tree.query(geoms)  # bounding boxes only
        if not len(fi):
            return np.full(n, -1, dtype=np.int64)
        cov, known = np.zeros(len(fi), dtype=bool), np.zeros(len(fi), dtype=bool)
        box = self.box[ai]
        on = np.flatnonzero(box)
        if len(on):  # a box covers the feature if and only if it holds its bounds
            f, a = fi[on], ai[on]
            ab = self.bounds
            cov[on] = (bounds[0][f] >= ab[0][a]) & (bounds[1][f] >= ab[1][a]) & \
                (bounds[2][f] <= ab[2][a]) & (bounds[3][f] <= ab[3][a])
            known[on] = True
        other = np.flatnonzero(~box)
        if len(other):
            self.met += np.bincount(ai[other], minlength=len(self.met))
            for a in np.unique(ai[other][self.met[ai[other]] >= self.RASTER_AFTER]).tolist():
                at = other[ai[other] == a]
                c, away = self._in_raster(a, [b[fi[at]] for b in bounds])
                cov[at], known[at] = c, c | away
            # GEOS for the rest, unless a lower area of the feature already covers it
            low = np.full(n, len(self.areas), dtype=np.int64)
            np.minimum.at(low, fi[cov], ai[cov])
            ask = other[~known[other] & (ai[other] < low[fi[other]])]
            cov[ask] = shapely.covers(self.areas[ai[ask]], geoms[fi[ask]])
        none = np.iinfo(np.int64).max
        best = np.full(n, none, dtype=np.int64)
        np.minimum.at(best, fi[cov], ai[cov])
        best[best == none] = -2
        met = np.zeros(n, dtype=bool)
        met[fi] = True
        best[~met] = -1
        return best

    def intersecting(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(feature, area) of each area intersecting a feature: ``tree.query`` with the
        predicate, asked of the prepared area."""
        fi, ai = self.tree.query(geoms)
        hit = shapely.intersects(self.areas[ai], geoms[fi])
        return fi[hit], ai[hit]

    def _in_raster(self, a: int, fb: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Whether each bounding box (``fb``: their xmin, ymin, xmax, ymax) lies in cells of
        area ``a``'s raster all covered by it (covered), or all clear of it (disjoint)."""
        if a not in self.rasters:
            self.rasters[a] = self._raster(self.areas[a])
        xe, ye, sums = self.rasters[a]
        n = len(xe) - 1
        # the cells from the one holding the box's low corner to the one its high edge ends
        # in (an edge on a cell's edge stays in the lower cell): exact float comparisons
        ix0 = np.searchsorted(xe, fb[0], "right") - 1
        iy0 = np.searchsorted(ye, fb[1], "right") - 1
        ix1 = np.maximum(np.searchsorted(xe, fb[2], "left"), ix0 + 1)  # exclusive
        iy1 = np.maximum(np.searchsorted(ye, fb[3], "left"), iy0 + 1)
        k = np.flatnonzero((ix0 >= 0) & (iy0 >= 0) & (ix1 <= n) & (iy1 <= n))
        x0, y0, x1, y1 = ix0[k], iy0[k], ix1[k], iy1[k]
        cells = (x1 - x0) * (y1 - y0)
        got = sums[:, y1, x1] - sums[:, y0, x1] - sums[:, y1, x0] + sums[:, y0, x0]
        cov, away = np.zeros(len(ix0), dtype=bool), np.zeros(len(ix0), dtype=bool)
        cov[k], away[k] = got[0] == cells, got[1] == cells
        return cov, away

    @classmethod
    def _raster(cls, area: shapely.Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cell edges (x, y) over the area's bounds and the summed-area tables of the cells
        covered by the area and of those clear of it (they do not meet): the cells' states by
        blocks halved where the boundary passes (GEOS tests in proportion to its length)."""
        n = cls.RASTER
        x0, y0, x1, y1 = shapely.bounds(area)
        side = max(x1 - x0, y1 - y0) / n
        xe, ye = x0 + side * np.arange(n + 1), y0 + side * np.arange(n + 1)
        state = np.full((n, n), -1, dtype=np.int8)
        bi, bj, size = np.zeros(int(side > 0), dtype=np.int64), np.zeros(1, dtype=np.int64), n
        while len(bi) and size:
            boxes = shapely.box(xe[bi], ye[bj], xe[bi + size], ye[bj + size])
            full = shapely.covers(area, boxes)
            part = ~full & shapely.intersects(area, boxes)
            for i, j, v in zip(bi[~part].tolist(), bj[~part].tolist(), full[~part].tolist()):
                state[j:j + size, i:i + size] = v
            bi, bj, size = bi[part], bj[part], size // 2
            bi, bj = np.concatenate([bi, bi + size, bi, bi + size]), \
                np.concatenate([bj, bj, bj + size, bj + size])
        sums = np.zeros((2, n + 1, n + 1), dtype=np.int32)
        for t, v in enumerate((1, 0)):
            sums[t, 1:, 1:] = (state == v).cumsum(axis=0).cumsum(axis=1)
        return xe, ye, sums


def _size(geoms: np.ndarray, dim: np.ndarray) -> np.ndarray:
    """What a share measures, by the feature's dimension ``dim``: area (polygons), length
    (lines), number of points (points; none: 0)."""
    return np.where(dim == 2, shapely.area(geoms),
                    np.where(dim == 1, shapely.length(geoms),
                             shapely.get_num_coordinates(geoms).astype(float)))


class AreaIndex:
    """Where features lie: the district and grid cell of each, decided beside the data with
    STRtrees of :class:`Areas` by the rule of the staged writer's SQL join
    (:meth:`loaders.engine.bulk.BulkWriter._build_keys`): an area covering the feature (its
    boundary counts), the lowest code when several do (of grid cells covering it, one of its own
    district first); else the area holding the larger share
    of it — of its area (polygons), length (lines) or points (multipoints), measured on its
    normalized geometry, so a line digitised either way is placed alike — then the lower code;
    a grid cell of the feature's own district before any other (a feature crossing a district
    boundary keeps its cell in its district); an area that only touches the feature (a share
    of 0) holds none of it unless it covers it within :data:`TOUCH_TOLERANCE`: a feature no
    area holds is outside (-1) — but for a layer placed by touch (pipe segments). One rule for every direct write (buildings,
    components, pipes).

    :meth:`place` applies it mostly without GEOS (:meth:`_Covers.decide`): the few features
    that no area covers are measured (:meth:`shares`). The areas are prepared once here (the
    index is built before converter processes fork)."""

    def __init__(self, areas: Areas) -> None:
        self.areas = areas
        self.dcov = _Covers(areas.districts) if len(areas.districts) else None
        self.gcov = _Covers(areas.grid) if len(areas.grid) else None
        # per grid cell, the index of its district (-1: unknown)
        at = {c: i for i, c in enumerate(areas.district_codes)}
        self.grid_district = np.array(
            [at.get(c, -1) for c in areas.grid_districts] if areas.grid_districts is not None
            else [-1] * len(areas.grid_codes), dtype=np.int64)

    def place(self, geoms: np.ndarray, districts: bool = True, grid: bool = True,
              touching: bool = False) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Index of each feature's district and grid cell (-1: none; None: not asked) by the
        rule (a None or empty geometry: -1). Shares are measured only for the features no
        area covers, in a tree asked (:meth:`_Covers.decide`). ``touching``: an area that only
        touches a feature places it (``LayerDef.placed_by_touch``: pipe segments)."""
        n = len(geoms)
        dcov, gcov = self.dcov if districts else None, self.gcov if grid else None
        bounds = tuple(np.ascontiguousarray(shapely.bounds(geoms).T)) \
            if n and (dcov or gcov) else ()
        dist = dcov.decide(geoms, bounds) if dcov else \
            np.full(n, -1, dtype=np.int64) if districts else None
        cell = gcov.decide(geoms, bounds) if gcov else \
            np.full(n, -1, dtype=np.int64) if grid else None
        if dcov and (dist == -2).any():
            rest = np.flatnonzero(dist == -2)
            dist[rest] = self.shares(dcov, geoms[rest], touching=touching)
        if gcov and dist is not None:
            self._own_covering(gcov, geoms, dist, cell)
        if gcov and (cell == -2).any():
            rest = np.flatnonzero(cell == -2)
            cell[rest] = self.shares(gcov, geoms[rest], self.grid_district,
                                     dist[rest] if dist is not None else None, touching)
        return dist, cell

    def _own_covering(self, gcov: _Covers, geoms: np.ndarray, dist: np.ndarray,
                      cell: np.ndarray) -> None:
        """Where the lowest grid cell covering a feature is of another district than the
        feature's, the lowest covering cell of its own district instead, if one covers it
        (cells overlapping across a district line: a grid code names its district, so a
        370826 component given a 370811 cell would be coded against itself). Only the few
        such features are asked of GEOS."""
        if not (self.grid_district >= 0).any():
            return  # no cell of a known district: none is any feature's own
        covered = cell >= 0
        owner = np.where(covered, self.grid_district[np.where(covered, cell, 0)], -1)
        ask = np.flatnonzero(covered & (dist >= 0) & (owner != dist))
        if not len(ask):
            return
        fi, ai = gcov.tree.query(geoms[ask], predicate="covered_by")
        own = self.grid_district[ai] == dist[ask[fi]]
        fi, ai = fi[own], ai[own]
        none = np.iinfo(np.int64).max
        best = np.full(len(ask), none, dtype=np.int64)
        np.minimum.at(best, fi, ai)
        found = best != none
        cell[ask[found]] = best[found]

    @staticmethod
    def shares(cov: _Covers, geoms: np.ndarray, area_group: np.ndarray | None = None,
               group: np.ndarray | None = None, touching: bool = False) -> np.ndarray:
        """Per feature, the index of the area intersecting it that holds the larger share of
        it (:func:`share_sql`'s), then the lowest index; -1 if none holds a share of it (one
        that only touches it holds none). With
        ``area_group`` (per area) and ``group`` (per feature: a district index, -1 none), an
        area of the feature's own group holding a share of it comes first."""
        out = np.full(len(geoms), -1, dtype=np.int64)
        fi, ai = cov.intersecting(geoms)
        if not len(fi):
            return out
        g = geoms.copy()
        bad = ~shapely.is_valid(g)
        if bad.any():
            g[bad] = shapely.make_valid(g[bad])
        g = shapely.normalize(g)
        dim = shapely.get_dimensions(g)
        total = _size(g, dim)
        part = np.zeros(len(fi))
        # a polygon's area in a box: clipped by the box (ten times faster than an overlay;
        # the same area: a line's length along the box's edge, which clipping drops, would
        # not be, so lines and other areas take the overlay)
        clip = (dim[fi] == 2) & cov.box[ai]
        for a in np.unique(ai[clip]).tolist():
            k = np.flatnonzero(clip & (ai == a))
            part[k] = shapely.area(shapely.clip_by_rect(g[fi[k]], *(b[a] for b in cov.bounds)))
        k = np.flatnonzero(~clip)
        part[k] = _size(shapely.intersection(g[fi[k]], cov.areas[ai[k]]), dim[fi[k]])
        t = total[fi]
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(t > 0, np.floor(part / np.where(t > 0, t, 1) * SHARE_PARTS + 0.5), 0)
        # an area that only touches the feature (a share of 0: an edge or a point in common)
        # holds none of it — a footprint outside the city along its boundary is outside —
        # unless it covers the feature within TOUCH_TOLERANCE (a line drawn along the
        # boundary), or the layer's features are placed by touch
        held = q > 0 if not touching else np.ones(len(q), dtype=bool)
        for a in np.unique(ai[~held]).tolist():
            k = np.flatnonzero(~held & (ai == a))
            held[k] = shapely.covers(shapely.buffer(cov.areas[a], TOUCH_TOLERANCE), g[fi[k]])
        fi, ai, q = fi[held], ai[held], q[held]
        if not len(fi):
            return out
        own = np.zeros(len(fi), dtype=bool)
        if area_group is not None and group is not None:
            own = (area_group[ai] == group[fi]) & (group[fi] >= 0) & (q > 0)
        order = np.lexsort((ai, -q, ~own, fi))
        fi, ai = fi[order], ai[order]
        first = np.r_[True, fi[1:] != fi[:-1]]
        out[fi[first]] = ai[first]
        return out


def areas_digest(layer: LayerDef, areas: Areas) -> str | None:
    """A digest of the districts and grid cells a layer's rows are placed in (None if it
    places none): part of a reload's fingerprint context, since a feature now outside every
    district (or grid cell) is rejected, which a row skipped unconverted would not be."""
    if not (layer.assign_district or layer.assign_grid):
        return None
    h = hashlib.blake2b(digest_size=16)
    for codes, geoms in ((areas.district_codes, areas.districts),
                         (areas.grid_codes, areas.grid)):
        h.update(("\x1f".join(codes) + "\x1e").encode())
        for w in shapely.to_wkb(geoms) if len(geoms) else ():
            h.update(len(w).to_bytes(8, "little") + w)
    return h.hexdigest()


def fetch_areas(conn: psycopg.Connection, layer: LayerDef) -> Areas:
    if layer.assign_district and not conn.execute(
            "SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE valid_to IS NULL "
            "AND level = 3)").fetchone()[0]:
        raise DatabaseError("no district boundaries in the database: run "
                            "`cim profile apply` to load the profile's boundaries first")

    dc, dg = current_districts(conn) if layer.assign_district \
        else ([], np.array([], dtype=object))
    gc, gg, gd = _read(conn, "SELECT code, ST_AsBinary(geom), district_code FROM grid_cells "
                       "WHERE valid_to IS NULL ORDER BY code COLLATE \"C\"") \
        if layer.assign_grid else ([], np.array([], dtype=object), [])
    return Areas(district_codes=dc, districts=dg, grid_codes=gc, grid=gg, grid_districts=gd)


def current_districts(conn: psycopg.Connection) -> tuple[list[str], np.ndarray]:
    """The current districts' codes and areas (storage CRS), sorted by code."""
    codes, geoms, _ = _read(conn, "SELECT code, ST_AsBinary(geom), code FROM admin_divisions "
                            "WHERE valid_to IS NULL AND level = 3 ORDER BY code COLLATE \"C\"")
    return codes, geoms


def _read(conn: psycopg.Connection, query: str) -> tuple[list[str], np.ndarray, list[str]]:
    rows = conn.execute(query).fetchall()
    return [r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows]) \
        if rows else np.array([], dtype=object), [r[2] for r in rows]
