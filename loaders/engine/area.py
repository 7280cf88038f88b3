"""Where a delivery lies: its CRS (given, the file's, or told from Gauss-Krüger eastings) and
whether it lies in the city at all — checked before anything is loaded, so that a file in the
wrong CRS or with X and Y exchanged fails whole with a hint instead of being rejected row by
row (:func:`loaders.engine.pipeline.run_load` and the direct load, the GIS pipe loader)."""

from __future__ import annotations

import numpy as np
import psycopg
import pyogrio
import pyproj
import shapely

from cim import crs as cimcrs
from cim.errors import InputError, OutOfAreaError
from loaders.sources.read import Batch, Source


def resolve_source_crs(src: Source, crs_opt: str | None, first: Batch | None,
                       storage_srid: int) -> tuple[pyproj.CRS, list[str]]:
    """The CRS of the input: --crs, else the file's, else detected from GK easting magnitudes."""
    notes: list[str] = []
    eastings = np.array([])
    if first is not None and len(first.geometries):
        ok = ~shapely.is_missing(first.geometries)
        # one easting a feature (its first vertex): a file mixing zones was told in vertices
        # ("zone 40 (10 rows)" of two squares)
        coords, index = shapely.get_coordinates(first.geometries[ok][:2000], return_index=True)
        if len(coords):
            eastings = coords[np.unique(index, return_index=True)[1], 0]
    if crs_opt:
        crs = cimcrs.parse_crs(crs_opt)
        if src.crs is not None and not src.crs.equals(crs, ignore_axis_order=True):
            # how far the override moves the features, said: a .prj a tool wrote wrongly is
            # what --crs is for, but a 1.5 km move (UTM 50N read as GK 117°E) was one line
            # that said nothing of it
            apart = None
            if first is not None and len(first.geometries):
                ok = ~shapely.is_missing(first.geometries)
                pts = shapely.get_coordinates(shapely.centroid(first.geometries[ok][:200]))
                try:  # (a CRS PROJ cannot relate to the storage CRS: no distance said)
                    apart = cimcrs.places_apart(src.crs, crs, pts, storage_srid) \
                        if len(pts) else None
                except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError):
                    apart = None
            moved = ("" if apart is None or apart <= cimcrs.SAME_PLACE_M else
                     f": the features lie up to {apart:,.1f} m from where the file's CRS puts "
                     "them — check which of the two is right")
            notes.append(f"--crs {crs_opt} overrides the file's CRS ({src.crs.name}){moved}")
    elif src.crs is not None:
        crs = src.crs
    else:
        code = cimcrs.detect_gk_from_eastings(eastings, storage_srid, "features")
        if code is None:
            why = f"its own was set aside: {src.crs_set_aside}" if src.crs_set_aside else \
                "missing .prj?"
            hint = _no_crs_hint(eastings)
            raise InputError(f"the input has no CRS ({why}) and it cannot be told from the "
                             f"coordinates; pass --crs EPSG:n{hint}", path=str(src.path))
        crs = cimcrs.parse_crs(f"EPSG:{code}")
        notes.append(f"no CRS in the file: EPSG:{code} detected from the easting magnitudes")
    if cimcrs.wgs84_frame(crs):
        notes.append(f"{cimcrs.crs_label(crs)} is taken as CGCS2000 without a shift: they "
                     "agree to decimetres, but GNSS coordinates of today's epoch lie some "
                     "0.7 m from CGCS2000's (epoch 2000.0) here; a survey to the centimetre "
                     "is delivered in CGCS2000")
    if cimcrs.ellipsoidal_heights(crs):
        notes.append(f"{cimcrs.crs_label(crs)}: its heights are above the ellipsoid, not the "
                     "1985 national height datum (1985国家高程基准): not converted")
    elif (vertical := cimcrs.other_vertical_datum(crs)) is not None:
        # (a Yellow Sea 1956 or EGM2008 file loaded as 1985 heights without a word)
        notes.append(f"{src.path.name}: its heights are in {vertical}, not the 1985 national "
                     "height datum (1985国家高程基准): not converted")
    problem = cimcrs.check_gk_consistency(crs, eastings) if eastings.size else None
    if problem:
        raise InputError(problem, path=str(src.path))
    return crs, notes


