"""The one CRS module: how survey coordinates become storage coordinates.

Chinese survey data breaks naive CRS handling in three ways, all handled here:
- CGCS2000 definitions put northing (X) first; GIS libraries want easting first. Everything in
  the platform uses ``always_xy`` transformers so geometry x is always easting / longitude.
- A 3-degree Gauss-Krüger easting is written either zone-prefixed (39,5xx,xxx; EPSG:4513–4533)
  or without the prefix (5xx,xxx; EPSG:4534–4554). The magnitude of the easting tells which.
- Survey tables write X = northing, Y = easting; :func:`swap_survey_xy` is the single place
  that turns them into (easting, northing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pyproj
from pyproj.exceptions import CRSError as _ProjCRSError
from pyproj.exceptions import ProjError as _ProjError

from cim.errors import InputError

CGCS2000_GEOG = 4490
ZONE_PREFIXED_FIRST = 4513  # zone 25
CM_FIRST = 4534  # 75°E
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84 = "OGC:CRS84"
WGS84_GEOG = 4326

# CRS84 (lon/lat) by every name clients send: CRS84, OGC:CRS84, its OGC URI (http or https,
# version 1.3 or 0) and URN, and CRS84h (its 3D form: the platform's lon/lat are 2D)
_CRS84_NAME = re.compile(r"(?:OGC:|URN:OGC:DEF:CRS:OGC:(?:1\.3|0)?:|"
                         r"HTTPS?://(?:WWW\.)?OPENGIS\.NET/DEF/CRS/OGC/(?:1\.3|0)/)?CRS84H?",
                         re.IGNORECASE)


def is_crs84(crs: str | int | None) -> bool:
    """Whether ``crs`` names CRS84 (lon/lat), in any of its forms. The one test: the query
    library, CQL2's filter-crs and the OGC API's crs/bbox-crs each had their own list, and
    they differed (one refused the URN, another took any name containing CRS84)."""
    return crs is not None and \
        _CRS84_NAME.fullmatch(_uncurie(str(crs).strip()).rstrip("/")) is not None


def _uncurie(name: str) -> str:
    """A safe CURIE's CRS (``[EPSG:4527]``, ``[OGC:CRS84]``: OGC API Features part 2 takes
    them wherever a CRS URI goes) as its bare name; any other text as it is."""
    name = name[1:-1].strip() if len(name) > 2 and name[0] == "[" and name[-1] == "]" else name
    # a bare CRS84 (what the query options and processes take) is OGC's: PROJ knows it only
    # as OGC:CRS84 (the approval process refused "crs": "CRS84" the aoi process took)
    up = name.upper()
    return "OGC:CRS84" if up == "CRS84" else "OGC:CRS84h" if up == "CRS84H" else name


def crs_arg(crs: str | int) -> str | int:
    """A ``--crs`` (or a process's ``crs``) as :func:`parse_crs` takes it: an OGC URI by its
    last part."""
    return str(crs).rsplit("/", 1)[-1] if str(crs).startswith("http") else crs


def is_lonlat(c: pyproj.CRS) -> bool:
    """CRS84, EPSG:4326 or EPSG:4490 (lon/lat of WGS 84 or CGCS2000, one to PROJ)."""
    if not c.is_geographic:
        return False
    return c.to_epsg(min_confidence=70) in (CGCS2000_GEOG, WGS84_GEOG) \
        or c.equals(parse_crs(CRS84), ignore_axis_order=True)


@lru_cache(maxsize=32)
def lonlat_srid(storage_srid: int) -> int:
    """The geographic CRS in which lon/lat (CRS84) coordinates of data stored in
    ``storage_srid`` are computed: CGCS2000 (4490) for a storage CRS on CGCS2000 — PROJ's only
    operation from it to WGS 84 is a no-op (a ballpark), so the numbers are the same, and its
    search costs each process or backend 25–40 ms — else WGS 84 (4326), through the datum
    transformation PROJ knows (CH1903+ data served through 4490 was 176 m off: no operation
    from CH1903+ to CGCS2000 exists, and PROJ's ballpark ignored the datum)."""
    geod = pyproj.CRS.from_epsg(int(storage_srid)).geodetic_crs
    return CGCS2000_GEOG if geod is not None and geod.to_epsg() == CGCS2000_GEOG \
        else WGS84_GEOG


# how far beyond its storage CRS's area of use a layer's data may lie (degrees): the loaders
# keep data in the city, which lies in that area, and the CRS projects well this far beyond it
DOMAIN_MARGIN_DEGREES = 5.0
DOMAIN_MAX_LATITUDE = 89.0


@lru_cache(maxsize=64)
def storage_lonlat_area(storage_srid: int) -> tuple[float, float, float, float] | None:
    """Where data stored in ``storage_srid`` can lie, as lon/lat (west, south, east, north):
    the CRS's area of use widened by :data:`DOMAIN_MARGIN_DEGREES`, latitudes within
    ±:data:`DOMAIN_MAX_LATITUDE`, the whole width for an area across the antimeridian. None
    when the CRS has no area of use.

    The one rule for a lon/lat box or geometry that is projected into the storage CRS (an API
    bbox, a CQL2 literal, a tile's envelope, a query's area): it is cut to this first.
    Projected whole, a box reaching far from the CRS's area (a whole-world box into a
    Gauss-Krüger zone) is no polygon around the data any more (it selected nothing) or cannot
    be projected at all (PROJ: point outside of projection domain)."""
    area = parse_crs(int(storage_srid)).area_of_use
    if area is None:
        return None
    m = DOMAIN_MARGIN_DEGREES
    w, e = max(-180.0, area.west - m), min(180.0, area.east + m)
    s = max(-DOMAIN_MAX_LATITUDE, area.south - m)
    n = min(DOMAIN_MAX_LATITUDE, area.north + m)
    if w > e:  # an area across the antimeridian: no cut in longitude
        w, e = -180.0, 180.0
    return (w, s, e, n)


# a geometry given in another CRS is densified before it is projected (a straight edge in
# lon/lat is a curve on the ground): vertices ~50 m apart keep each edge within 0.1 mm of its
# image; once projected, an area's edges are thinned back within 1 mm (AREA_SIMPLIFY_M), since
# a box as large as the storage CRS's domain densified so has ~200,000 vertices and every
# feature tested against it paid for each (0.08 ms a row on the items path)
DENSIFY_DEGREES = 0.0005
DENSIFY_METRES = 50.0
AREA_SIMPLIFY_M = 0.001


def densify_step(geographic: bool) -> float:
    """The ``ST_Segmentize`` step for a geometry in a geographic (degrees) or projected CRS."""
    return DENSIFY_DEGREES if geographic else DENSIFY_METRES


# at most about this many vertices in a geometry densified before its transformation
DENSIFY_MAX_VERTICES = 20_000


def densified(geom, c: pyproj.CRS):
    """``geom`` (shapely) in ``c`` with vertices at most :func:`densify_step` apart, before
    its vertices are transformed one by one: an edge straight in ``c`` is a curve in lon/lat,
    and transformed by its ends alone (then straight in lon/lat) a 10 km edge of an area given
    in the next Gauss-Krüger zone lay 1.6 m off at its middle (Web Mercator's: 1.3 m). At most
    about :data:`DENSIFY_MAX_VERTICES` vertices: a web map's whole-world box in EPSG:3857
    densified every 50 m took 4.6 s (its image is then cut to where the data lie)."""
    import shapely

    return shapely.segmentize(geom, densify_step_of(geom, c.is_geographic))


def densify_step_of(geom, geographic: bool) -> float:
    """The densifying step of ``geom`` (shapely, in a geographic or projected CRS):
    :func:`densify_step`, or longer where that would give it more than about
    :data:`DENSIFY_MAX_VERTICES` vertices (a CQL2 filter's China-sized box densified every
    0.0005° had 172,001, and each feature was tested against all of them)."""
    import shapely

    return max(densify_step(geographic), float(shapely.length(geom)) / DENSIFY_MAX_VERTICES)


@lru_cache(maxsize=64)
def storage_domain(srid: int, storage_srid: int) -> tuple[float, float, float, float] | None:
    """:func:`storage_lonlat_area` for boxes and geometries given in ``srid``, as (xmin,
    ymin, xmax, ymax) in PostGIS x/y order (lon/lat) when ``srid`` is geographic (CRS84,
    EPSG:4490, EPSG:4326: what clients send). None when ``srid`` is the storage CRS (nothing
    is projected), a projected CRS, or the storage CRS has no area of use."""
    if int(srid) == int(storage_srid) or not parse_crs(int(srid)).is_geographic:
        return None
    return storage_lonlat_area(int(storage_srid))


@lru_cache(maxsize=64)
def parse_crs(value: str | int) -> pyproj.CRS:
    """A CRS from 'EPSG:4527', 4527, a safe CURIE '[EPSG:4527]', a URN or URI, a WKT or PROJ
    string; clear error if unknown."""
    try:
        return pyproj.CRS.from_user_input(_uncurie(value.strip()) if isinstance(value, str)
                                          else value)
    except (_ProjCRSError, TypeError) as exc:
        raise InputError(f"unknown coordinate reference system {value!r}") from exc


def epsg_of(crs: pyproj.CRS | str | int) -> int | None:
    c = crs if isinstance(crs, pyproj.CRS) else parse_crs(crs)
    code = c.to_epsg(min_confidence=70)
    return code


def crs_text(crs: pyproj.CRS) -> str:
    """How a delivery's CRS is recorded (load_batches.source_crs): ``EPSG:n``, else its WKT.

    Always parseable back (:func:`parse_crs`), so rejects kept in that CRS can be exported
    with it; a bare name ("unknown", "CGCS2000 / custom") could not.
    """
    code = epsg_of(crs)
    if code:
        return f"EPSG:{code}"
    if crs.is_compound:  # a projected CRS + a height datum, both EPSG's: EPSG:4527+5737
        parts = [epsg_of(c) for c in crs.sub_crs_list]
        if all(parts):
            return "EPSG:" + "+".join(map(str, parts))
    return crs.to_wkt()


def ellipsoidal_heights(crs: pyproj.CRS) -> bool:
    """Whether the CRS's heights are above the ellipsoid (a 3D geographic CRS, EPSG:4480):
    not the 1985 national height datum survey heights are in (standards.md)."""
    return any("ellipsoidal height" in a.name.lower() for a in crs.axis_info)


# the 1985 national height datum (1985国家高程基准, EPSG:5737 "Yellow Sea 1985 height"): the
# heights of the survey standards (standards.md)
HEIGHTS_1985 = 5737


def other_vertical_datum(crs: pyproj.CRS) -> str | None:
    """The vertical CRS of a compound CRS whose heights are not in the 1985 national height
    datum (Yellow Sea 1956, EGM2008 …), named; None otherwise. PROJ knows only ballpark
    operations between them (1956 is 2.9 cm off 1985, EGM2008 decimetres): not converted,
    said."""
    if not crs.is_compound:
        return None
    for sub in crs.sub_crs_list:
        if sub.is_vertical and sub.to_epsg(min_confidence=70) != HEIGHTS_1985:
            return sub.name
    return None


def wgs84_frame(crs: pyproj.CRS) -> bool:
    """Whether the CRS's datum is WGS 84 (or an ITRF): PROJ takes it as CGCS2000 without a
    shift, which the platform accepts (they agree to decimetres, :func:`_alike`) — but GNSS
    coordinates of today's epoch lie some 0.7 m from CGCS2000's (epoch 2000.0) in eastern
    China, which a load says."""
    g = crs.geodetic_crs
    name = (g.datum.name if g is not None and g.datum is not None else "") or ""
    return "World Geodetic System 1984" in name or "WGS 84" in name or "ITRF" in name


def crs_label(crs: pyproj.CRS) -> str:
    """How a CRS is named to a person: ``EPSG:4527 (CGCS2000 / 3-degree Gauss-Kruger zone
    39)``, a .prj the EPSG registry matches by its code, else its authority or its name."""
    code = epsg_of(crs)
    if code is None and crs.is_compound and crs_text(crs).startswith("EPSG:"):
        return f"{crs_text(crs)} ({crs.name})"
    if code is None:
        auth = crs.to_authority()
        return f"{':'.join(auth)} ({crs.name})" if auth else crs.name
    return f"EPSG:{code} ({crs.name})"


def metres_in_units(crs: pyproj.CRS | str | int, metres: float) -> float:
    """``metres`` as a length in the CRS's coordinate units: itself for a CRS in metres, in
    degrees for a geographic one (at the equator's scale: for small tolerances)."""
    c = crs if isinstance(crs, pyproj.CRS) else parse_crs(crs)
    if c.is_geographic:
        return metres / 111_320.0
    factor = c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0
    return metres / (factor or 1.0)


def srid_of(crs: pyproj.CRS | str | int) -> int:
    """EPSG code of a storage CRS; storage CRSs must have one (PostGIS SRID)."""
    code = epsg_of(crs)
    if code is None:
        raise InputError(f"the storage CRS {crs!r} has no EPSG code")
    return code


def crs_uri(srid: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{srid}"


@lru_cache(maxsize=128)
def transformer(src: str | int, dst: str | int) -> pyproj.Transformer:
    """Easting-first transformer between two CRSs, cached.

    A CRS PROJ reads but cannot relate to the other (a sphere of another body, ``+proj=longlat
    +a=1``) is the given CRS's fault, told as bad input (it was an internal error, a 500)."""
    a, b = parse_crs(src), parse_crs(dst)
    try:
        return pyproj.Transformer.from_crs(a, b, always_xy=True)
    except _ProjError as exc:
        reason = str(exc).split("proj_create_operations: ")[-1].split(". You may")[0]
        raise InputError(f"no transformation from {src!r} to {dst!r}: {reason}") from None


# two CRSs putting the same written coordinates this close (metres) are one CRS spelt otherwise
SAME_PLACE_M = 0.001


def extent_points(geoms: Sequence) -> np.ndarray:
    """The corners and centre of the geometries' extent (finite bounds only), (n, 2) as
    written: where two CRSs are compared (:func:`places_apart`). A CRS's formulas are smooth
    over a project's or a layer's few kilometres, so two that agree at its corners and
    centre agree within it; transforming every vertex would cost a project's check for
    nothing."""
    import shapely

    g = np.asarray([x for x in geoms if x is not None], dtype=object)
    b = shapely.bounds(g) if len(g) else np.empty((0, 4))
    b = b[np.all(np.isfinite(b), axis=1)]
    if not len(b):
        return np.empty((0, 2))
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1), ((x0 + x1) / 2, (y0 + y1) / 2)])


