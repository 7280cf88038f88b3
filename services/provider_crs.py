"""The client's coordinates as :class:`services.providers.CimProvider` receives them from
pygeoapi: the bbox and its CRS as the client sent them (pygeoapi hands over a box it has
transformed corner by corner), and ECQL literals put in the storage CRS, PostGIS axis order."""

from __future__ import annotations

from typing import Any

import shapely
import shapely.geometry
from pygeoapi.provider.base import ProviderInvalidQueryError

from cim.crs import CRS84_URI, is_crs84, lonlat_srid, parse_crs, transformer
from cim.errors import InputError


def requested_bbox(bbox: list[float], storage_uri: str) -> tuple[list[float], str]:
    """The bbox and its CRS as the client sent them.

    Read from the request being served (pygeoapi under Flask, as ``cim serve`` runs it);
    outside a request the bbox is what pygeoapi's contract says it is: in the storage CRS.
    """
    from flask import has_request_context, request

    if has_request_context() and request.args.get("bbox"):
        try:
            values = [float(v) for v in request.args["bbox"].split(",")]
        except ValueError as exc:  # pygeoapi has refused such a bbox already
            raise ProviderInvalidQueryError(user_msg=f"bad bbox: {exc}") from exc
        return values, request.args.get("bbox-crs") or CRS84_URI
    return list(bbox), storage_uri


def crs_of(uri: str, storage_srid: int) -> tuple[int, bool, bool]:
    """(PostGIS SRID, first axis is northing/latitude, geographic) of a CRS URI.

    CRS84 is lon/lat as the output is (:func:`cim.crs.lonlat_srid` of the storage CRS)."""
    if is_crs84(uri):
        return lonlat_srid(storage_srid), False, True
    try:
        crs = parse_crs(uri)
    except InputError as exc:
        raise ProviderInvalidQueryError(user_msg=f"unknown bbox-crs {uri}") from exc
    epsg = crs.to_epsg()
    if epsg is None:
        raise ProviderInvalidQueryError(user_msg=f"bbox-crs {uri} has no EPSG code")
    north_first = bool(crs.axis_info) and \
        crs.axis_info[0].direction.lower() in ("north", "south")
    return epsg, north_first, crs.is_geographic


def ecql_to_storage(node: Any, srid: int, north_first: bool) -> None:
    """Put filter literals in the storage SRID in PostGIS axis order.

    Geometry literals come from pygeoapi already in the storage CRS, authority axis order;
    BBOX and ENVELOPE literals it leaves in the filter CRS (CRS84 by default).
    """
    from pygeofilter import ast, values

    t = transformer("OGC:CRS84", srid)
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, values.Geometry):
            g = shapely.geometry.shape(n.geometry)
            if north_first:
                g = shapely.transform(g, lambda c: c[:, ::-1])
            n.geometry = {**shapely.geometry.mapping(g),
                          "crs": {"type": "name",
                                  "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}}
            continue
        if isinstance(n, ast.BBox):
            xs, ys = t.transform([n.minx, n.maxx], [n.miny, n.maxy])
            n.minx, n.maxx, n.miny, n.maxy = xs[0], xs[1], ys[0], ys[1]
            n.crs = srid
            stack.append(n.lhs)
            continue
        if isinstance(n, values.Envelope):
            xs, ys = t.transform([n.x1, n.x2], [n.y1, n.y2])
            n.x1, n.x2, n.y1, n.y2 = xs[0], xs[1], ys[0], ys[1]
            continue
        if isinstance(n, ast.Node):
            stack.extend(n.get_sub_nodes())
        elif isinstance(n, (list, tuple)):
            stack.extend(n)


def ecql_properties(node: Any) -> list[str]:
    """The property names an ECQL filter tree reads (pygeofilter's ``Attribute`` nodes)."""
    from pygeofilter import ast

    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Attribute):
            out.append(n.name)
        elif isinstance(n, ast.Node):
            stack.extend(n.get_sub_nodes())
        elif isinstance(n, (list, tuple)):
            stack.extend(n)
    return out
