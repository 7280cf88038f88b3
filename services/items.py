"""The platform's own ``/collections/{id}/items`` path for GeoJSON, in front of pygeoapi.

pygeoapi's items path costs ~0.6 s a request at city scale (a new pyproj ``Transformer`` per
request in its bbox handling, an exact ``count(*)`` of every match, ``OFFSET`` paging) and
ignores unknown parameters. This path answers GeoJSON requests (``f=json``, ``f=geojson``,
or an ``Accept`` preferring GeoJSON/JSON) itself: parameters validated
(:mod:`services.items_query`, 400 with a message), one prepared statement per page built in
PostGIS (:mod:`services.items_sql`) on pooled connections (:mod:`services.pool`), ``next``
links that carry a keyset ``cursor``, ``numberMatched`` counted exactly up to a cap and
omitted above it (OGC API Features allows it; ``resulttype=hits`` is always exact).
``datetime`` (the versions valid then) and ``q`` (a term in a text property) are answered here
too, so they combine with CQL2 filters and cursors. HTML, JSON-LD and CSV, and ``filter``
(until a CQL2 translator is set with :meth:`ItemsService.set_filter_translator`) go to
pygeoapi, so its pages and its filters stay available (a CQL2 filter compiled here for them
too: :meth:`ItemsService._for_pygeoapi`); unknown parameters are refused for every format.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import Response, after_this_request, current_app, g, has_app_context, request
from werkzeug.datastructures import ImmutableMultiDict

from layers.catalog import published_columns
from services.guard import database_away, error
from services.items_filter import FallThrough, shown_name_hint
from services.items_query import (
    FILTER_PARAMS,
    PYGEOAPI_ONLY,
    Column,
    CrsInfo,
    ItemsQuery,
    Limits,
    ParamError,
    advertised_uri,
    crs_info,
    epsg_code,
    keyset_sortable,
    parse_items,
    sort_cursor,
    unknown_params,
)
from services.items_sql import (
    FilterTranslator,
    Layer,
    count_statement,
    item_statement,
    page_statement,
)
from services.pool import Pool

LOG = logging.getLogger("cim.services.items")
ITEM_PARAMS = frozenset({"f", "crs", "lang"})  # of a single feature
GEOJSON = "application/geo+json"
_FORMATS = [GEOJSON, "application/json", "text/html", "application/ld+json"]
_MIMES = {"json": GEOJSON, "geojson": GEOJSON, "html": "text/html", "csv": "text/csv",
          "jsonld": "application/ld+json"}


class ItemsService:
    """The items path of one app: its layers (from pygeoapi's configuration), pool, limits."""

    def __init__(self, config: dict, conninfo: str, pool_size: int, limits: Limits,
                 count_cap: int) -> None:
        self.base = config["server"]["url"].rstrip("/")
        self.language = (config["server"].get("languages") or ["en-US"])[0]
        self.resources = {name: res for name, res in config["resources"].items()
                          if res.get("type") == "collection"
                          and res["providers"][0].get("type") == "feature"}
        self.conninfo = conninfo
        self.pool = Pool(conninfo, pool_size)
        self.limits = limits
        self.count_cap = count_cap
        self.filter_translator: FilterTranslator | None = None
        self._layers: dict[str, tuple[Layer, dict[str, Column], dict[str, CrsInfo]]] = {}
        self._lock = threading.Lock()

    def set_filter_translator(self, fn: FilterTranslator | None) -> None:
        """Answer ``filter=`` here: ``fn(text, filter_lang, filter_crs, layer)`` gives an SQL
        boolean expression over the alias ``p`` and its named parameters, raises ParamError
        (400) or FallThrough (pygeoapi answers): :mod:`services.items_filter`."""
        self.filter_translator = fn

    # -- the layers, read once per process -------------------------------------------------
    def layer(self, name: str):
        """(Layer, columns by name, CRSs by URI) of a served collection, or None."""
        got = self._layers.get(name)
        if got is None and name in self.resources:
            prov = self.resources[name]["providers"][0]
            # a date or timestamp column is typed by its format (the catalog's, as the
            # queryables list it): CQL2 compares it with DATE('…')/TIMESTAMP('…')
            cols = tuple(Column(c.name, c.json_format or c.json_type)
                         for c in published_columns(self.conninfo, prov["table"]))
            layer = Layer(name, prov["table"], int(prov["srid"]), prov.get("id_field", "code"),
                          cols)
            crs = {uri: crs_info(uri, layer.srid) for uri in prov.get("crs", [])}
            got = (layer, {c.name: c for c in cols}, crs)
            with self._lock:
                self._layers[name] = got
        return got

    # -- views (None: pygeoapi answers) ------------------------------------------------------
    def items(self, collection_id: str) -> Response | None:
        got = self.layer(collection_id)
        if got is None:
            return None
        layer, columns, crs = got
        unknown = unknown_params(request.args, columns)
        if unknown:
            return error(400, "InvalidParameterValue",
                          f"unknown query parameter{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)}; known: the OGC API parameters and the "
                          f"properties {', '.join(columns)}")
        try:  # every format: pygeoapi's pages get the same checks and limits
            q = parse_items(request.args, columns, crs, self.limits)
        except ParamError as exc:
            return error(400, "InvalidParameterValue",
                          str(exc) + shown_name_hint(str(exc), layer))
        if not _wants_geojson() or any(k in request.args for k in PYGEOAPI_ONLY):
            if (refused := _jsonld_crs(q)) is not None:
                return refused
            self._pygeoapi_pages(layer, columns, q)
            return self._for_pygeoapi(layer, q)
        if self.filter_translator is None and any(k in request.args for k in FILTER_PARAMS):
            self._pygeoapi_pages(layer, columns, q)
            return None
        try:
            flt = self.filter_translator(*q.filter, layer) if q.filter else None
            return self._page(layer, columns, q, flt)
        except FallThrough:  # ECQL: pygeoapi's GeoJSON page, paged as this path's
            self._pygeoapi_pages(layer, columns, q)
            return None
        except ParamError as exc:
            return error(400, "InvalidParameterValue", str(exc))
        except psycopg.Error as exc:
            return _db_error(exc)

    def _pygeoapi_pages(self, layer: Layer, columns: dict[str, Column], q: ItemsQuery) -> None:
        """pygeoapi answers: its pages go on as the GeoJSON path's do, by the keyset cursor.
        pygeoapi paged HTML, CSV and JSON-LD by ``offset`` (a feature repeated or skipped at
        a page boundary when rows changed between pages, each deeper page sorting every row
        before it, the walk refused past ``CIM_ITEMS_MAX_OFFSET``) and ignored a ``cursor``
        (a GeoJSON ``next`` link opened as CSV gave the first page again). The provider
        reads this (:class:`PygeoapiPage`, ``g.cim_page``), applies the cursor, reads one
        row ahead and makes the ``next``/``prev`` links; they are sent as a ``Link`` header
        too (CSV and JSON-LD have no links in their body), and pygeoapi's own offset links
        are dropped from a JSON body (the HTML template shows only the provider's)."""
        fmt = _format()
        g.cim_page = PygeoapiPage(
            layer.table, q, keyset_sortable(q.sortby, columns) if q.sortby else True,
            f"{self.base}/collections/{layer.name}/items", _kept(), request.args.get("f"),
            _MIMES.get(fmt, GEOJSON))
        after_this_request(_page_links)
        # pygeoapi reads the parameters as the platform did: a CRS by the URI the collection
        # advertises (it refused CRS84's other names and EPSG:4527 that the GeoJSON path
        # takes), properties without blank names (`name,,height` was its 400)
        seen = {}
        if q.out_crs is not None and request.args.get("crs") is not None:
            seen["crs"] = q.out_crs.uri
        if q.bbox_crs is not None and request.args.get("bbox-crs") is not None:
            seen["bbox-crs"] = q.bbox_crs.uri
        if q.select is not None:
            seen["properties"] = ",".join(q.select)
        if q.hits:  # also when asked as resultType=hits (pygeoapi reads only resulttype)
            seen["resulttype"] = "hits"
        if q.filter is not None and q.filter[2] is not None:
            # an ECQL filter's CRS: pygeoapi reads only the URI forms (EPSG:4527 was its
            # "Bad CQL text"); a CQL2 filter is compiled here and pygeoapi never sees it
            seen["filter-crs"] = filter_crs_uri(q.filter[2])
        request.args = _ForPygeoapi(request.args, seen)

    def _for_pygeoapi(self, layer: Layer, q: ItemsQuery) -> Response | None:
        """pygeoapi answers (HTML, CSV, JSON-LD): a CQL2 ``filter`` is compiled here as for
        GeoJSON and handed to :class:`services.providers.CimProvider` (``g.cim_filter``), and
        pygeoapi's own ECQL parser no longer sees it (its pages parsed CQL2 as ECQL:
        ``S_INTERSECTS``, ``TIMESTAMP('…')`` or ``filter-lang=cql2-text`` were 400s there), so
        a request gives the same features in every format. ECQL that is no CQL2 still goes to
        pygeoapi as before. None: pygeoapi answers; a Response: the filter's 400."""
        if q.filter is None or self.filter_translator is None:
            return None
        try:
            text, params = self.filter_translator(*q.filter, layer)
        except FallThrough:
            return None
        except ParamError as exc:
            return error(400, "InvalidParameterValue", str(exc))
        g.cim_filter = (layer.table, text, params)
        request.args = _ForPygeoapi(request.args, hidden=FILTER_PARAMS)
        return None

    def item(self, collection_id: str, fid: str) -> Response | None:
        got = self.layer(collection_id)
        if got is None:
            return None
        unknown = [k for k in request.args if k not in ITEM_PARAMS]
        if unknown:
            return error(400, "InvalidParameterValue",
                          f"unknown query parameter{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)[:200]}; known: {', '.join(sorted(ITEM_PARAMS))}")
        layer, _, crs = got
        if not _wants_geojson():  # pygeoapi's page, the CRS read as here
            if (uri := request.args.get("crs")) is not None:
                try:
                    out = _out_crs(uri, crs)
                except ParamError as exc:
                    return error(400, "InvalidParameterValue", str(exc))
                if (refused := _jsonld_crs(out)) is not None:
                    return refused
                request.args = _ForPygeoapi(request.args, {"crs": out.uri})
            return None
        try:
            out = _out_crs(request.args.get("crs"), crs)
            with self.pool.connection() as conn:
                row = conn.execute(item_statement(layer, out), {"fid": fid}).fetchone()
        except ParamError as exc:
            return error(400, "InvalidParameterValue", str(exc))
        except psycopg.Error as exc:
            return _db_error(exc)
        if row is None:
            return error(404, "NotFound", f"no current feature {fid} in {collection_id}")
        uri = f"{self.base}/collections/{collection_id}/items/{urllib.parse.quote(fid)}"
        links = [_link("self", GEOJSON, f"{uri}?f=json", "This document as GeoJSON"),
                 _link("alternate", "text/html", f"{uri}?f=html", "This document as HTML"),
                 _link("collection", "application/json",
                       f"{self.base}/collections/{collection_id}", "The collection")]
        body = row[0][:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
        return self._response(body, out)

    # -- a page ------------------------------------------------------------------------------
    def _page(self, layer: Layer, columns: dict[str, Column], q: ItemsQuery,
              flt) -> Response:
        with self.pool.connection() as conn:
            if q.hits:
                text, params = count_statement(layer, q, None, flt)
                matched = conn.execute(text, params).fetchone()[0]
                rows, more = [], False
            else:
                text, params = page_statement(layer, q, flt)
                rows = conn.execute(text, params).fetchall()
                more = len(rows) > q.limit  # the statement reads one row ahead
                rows = rows[:q.limit]
                first = q.offset == 0 and q.cursor is None and q.after is None
                if first and not more:
                    matched = len(rows)  # the whole match is on this page
                else:
                    text, params = count_statement(layer, q, self.count_cap, flt)
                    n = conn.execute(text, params).fetchone()[0]
                    matched = n if n <= self.count_cap else None
        links = self._links(layer, columns, q, rows, more)
        head = {"type": "FeatureCollection"}
        if matched is not None:
            head["numberMatched"] = matched
        head["numberReturned"] = len(rows)
        head["timeStamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        head["links"] = links
        body = (json.dumps(head, ensure_ascii=False)[:-1] + ',"features":['
                + ",".join(r[1] for r in rows) + "]}")
        return self._response(body, q.out_crs)

    def _links(self, layer: Layer, columns: dict[str, Column], q: ItemsQuery, rows: list,
               more: bool) -> list:
        uri = f"{self.base}/collections/{layer.name}/items"
        kept = _kept()
        cursor = request.args.get("cursor")
        here = (f"&offset={q.offset}" if q.offset else "") + \
            (f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor is not None else "")
        links = [_link("self", GEOJSON, f"{uri}?f=json{kept}{here}", "This document as GeoJSON"),
                 _link("alternate", "text/html", f"{uri}?f=html{kept}{here}",
                       "This document as HTML"),
                 _link("collection", "application/json", f"{self.base}/collections/{layer.name}",
                       "The collection")]
        if q.hits:
            return links
        if more:
            nxt = next_params(q, not q.sortby or keyset_sortable(q.sortby, columns),
                              rows[-1][0], tuple(rows[-1][2:]), q.limit)
            links.append(_link("next", GEOJSON, f"{uri}?f=json{kept}{nxt}", "Next page"))
        if q.offset > 0 and cursor is None:
            links.append(_link("prev", GEOJSON,
                               f"{uri}?f=json{kept}&offset={max(0, q.offset - q.limit)}",
                               "Previous page"))
        return links

    def _response(self, body: str, out: CrsInfo) -> Response:
        resp = Response(body, status=200, content_type=GEOJSON)
        resp.headers["Content-Crs"] = f"<{out.uri}>"
        resp.headers["Content-Language"] = self.language
        return resp


def next_params(q: ItemsQuery, keyset: bool, last_id: int, last_values: tuple,
                limit: int) -> str:
    """The query string that goes on after a page whose last feature is ``last_id`` (with
    its ``sortby`` values): a keyset ``cursor`` (by id, or the sort values and id); a sort
    by an array or object property by offset (its values compare in no keyset)."""
    if not q.sortby:
        return f"&cursor={last_id}"
    if keyset:
        return f"&cursor={sort_cursor(q.sortby, last_values, last_id)}"
    cursor = request.args.get("cursor")
    return f"&offset={q.offset + limit}" + \
        (f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor is not None else "")


@dataclass(frozen=True)
class PygeoapiPage:
    """A page pygeoapi renders (HTML, CSV, JSON-LD, an ECQL GeoJSON page), as the provider
    pages it: the request as the platform read it (its cursor, sort and limit), whether the
    sort goes on by a keyset, and what its links are made of (the items URI, the request's
    parameters but ``f``, ``offset`` and ``cursor``, its ``f`` and media type)."""

    table: str
    query: ItemsQuery
    keyset: bool
    uri: str
    kept: str
    f: str | None
    mime: str

    def links(self, more: bool, limit: int, last_id: int | None,
              last_values: tuple) -> list[dict[str, Any]]:
        """The page's ``next`` (when ``more``) and ``prev`` (an offset page) links, to a page
        of the same format."""
        q = self.query
        fmt = f"f={urllib.parse.quote(self.f, safe='')}" if self.f is not None else ""
        out = []
        if q.offset > 0 and q.cursor is None and q.after is None:
            out.append(_link("prev", self.mime,
                             f"{self.uri}?{fmt}{self.kept}&offset={max(0, q.offset - limit)}",
                             "Previous page"))
        if more and last_id is not None:
            nxt = next_params(q, self.keyset, last_id, last_values, limit)
            out.append(_link("next", self.mime, f"{self.uri}?{fmt}{self.kept}{nxt}",
                             "Next page"))
        for link in out:
            link["href"] = link["href"].replace("?&", "?", 1)
        return out


def page_request(table: str) -> PygeoapiPage | None:
    """The platform's reading of the items request being served for ``table`` (its cursor,
    how its pages go on), for the provider; None outside the platform's items view
    (pygeoapi's offset paging)."""
    page = g.get("cim_page") if has_app_context() else None
    return page if page is not None and page.table == table else None


def set_page_links(links: list[dict[str, Any]]) -> None:
    """The provider's ``next``/``prev`` links of the page being served (:func:`_page_links`
    sends them)."""
    g.cim_page_links = links


def set_csv_header(fields: list[str]) -> None:
    """The columns of the CSV page being served: :func:`_page_links` writes them as its
    header when pygeoapi's formatter wrote nothing (it writes no header without features,
    so an empty match was an empty file that no CSV reader takes for a table)."""
    g.cim_csv_header = fields


def count_cap() -> int | None:
    """The served app's ``CIM_COUNT_CAP`` (:class:`services.settings.ServeSettings`); None
    outside it (an exact count)."""
    settings = current_app.config.get("CIM_SETTINGS") if has_app_context() else None
    return getattr(settings, "count_cap", None)


def _page_links(resp: Response) -> Response:
    """After pygeoapi's page: the provider's ``next``/``prev`` links as a ``Link`` header;
    in a JSON body, pygeoapi's own (by offset) replaced by them."""
    links = g.get("cim_page_links")
    if resp.status_code != 200:
        return resp
    # pygeoapi's response holds its headers as a plain dict (resp.mimetype reads None)
    ctype = next((str(v) for k, v in resp.headers.items() if k.lower() == "content-type"), "")
    header = g.get("cim_csv_header")
    if (header is not None and ctype.split(";")[0].strip() == "text/csv"
            and not resp.is_streamed and not resp.get_data()):
        out = io.StringIO()
        csv.writer(out).writerow(header)  # as the formatter's DictWriter writes it
        resp.set_data(out.getvalue().encode())
    if links is None:
        return resp
    if links:
        resp.headers["Link"] = ", ".join(f'<{lk["href"]}>; rel="{lk["rel"]}"; '
                                         f'type="{lk["type"]}"' for lk in links)
    if ctype.split(";")[0].strip() in (GEOJSON, "application/json") and not resp.is_streamed:
        try:
            body = json.loads(resp.get_data())
        except ValueError:
            return resp
        if isinstance(body, dict) and isinstance(body.get("links"), list):
            body["links"] = [lk for lk in body["links"]
                             if lk.get("rel") not in ("next", "prev") or lk in links]
            resp.set_data(json.dumps(body, ensure_ascii=False))
    return resp


class _ForPygeoapi(ImmutableMultiDict):
    """A request's parameters as pygeoapi reads them (``get``): ``read`` as the platform read
    them (a CRS by its advertised URI …), ``hidden`` not at all (a CQL2 filter the platform
    has compiled: pygeoapi would parse it as ECQL); iterating them still gives them as sent,
    so the links of pygeoapi's pages keep them."""

    def __init__(self, args, read: dict[str, str] | None = None,
                 hidden: frozenset[str] = frozenset()) -> None:
        super().__init__(args)
        self._read = {**getattr(args, "_read", {}), **(read or {})}
        self._hidden = getattr(args, "_hidden", frozenset()) | hidden

    def get(self, key, default=None, type=None):  # noqa: A002 (werkzeug's signature)
        if key in self._hidden:
            return default
        if key in self._read:
            return self._read[key]
        return super().get(key, default, type)


def _kept() -> str:
    """The request's parameters as a ``next`` link keeps them: all but ``f``, ``offset`` and
    ``cursor``, each ``&name=value``."""
    return "".join(f"&{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe=',')}"
                   for k, v in request.args.items(multi=True)
                   if k not in ("f", "offset", "cursor"))


def _format() -> str:
    """The format pygeoapi renders: ``f``, else the best of ``Accept``."""
    f = request.args.get("f")
    if f is not None:
        return f.lower()
    best = request.accept_mimetypes.best_match(_FORMATS, default=GEOJSON)
    return {"text/html": "html", "application/ld+json": "jsonld"}.get(best, "json")


def _wants_geojson() -> bool:
    f = request.args.get("f")
    if f is not None:
        return f.lower() in ("json", "geojson")
    best = request.accept_mimetypes.best_match(_FORMATS, default=GEOJSON)
    return best in (GEOJSON, "application/json")


def filter_crs_uri(name: str) -> str:
    """``filter-crs`` as pygeoapi's CRS handling reads it (``http://www.opengis.net/def/crs/
    …``): CRS84 by any of its names, an EPSG CRS in its authority's axis order by its CURIE,
    safe CURIE, URN or URI (:func:`services.items_query.advertised_uri`); ``name`` itself
    otherwise (pygeoapi's 400)."""
    from cim.crs import CRS84_URI, crs_uri, is_crs84

    if is_crs84(name):
        return CRS84_URI
    code = epsg_code(name)
    return crs_uri(code) if code is not None else name


def _jsonld_crs(q: ItemsQuery | CrsInfo) -> Response | None:
    """A 400 for JSON-LD asked in another CRS than CRS84: its schema:geo and GeoSPARQL WKT
    are longitude/latitude by definition, and pygeoapi wrote the CRS's coordinates there
    (EPSG:4490's latitude as schema:longitude, EPSG:4527's metres)."""
    from cim.crs import CRS84_URI

    out = q.out_crs if isinstance(q, ItemsQuery) else q
    if _format() != "jsonld" or out is None or out.uri == CRS84_URI:
        return None
    return error(400, "InvalidParameterValue",
                 f"crs={request.args.get('crs')}: JSON-LD is in CRS84 (schema.org and "
                 "GeoSPARQL read longitude/latitude) — give no crs, or f=json for another CRS")


def _out_crs(uri: str | None, crs: dict[str, CrsInfo]) -> CrsInfo:
    from cim.crs import CRS84_URI

    uri = advertised_uri(uri or CRS84_URI, crs)  # any of its names
    if uri not in crs:
        raise ParamError(f"crs {uri} is not supported here; one of: {', '.join(crs)}")
    return crs[uri]


def _link(rel: str, type_: str, href: str, title: str) -> dict[str, Any]:
    return {"rel": rel, "type": type_, "title": title, "href": href}


def _db_error(exc: psycopg.Error) -> Response:
    """A database error as an HTTP answer: a bad value is the client's (400), a cancelled
    statement the server's load (503); anything else is logged and a 500 without details."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return error(503, "ServiceUnavailable", "the query took too long; narrow it (bbox, "
                      "limit, filters) or try again")
    if isinstance(exc, psycopg.errors.DataError) or "transform" in str(exc).lower():
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return error(400, "InvalidParameterValue", f"bad parameter value: {first}")
    if (away := database_away(exc)) is not None:
        LOG.error("items: 503: %s (%s)", away, str(exc).strip().splitlines()[-1:])
        return error(503, "ServiceUnavailable", away)
    LOG.exception("items query failed")
    return error(500, "NoApplicableCode", "internal error (logged by the server)")