def places_apart(a: pyproj.CRS, b: pyproj.CRS, xy: np.ndarray,
                 to: pyproj.CRS | str | int | None = None) -> float | None:
    """How far apart (metres) ``a`` and ``b`` put the coordinates ``xy`` (as written, easting
    first), both taken into ``to`` — the storage CRS where one is known (where the check
    measures), else ``b`` itself (a geographic one measured on its ellipsoid): into CRS84
    PROJ searches the datum operations of a CRS it cannot identify for 2 s, into ``b``'s
    own datum 50 ms. None where either cannot put them (outside its domain); without
    points, 0 for CRSs PROJ holds equal, else None.

    The one test of whether two CRSs are one CRS spelt otherwise (:func:`same_place`): by
    WKT a surveyor's .prj (``Gauss_Kruger_117E``, Transverse Mercator, 117°E, false easting
    39,500,000) is not EPSG:4527, and GDAL cannot identify it, yet it puts every coordinate
    where EPSG:4527 does; by where they put coordinates, EPSG:32650 and EPSG:4548 (both on
    117°E) differ by 1.5 km, as they do."""
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    if not len(pts):
        return 0.0 if a.equals(b, ignore_axis_order=True) else None
    dst = b if to is None else to if isinstance(to, pyproj.CRS) else parse_crs(to)
    with np.errstate(all="ignore"):
        pa, pb = (np.column_stack(pyproj.Transformer.from_crs(c, dst, always_xy=True)
                                  .transform(pts[:, 0], pts[:, 1], errcheck=False))
                  for c in (a, b))
    if not (np.all(np.isfinite(pa)) and np.all(np.isfinite(pb))):
        return None
    if dst.is_geographic:
        d = dst.get_geod().inv(pa[:, 0], pa[:, 1], pb[:, 0], pb[:, 1])[2]
    else:
        d = np.hypot(*(pa - pb).T) * (dst.axis_info[0].unit_conversion_factor
                                      if dst.axis_info else 1.0)
    return float(np.max(d))


