"""The client's coordinates as :class:`services.providers.CimProvider` receives them from
pygeoapi: the bbox and its CRS as the client sent them (pygeoapi hands over a box it has
transformed corner by corner), and ECQL literals put in the storage CRS, PostGIS axis order."""

from __future__ import annotations

from typing import Any

import shapely
import shapely.geometry
from pygeoapi.provider.base import ProviderInvalidQueryError

from cim.crs import (
    AREA_SIMPLIFY_M,
    CRS84_URI,
    densified,
    is_crs84,
    lonlat_srid,
    metres_in_units,
    parse_crs,
    storage_domain,
    transformer,
)
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


def ecql_to_storage(node: Any, srid: int, north_first: bool) -> Any:
    """The filter tree with its literals in the storage SRID, PostGIS axis order.

    Geometry literals come from pygeoapi already in the storage CRS, authority axis order.
    BBOX and ENVELOPE it leaves in the filter CRS (CRS84): each is put in the storage CRS as
    the area it is there — its edges densified, projected and thinned within 1 mm, as the
    provider's ``bbox`` — and a BBOX becomes INTERSECTS that area. Its two corners alone
    gave a box aligned with the projection's axes, and the features in the lon/lat box's
    other two corners were not found (405 of the 407 ``bbox=`` finds)."""
    import dataclasses

    from pygeofilter import ast, values

    domain = storage_domain(lonlat_srid(srid), srid)

    def area(x0: float, y0: float, x1: float, y1: float) -> values.Geometry:
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if domain is not None:  # cut to where the data can lie, as the bbox= one is: a
            # whole-world box projected whole was no valid area, and found nothing
            x0, y0 = max(box[0], domain[0]), max(box[1], domain[1])
            x1, y1 = min(box[2], domain[2]), min(box[3], domain[3])
            if x0 > x1 or y0 > y1:  # wholly where no feature can be: an empty area
                if domain[0] <= box[1] <= box[3] <= domain[2] and \
                        domain[1] <= box[0] <= box[2] <= domain[3]:
                    raise ProviderInvalidQueryError(
                        user_msg=f"filter: BBOX({box[0]:g}, {box[1]:g}, {box[2]:g}, "
                                 f"{box[3]:g}) lies where no data can; exchanged it lies "
                                 "where they do — an ECQL BBOX is longitude, latitude "
                                 "(given latitude first?)")
                return values.Geometry({"type": "Polygon", "coordinates": [], "crs": {
                    "type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}})
            box = (x0, y0, x1, y1)
        return values.Geometry({**shapely.geometry.mapping(lonlat_box_in(srid, box)), "crs": {
            "type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}})

    def rewritten(n: Any) -> Any:
        if isinstance(n, values.Geometry):
            g = shapely.geometry.shape(n.geometry)
            if north_first:
                g = shapely.transform(g, lambda c: c[:, ::-1])
            return values.Geometry({**shapely.geometry.mapping(g), "crs": {
                "type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}})
        if isinstance(n, ast.BBox):
            if n.crs is not None and not is_crs84(str(n.crs)) and \
                    str(n.crs).upper().replace("::", ":") not in ("EPSG:4326", "EPSG:4490"):
                # read as CRS84 it lay nowhere and found nothing, unsaid
                raise ProviderInvalidQueryError(
                    user_msg=f"filter: BBOX in {n.crs}: an ECQL BBOX is read in longitude, "
                             "latitude (CRS84); for another CRS use CQL2, S_INTERSECTS with "
                             "filter-crs")
            return ast.GeometryIntersects(rewritten(n.lhs), area(n.minx, n.miny, n.maxx,
                                                                 n.maxy))
        if isinstance(n, values.Envelope):
            return area(n.x1, n.y1, n.x2, n.y2)
        if isinstance(n, ast.Not):  # no dataclass: its sub-node by hand
            return ast.Not(rewritten(n.sub_node))
        if isinstance(n, (list, tuple)):
            return type(n)(rewritten(v) for v in n)
        if isinstance(n, ast.Node) and dataclasses.is_dataclass(n):
            return dataclasses.replace(n, **{f.name: rewritten(getattr(n, f.name))
                                             for f in dataclasses.fields(n) if f.init})
        return n

    return rewritten(node)


def lonlat_box_in(srid: int, box: tuple[float, float, float, float]) -> shapely.Geometry:
    """A lon/lat box (CRS84) as the area it is in ``srid``: densified, projected, its edges
    thinned within 1 mm (:data:`cim.crs.AREA_SIMPLIFY_M`)."""
    import numpy as np

    c84 = parse_crs("OGC:CRS84")
    t = transformer("OGC:CRS84", srid)
    g = shapely.transform(densified(shapely.box(*box), c84),
                          lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))
    return shapely.simplify(g, metres_in_units(srid, AREA_SIMPLIFY_M))


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
