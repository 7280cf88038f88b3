"""Coordinates a query is given, checked before they select anything: finite, lon/lat
within range, and in the axis order of the CRS they are said to be in — told by where they
lie (X/Y mixed up is the commonest slip with Gauss-Krüger, whose X is the northing; they
selected nothing, silently, or came back as infinity)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyproj
import shapely

from cim.crs import axis_is_northing_first, lonlat_srid, storage_domain, written_axis_order
from cim.errors import InputError


def check_axis_order(geom: shapely.Geometry, c: pyproj.CRS, what: str, crs_name: str,
                      xy: bool = False) -> None:
    """Coordinates in projected ``c`` that lie beyond where it is used, and would lie there
    read the other way round, were typed in the other axis order: an error saying so (they
    selected nothing, silently — X/Y mixed up is the commonest slip with Gauss-Krüger, whose
    X is the northing). ``xy``: the geometry is GeoJSON or a file, easting first whatever
    ``c``'s axis order."""
    # the one rule that tells an order from where coordinates lie (cim.crs, as the loaders
    # read a GML's srsName): "yx" when only the other way round they lie in its area of use
    if written_axis_order(c, shapely.get_coordinates(geom)) != "yx":
        return
    if xy:
        raise InputError(f"{what}: the coordinates lie outside {crs_name} and would lie in it "
                         "the other way round: written northing first? GeoJSON and vector "
                         "files have the easting first, whatever the CRS's axis order")
    order = "northing (X), easting (Y)" if axis_is_northing_first(c) else "easting, northing"
    raise InputError(f"{what}: the coordinates lie outside {crs_name} ({order}) and would "
                     f"lie in it the other way round: given in the other axis order? "
                     f"{crs_name} is {order.split(',')[0]} first")


def check_own_axis_order(given: shapely.Geometry, got: shapely.Geometry, c: pyproj.CRS,
                         project: Callable[[shapely.Geometry], shapely.Geometry], what: str,
                         crs_name: str, storage_srid: int) -> None:
    """A city's own CRS (a PROJ string, WKT without an authority) has no area of use for
    :func:`check_axis_order` to tell an axis order by: coordinates given the other way round
    came back as (inf, inf), no word of why. Where they land nowhere the data can lie and,
    exchanged, would: the same hint as for an EPSG CRS."""
    xy = shapely.get_coordinates(got)
    area = storage_domain(lonlat_srid(storage_srid), storage_srid)
    if area is None:
        return

    def inside(pts: np.ndarray) -> bool:
        w, s, e, n = area
        return bool(np.isfinite(pts).all() and (pts[:, 0] >= w).all() and (pts[:, 0] <= e).all()
                    and (pts[:, 1] >= s).all() and (pts[:, 1] <= n).all())

    if inside(xy):
        return
    back = shapely.get_coordinates(project(shapely.transform(given, lambda p: p[:, ::-1])))
    if inside(back):
        order = "northing, easting" if axis_is_northing_first(c) else "easting, northing"
        raise InputError(f"{what}: the coordinates lie nowhere near the data in {crs_name} "
                         f"({order}) and would lie there the other way round: given in the "
                         f"other axis order? {crs_name} is {order.split(',')[0]} first")


def check_finite(geom: shapely.Geometry, what: str,
                  why: str = "coordinates must be finite numbers (not NaN or infinity)"
                  ) -> None:
    # the heights too: a Z of 1e400 (infinity once read) made GEOS refuse the geometry (a
    # 500), and inside a GeoJSON polygon counted every layer's features as 0
    xy = shapely.get_coordinates(geom, include_z=True)
    if not np.isfinite(xy[:, :2]).all() or bool(shapely.has_z(geom)) and not np.isfinite(xy).all():
        bad = xy[~np.isfinite(xy).all(axis=1)][0]
        got = ", ".join(f"{v:g}" for v in (bad if bool(shapely.has_z(geom)) else bad[:2]))
        raise InputError(f"{what}: {why}; got ({got})")


def check_lonlat(geom: shapely.Geometry, what: str, crs_name: str, lat_first: bool) -> None:
    """Longitudes (x, PostGIS order) within -180..180 and latitudes within -90..90; a
    coordinate that fits the other axis order is said to be given in it."""
    xy = shapely.get_coordinates(geom)
    bad = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
    if not bad.any():
        return
    x, y = xy[bad][0]
    first, second = ("latitude", "longitude") if lat_first else ("longitude", "latitude")
    got = f"{y:g}, {x:g}" if lat_first else f"{x:g}, {y:g}"
    hint = ""
    if abs(x) <= 90 and abs(y) <= 180:  # fits the other order: swapped?
        hint = f"; given {second}, {first}? {crs_name} is {first} first"
    raise InputError(f"{what}: longitude must lie within -180..180 and latitude within "
                     f"-90..90 ({crs_name}: {first}, {second}); got {got}{hint}")