def same_place(a: pyproj.CRS, b: pyproj.CRS, xy: np.ndarray,
               to: pyproj.CRS | str | int | None = None) -> bool:
    """Whether ``a`` and ``b`` put ``xy`` within :data:`SAME_PLACE_M` of each other
    (:func:`places_apart`): one CRS, whatever its WKT. CRSs PROJ holds equal are so
    without a transformation."""
    if a.equals(b, ignore_axis_order=True):
        return True
    apart = places_apart(a, b, xy, to)
    return apart is not None and apart <= SAME_PLACE_M


# CGCS2000, WGS 84 and every frame on their ellipsoid agree to decimetres (CGCS2000 is aligned
# to ITRF97, as WGS 84's realisations to ITRF): PROJ's ballpark between them is no shift, and
# none is needed for data in metres. A datum is told by its ellipsoid, not its name: a .prj
# names CGCS2000 D_CGCS2000 or D_China_2000, a city's PROJ string "unknown based on GRS 1980"
_ALIKE_ELLIPSOID = (6378137.0, 298.2572)  # semi-major axis (m), inverse flattening (4 places)


def _alike(c: pyproj.CRS) -> bool:
    e = c.ellipsoid
    return e is not None and abs(e.semi_major_metre - _ALIKE_ELLIPSOID[0]) < 0.01 and \
        abs(e.inverse_flattening - _ALIKE_ELLIPSOID[1]) < 1e-4


