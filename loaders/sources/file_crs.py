"""The CRS a file names in its own format's way, where GDAL gives none or a wrong one.

A GML names it in a ``srsName`` (a city model once, on an Envelope), in an axis order its
coordinates may or may not follow; GDAL says WGS 84 for every GeoJSON without a "crs"
member, though Chinese deliveries hold projected coordinates in one; a CSV's EWKT
(``SRID=4527;POINT …``) names an SRID GDAL does not read. The reader's
:func:`~loaders.sources.read.open_source` asks these when it inspects a source.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyogrio
import pyproj

from cim.crs import srs_name_crs, written_axis_order
from cim.errors import InputError
from loaders.sources.csv_geometry import ewkt_srids
from loaders.sources.gdal_access import GDAL_INPUT_ERRORS, gdal_message


def ewkt_crs(path: Path, opts: dict[str, str], column: str, crs: pyproj.CRS | None,
             aside: str | None, notes: list[str]
             ) -> tuple[int | None, pyproj.CRS | None, str | None]:
    """(the SRID, the CRS, why the file's own was set aside) of a CSV whose geometry column
    holds EWKT (``SRID=4527;POINT …``, as PostGIS exports it): GDAL reads no geometry from
    it, and every row was rejected as unreadable; the SRID is the file's CRS, as a .prj is.
    Several SRIDs in one file are refused naming the column: one CRS a file."""
    try:
        srids = ewkt_srids(path, opts, column)
    except GDAL_INPUT_ERRORS:
        return None, crs, aside  # the read itself says why
    if not srids:
        return None, crs, aside
    if len(srids) > 1:
        raise InputError(f"its geometry column holds EWKT of several CRSs (SRID="
                         f"{', '.join(map(str, srids))}): one CRS a file — export each apart, "
                         "or as one CRS", path=str(path), field=column)
    srid = srids[0]
    try:
        named = pyproj.CRS.from_epsg(srid)
    except pyproj.exceptions.CRSError:
        raise InputError(f"its EWKT names SRID={srid}, which is no EPSG CRS: give the WKT "
                         "without the SRID= prefix and the CRS with --crs", path=str(path),
                         field=column) from None
    if crs is not None and not crs.equals(named, ignore_axis_order=True):
        raise InputError(f"its EWKT names SRID={srid} ({named.name}) but the file says "
                         f"{crs.name}", path=str(path), field=column)
    notes.append(f"CRS EPSG:{srid} from the EWKT (SRID={srid};…) of field {column!r}")
    return srid, named, None


_SRS_NAME = re.compile(rb"""\bsrsName\s*=\s*["']([^"']*)["']""")


_COORDS = re.compile(rb"<(?:[\w.-]+:)?(?:lowerCorner|upperCorner|pos|posList|coordinates)"
                     rb"\b[^>]*>([^<]*)<")


def first_srs_name(path: Path) -> tuple[str | None, np.ndarray]:
    """The first ``srsName`` of a GML (its model's or first object's Envelope, else its first
    geometry's: the CRS its coordinates are in) and the first two positions written after it
    (the Envelope's corners; (n, 2) as written, empty if none), read in 1 MiB chunks up to
    the first one — the file is never parsed nor held whole (none missed at the chunks'
    seams)."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            text = tail + chunk
            found = _SRS_NAME.search(text)
            if found:
                after = text[found.end():] + fh.read(8192)
                pts = []
                for c in _COORDS.finditer(after[:8192]):
                    nums = re.split(rb"[\s,]+", c.group(1).strip())
                    try:
                        pts.append((float(nums[0]), float(nums[1])))
                    except (ValueError, IndexError):
                        break
                    if len(pts) == 2:
                        break
                srs = found.group(1).decode("utf-8", "replace").strip() or None
                return srs, np.array(pts, dtype=float).reshape(-1, 2)
            tail = text[-1024:]
    return None, np.empty((0, 2))


def gml_srs_name_crs(path: Path, notes: list[str]
                     ) -> tuple[tuple[pyproj.CRS, str] | None, str | None]:
    """((the horizontal CRS a GML's first srsName names, that srsName) or None, the order its
    coordinates are written in): ``"xy"`` easting first; for a srsName whose axis order is
    northing first (:func:`cim.crs.srs_name_crs`: ``urn:ogc:def:crs:EPSG::4527``), told from
    where its first positions lie (:func:`cim.crs.written_axis_order`: ``"xy*"`` easting
    first all the same — most exporters write so —, ``"yx"`` northing first, None when they
    do not tell). A srsName PROJ cannot resolve is noted and left: the CRS then comes from
    --crs (or the coordinates)."""
    srs, points = first_srs_name(path)
    if srs is None:
        return None, "xy"
    try:
        crs, swap = srs_name_crs(srs)
    except InputError as exc:
        notes.append(f"its srsName {srs!r} cannot be resolved ({exc.message}); ignored")
        return None, "xy"
    if not swap:
        return (crs, srs), "xy"
    order = written_axis_order(crs, points)
    return (crs, srs), ("xy*" if order == "xy" else order)


# China's extent in degrees (west, south, east, north), Nansha to Mohe, Pamir to Fuyuan: where
# degrees written latitude first are told apart from a site grid's small numbers
CHINA_LONLAT = (73.0, 3.0, 136.0, 54.0)


def geojson_projected_without_crs(path: Path, layer: str | None, encoding: str | None,
                                  crs: pyproj.CRS) -> tuple[pyproj.CRS | None, str | None]:
    """GDAL says WGS 84 for every GeoJSON without a "crs" member; Chinese deliveries often
    hold projected coordinates in one. Coordinates beyond ±180/±90 are not degrees: drop the
    CRS so that it is detected from the coordinates (or taken from --crs)."""
    try:
        b = pyogrio.read_info(path, layer=layer, encoding=encoding,
                              force_total_bounds=True).get("total_bounds")
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot read its bounds: {gdal_message(exc)}",
                         path=str(path)) from exc
    if b is None or not np.all(np.isfinite(b)):
        return crs, None
    if max(abs(b[0]), abs(b[2])) <= 180 and max(abs(b[1]), abs(b[3])) <= 90:
        return crs, None
    w, s, e, n = CHINA_LONLAT
    if crs.is_geographic and s <= b[0] and b[2] <= n and w <= b[1] and b[3] <= e:
        # EPSG:4490's own order written (35.36, 116.61): it was "no CRS … pass --crs". Only
        # where exchanged they lie in China: a site grid in metres (x 12–78, y 104–165)
        # keeps its way out, --crs
        raise InputError(f"its coordinates are degrees written latitude first (x "
                         f"{b[0]:g}–{b[2]:g}, y {b[1]:g}–{b[3]:g}: exchanged they lie in "
                         "China): a GeoJSON holds longitude, latitude (RFC 7946), whatever CRS "
                         "it names; write them longitude first", path=str(path))
    return None, (f"the GeoJSON says {crs.name} but its coordinates are not degrees "
                  f"(x up to {max(abs(b[0]), abs(b[2])):,.0f}); CRS ignored")
