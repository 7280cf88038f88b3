"""A feature whose geometry changed only in how it is written is unchanged.

The content hash covers the stored geometry's WKB byte for byte (:mod:`loaders.hashing`). The
same footprint written by another program differs in bytes where nothing changed: a
GeoPackage re-exported to Shapefile has its outer rings clockwise (the Shapefile rule) where
they were counter-clockwise, an editor's re-save may start a ring at another vertex, and CSV
or GeoJSON write 15 significant digits, moving a zone-prefixed easting by up to 1e-7 m. Each
versioned every feature of such a delivery. So a row whose content hash differs is looked at
once more (:func:`same_but_written`): if the stored row hashes equal with the converted
geometry in place of its own (every column the same), and the two geometries, normalised
(rings oriented and started alike, parts in order), have the same type and vertices within
:data:`TOLERANCE_M`, the row is unchanged and keeps its stored geometry and hash.

Only rows whose hash differs are read again (a reload's changed rows: 1 % in the benchmark);
a layer without a stored recipe (pipes, whose segments' direction is content) is left as it
was."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import shapely
from psycopg import sql

from cim.crs import metres_in_units
from loaders.hashing import StoredRecipe, StoredRows, geometry_wkb, stored_rows

#: how far a vertex may move (metres on the ground) and the geometry stay the same: well
#: under a survey's millimetre, well over the 1e-7 m that 15 significant digits lose
TOLERANCE_M = 1e-4


@cache
def tolerance(srid: int) -> float:
    """:data:`TOLERANCE_M` in the units of the CRS ``srid``."""
    return metres_in_units(f"EPSG:{srid}", TOLERANCE_M)


def same_sql(a: sql.Composable, b: sql.Composable, tol: sql.Composable) -> sql.Composed:
    """SQL: :func:`same_geometries` of the geometries ``a`` and ``b`` on the server (the
    staging writer's merge, whose rows are there): the same type and coordinate dimension, and
    normalised, the same vertices (by their path: part, ring, index) within ``tol``."""
    return sql.SQL(
        "(GeometryType({a}) = GeometryType({b}) AND ST_CoordDim({a}) = ST_CoordDim({b}) "
        "AND NOT EXISTS (SELECT FROM ST_DumpPoints(ST_Normalize({a})) p "
        "FULL JOIN ST_DumpPoints(ST_Normalize({b})) q USING (path) "
        "WHERE p.geom IS NULL OR q.geom IS NULL "
        "OR abs(ST_X(p.geom) - ST_X(q.geom)) > {tol} OR abs(ST_Y(p.geom) - ST_Y(q.geom)) > {tol} "
        "OR abs(coalesce(ST_Z(p.geom), 0) - coalesce(ST_Z(q.geom), 0)) > {tol}))"
    ).format(a=a, b=b, tol=tol)


def same_geometries(a: Sequence[bytes], b: Sequence[bytes], tolerance: Sequence[float]
                    ) -> np.ndarray:
    """Whether each pair of WKB geometries is the same once normalised: the same type, parts
    and vertex count, every coordinate (Z too) within its ``tolerance``."""
    n = len(a)
    out = np.zeros(n, dtype=bool)
    if not n:
        return out
    ga = shapely.normalize(shapely.from_wkb(list(a)))
    gb = shapely.normalize(shapely.from_wkb(list(b)))
    ok = (shapely.get_type_id(ga) == shapely.get_type_id(gb)) & \
        (shapely.has_z(ga) == shapely.has_z(gb)) & \
        (shapely.get_num_coordinates(ga) == shapely.get_num_coordinates(gb)) & \
        (shapely.get_num_geometries(ga) == shapely.get_num_geometries(gb))
    idx = np.flatnonzero(ok)
    if not len(idx):
        return out
    ca, ia = shapely.get_coordinates(ga[idx], include_z=True, return_index=True)
    cb = shapely.get_coordinates(gb[idx], include_z=True)
    diff = np.abs(ca - cb)
    diff[np.isnan(ca) & np.isnan(cb)] = 0.0  # no Z on either side
    far = np.where(np.isnan(diff), np.inf, diff).max(axis=1) > \
        np.asarray(tolerance, dtype=float)[idx][ia]
    bad = np.zeros(len(idx), dtype=bool)
    np.logical_or.at(bad, ia, far)
    # the rings' structure too: as many interior rings, part by part
    same_rings = shapely.get_num_interior_rings(shapely.get_parts(ga[idx])).tolist() == \
        shapely.get_num_interior_rings(shapely.get_parts(gb[idx])).tolist()
    out[idx] = ~bad if same_rings else np.array(
        [not bad[k] and _rings(ga[i]) == _rings(gb[i]) for k, i in enumerate(idx)])
    return out


def _rings(g: Any) -> list[int]:
    return shapely.get_num_interior_rings(shapely.get_parts(g)).tolist()


class StoredReader:
    """A layer's stored rows read by id, as the recipe hashes them, each once a batch: a
    reload reads those a first load left unhashed for their hash (:meth:`hashes`), then —
    the same rows, mostly — those whose hash differs (:meth:`same_but_written`)."""

    def __init__(self, connection: Callable[[], Any], table: str, recipe: StoredRecipe
                 ) -> None:
        self.connection, self.table, self.recipe = connection, table, recipe
        self._rows: dict[int, tuple[tuple, bytes | None, int | None]] = {}

    def read(self, ids: Sequence[int]) -> StoredRows:
        """The rows ``ids`` (those found), from this batch's reads where it has them."""
        want = [i for i in ids if i not in self._rows]
        if want:
            got = stored_rows(self.connection(), self.table, self.recipe, want)
            cols = list(got.values.values())
            for k, i in enumerate(got.ids):
                self._rows[i] = (tuple(c[k] for c in cols), got.wkb[k], got.srid[k])
        have = [i for i in ids if i in self._rows]
        rows = [self._rows[i] for i in have]
        return StoredRows(have, {c: [r[0][k] for r in rows]
                                 for k, c in enumerate(self.recipe.columns)},
                          [r[1] for r in rows], [r[2] for r in rows])

    def forget(self) -> None:
        """A new batch: the rows read for the last one are done."""
        self._rows.clear()

    def hashes(self, ids: list[int]) -> dict[int, str]:
        """id → the row hash of the stored rows ``ids`` (:func:`loaders.hashing.stored_hashes`)."""
        got = self.read(ids)
        return dict(zip(got.ids, got.hashes().tolist())) if got.ids else {}

    def same_but_written(self, ids: list[int], wkb: list, hashes: list[str]
                         ) -> dict[int, str]:
        """:func:`same_but_written` of these rows."""
        try:
            return same_but_written(self.read(ids), ids, wkb, hashes)
        finally:
            self.forget()


def same_but_written(stored: StoredRows, ids: Sequence[int], wkb: Sequence[bytes | None],
                     hashes: Sequence[str]) -> dict[int, str]:
    """Of the ``stored`` rows ``ids``, those whose converted row (its geometry as ISO WKB
    ``wkb``, its content hash ``hashes``) differs from them only in how the geometry is
    written (see the module): id → the stored row's own hash."""
    if not stored.ids:
        return {}
    mine = dict(zip(ids, zip(wkb, hashes)))
    sent = [mine[i][0] for i in stored.ids]
    columns_same = np.array(stored.hashes(sent).tolist(), dtype=object) == \
        np.array([mine[i][1] for i in stored.ids], dtype=object)
    both = np.flatnonzero(columns_same & np.array(
        [w is not None and s is not None for w, s in zip(sent, stored.wkb)], dtype=bool))
    if not len(both):
        return {}
    same = same_geometries([stored.wkb[k] for k in both], [sent[k] for k in both],
                           [tolerance(stored.srid[k]) for k in both])
    hit = both[same]
    if not len(hit):
        return {}
    own = stored.hashes()
    return {stored.ids[k]: own[k] for k in hit.tolist()}


def settle(known: Any, ewkb: Any, row_hash: np.ndarray, rows: np.ndarray, at: np.ndarray
           ) -> dict[int, str]:
    """Of a batch's converted ``rows`` (their current versions the rows ``at`` of
    :class:`~loaders.engine.known.Known`), whose content hash ``row_hash`` differs: those
    that differ only in how their geometry is written, each with the stored row's hash (what
    a row found unchanged keeps: the recipe over the row as stored; a row its attrs or flags
    change after all is written with its own)."""
    if not len(rows):
        return {}
    ids = known.ids[at]
    sel = ewkb.take(pa.array(rows)).to_pylist() if isinstance(ewkb, pa.Array) \
        else [ewkb[j] for j in rows.tolist()]
    got = known.same_but_written(ids.tolist(), geometry_wkb(sel).tolist(),
                                 [row_hash[j] for j in rows.tolist()])
    return {j: got[i] for j, i in zip(rows.tolist(), ids.tolist()) if i in got}