def ballpark_datums(src: pyproj.CRS, dst: pyproj.CRS, tx: pyproj.Transformer
                    ) -> tuple[str, str] | None:
    """(the source's datum, the destination's) when ``tx`` reaches one from the other by a
    ballpark only across ellipsoids — Xian 1980 (IAG 1975) or Beijing 1954 (Krassowsky) to
    CGCS2000: PROJ applies no datum shift, an error it cannot bound (tens of metres), and
    the data would land shifted without a word — else None (one ellipsoid's frames, alike
    to decimetres, or a transformation PROJ knows). A CRS with +towgs84=… parameters is no
    way around it: PROJ applies them towards WGS 84 only, and reaches CGCS2000 from it by
    the ballpark all the same."""
    if "ballpark" not in (tx.description or "").lower():
        return None
    if (_alike(src) and _alike(dst)) or src.ellipsoid == dst.ellipsoid:
        return None

    def datum(c: pyproj.CRS) -> str:
        g = c.geodetic_crs
        return g.datum.name if g is not None and g.datum is not None else ""

    return datum(src) or "unknown", datum(dst)


def ballpark_refusal(src: pyproj.CRS, dst: pyproj.CRS, tx: pyproj.Transformer,
                     what: str) -> str | None:
    """The words refusing ``what`` (the input, the project) in ``src`` when it reaches ``dst``
    by a ballpark only (:func:`ballpark_datums`), else None."""
    got = ballpark_datums(src, dst, tx)
    if got is None:
        return None
    a, b = got
    return (f"{what}'s CRS {src.name} (datum {a}) reaches the storage CRS {dst.name} (datum "
            f"{b}) by a ballpark only (no datum shift: an error PROJ cannot bound, often tens "
            f"of metres); convert it to {dst.name} with the city's transformation parameters "
            "first, or give --crs if the file's CRS is declared wrongly")


