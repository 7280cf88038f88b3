"""A GIS point layer read as a survey table's X/Y: its points as the columns a registry's
position is read from (X = northing, Y = easting, as surveyors write them).

:func:`loaders.sources.tables.read_tables` reads a GIS layer's attributes only (survey tables
carry X/Y). A sensor registry delivered as a point layer (监测点.shp, a GeoPackage of points)
has its positions in the geometry: read so, every row was rejected for "X/Y are empty" — or,
with a watched asset, stood at the asset, its delivered point silently dropped.
"""

from __future__ import annotations

import numpy as np
import pyogrio
import shapely

from cim.errors import InputError
from loaders.sources.gdal_access import GDAL_INPUT_ERRORS, gdal_message, gdal_source
from loaders.sources.tables import Table

#: the headers of the two columns the points are written to (never a delivered header: a
#: registry's own X/Y headers are read as they are, and these are made only without them)
X_HEADER, Y_HEADER = "geometry:X", "geometry:Y"



def single_points(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` with each MultiPoint of one point as that point: a point layer exported by
    QGIS or ArcGIS as MULTIPOINT (pipe nodes, sensors, facilities) was rejected whole as "a
    MultiPoint, not a point". The one rule of every loader reading points."""
    out = np.array(geoms, dtype=object, copy=True)
    single = np.flatnonzero((shapely.get_type_id(out) == 4)
                            & (shapely.get_num_geometries(out) == 1))
    if single.size:
        out[single] = shapely.get_geometry(out[single], 0)
    return out

def points_as_xy(t: Table) -> tuple[Table, str | None]:
    """``t`` with two more columns, :data:`X_HEADER` (each feature's northing) and
    :data:`Y_HEADER` (its easting), blank where it has no point, and the layer's CRS (as
    GDAL gives it; None if it names none). A layer of other geometries than points is
    refused naming its first row: a sensor is a point."""
    read_path, opts = gdal_source(t.path)  # nothing written beside the delivery
    try:
        meta, _fids, wkb, _fields = pyogrio.raw.read(read_path, layer=t.sheet, columns=[],
                                                     **opts)
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot read its points: {gdal_message(exc)}",
                         path=t.name) from exc
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    if len(geoms) != len(t.rows):  # (the attributes were read from the same layer)
        raise InputError(f"its layer holds {len(geoms)} geometries for {len(t.rows)} rows",
                         path=t.name)
    geoms = single_points(geoms)
    kinds = shapely.get_type_id(geoms)
    other = np.flatnonzero((kinds >= 0) & (kinds != 0))  # (-1: none, 0: a point)
    if other.size:
        i = int(other[0])
        more = f" (and {other.size - 1} more rows)" if other.size > 1 else ""
        raise InputError(f"a {geoms[i].geom_type}, not a point{more}: a registry's devices "
                         "are points, or X/Y columns (X = northing, Y = easting)",
                         path=t.name, row=t.row_numbers[i])
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    xs = np.where(empty, np.nan, shapely.get_x(geoms))
    ys = np.where(empty, np.nan, shapely.get_y(geoms))
    # the columns of an earlier reading (a rejects export of such a layer, fixed in QGIS:
    # its points moved) give way to the points
    keep = [j for j, h in enumerate(t.headers) if h not in (X_HEADER, Y_HEADER)]
    rows = [[r[j] if j < len(r) else None for j in keep]
            + [None if np.isnan(n) else float(n), None if np.isnan(e) else float(e)]
            for r, e, n in zip(t.rows, xs.tolist(), ys.tolist())]
    out = Table(path=t.path, sheet=t.sheet,
                headers=[*(t.headers[j] for j in keep), X_HEADER, Y_HEADER],
                rows=rows, row_numbers=t.row_numbers, encoding=t.encoding,
                notes=list(t.notes), geometry_type=t.geometry_type)
    return out, meta.get("crs")
