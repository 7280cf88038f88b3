"""What every query of the library shares: quoting, geometry arguments, areas of interest.

One helper quotes identifiers (:func:`ident`, :func:`column`), and only names the layer
declarations know are accepted, so no query ever formats a user string into SQL; values are
always bound. Geometry arguments (WKT, GeoJSON or a file) arrive in CRS84 by default, or in
EPSG:4490 / the storage CRS (typed WKT in their authority axis order, lat/lon and
northing/easting; GeoJSON and files x/y, easting first, as RFC 7946 and GDAL have it); they are
handed to PostGIS once, as WKB in CGCS2000 lon/lat or in the storage CRS, and transformed there
(densified first, so a lon/lat edge stays the curve it is on the ground).

Every query takes a conninfo string (the CLI: one connection per command) or an open psycopg
connection (the server's processes: a pooled one, no connect and a warm backend each call, see
docs/benchmarks.md); :func:`connection` gives both the same shape.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pyproj
import shapely
import shapely.geometry
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from cim.crs import (
    AREA_SIMPLIFY_M,
    CGCS2000_GEOG,
    DOMAIN_MARGIN_DEGREES,
    WGS84_GEOG,
    axis_is_northing_first,
    crs_arg,
    densified,
    epsg_of,
    is_crs84,
    is_lonlat,
    lonlat_srid,
    metres_in_units,
    parse_crs,
    storage_domain,
    transformer,
)
from cim.db.engine import psycopg_conninfo
from cim.errors import InputError
from cim.layerdefs import BASE_COLUMNS, LAYERS, Column, LayerDef
from layers.query.coord_checks import (
    check_axis_order,
    check_finite,
    check_lonlat,
    check_own_axis_order,
)

# densify lon/lat edges to about 10 m before projecting them
LONLAT_SEGMENT_DEG = 1e-4


# a conninfo string, or an open connection the caller keeps (and closes)
ConnOrInfo = str | psycopg.Connection


@contextmanager
def connection(conn_or_info: ConnOrInfo, read_only: bool = True
               ) -> Iterator[psycopg.Connection]:
    """A connection for one query, inside one transaction (``SET LOCAL`` stays in it).

    Given a string: connect, and close at the end (committing). Given an open connection: use
    it in a transaction block (a savepoint if the caller has one open) and leave it open, as
    its owner (a pool) lent it; an idle one gets a READ ONLY transaction, so nothing of the
    query outlives it on a connection the next request reuses.
    """
    if isinstance(conn_or_info, psycopg.Connection):
        conn = conn_or_info
        fresh = conn.info.transaction_status == TransactionStatus.IDLE
        # the library reads tuples: a caller's dict_row connection failed every query
        # (KeyError 0); its row factory is given back with the connection
        factory, conn.row_factory = conn.row_factory, tuple_row
        try:
            with conn.transaction():
                if read_only and fresh:
                    conn.execute("SET TRANSACTION READ ONLY")
                # inside a transaction of the caller's, its settings are given back: a
                # query's SET LOCAL (jit off, UTC) outlived it, to the caller's commit
                kept = None if fresh else conn.execute(_KEEP).fetchone()
                conn.execute("SELECT set_config('TimeZone', 'UTC', true)")
                yield conn
                if kept is not None:
                    conn.execute(_GIVE_BACK, kept)
        finally:
            conn.row_factory = factory
        return
    with psycopg.connect(conninfo_of(conn_or_info)) as conn:
        conn.read_only = read_only
        # PGTZ (cim.db.engine) is the session's zone, unless the conninfo's own options set
        # one: the query's transaction is on UTC either way
        conn.execute("SELECT set_config('TimeZone', 'UTC', true)")
        yield conn


# the session settings a query may change inside the caller's transaction (SET LOCAL)
_KEEP = "SELECT current_setting('jit'), current_setting('TimeZone')"
_GIVE_BACK = "SELECT set_config('jit', %s, true), set_config('TimeZone', %s, true)"


def conninfo_of(conninfo: str) -> str:
    """A libpq conninfo (or ``postgresql://`` URI) as it is, and the platform's own database
    URL (``postgresql+psycopg://…``: ``CIM_DATABASE_URL``, ``cim db url``) as libpq reads
    it — that was libpq's 'missing "=" after …' to a notebook user. Every connection of the
    library's is on UTC (:mod:`cim.db.engine` sets PGTZ): the times it answers are UTC
    instants, and a ``DATE`` in a filter without a city's ``zone`` a UTC day, whatever the
    server's time zone."""
    return psycopg_conninfo(conninfo) if _DRIVER_URL.match(conninfo) else conninfo


_DRIVER_URL = re.compile(r"^[a-z0-9]+\+[a-z0-9]+://", re.I)


def layer_def(name: str) -> LayerDef:
    """The declared layer ``name`` — loaded, or a room's result layer (alarms, cases, health
    indicators: :func:`layers.catalog.layer_defs`), queried as the API publishes it; an
    unknown name is an input error listing the known ones."""
    from layers.catalog import layer_defs

    defs = layer_defs()
    if name not in defs:
        raise InputError(f"unknown layer {name!r}; known layers: {', '.join(defs)}")
    return defs[name]


# the base columns a result layer's table has too (it is no load's: no source key, batch,
# attributes or hashes; flags where its room keeps them)
_RESULT_BASE = ("id", "code", "valid_from", "valid_to")


def published_columns(layer: str) -> list[Column]:
    """The columns of ``layer`` a query may name and returns (not the geometry): a loaded
    layer's base and own columns; a result layer's code and validity, its own columns and
    its other ones but those it never publishes (a case's address, its reporter's words)."""
    d = layer_def(layer)
    if d.name in LAYERS:
        return [*BASE_COLUMNS, *d.columns]
    return [*(c for c in BASE_COLUMNS if c.name in _RESULT_BASE), *d.columns,
            *(c for c in d.other_columns if c.name not in d.unpublished)]


def ident(layer: str) -> sql.Identifier:
    """The quoted table of a declared layer (the only way a layer name reaches SQL)."""
    return sql.Identifier(layer_def(layer).table)


def column_names(layer: str) -> list[str]:
    return [c.name for c in published_columns(layer)] + ["geom"]


def column(layer: str, name: str, alias: str | None = None) -> sql.Composable:
    """A quoted column of a declared layer (optionally qualified by a table alias)."""
    if name not in column_names(layer):
        raise InputError(f"layer {layer} has no column {name!r}; columns: "
                         f"{', '.join(layer_def(layer).column_names())}")
    return sql.Identifier(alias, name) if alias else sql.Identifier(name)


@dataclass(frozen=True)
class QueryGeometry:
    """A user geometry as WKB in lon/lat (CGCS2000's 4490 or WGS 84's 4326:
    :func:`cim.crs.lonlat_srid`) or in the storage CRS."""

    wkb: bytes
    srid: int
    # an area (not a line or point): once projected, its densified edges are simplified
    # within AREA_SIMPLIFY_M (see storage_sql)
    area: bool = False

    def storage_sql(self, storage_srid: int) -> tuple[sql.Composable, list]:
        """SQL of this geometry in the storage CRS, and its bound parameters.

        An area's projected edges are simplified within :data:`AREA_SIMPLIFY_M`: densified
        to 10 m, a box as large as the storage CRS's domain (a whole-world bbox cut to it)
        has a million vertices, and every feature of every layer tested against it cost
        ~0.5 ms (/map/api/aoi of a whole-world box hit the statement timeout, a 500); an
        edge's image curves so little that vertices ~270 m apart keep it within 1 mm."""
        if self.srid == storage_srid:
            return sql.SQL("ST_GeomFromWKB(%s, {})").format(sql.Literal(storage_srid)), [self.wkb]
        g = sql.SQL("ST_Transform(ST_Segmentize(ST_GeomFromWKB(%s, {}), {}), {})").format(
            sql.Literal(self.srid), sql.Literal(LONLAT_SEGMENT_DEG), sql.Literal(storage_srid))
        if self.area:
            g = sql.SQL("ST_Simplify({}, {}, true)").format(
                g, sql.Literal(metres_in_units(storage_srid, AREA_SIMPLIFY_M)))
        return g, [self.wkb]


# the start of WKT (or EWKT): such a text is a geometry, never a file name
_WKT_START = re.compile(r"\s*(SRID=\d+;\s*)?(POINT|LINESTRING|POLYGON|MULTI|GEOMETRYCOLLECTION|"
                        r"CIRCULARSTRING|COMPOUNDCURVE|CURVEPOLYGON|TRIANGLE|TIN|"
                        r"POLYHEDRALSURFACE)\b", re.IGNORECASE)


# whether a geometry argument may name a file: on the command line, where the files are the
# user's own (the ``cim query`` group turns it on), never in a served process, where they would
# be the server's — a path sent as an HTTP process's polygon or line was read, and the
# parser's error echoed the file's first word
READ_FILES: ContextVar[bool] = ContextVar("cim_query_read_files", default=False)

# the most rows (pairs, features, pieces) one answer may hold, None: no limit. On the command
# line (the ``cim query`` group turns it off) the answer is the user's to hold; a served
# process (and a library call) stops at it: ``near`` of a 10^9 m distance answered 3.7 million
# pairs of the sample (366 MB, 24 s, a worker's memory grown to 716 MB), a whole city's
# features would be more. The SQL asks one row more than the limit (:func:`capped`), so the
# server never sends the rest.
def _max_rows_setting() -> int:
    """``CIM_PROCESS_MAX_ROWS``, a whole number ≥ 1 (100,000 when unset); else the default,
    said once in the server's log (an import failing on "100k" took the whole server)."""
    raw = os.environ.get("CIM_PROCESS_MAX_ROWS", "").strip().replace("_", "")
    if raw.isascii() and raw.isdigit() and int(raw) >= 1:  # '²' is a digit to Python
        return int(raw)
    if raw:
        import logging

        logging.getLogger("cim.query").warning(
            "CIM_PROCESS_MAX_ROWS=%r is not a whole number >= 1: 100000", raw)
    return 100_000


DEFAULT_MAX_ROWS = _max_rows_setting()
MAX_ROWS: ContextVar[int | None] = ContextVar("cim_query_max_rows", default=DEFAULT_MAX_ROWS)


def capped(q: sql.Composable) -> sql.Composable:
    """``q`` (a whole SELECT) asking at most one row more than :data:`MAX_ROWS`."""
    cap = MAX_ROWS.get()
    return q if cap is None else sql.SQL("{} LIMIT {}").format(q, sql.Literal(cap + 1))


def check_rows(rows: list, what: str, narrow: str) -> list:
    """``rows`` if within :data:`MAX_ROWS`; else bad input naming the limit and how to
    narrow the query."""
    cap = MAX_ROWS.get()
    if cap is not None and len(rows) > cap:
        raise InputError(f"the answer holds more than {cap:,} {what}: {narrow} (the command "
                         "line's `cim query` has no such limit)")
    return rows


# files read as text (WKT or GeoJSON); any other file is a vector file GDAL reads
TEXT_SUFFIXES = (".geojson", ".json", ".wkt", ".txt")


_FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9_]{0,9}$")
_EWKT_SRID = re.compile(r"SRID=(\d+);\s*(.*)", re.IGNORECASE | re.DOTALL)


def _read_argument(value: str, what: str = "the geometry"
                   ) -> tuple[shapely.Geometry, pyproj.CRS | None, bool]:
    """The geometry of an argument — WKT, GeoJSON, or (where :data:`READ_FILES` is on) a file
    holding either or any vector file GDAL reads (Shapefile, GeoPackage …: its features'
    union) — and the CRS the argument declares itself (a vector file's, a GeoJSON ``crs``
    member), None when it declares none (then ``--crs`` says); and whether its coordinates
    are easting (longitude) first whatever the CRS's axis order: in GeoJSON and EWKT, and
    in every file GDAL reads (a Shapefile without .prj, a DXF red line: x/y as drawn); only
    plain WKT is in the authority axis order of ``--crs``.

    WKT and GeoJSON are told by their start, not by asking the file system: a WKT polygon of
    a few dozen lon/lat vertices has a "suffix" (its first decimal point) and, longer than
    255 bytes, made ``Path.exists`` raise ENAMETOOLONG (an internal error, a 500). A text
    file is decoded as delivered text is (:func:`cim.text.decode_text`: UTF-8 with or without
    its BOM — what Windows tools save —, UTF-16, GBK)."""
    text = value.strip()
    if text.startswith(("{", "[")) or _WKT_START.match(text):
        return _parse(text, what)
    # looks like a file's name: a path, or a name with an extension (not "116.6,35.4")
    named = "(" not in text and len(text) < 4096 and (
        _FILE_SUFFIX.search(text) is not None or "/" in text or "\\" in text)
    if not READ_FILES.get():
        if named:
            raise InputError(f"{what}: WKT or GeoJSON expected, not a file name: files are "
                             "read on the command line only (a served query reads no files "
                             "of the server; in Python, READ_FILES of layers.query.common)")
        return _parse(text, what)
    p = Path(text)
    try:
        is_file = p.is_file()
    except OSError:  # not a name the file system takes: not a file
        is_file = False
    if not is_file:
        if named:
            raise InputError(f"{what}: no file {text} (and not WKT or GeoJSON)")
        return _parse(text, what)
    if p.suffix.lower() in TEXT_SUFFIXES:
        from cim.text import decode_text

        return _parse(decode_text(p.read_bytes(), p)[0], f"{what} ({p.name})")
    return _read_vector_file(p, what)


def _read_vector_file(p: Path, what: str
                      ) -> tuple[shapely.Geometry, pyproj.CRS | None, bool]:
    """The union of a vector file's geometries (its only layer) and its CRS; attributes are
    not read, so their encoding (a Shapefile's GBK) does not matter."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        layers = pyogrio.list_layers(p)
        if len(layers) > 1:
            raise InputError(f"{what}: {p} holds {len(layers)} layers "
                             f"({', '.join(str(n) for n in layers[:, 0])}); give a file of one")
        meta, _fids, wkb, _fields = pyogrio.raw.read(p, columns=[])
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(f"{what}: cannot read {p} (WKT, GeoJSON or a vector file GDAL "
                         f"reads expected): {exc}") from exc
    geoms = [g for g in shapely.from_wkb(wkb) if g is not None and not g.is_empty] \
        if wkb is not None else []
    if not geoms:
        raise InputError(f"{what}: {p} has no geometry")
    return (_union(geoms), parse_crs(meta["crs"]) if meta.get("crs") else None, True)


def _union(geoms: list[shapely.Geometry]) -> shapely.Geometry:
    """The union of a file's features, each repaired first where invalid: GEOS cannot union a
    self-crossing polygon with one it overlaps (an internal error), and a delivery's
    footprints often hold one. A lone geometry is left as given (repaired later, noted)."""
    if len(geoms) == 1:
        return geoms[0]
    arr = np.array(geoms, dtype=object)
    bad = ~shapely.is_valid(arr)
    if bad.any():
        arr[bad] = shapely.make_valid(arr[bad])
    return shapely.union_all(arr)


def _parse(text: str, what: str = "the geometry"
           ) -> tuple[shapely.Geometry, pyproj.CRS | None, bool]:
    """WKT or GeoJSON text → its geometry (a FeatureCollection's union), the CRS it declares
    (a GeoJSON ``crs`` member, as QGIS and GDAL still write a projected CRS's; EWKT's SRID)
    and whether its coordinates are x/y (easting, longitude first) whatever the CRS's axis
    order: GeoJSON always (RFC 7946; QGIS and GDAL write a projected CRS's easting first, with
    or without a ``crs`` member — one without it was read northing first in ``--crs
    EPSG:4527`` and refused as given in the other axis order), EWKT too; plain WKT typed by
    hand is in the authority axis order of ``--crs``."""
    text = text.strip()
    try:
        if text.startswith("{"):
            obj = json.loads(text)
            declared = _geojson_crs(obj)
            if obj.get("type") == "FeatureCollection":
                geoms = [shapely.geometry.shape(f["geometry"]) for f in obj["features"]
                         if f.get("geometry")]
                return _union(geoms), declared, True
            if obj.get("type") == "Feature":
                obj = obj["geometry"]
            return shapely.geometry.shape(obj), declared, True
        if m := _EWKT_SRID.match(text):  # PostGIS's EWKT (ST_AsEWKT): x/y in that SRID
            return shapely.from_wkt(m.group(2)), parse_crs(int(m.group(1))), True
        return shapely.from_wkt(text), None, False
    # ShapelyError: GEOS's, and an unknown GeoJSON type's (MultiSurface, Foo: a 500)
    except (ValueError, KeyError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise InputError(f"{what}: cannot read it (WKT or GeoJSON expected): {exc}") from exc


def _geojson_crs(obj: dict) -> pyproj.CRS | None:
    crs = obj.get("crs")
    if not isinstance(crs, dict):
        return None
    name = (crs.get("properties") or {}).get("name")
    if not name:
        return None
    return parse_crs(str(name))


def refuse_ballpark(crs: pyproj.CRS, storage_srid: int, what: str) -> None:
    """InputError where ``crs`` reaches the storage CRS by a ballpark only (Xian 1980, Beijing
    1954: no datum shift, an error PROJ cannot bound), as the loads and the approval check
    refuse it: a query area or an answer in it was off by tens of metres without a word."""
    from cim.crs import ballpark_refusal, transformer

    if epsg_of(crs) in (CGCS2000_GEOG, WGS84_GEOG):
        return  # lon/lat: reached as cim.crs.lonlat_srid says, never by a ballpark
    try:
        tx = transformer(crs.to_wkt(), storage_srid)
    except InputError:
        return  # no transformation at all: said by the caller's own transform, in its words
    why = ballpark_refusal(crs, parse_crs(storage_srid), tx, what)
    if why is not None:
        raise InputError(why.replace(" first, or give --crs if the file's CRS is declared "
                                     "wrongly", ""))


def query_geometry(value: str | shapely.Geometry, crs: str | int | None, storage_srid: int,
                   what: str = "the geometry", domain: str | None = None) -> QueryGeometry:
    """Parse a geometry argument (WKT, GeoJSON, or a file holding either) given in ``crs``.

    ``crs`` None or CRS84: lon/lat. Plain WKT and shapely geometries (a bbox, a point) in
    EPSG:4490: lat/lon as EPSG defines it; in the storage CRS (or any projected CGCS2000 CRS):
    its authority axis order, northing first for Gauss-Krüger. GeoJSON, EWKT and vector files
    are x/y (easting, longitude first) in every CRS.

    Coordinates must be finite, and in a geographic CRS longitudes within -180..180 and
    latitudes within -90..90: else an InputError naming ``what`` (the parameter: bbox,
    polygon, point, line) and why (PostGIS/PROJ refused them with an internal error).
    ``domain`` says what becomes of a lon/lat geometry reaching beyond where the data can lie
    (:func:`cim.crs.storage_domain`: the storage CRS's area of use widened), which PostGIS
    cannot always project: ``"clip"`` (an area: what of it lies there is what selects data, so
    a whole-world bbox selects the city) cuts it to that; ``"refuse"`` (a section line, whose
    offsets run from its first vertex) refuses it naming that area; None (a point: the
    caller tells where it lies) projects it as it is.
    """
    geom, declared, xy = (value, None, False) if isinstance(value, shapely.Geometry) \
        else _read_argument(value, what)
    if xy and declared is None and crs is not None and not is_crs84(crs):
        # a file or GeoJSON without a CRS: in --crs, as drawn (x/y)
        declared = parse_crs(crs_arg(crs))
    if geom is None or geom.is_empty:
        raise InputError(f"{what} is empty")
    check_finite(geom, what)
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    if declared is not None:  # the argument's own CRS, easting (longitude) first
        if crs is not None and not is_crs84(crs) \
                and not parse_crs(crs_arg(crs)).equals(declared, ignore_axis_order=True):
            raise InputError(f"{what} declares its CRS ({declared.name}) and --crs says "
                             f"{crs}: give --crs only for a geometry without one")
        if declared.is_projected:
            check_axis_order(geom, declared, what, declared.name, xy=True)
        if epsg_of(declared) == storage_srid:
            srid = storage_srid
        else:
            refuse_ballpark(declared, storage_srid, what)
            srid = lonlat_srid(storage_srid)
            if not is_lonlat(declared):
                t = pyproj.Transformer.from_crs(declared, parse_crs(srid), always_xy=True)
                geom = shapely.transform(densified(geom, declared), lambda xy: _tx(t, xy))
                check_finite(geom, what, f"cannot be transformed from {declared.name} to "
                                          "longitude/latitude")
            check_lonlat(geom, what, declared.name, lat_first=False)
    elif crs is None or is_crs84(crs):
        srid = lonlat_srid(storage_srid)
        check_lonlat(geom, what, "CRS84", lat_first=False)
    else:
        c = parse_crs(crs_arg(crs))
        if axis_is_northing_first(c):
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        if c.is_projected:
            check_axis_order(geom, c, what, str(crs))
        if c.is_geographic:
            check_lonlat(geom, what, str(crs), lat_first=axis_is_northing_first(c))
        # a city's own CRS (独立坐标系: a PROJ string or WKT without an EPSG code) is
        # transformed here like any other: it was refused as 'the storage CRS … has no EPSG
        # code'
        srid = epsg_of(c)
        if srid not in (storage_srid, CGCS2000_GEOG, WGS84_GEOG):
            refuse_ballpark(c, storage_srid, what)
            lonlat = lonlat_srid(storage_srid)
            t = transformer(srid or str(crs_arg(crs)), lonlat)  # cached
            given = geom
            geom = shapely.transform(densified(geom, c), lambda xy: _tx(t, xy))
            srid = lonlat
            if c.is_projected:
                check_own_axis_order(given, geom, c, lambda g: shapely.transform(
                    densified(g, c), lambda xy: _tx(t, xy)), what, str(crs), storage_srid)
            check_finite(geom, what, f"cannot be transformed from {crs} to longitude/latitude")
        elif srid != storage_srid:
            # EPSG:4490 or 4326: one to PROJ (its only operation between them is a no-op), so
            # the lon/lat the storage CRS's datum is reached from (cim.crs.lonlat_srid); data
            # on another datum (CH1903+) has no operation from CGCS2000, and PostGIS's
            # ballpark put an area given in EPSG:4490 176 m off
            srid = lonlat_srid(storage_srid)
    if domain is not None and srid != storage_srid \
            and (area := storage_domain(srid, storage_srid)) is not None:
        w, s, e, n = area
        x0, y0, x1, y1 = geom.bounds
        if not (w <= x0 and s <= y0 and x1 <= e and y1 <= n):
            if domain == "refuse":
                raise InputError(
                    f"{what} reaches beyond where the data can lie (longitude {w:g}..{e:g}, "
                    f"latitude {s:g}..{n:g}: the storage CRS EPSG:{storage_srid}'s area of "
                    f"use widened by {DOMAIN_MARGIN_DEGREES:g}°); its bounds are "
                    f"{', '.join(f'{v:g}' for v in (x0, y0, x1, y1))}")
            # an empty geometry when none of it is there: it selects nothing
            geom = shapely.intersection(geom, shapely.box(w, s, e, n))
    return QueryGeometry(shapely.to_wkb(geom), srid, area=domain == "clip")


def _tx(t, xy):
    x, y = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def __getattr__(name: str):
    """The area of interest moved to :mod:`layers.query.area`: ``from layers.query.common
    import Area`` (a notebook's, a script's) still works."""
    if name in ("Area", "MAX_RADIUS_M", "BUFFER_QUARTER", "check_area_found"):
        from layers.query import area

        return getattr(area, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
