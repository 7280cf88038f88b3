"""pygeoapi feature provider for CIM layers, with CRS handling done right and in PostGIS.

Why not pygeoapi's stock PostgreSQL provider: with CGCS2000 storage it transforms features
in Python with authority axis order, so CRS84 output comes out latitude-first (storage
EPSG:4490) or as ``inf`` (storage EPSG:4527), and its bbox filter is compared in the wrong
axis order. Here every transformation is ``ST_Transform`` in PostGIS, output axis order follows
the requested CRS's definition (CRS84: lon/lat; EPSG:4490: lat/lon; EPSG:4527: northing/easting,
as OGC API Features Part 2 requires), and the bbox is densified before it is projected, so the
filter is exact and uses the GiST index.

pygeoapi hands over the bbox and filter geometries already transformed to the storage CRS
with pyproj in the CRS's authority axis order (EPSG:4527: northing, easting), the bbox corner
by corner. The provider puts the axes back in PostGIS order; for the bbox it takes the corners
back to longitude/latitude (exactly the corners the client sent in CRS84 or EPSG:4490) and
projects the densified box in PostGIS, so a CRS84 bbox selects exactly what it covers.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pyproj
import shapely
import shapely.geometry
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)
from sqlalchemy import MetaData, Table, and_, create_engine, func, select, true
from sqlalchemy.engine import Engine

from cim.crs import axis_is_northing_first, transformer

_ENGINES: dict[str, Engine] = {}
_TABLES: dict[tuple[str, str], Table] = {}
_LOCK = threading.RLock()
HIDDEN = {"geom", "attrs", "row_hash", "source_key", "id", "batch_id"}
GEOGRAPHIC_OUT_SRID = 4490  # CRS84 and EPSG:4490 output both come from CGCS2000 lon/lat


def _engine(url: str) -> Engine:
    with _LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = create_engine(url, pool_pre_ping=True, pool_size=4)
        return _ENGINES[url]


def _table(url: str, name: str) -> Table:
    import geoalchemy2  # noqa: F401  (registers the geometry type for reflection)

    key = (url, name)
    with _LOCK:
        if key not in _TABLES:
            _TABLES[key] = Table(name, MetaData(), autoload_with=_engine(url))
        return _TABLES[key]


def _json_type(coltype: Any) -> str:
    try:
        py = coltype.python_type
    except NotImplementedError:
        return "string"
    if py is bool:
        return "boolean"
    if py is int:
        return "integer"
    if py is float:
        return "number"
    if py in (list, tuple):
        return "array"
    return "string"


class CimProvider(BaseProvider):
    """Features of one CIM layer table (current versions)."""

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        self.url = self.data["url"] if isinstance(self.data, dict) else str(self.data)
        self.table_name = provider_def["table"]
        self.srid = int(provider_def["srid"])
        self.id_field = provider_def.get("id_field", "code")
        try:
            self.table = _table(self.url, self.table_name)
        except Exception as exc:
            raise ProviderConnectionError(f"cannot open table {self.table_name}: {exc}") from exc
        self.geom = self.table.c.geom
        self.north_first = axis_is_northing_first(self.srid)
        self._fields = self.get_fields()

    # -- schema --------------------------------------------------------------------------
    def get_fields(self) -> dict:
        out = {}
        for c in self.table.columns:
            if c.name in HIDDEN:
                continue
            t = _json_type(c.type)
            out[str(c.name)] = {"type": t} if t != "array" else {"type": "array",
                                                             "items": {"type": "string"}}
        return out

    # -- CRS ---------------------------------------------------------------------------------
    def _out_srid(self, spec) -> tuple[int, bool, int]:
        """(srid, flip axes, decimals) of the requested output CRS."""
        if spec is None:  # pygeoapi: the requested CRS is the storage CRS
            return self.srid, self.north_first, 4
        target = pyproj.CRS.from_wkt(spec.target_crs_wkt)
        uri = spec.target_crs_uri or ""
        if "CRS84" in uri:
            return GEOGRAPHIC_OUT_SRID, False, 9
        epsg = target.to_epsg()
        if epsg is None:
            raise ProviderQueryError(f"output CRS {uri} has no EPSG code")
        north_first = bool(target.axis_info) and \
            target.axis_info[0].direction.lower() in ("north", "south")
        return epsg, north_first, (9 if target.is_geographic else 4)

    def _geom_out(self, spec):
        srid, flip, digits = self._out_srid(spec)
        g = self.geom if srid == self.srid else func.ST_Transform(self.geom, srid)
        if flip:
            g = func.ST_FlipCoordinates(g)
        return func.ST_AsGeoJSON(g, digits, 0)

    def _bbox_filter(self, bbox: list[float]):
        if len(bbox) == 6:
            bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
        a0, a1, a2, a3 = (float(v) for v in bbox)
        # corners in the storage CRS, authority order -> easting/northing -> lon/lat
        e0, n0, e1, n1 = (a1, a0, a3, a2) if self.north_first else (a0, a1, a2, a3)
        lons, lats = transformer(self.srid, "OGC:CRS84").transform([e0, e1], [n0, n1])
        env = func.ST_Segmentize(func.ST_MakeEnvelope(min(lons), min(lats), max(lons),
                                                      max(lats), GEOGRAPHIC_OUT_SRID), 0.0005)
        return func.ST_Intersects(self.geom, func.ST_Transform(env, self.srid))

    def _cql_filter(self, filterq):
        if filterq is None:
            return true()
        from pygeofilter.backends.sqlalchemy.evaluate import to_filter

        _to_storage(filterq, self.srid, self.north_first)
        mapping = {c.name: c for c in self.table.columns}
        mapping["geometry"] = self.geom
        try:
            return to_filter(filterq, mapping)
        except Exception as exc:
            raise ProviderQueryError(f"unsupported filter: {exc}") from exc

    # -- queries -----------------------------------------------------------------------------
    def _where(self, bbox, properties, filterq):
        conds = [self.table.c.valid_to.is_(None)]
        if bbox:
            conds.append(self._bbox_filter(bbox))
        for name, value in properties or []:
            if name not in self.table.c:
                raise ProviderQueryError(f"unknown property {name}")
            conds.append(self.table.c[name] == value)
        conds.append(self._cql_filter(filterq))
        return and_(*conds)

    def _columns(self, select_properties, skip_geometry, spec):
        names = [n for n in self._fields if not select_properties or n in select_properties
                 or n == self.id_field]
        cols = [self.table.c[n] for n in names]
        if not skip_geometry:
            cols.append(self._geom_out(spec).label("_geojson"))
        return names, cols

    def query(self, offset=0, limit=10, resulttype="results", bbox=None, datetime_=None,
              properties=None, sortby=None, select_properties=None, skip_geometry=False,
              q=None, filterq=None, crs_transform_spec=None, **kwargs) -> dict:
        where = self._where(bbox or [], properties, filterq)
        try:
            with _engine(self.url).connect() as conn:
                matched = conn.execute(select(func.count()).select_from(self.table)
                                       .where(where)).scalar_one()
                fc: dict[str, Any] = {"type": "FeatureCollection", "features": [],
                                      "numberMatched": matched, "numberReturned": 0}
                if resulttype == "hits":
                    return fc
                names, cols = self._columns(select_properties, skip_geometry,
                                            crs_transform_spec)
                stmt = select(*cols).where(where)
                order = []
                for s in sortby or []:
                    if s["property"] not in self.table.c:
                        raise ProviderQueryError(f"cannot sort by {s['property']}")
                    c = self.table.c[s["property"]]
                    # features without a value come last in either direction
                    order.append((c.desc() if s.get("order") == "-" else c.asc()).nulls_last())
                order.append(self.table.c.id)
                stmt = stmt.order_by(*order).offset(offset).limit(limit)
                for row in conn.execute(stmt):
                    fc["features"].append(self._feature(row, names, skip_geometry))
        except (ProviderQueryError, ProviderItemNotFoundError):
            raise
        except Exception as exc:
            raise ProviderQueryError(f"query failed: {exc}") from exc
        fc["numberReturned"] = len(fc["features"])
        return fc

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict:
        names, cols = self._columns(None, False, crs_transform_spec)
        stmt = select(*cols).where(self.table.c[self.id_field] == str(identifier),
                                   self.table.c.valid_to.is_(None))
        try:
            with _engine(self.url).connect() as conn:
                row = conn.execute(stmt).first()
        except Exception as exc:
            raise ProviderQueryError(f"query failed: {exc}") from exc
        if row is None:
            raise ProviderItemNotFoundError(f"no current feature with code {identifier}")
        return self._feature(row, names, False)

    def _feature(self, row, names: list[str], skip_geometry: bool) -> dict:
        m = row._mapping
        props = {n: _jsonable(m[n]) for n in names}
        return {"type": "Feature", "id": props.get(self.id_field),
                "geometry": None if skip_geometry or m.get("_geojson") is None
                else json.loads(m["_geojson"]),
                "properties": props}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _to_storage(node: Any, srid: int, north_first: bool) -> None:
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