def _no_crs_hint(eastings: np.ndarray) -> str:
    """What the coordinates of a file without a CRS look like, when that is not a 3° zone:
    degrees, a 6° zone's prefixed eastings (13–23: it said only "pass --crs EPSG:n"), or a
    northing where the easting is due (the coordinates swapped)."""
    if not eastings.size:
        return ""
    med = float(np.nanmedian(np.abs(eastings)))
    if med <= 180:
        return ("; its coordinates look like degrees of longitude and latitude: pass --crs "
                "EPSG:4490 (CGCS2000 geographic)")
    zone = int(med // 1_000_000)
    if 13 <= zone <= 23 and 100_000 <= med - zone * 1_000_000 < 900_000:
        return (f"; its eastings carry the prefix {zone}, a 6° Gauss-Krüger zone: pass --crs "
                f"EPSG:{4478 + zone} (CGCS2000 / Gauss-Kruger zone {zone})")
    if 1_000_000 <= med < 10_000_000:  # seven digits: China's northings (2,000–6,000 km)
        return ("; its first coordinates look like northings (seven digits): are X and Y "
                "swapped? GIS files hold easting first")
    return ""


def area_bounds(conn: psycopg.Connection) -> tuple[float, ...] | None:
    row = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                       "(SELECT ST_Extent(geom) AS e FROM admin_divisions "
                       " WHERE valid_to IS NULL AND level = 3) q").fetchone()
    return tuple(row) if row and row[0] is not None else None


def source_bounds(src: Source) -> tuple[float, ...] | None:
    """(xmin, ymin, xmax, ymax) of the features with finite coordinates; None if there are none.

    Read as GDAL reads the features (the same path and open options: nothing is written beside
    the delivery); a source whose extent GDAL cannot give is an input error.
    """
    from loaders.sources.read import GDAL_INPUT_ERRORS, finite_bounds

    try:
        b = pyogrio.read_info(src.read_path or src.path, layer=src.layer, encoding=src.encoding,
                              force_total_bounds=True, **src.open_options).get("total_bounds")
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot give the extent of the input: {exc}",
                         path=str(src.path)) from exc
    if b is not None and np.all(np.isfinite(b)):
        return tuple(b)
    # NaN/inf coordinates (rejected row by row later) or no layer extent: the finite ones
    return finite_bounds(src)


def check_area(src: Source, crs: pyproj.CRS, srid: int, area: tuple[float, ...] | None) -> None:
    """Fail before loading anything when the whole input lies outside the city's area.

    The check runs or fails loudly; it is never skipped because something went wrong. It has
    nothing to check only when the profile's districts are not loaded (``area`` None: every
    row is then refused by the per-row district join) or when no feature has a finite
    coordinate (every row is then rejected as invalid).
    """
    if area is None:
        return
    b = source_bounds(src)
    if b is None:
        return
    t = cimcrs.transformer(crs.to_wkt(), srid)
    try:
        tb = t.transform_bounds(*b, densify_pts=5)
    except pyproj.exceptions.ProjError:  # beyond the CRS's domain: certainly not in the city
        tb = (np.inf,) * 4
    inter = not (tb[2] < area[0] or tb[0] > area[2] or tb[3] < area[1] or tb[1] > area[3])
    if inter and np.all(np.isfinite(tb)):
        return
    hint = ""
    try:
        sw = t.transform_bounds(b[1], b[0], b[3], b[2])
        if not (sw[2] < area[0] or sw[0] > area[2] or sw[3] < area[1] or sw[1] > area[3]) \
                and np.all(np.isfinite(sw)):
            hint = "; with X and Y swapped it would fit: the columns are probably exchanged"
    except pyproj.exceptions.ProjError:
        pass  # swapped, the bounds leave the CRS's domain: no hint
    raise OutOfAreaError(
        f"the input (bounds {b[0]:.3f}, {b[1]:.3f}, {b[2]:.3f}, {b[3]:.3f} in {crs.name}) lies "
        f"outside the city profile's area; check --crs{hint}", path=str(src.path))