def to_storage(src: pyproj.CRS, storage_srid: int, path: str | None = None
               ) -> pyproj.Transformer | None:
    """The transformer of a delivery's coordinates into the storage CRS (None: they are in it
    already); a delivery whose CRS reaches it by a ballpark only (:func:`ballpark_datums`) is
    refused naming ``path`` — its features would be stored shifted by an unknown amount."""
    epsg = epsg_of(src)
    if epsg == storage_srid:
        return None
    tx = transformer(src.to_wkt(), storage_srid)
    why = ballpark_refusal(src, parse_crs(storage_srid), tx, "the input")
    if why is not None:
        raise InputError(why, path=path)
    return tx


def gk_zone_of_prefixed(epsg: int) -> int | None:
    """Zone number of a zone-prefixed CGCS2000 3° GK CRS (EPSG:4513–4533)."""
    if ZONE_PREFIXED_FIRST <= epsg <= ZONE_PREFIXED_FIRST + 20:
        return 25 + epsg - ZONE_PREFIXED_FIRST
    return None


def gk_central_meridian_of(epsg: int) -> int | None:
    if CM_FIRST <= epsg <= CM_FIRST + 20:
        return 75 + 3 * (epsg - CM_FIRST)
    zone = gk_zone_of_prefixed(epsg)
    return 3 * zone if zone else None


