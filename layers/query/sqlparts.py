"""SQL pieces the queries of the library share: the storage SRID, current features of a layer
(optionally filtered and limited to an area), their published attributes, GeoJSON output.

Features are always the current versions (``valid_to IS NULL``); attributes are the columns
the catalog publishes (``layers.catalog.HIDDEN_COLUMNS`` stay hidden), so the query library
and the OGC API show the same properties.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cim.crs import CGCS2000_GEOG, WGS84_GEOG, crs_arg, epsg_of, is_crs84, lonlat_srid, parse_crs
from cim.errors import InputError
from layers.catalog import HIDDEN_COLUMNS
from layers.query.area import Area, check_area_found
from layers.query.common import ident, layer_def

_HIDDEN = sorted(HIDDEN_COLUMNS)
# polygon / line / point layers by declared geometry type (GEOMETRY: any, per feature)
POLYGONAL = ("MULTIPOLYGON", "POLYGON")
LINEAR = ("LINESTRING", "LINESTRINGZ", "MULTILINESTRING", "MULTILINESTRINGZ")


def storage_srid(conn: psycopg.Connection) -> int:
    """The storage SRID this database was created with (``cim_properties``)."""
    row = conn.execute("SELECT value FROM cim_properties WHERE key = 'storage_srid'").fetchone()
    if row is None:
        raise InputError("the database has no storage SRID: run `cim db upgrade` first")
    return int(row[0])


def properties_sql(alias: str, layer: str) -> sql.Composable:
    """The published attributes of the row ``alias`` of ``layer`` as one jsonb object: the
    API's (:data:`layers.catalog.HIDDEN_COLUMNS` and the layer's unpublished ones left out)."""
    hidden = [*_HIDDEN, *sorted(layer_def(layer).unpublished)]
    return sql.SQL("(to_jsonb({}) {})").format(
        sql.Identifier(alias), sql.SQL(" ").join(sql.SQL("- {}").format(sql.Literal(c))
                                                 for c in hidden))


def area_cte(conn: psycopg.Connection, area: Area | None, srid: int
             ) -> tuple[sql.Composable | None, list]:
    """``area AS (SELECT <geom> AS g)`` for a WITH clause, its parameters, after checking that
    a named area exists; (None, []) for the whole city."""
    area = area or Area()
    a = area.storage_sql(srid)
    if a is None:
        return None, []
    check_area_found(conn, area, a)
    g, params = a
    if area.point is not None:  # the centre and radius beside the polygon (see in_area)
        c, cparams = area.centre_sql(srid)
        return (sql.SQL("area AS MATERIALIZED (SELECT {} AS g, {} AS c, %s::float8 AS r)")
                .format(g, c), [*params, *cparams, float(area.radius)])
    return (sql.SQL("area AS MATERIALIZED (SELECT {} AS g, NULL::geometry AS c, "
                    "NULL::float8 AS r)").format(g), list(params))


def in_area(geom: sql.Composable) -> sql.Composable:
    """Whether ``geom`` lies in the area of :func:`area_cte`: intersects its geometry, and for
    a point + radius lies within the radius of the centre — the polygon ``area.g`` drawn around
    the circle picks the candidates by the GiST index, the distance decides."""
    return sql.SQL("(ST_Intersects({g}, area.g) AND (area.r IS NULL "
                   "OR ST_DWithin({g}, area.c, area.r)))").format(g=geom)


def current(alias: str, within_area: bool, where: tuple | None = None
            ) -> tuple[sql.Composable, list]:
    """The WHERE condition (and its parameters) for current features of the table aliased
    ``alias``, in the area of :func:`area_cte` when ``within_area``; ``where`` an extra
    (fragment, params)."""
    a = sql.Identifier(alias)
    conds = [sql.SQL("{}.valid_to IS NULL").format(a)]
    params: list = []
    if within_area:
        conds.append(in_area(sql.SQL("{}.geom").format(a)))
    if where is not None:
        conds.append(sql.SQL("({})").format(where[0]))
        params += list(where[1])
    return sql.SQL(" AND ").join(conds), params


def segment_cut(geom: sql.Composable, by: sql.Composable,
                inside: sql.Composable | None = None) -> sql.Composable:
    """``CROSS JOIN LATERAL (…) s CROSS JOIN LATERAL (…) c``: the pieces of ``geom`` inside the
    polygon ``by``, ``c.g0``, for a FROM clause in which both are in reach. A line of more
    than one segment is cut segment by segment (``ST_DumpSegments``: a row per segment whose
    box meets ``by``'s, ``s.seg`` its path; a segment meeting the box only is cut to nothing,
    cheaper than asking ``ST_Intersects`` of each), anything else whole (``s.seg`` null): GEOS
    nodes the stretches of a line that doubles back over itself into one when it cuts the line
    whole, and the doubled stretch's length was lost (QWAT pipes cut by 100 m cells: 2.39 m of
    96 km), while a straight segment cannot lie on itself. A caller summing a feature's pieces
    sums its segments' (two segments lying on each other are both its length). ``inside``: a
    condition the caller has computed that ``by`` covers ``geom`` — such a feature is its own
    piece, whole and uncut; None: each part is asked (``ST_CoveredBy``). Used by
    ``cim query stats`` and ``cim query overlay``, so the two cut a line alike."""
    covered = sql.SQL("ST_CoveredBy(s.g, {by})").format(by=by)
    if inside is not None:
        covered = sql.SQL("{inside} OR s.seg IS NOT NULL AND {covered}").format(
            inside=inside, covered=covered)
    whole = sql.SQL("{} OR ").format(inside) if inside is not None else sql.SQL("")
    split = sql.SQL("NOT {} AND ").format(inside) if inside is not None else sql.SQL("")
    return sql.SQL(
        "CROSS JOIN LATERAL ("
        "SELECT NULL::int[] AS seg, {g} AS g "
        "WHERE {whole}ST_Dimension({g}) <> 1 OR ST_NPoints({g}) <= 2 "
        "UNION ALL "
        "SELECT d.path, d.geom FROM ST_DumpSegments({g}) d "
        "WHERE {split}ST_Dimension({g}) = 1 AND ST_NPoints({g}) > 2 AND d.geom && {by}) s "
        "CROSS JOIN LATERAL (SELECT CASE WHEN {covered} THEN s.g "
        "ELSE ST_Intersection(s.g, {by}) END AS g0) c").format(
        g=geom, by=by, whole=whole, split=split, covered=covered)


def table(layer: str, alias: str) -> sql.Composable:
    return sql.SQL("{} {}").format(ident(layer), sql.Identifier(alias))


def out_srid(out_crs: str | None, storage: int) -> int:
    """SRID of the requested output CRS for data stored in ``storage``: CRS84 by default, lon/lat
    as :func:`cim.crs.lonlat_srid` computes it (CGCS2000's for CGCS2000 data). GeoJSON is
    written in GIS x/y order (easting/longitude first) whatever the CRS's axis order."""
    if out_crs is None or is_crs84(out_crs):
        return lonlat_srid(storage)
    code = _out_epsg(out_crs)
    crs = parse_crs(code)
    if crs.is_geocentric:
        # (X/Y/Z of the earth's centre: two of its three axes were written)
        raise InputError(f"out_crs {out_crs!r}: {crs.name} is geocentric — give a geographic "
                         "or projected CRS")
    if code != storage:
        from layers.query.common import refuse_ballpark

        refuse_ballpark(crs, storage, "out_crs")
    return code


def _out_epsg(out_crs: str) -> int:
    """The EPSG code of an output CRS (an OGC URI, a URN, EPSG:n): the OGC CRS84 URI, which
    OGC API clients send, was refused as 'the storage CRS … has no EPSG code'."""
    code = epsg_of(parse_crs(crs_arg(out_crs)))
    if code is None:
        raise InputError(f"out_crs {out_crs!r}: an output CRS needs an EPSG code (or CRS84)")
    return code


def geojson_sql(expr: sql.Composable, out_crs: str | None, storage: int) -> sql.Composable:
    """``ST_AsGeoJSON`` of ``expr`` (stored in ``storage``) in the output CRS (GIS x/y
    order)."""
    srid = out_srid(out_crs, storage)
    if srid in (CGCS2000_GEOG, WGS84_GEOG):
        # one to PROJ (a no-op between them): reached as cim.crs.lonlat_srid says, never by
        # PostGIS's ballpark from a datum without an operation to CGCS2000 (CH1903+: 176 m)
        srid = lonlat_srid(storage)
    # options 0: no ``crs`` member on each geometry (RFC 7946 has none; the collection's
    # says the output CRS, which a geometry's EPSG:4490 contradicted for EPSG:4326)
    return sql.SQL("ST_AsGeoJSON(ST_Transform({}, {}), 9, 0)::jsonb").format(
        expr, sql.Literal(srid))


def feature_collection(features: list[dict[str, Any]], out_crs: str | None) -> dict[str, Any]:
    fc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if out_crs is not None and not is_crs84(out_crs):
        fc["crs"] = {"type": "name",
                     "properties": {"name": f"urn:ogc:def:crs:EPSG::{_out_epsg(out_crs)}"}}
    return fc


def write_geojson(path: Path, features: list[dict[str, Any]], out_crs: str | None) -> None:
    """Write ``features`` as a GeoJSON FeatureCollection (CRS84 unless ``out_crs``)."""
    text = json.dumps(feature_collection(features, out_crs), ensure_ascii=False, default=str)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:  # a full disk, a folder removed while the query ran
        raise InputError(f"{path}: cannot write the GeoJSON: {exc.strerror or exc}") from None


def dims_of(layer: str) -> tuple[bool, bool]:
    """(may have area, may have length) by the layer's declared geometry type."""
    t = layer_def(layer).geometry_type
    if t in POLYGONAL:
        return True, False
    if t in LINEAR:
        return False, True
    return (True, True) if t == "GEOMETRY" else (False, False)
