"""pygeoapi feature provider for CIM layers, with CRS handling done right and in PostGIS.

Why not pygeoapi's stock PostgreSQL provider: with CGCS2000 storage it transforms features
in Python with authority axis order, so CRS84 output comes out latitude-first (storage
EPSG:4490) or as ``inf`` (storage EPSG:4527), and its bbox filter is compared in the wrong
axis order. Here every transformation is ``ST_Transform`` in PostGIS, output axis order follows
the requested CRS's definition (CRS84: lon/lat; EPSG:4490: lat/lon; EPSG:4527: northing/easting,
as OGC API Features Part 2 requires), and the bbox is densified before it is projected, so the
filter is exact and uses the GiST index.

pygeoapi hands over the bbox already transformed to the storage CRS with pyproj corner by
corner, which turns a lon/lat box into a different rectangle and loses which CRS the client
meant. So the provider reads the bbox as the client sent it (``bbox``, ``bbox-crs`` of the
request being served) and builds the rectangle in that CRS, in that CRS's axis order (OGC API
Features Part 2: CRS84 lon/lat, EPSG:4490 lat/lon, EPSG:4527 northing/easting): in the
storage CRS it is ``ST_MakeEnvelope`` in the storage SRID, exactly that rectangle; in any
other CRS the envelope is cut to where the layer's data can lie
(:func:`cim.crs.storage_domain`), densified and projected once, in PostGIS. Filter geometries come
from pygeoapi in the storage CRS, authority axis order; the provider puts the axes back in
PostGIS order.

Which layers exist and which columns they publish come from :mod:`layers.catalog`; the
connection URL from :func:`services.config.connection_url` (the password is never in the
configuration file). The engines, reflected tables and error mapping are in
:mod:`services.provider_db`; the client's bbox and ECQL literals in :mod:`services.provider_crs`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyproj
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderGenericError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)
from sqlalchemy import (
    BigInteger,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.sql.util import ClauseAdapter

from cim.crs import (
    AREA_SIMPLIFY_M,
    axis_is_northing_first,
    crs_uri,
    densify_step,
    is_crs84,
    lonlat_srid,
    metres_in_units,
    storage_domain,
)
from layers.styles.fields import field_titles
from services.config import connection_url
from services.items import count_cap, page_request, set_csv_header, set_page_links
from services.items_filter import fallen_through_error
from services.items_query import (
    Column,
    ParamError,
    city_zone,
    clip_box,
    parse_datetime,
    parse_terms,
)
from services.items_sql import keyset_after, text_in_json
from services.items_values import Span, property_value
from services.provider_crs import crs_of, ecql_properties, ecql_to_storage, requested_bbox
from services.provider_db import (
    ProviderTimeoutError,
    catalog_columns,
    engine,
    psycopg_text,
    query_error,
    table,
)
from services.provider_schema import amend_schema_response, declared_descriptions

__all__ = ["CimProvider", "ProviderTimeoutError"]
# read here by tests written before the provider's database and CRS parts had modules of
# their own (services.provider_db, services.provider_crs)
_engine, _crs_of = engine, crs_of
CSV_WKT = "wkt"  # a CSV page's geometry column (GDAL's CSV driver reads a WKT column so)


class CimProvider(BaseProvider):
    """Features of one CIM layer table (current versions)."""

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        data = self.data if isinstance(self.data, dict) else {"url": str(self.data)}
        self.url = connection_url(data)
        self.table_name = provider_def["table"]
        self.srid = int(provider_def["srid"])
        self.id_field = provider_def.get("id_field", "code")
        try:
            self.table = table(self.url, self.table_name)
        except Exception as exc:
            raise ProviderConnectionError(f"cannot open table {self.table_name}: {exc}") from exc
        self.geom = self.table.c.geom
        self.north_first = axis_is_northing_first(self.srid)
        kind = str(getattr(self.geom.type, "geometry_type", "GEOMETRY") or "GEOMETRY").upper()
        self._csv_points = kind.startswith(("POINT", "GEOMETRY"))  # x, y columns in CSV
        self._published = catalog_columns(self.url, self.table_name)
        self._fields = self.get_fields()
        amend_schema_response(self.table_name, self._fields)

    # -- schema --------------------------------------------------------------------------
    def get_fields(self) -> dict:
        """The layer's published attributes, as the catalog lists them; a date or timestamp
        column with its JSON Schema format (``date``, ``date-time``: what CQL2's DATE('…')
        and TIMESTAMP('…') compare with, as the queryables say). Each is titled by the
        Chinese name the maps give it (:func:`layers.styles.fields.field_titles`), so a
        planner reading the schema and queryables meets the names of QGIS's attribute
        table; the key stays the column, which filters name."""
        titles = field_titles(self.table_name)
        notes = declared_descriptions(self.table_name)
        fields = {}
        for c in self._published:
            fields[c.name] = {"title": titles.get(c.name, c.name), "type": c.json_type}
            if notes.get(c.name):
                fields[c.name]["description"] = notes[c.name]
            if c.json_type == "array":
                fields[c.name]["items"] = {"type": "string"}
            elif c.json_format:  # the catalog's, as the items path reads it
                fields[c.name]["format"] = c.json_format
        return fields

    # -- CRS ---------------------------------------------------------------------------------
    def _out_srid(self, spec) -> tuple[int, bool, int]:
        """(srid, flip axes, decimals) of the requested output CRS."""
        if spec is None:  # pygeoapi: the requested CRS is the storage CRS
            return self.srid, self.north_first, 4
        target = pyproj.CRS.from_wkt(spec.target_crs_wkt)
        uri = spec.target_crs_uri or ""
        if is_crs84(uri):
            return lonlat_srid(self.srid), False, 9
        epsg = target.to_epsg()
        if epsg is None:
            raise ProviderInvalidQueryError(user_msg=f"output CRS {uri} has no EPSG code")
        north_first = bool(target.axis_info) and \
            target.axis_info[0].direction.lower() in ("north", "south")
        return epsg, north_first, (9 if target.is_geographic else 4)

    def _geom_in_crs(self, spec, geom=None):
        """(the geometry in the requested CRS, axes in that CRS's order; its decimals)."""
        srid, flip, digits = self._out_srid(spec)
        geom = self.geom if geom is None else geom
        g = geom if srid == self.srid else func.ST_Transform(geom, srid)
        if flip:
            g = func.ST_FlipCoordinates(g)
        return g, digits

    def _geom_out(self, spec, geom=None):
        g, digits = self._geom_in_crs(spec, geom)
        return func.ST_AsGeoJSON(g, digits, 0)

    def _bbox_filter(self, bbox: list[float]):
        values, crs = requested_bbox(bbox, crs_uri(self.srid))
        if len(values) == 6:
            values = [values[0], values[1], values[3], values[4]]
        a0, a1, a2, a3 = (float(v) for v in values)
        srid, north_first, geographic = crs_of(crs, self.srid)
        # the CRS's axis order -> PostGIS order (x = easting / longitude)
        x0, y0, x1, y1 = (a1, a0, a3, a2) if north_first else (a0, a1, a2, a3)
        if (domain := storage_domain(srid, self.srid)) is not None:
            (x0, y0, x1, y1), empty = clip_box((x0, y0, x1, y1), domain)
            if empty:  # wholly where the layer can have no data
                return false()
        env = func.ST_MakeEnvelope(x0, y0, x1, y1, srid)
        if srid != self.srid:
            # densified, projected, its edges thinned within 1 mm (cim.crs.AREA_SIMPLIFY_M)
            env = func.ST_Simplify(func.ST_Transform(func.ST_Segmentize(
                env, densify_step(geographic)), self.srid),
                metres_in_units(self.srid, AREA_SIMPLIFY_M), True)
        return func.ST_Intersects(self.geom, env)

    def _cql_filter(self, filterq):
        if filterq is None:
            return true()
        from pygeofilter.backends.sqlalchemy.evaluate import to_filter

        filterq = ecql_to_storage(filterq, self.srid, self.north_first)
        # the published attributes only: an ECQL filter on a column the layer does not
        # publish (a case's free-text description, its address) counted features by its
        # value, so its text could be read out by LIKE patterns
        mapping = {n: self.table.c[n] for n in self._fields}
        mapping["geometry"] = self.geom
        unknown = sorted({n for n in ecql_properties(filterq) if n not in mapping})
        if unknown:
            msg = (f"filter: unknown propert{'ies' if len(unknown) > 1 else 'y'} "
                   f"{', '.join(map(repr, unknown))[:200]}; the queryables: "
                   f"{', '.join(mapping)}")
            raise ProviderInvalidQueryError(user_msg=msg)
        try:
            return to_filter(filterq, mapping, undefined_as_null=False)
        except Exception as exc:  # an unknown property, an unsupported operator: the client's
            msg = f"unsupported filter: {exc}"
            if (as_cql2 := fallen_through_error()) is not None:  # say what CQL2 read there
                msg += f"; read as CQL2 Text: {as_cql2}"
            raise ProviderInvalidQueryError(user_msg=msg) from exc

    def _ids_where(self, where: str, params: dict):
        """SQL ``where`` over the alias ``p`` (the items path's compiled filter) as a
        condition on the version's id."""
        sub = psycopg_text(f'SELECT p.id FROM "{self.table_name}" p WHERE {where}', params,
                           "cim_")
        return self.table.c.id.in_(sub.columns(id=BigInteger))

    # -- queries -----------------------------------------------------------------------------
    def _where(self, bbox, properties, filterq, datetime_=None, q=None):
        """The conditions on a version: current, or valid at ``datetime_``; and the rest."""
        conds = [self._valid_at(datetime_)]
        if q:
            conds.append(self._text_search(q))
        if bbox:
            conds.append(self._bbox_filter(bbox))
        for name, value in properties or []:
            if name not in self._fields:
                raise ProviderInvalidQueryError(user_msg=f"unknown property {name}")
            # the value in the column's type, as the items path reads it: pygeoapi hands
            # over text, which PostgreSQL compared with a number column as an error (a 500)
            pub = next(c for c in self._published if c.name == name)
            try:
                # a date or timestamp by its format, as the GeoJSON path reads it (its
                # text bound as VARCHAR was PostgreSQL's error: a 500 for any value)
                value = property_value(Column(name, pub.json_format or pub.json_type),
                                       value)
            except ParamError as exc:
                raise ProviderInvalidQueryError(user_msg=str(exc)) from None
            col = self.table.c[name]
            if pub.json_type == "object":  # the JSON text as jsonb (jsonb = varchar: a 500)
                value = cast(literal(value, String), JSONB)
            if isinstance(value, Span):  # a day of a date-time property
                conds.append(and_(col >= value.start, col < value.end))
                continue
            conds.append(col.any_() == value if pub.json_type == "array" else col == value)
        conds.append(self._cql_filter(filterq))
        if (compiled := self._compiled_filter()) is not None:
            conds.append(compiled)
        return and_(*conds)

    def _compiled_filter(self):
        """The request's CQL2 filter as the platform's items path compiled it
        (:meth:`services.items.ItemsService._for_pygeoapi`: SQL over the alias ``p``, the
        same as for GeoJSON), as a condition on the version's id; None without one."""
        from flask import g, has_app_context

        got = g.get("cim_filter") if has_app_context() else None
        if got is None or got[0] != self.table_name:
            return None
        _, where, params = got
        return self._ids_where(where, params)

    def _valid_at(self, datetime_: str | None):
        """Versions valid at an instant or during an interval (``datetime``, RFC 3339; a date
        is the city's whole day, its profile's time zone; ``..`` or nothing an open end); the
        current versions without it."""
        c = self.table.c
        if not datetime_:
            return c.valid_to.is_(None)
        try:
            when = parse_datetime(datetime_, city_zone())  # the items path's reading of it
        except ParamError as exc:
            raise ProviderInvalidQueryError(user_msg=str(exc)) from None
        conds = []
        if when.end is not None:  # began by the interval's end (a date: by the end of that day)
            conds.append(c.valid_from < when.end if when.end_exclusive
                         else c.valid_from <= when.end)
        if when.start is not None:  # not ended before it began
            conds.append(or_(c.valid_to.is_(None), c.valid_to > when.start))
        return and_(true(), *conds)

    def _latest_versions(self, where):
        """Each feature once, its latest version matching ``where``, as the items path reads
        them (:func:`services.items_sql._from_where`): a current version that matches as it
        is; a past one only where its feature's current version does not match, ranked on
        its keys alone (ranking every version's whole row sorted them all, on disk)."""
        t, key = self.table, self.id_field
        cur = t.alias("cur")
        ranked = select(t.c.id, func.row_number().over(
            partition_by=t.c[key], order_by=(t.c.valid_from.desc(), t.c.id.desc()))
            .label("_version")).where(
            t.c.valid_to.is_not(None), where,
            ~exists().where(cur.c[key] == t.c[key], cur.c.valid_to.is_(None),
                            ClauseAdapter(cur).traverse(where))).subquery("h")
        return union_all(
            select(t).where(t.c.valid_to.is_(None), where),
            select(t).where(t.c.id.in_(select(ranked.c.id).where(ranked.c._version == 1)))
        ).subquery("v")

    def _text_search(self, q: str):
        """``q``: comma-separated terms; a feature matches if one of them is found in one of
        its text properties (case-insensitive, as written: no wildcards)."""
        terms = parse_terms(q)
        cols = [self.table.c[n] for n in self._fields
                if isinstance(self.table.c[n].type, String)]
        # an object property (an alarm's detail) by its texts, as the GeoJSON path
        objs = [self.table.c[n] for n, f in self._fields.items() if f["type"] == "object"]
        if not terms:
            return true()
        if not cols and not objs:
            return false()
        return or_(*(col.icontains(t, autoescape=True) for t in terms for col in cols),
                   *(func.jsonb_path_exists(col, cast(literal(text_in_json(t)), JSONPATH))
                     for t in terms for col in objs))

    def _columns(self, select_properties, skip_geometry, spec, src=None, csv=False):
        src = self.table if src is None else src
        names = [n for n in self._fields if not select_properties or n in select_properties
                 or n == self.id_field]
        cols = [src.c[n] for n in names]
        if not skip_geometry:
            if not csv or self._csv_points:  # a CSV takes only a point's x, y from GeoJSON
                cols.append(self._geom_out(spec, src.c.geom).label("_geojson"))
            if csv:  # every geometry as WKT, in the CRS and axis order the GeoJSON has
                g, digits = self._geom_in_crs(spec, src.c.geom)
                cols.append(func.ST_AsText(g, digits).label("_wkt"))
        return names, cols

    def _csv_fields(self, names: list[str], skip_geometry: bool) -> list[str]:
        """A CSV page's columns as pygeoapi's formatter writes them from the features
        :meth:`_feature` gives it: x, y first on a layer that can hold points."""
        if skip_geometry:
            return list(names)
        return ["x", "y"] * self._csv_points + list(names) + [CSV_WKT]

    def query(self, offset=0, limit=10, resulttype="results", bbox=None, datetime_=None,
              properties=None, sortby=None, select_properties=None, skip_geometry=False,
              q=None, filterq=None, crs_transform_spec=None, **kwargs) -> dict:
        where = self._where(bbox or [], properties, filterq, datetime_, q)
        src = self.table
        if datetime_:  # one version a feature: its latest valid in the interval
            src, where = self._latest_versions(where), true()
        page = page_request(self.table_name)
        csv = page is not None and page.mime == "text/csv"
        if csv:  # the header of a page without features (the formatter writes none)
            set_csv_header(self._csv_fields(self._columns(
                select_properties, True, None)[0], skip_geometry))
        try:
            with engine(self.url).connect() as conn:
                # counted as the GeoJSON path counts: exactly up to CIM_COUNT_CAP, omitted
                # above it (each HTML page of a million footprints counted them all)
                cap = None if resulttype == "hits" else count_cap()
                count = select(func.count()).select_from(src).where(where)
                if cap is not None:
                    count = select(func.count()).select_from(
                        select(literal(1)).select_from(src).where(where).limit(cap + 1)
                        .subquery())
                matched = conn.execute(count).scalar_one()
                fc: dict[str, Any] = {"type": "FeatureCollection", "features": [],
                                      "numberMatched": matched, "numberReturned": 0}
                if cap is not None and matched > cap:
                    del fc["numberMatched"]
                if resulttype == "hits":
                    if page is not None:  # a count: no page to go on to
                        set_page_links([])
                    return fc
                names, cols = self._columns(select_properties, skip_geometry,
                                            crs_transform_spec, src, csv)
                order, keys = [], []
                for s in sortby or []:
                    if s["property"] not in self._fields:
                        raise ProviderInvalidQueryError(
                            user_msg=f"cannot sort by {s['property']}")
                    c = src.c[s["property"]]
                    keys.append(c.label(f"_cim_k{len(keys)}"))
                    # features without a value come last in either direction
                    order.append((c.desc() if s.get("order") == "-" else c.asc()).nulls_last())
                order.append(src.c.id)
                stmt = select(*cols, src.c.id.label("_cim_id"), *keys).where(where)
                if page is not None:  # after the cursor's feature, as the GeoJSON path
                    stmt = stmt.where(_keyset_after(page.query, src))
                # a page of pygeoapi's reads one row ahead: whether a next page is due
                ahead = limit + 1 if page is not None else limit
                rows = conn.execute(stmt.order_by(*order).offset(offset).limit(ahead)).all()
        except ProviderGenericError:
            raise
        except Exception as exc:
            raise query_error(exc, ecql=filterq is not None) from exc
        more, rows = len(rows) > limit, rows[:limit]
        fc["features"] = [self._feature(row, names, skip_geometry, csv) for row in rows]
        fc["numberReturned"] = len(fc["features"])
        if page is not None:
            last = rows[-1]._mapping if rows else {}
            fc["links"] = page.links(more, limit, last.get("_cim_id"),
                                     tuple(last.get(k.name) for k in keys))
            set_page_links(list(fc["links"]))  # pygeoapi extends fc["links"]
        return fc

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict:
        names, cols = self._columns(None, False, crs_transform_spec)
        stmt = select(*cols).where(self.table.c[self.id_field] == str(identifier),
                                   self.table.c.valid_to.is_(None))
        try:
            with engine(self.url).connect() as conn:
                row = conn.execute(stmt).first()
        except Exception as exc:
            raise query_error(exc) from exc
        if row is None:
            raise ProviderItemNotFoundError(f"no current feature with code {identifier}")
        return self._feature(row, names, False)

    def _feature(self, row, names: list[str], skip_geometry: bool, csv: bool = False) -> dict:
        m = row._mapping
        props = {n: _jsonable(m[n]) for n in names}
        geom = None if skip_geometry or m.get("_geojson") is None else json.loads(m["_geojson"])
        if csv:  # for pygeoapi's CSV formatter (features go nowhere else)
            # an array or object cell as JSON text: the formatter wrote Python's repr
            # (['a'], {'k': 'v'}), which no CSV reader reads back
            props = {n: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict))
                     else v for n, v in props.items()}
            # pygeoapi's formatter writes a point's x, y and skips any other geometry (a
            # pipe's or a footprint's CSV had none): the geometry as WKT, of every type
            if not skip_geometry:
                props[CSV_WKT] = m.get("_wkt")
            # The formatter writes x, y when the page's first geometry is a point and then
            # reads every feature's coordinates as a point's: a point layer's CSV with
            # skipGeometry=true (no geometry) and a page of components whose first is a
            # point and a later one a polygon were 500s. A layer that can hold points has
            # x, y on every page, blank for a feature that is no point; no x, y otherwise.
            if skip_geometry or not self._csv_points:
                geom = {"type": None}
            elif geom is None or geom.get("type") != "Point":
                geom = {"type": "Point", "coordinates": [None, None]}
        return {"type": "Feature", "id": props.get(self.id_field), "geometry": geom,
                "properties": props}


def _keyset_after(q, src):
    """The rows of ``src`` (the table, or the subquery of each feature's latest version)
    after the cursor's, by the items path's one condition
    (:func:`services.items_sql.keyset_after`)."""
    params: dict = {}
    conds = keyset_after(q, params, src.name)
    if not conds:
        return true()
    return psycopg_text(conds[0].as_string(None), params, "cim_key_")


def _jsonable(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v