def cgcs2000_gk_epsg(zone: int, prefixed: bool) -> int:
    if not 25 <= zone <= 45:
        raise InputError(f"CGCS2000 3-degree zone {zone} is outside zones 25–45")
    return (ZONE_PREFIXED_FIRST if prefixed else CM_FIRST) + zone - 25


def gk_zones_of_eastings(eastings: Sequence[float] | np.ndarray) -> np.ndarray:
    """Each easting's Gauss-Krüger zone as its prefix carries it (39,512,345.6 → 39), 0 for
    an easting of no zone (six digits, degrees, a digit missing, NaN): the one reading of the
    prefix, so the file's zone and the rows named as of another zone cannot disagree."""
    e = np.asarray(eastings, dtype=float)
    prefixed = (e >= 25_000_000) & (e < 46_000_000)
    return np.where(prefixed, np.floor(np.where(prefixed, e, 0) / 1_000_000), 0).astype(int)


def detect_gk_from_eastings(eastings: Sequence[float] | np.ndarray,
                            storage_epsg: int | None = None, what: str = "rows"
                            ) -> int | None:
    """Guess a CGCS2000 3° GK CRS from easting magnitudes.

    An easting of ~39,500,000 carries its zone (39) in the prefix. A six-digit easting has no
    zone: the central meridian must come from elsewhere, here the storage CRS of the profile.
    Returns None when the eastings fit neither form.
    """
    e = np.asarray(eastings, dtype=float)
    e = e[np.isfinite(e)]
    if e.size == 0:
        return None
    med = float(np.median(e))
    if gk_zones_of_eastings(med) > 0:  # the median easting carries a zone
        # the zones of the prefixed eastings; a value of no zone at all (a row typed in
        # degrees, a digit missing) is left to be rejected as its row, not the whole file
        zone = gk_zones_of_eastings(e)
        zones, counts = np.unique(zone[zone > 0], return_counts=True)
        if len(zones) != 1:
            spread = ", ".join(f"zone {z} ({c:,} {what})" for z, c in zip(zones.tolist(),
                                                                        counts.tolist()))
            raise InputError(f"the eastings' zone prefixes span several Gauss-Krüger zones "
                             f"({spread}): one file holds one zone — split it by zone, or "
                             f"correct the {what} of the other zone")
        return cgcs2000_gk_epsg(int(zones[0]), prefixed=True)
    if 100_000 <= med < 900_000 and storage_epsg is not None:
        cm = gk_central_meridian_of(storage_epsg)
        if cm is not None:
            return cgcs2000_gk_epsg(cm // 3, prefixed=False)
    return None


def check_gk_consistency(crs: pyproj.CRS, eastings: np.ndarray) -> str | None:
    """Explain why eastings contradict a declared GK CRS (prefix present/absent), else None."""
    code = epsg_of(crs)
    if code is None:
        return None
    e = eastings[np.isfinite(eastings)]
    if e.size == 0:
        return None
    med = float(np.median(e))
    if gk_central_meridian_of(code) and abs(med) <= 180:
        return (f"the coordinates (~{med:g}) look like degrees of longitude and latitude, not "
                f"the metres of EPSG:{code}; use --crs EPSG:4490 (CGCS2000 geographic)")
    if gk_zone_of_prefixed(code) and med < 1_000_000:
        return (f"eastings (~{med:,.0f}) have no zone prefix but the CRS EPSG:{code} expects "
                f"zone-prefixed eastings (~{gk_zone_of_prefixed(code)},5xx,xxx); use "
                f"--crs EPSG:{cgcs2000_gk_epsg(gk_zone_of_prefixed(code), False)}")
    if gk_central_meridian_of(code) and not gk_zone_of_prefixed(code) and med > 10_000_000:
        return (f"eastings (~{med:,.0f}) are zone-prefixed but the CRS EPSG:{code} expects "
                f"six-digit eastings; use --crs EPSG:{cgcs2000_gk_epsg(int(med // 1e6), True)}")
    return None


def swap_survey_xy(x_northing: np.ndarray, y_easting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Survey tables write X = northing, Y = easting; return (easting, northing)."""
    return np.asarray(y_easting, dtype=float), np.asarray(x_northing, dtype=float)


def lonlat_bounds(crs: pyproj.CRS | str | int, bounds: Sequence[float]) -> tuple[float, ...]:
    """Bounds (minx, miny, maxx, maxy) in ``crs`` as CRS84 lon/lat bounds (densified)."""
    t = pyproj.Transformer.from_crs(parse_crs(crs) if not isinstance(crs, pyproj.CRS) else crs,
                                    "OGC:CRS84", always_xy=True)
    out = t.transform_bounds(*bounds, densify_pts=21)
    if not all(math.isfinite(v) for v in out):
        raise InputError("coordinates cannot be transformed to longitude/latitude")
    return out


def axis_is_northing_first(crs: pyproj.CRS | str | int) -> bool:
    c = crs if isinstance(crs, pyproj.CRS) else parse_crs(crs)
    return bool(c.axis_info) and c.axis_info[0].direction.lower() in ("north", "south")


def srs_name_crs(srs_name: str) -> tuple[pyproj.CRS, bool]:
    """The horizontal CRS a GML ``srsName`` names, and whether the coordinates are written in
    its authority's axis order (northing first where its axes are so).

    A compound CRS (``urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783``, a 3D city
    model's EPSG:25833 + DHHN92 height) gives its horizontal part: the platform stores 2D.
    The URN and ``http://www.opengis.net/def/crs/…`` forms mean the authority's axis order
    (``urn:ogc:def:crs:EPSG::4326`` is latitude first); ``EPSG:n`` is GIS order (easting or
    longitude first), as GDAL reads them. InputError if PROJ knows no such CRS or it has no
    projected or geographic part."""
    crs = parse_crs(srs_name.strip())
    parts = crs.sub_crs_list if crs.is_compound else [crs]
    horizontal = next((c for c in parts if c.is_projected or c.is_geographic), None)
    if horizontal is None:
        raise InputError(f"the coordinate reference system {srs_name!r} has no horizontal "
                         "(projected or geographic) part")
    form = srs_name.strip().lower()
    authority_order = form.startswith(("urn:", "http://www.opengis.net/def/crs",
                                       "https://www.opengis.net/def/crs"))
    return horizontal, authority_order and axis_is_northing_first(horizontal)


def written_axis_order(crs: pyproj.CRS, points: np.ndarray) -> str | None:
    """How coordinates written for ``crs`` are ordered, told from where they lie: ``"xy"``
    when, read easting (longitude) first, they lie in the CRS's area of use (widened by
    :data:`DOMAIN_MARGIN_DEGREES`; Gauss-Krüger eastings also of the CRS's zone-prefix form:
    :func:`check_gk_consistency`) and read northing first they do not; ``"yx"`` the other way
    round; None when both or neither fit (Gauss-Krüger coordinates always settle it — a
    seven- or eight-digit northing is no easting of the zone — degrees near the equator of a
    world-wide CRS do not). ``points``: (n, 2) as written."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    area = crs.area_of_use
    if not len(pts) or area is None:
        return None
    m = DOMAIN_MARGIN_DEGREES
    to_lonlat = pyproj.Transformer.from_crs(crs, "OGC:CRS84", always_xy=True)

    def fits(xy: np.ndarray) -> bool:
        if check_gk_consistency(crs, xy[:, 0]) is not None:
            return False
        with np.errstate(all="ignore"):
            lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1], errcheck=False)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        west, east = area.west - m, area.east + m
        if area.west > area.east:  # across the antimeridian: no cut in longitude
            west, east = -180.0, 180.0
        return bool(np.all(np.isfinite(lon) & np.isfinite(lat)
                           & (lon >= west) & (lon <= east)
                           & (lat >= area.south - m) & (lat <= area.north + m)))

    as_written, swapped = fits(pts), fits(pts[:, ::-1])
    if as_written != swapped:
        return "xy" if as_written else "yx"
    return None

