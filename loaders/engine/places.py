"""Where a direct write places its rows: the current districts and grid cells (:class:`Areas`,
read once before the converters fork) and the rule that picks a feature's district and grid
cell beside the data (:class:`AreaIndex`), the staged writer's SQL join's rule."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import psycopg
import shapely

from cim.errors import DatabaseError
from cim.layerdefs import LayerDef


@dataclass
class Areas:
    """Current districts and grid cells (storage CRS), sorted by code."""

    district_codes: list[str]
    districts: np.ndarray
    grid_codes: list[str]
    grid: np.ndarray


class _Covers:
    """Which areas of one tree hold a feature's point on surface, decided where possible
    without it: each area meeting the feature's bounding box (a candidate) is asked whether it
    covers the feature — then it holds the point — or is disjoint from its bounding box — then
    it does not; a feature whose every candidate answers is decided. An axis-aligned box (most
    grid cells) answers by the feature's bounds; an area met by many features (a district) by
    a raster of the cells it covers and of those it does not meet, looked up with the
    feature's bounds; the rest by a prepared ``covers``. Each answer is exact."""

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
        of the areas holding its point on surface, -1 if none does, or -2 where that is
        undecided. Decided: every area meeting the feature's bounding box covers the feature
        (it holds the point, which lies in the feature) or is disjoint from that box (it does
        not); an area whose box does not meet the feature's cannot hold the point. -1: no
        area meets the feature, so none has a share of it either."""
        n = len(geoms)
        fi, ai = self.tree.query(geoms)  # bounding boxes only
        if not len(fi):
            return np.full(n, -1, dtype=np.int64)
        cov, away = np.zeros(len(fi), dtype=bool), np.zeros(len(fi), dtype=bool)
        box = self.box[ai]
        on = np.flatnonzero(box)
        if len(on):
            f, a = fi[on], ai[on]
            ab = self.bounds
            cov[on] = (bounds[0][f] >= ab[0][a]) & (bounds[1][f] >= ab[1][a]) & \
                (bounds[2][f] <= ab[2][a]) & (bounds[3][f] <= ab[3][a])
        other = np.flatnonzero(~box)
        if len(other):
            self.met += np.bincount(ai[other], minlength=len(self.met))
            for a in np.unique(ai[other][self.met[ai[other]] >= self.RASTER_AFTER]).tolist():
                at = other[ai[other] == a]
                cov[at], away[at] = self._in_raster(a, [b[fi[at]] for b in bounds])
            # GEOS for the rest, unless another candidate of the feature already failed
            open_ = ~(cov | away)
            failed = np.zeros(n, dtype=bool)
            failed[fi[open_ & box]] = True
            ask = other[open_[other] & ~failed[fi[other]]]
            cov[ask] = shapely.covers(self.areas[ai[ask]], geoms[fi[ask]])
        none = np.iinfo(np.int64).max
        best = np.full(n, none, dtype=np.int64)
        np.minimum.at(best, fi[cov], ai[cov])
        best[best == none] = -1
        best[fi[~(cov | away)]] = -2
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


class AreaIndex:
    """Where features lie: the district and grid cell of each, decided beside the data with
    STRtrees of :class:`Areas` by the rule of the staged writer's SQL join
    (:meth:`loaders.engine.bulk.BulkWriter._build_keys`): the area holding the feature's point
    on surface (its boundary counts), the lowest code when several hold it; a feature whose
    point misses every district goes to the district holding the larger share of it, then the
    lower code (for lines and points every share is 0: the lowest code touching it); none:
    outside. One rule for every direct write (buildings, components, pipes).

    :meth:`place` applies it mostly without the point on surface (a new geometry per feature,
    most of the cost): the point lies in the feature, so an area covering the feature holds
    it and one clear of the feature's bounding box does not (:meth:`_Covers.decide`). The
    areas are prepared once here (the index is built before converter processes fork)."""

    def __init__(self, areas: Areas) -> None:
        self.areas = areas
        self.dcov = _Covers(areas.districts) if len(areas.districts) else None
        self.gcov = _Covers(areas.grid) if len(areas.grid) else None

    def place(self, geoms: np.ndarray, districts: bool = True, grid: bool = True
              ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Index of each feature's district and grid cell (-1: none; None: not asked), as
        :meth:`districts` and :meth:`grid_cells` decide them from the points on surface
        (a None or empty geometry: -1). The point on surface is computed once, only for the
        features undecided in a tree asked (:meth:`_Covers.decide`)."""
        n = len(geoms)
        dcov, gcov = self.dcov if districts else None, self.gcov if grid else None
        bounds = tuple(np.ascontiguousarray(shapely.bounds(geoms).T)) \
            if n and (dcov or gcov) else ()
        dist = dcov.decide(geoms, bounds) if dcov else \
            np.full(n, -1, dtype=np.int64) if districts else None
        cell = gcov.decide(geoms, bounds) if gcov else \
            np.full(n, -1, dtype=np.int64) if grid else None
        none = np.zeros(0, dtype=np.int64)
        rest_d = np.flatnonzero(dist == -2) if dcov else none
        rest_g = np.flatnonzero(cell == -2) if gcov else none
        rest = np.union1d(rest_d, rest_g)  # sorted: holds both
        if len(rest):
            pos = shapely.point_on_surface(geoms[rest])
            if len(rest_d):
                dist[rest_d] = self.districts(geoms[rest_d],
                                              pos[np.searchsorted(rest, rest_d)])
            if len(rest_g):
                cell[rest_g] = self.grid_cells(pos[np.searchsorted(rest, rest_g)])
        return dist, cell

    @staticmethod
    def first_hit(cov: _Covers | None, pos: np.ndarray) -> np.ndarray:
        """Per point, the lowest index (= lowest code) of the areas holding it, else -1 (the
        prepared area asked, not the point: a district of many vertices is not walked edge
        by edge for each point)."""
        best = np.full(len(pos), np.iinfo(np.int64).max, dtype=np.int64)
        if cov is not None and len(pos):
            pi, ai = cov.intersecting(pos)
            np.minimum.at(best, pi, ai)
        return np.where(best == np.iinfo(np.int64).max, -1, best)

    def districts(self, geoms: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Index of each feature's district (-1: outside every district); ``pos`` their
        points on surface."""
        idx = self.first_hit(self.dcov, pos)
        miss = np.flatnonzero(idx < 0)
        if len(miss) and self.dcov is not None:
            # the district holding the larger share of the feature (then the lower code)
            gi, di = self.dcov.intersecting(geoms[miss])
            if len(gi):
                area = shapely.area(shapely.intersection(geoms[miss][gi],
                                                         self.areas.districts[di]))
                order = np.lexsort((di, -area, gi))
                gi, di = gi[order], di[order]
                first = np.r_[True, gi[1:] != gi[:-1]]
                idx[miss[gi[first]]] = di[first]
        return idx

    def grid_cells(self, pos: np.ndarray) -> np.ndarray:
        """Index of the grid cell holding each point on surface (-1: none)."""
        return self.first_hit(self.gcov, pos)


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

    def read(query: str) -> tuple[list[str], np.ndarray]:
        rows = conn.execute(query).fetchall()
        return [r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows]) \
            if rows else np.array([], dtype=object)

    dc, dg = read("SELECT code, ST_AsBinary(geom) FROM admin_divisions WHERE valid_to IS NULL "
                  "AND level = 3 ORDER BY code COLLATE \"C\"") if layer.assign_district \
        else ([], np.array([], dtype=object))
    gc, gg = read("SELECT code, ST_AsBinary(geom) FROM grid_cells WHERE valid_to IS NULL "
                  "ORDER BY code COLLATE \"C\"") if layer.assign_grid \
        else ([], np.array([], dtype=object))
    return Areas(district_codes=dc, districts=dg, grid_codes=gc, grid=gg)
