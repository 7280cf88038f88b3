"""What the platform's app refuses, and how every failure is answered.

OGC API Features Part 1 asks for a 400 on an unknown query parameter, and a hostile request
must never see a 500 or a stack trace. The items path validates its own parameters
(:mod:`services.items_query`); this module covers the rest of the app:

* the other resources pygeoapi serves (landing page, conformance, collections, the OpenAPI
  document, queryables, schema) accept only the parameters they define;
* a request body over ``max_body`` bytes is a 413 before anything reads it (the request line
  and headers are bounded by gunicorn: ``--limit-request-line``, :mod:`services.serve`);
* a 5xx pygeoapi gives for a request carrying a ``filter`` (its ECQL parser and pygeofilter
  raise on some inputs) becomes a 400: the filter is what failed;
* any other error is JSON with a message: HTTP errors keep their status, an unexpected
  exception is logged and answered 500 without details;
* ``/conformance`` lists only the classes the platform passes (pygeoapi declares every class
  its plugins might support, including Features Part 4 transactions, which a read-only server
  does not offer), built once per process (pygeoapi extends a module-level list on every
  request).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from flask import Flask, Response, has_request_context, request
from werkzeug.exceptions import HTTPException

LOG = logging.getLogger("cim.services.app")
_OGC = "http://www.opengis.net/spec/"
CONFORMANCE = [
    _OGC + "ogcapi-common-1/1.0/conf/core",
    _OGC + "ogcapi-common-1/1.0/conf/landing-page",
    _OGC + "ogcapi-common-1/1.0/conf/json",
    _OGC + "ogcapi-common-1/1.0/conf/html",
    _OGC + "ogcapi-common-1/1.0/conf/oas30",
    _OGC + "ogcapi-common-2/1.0/conf/collections",
    _OGC + "ogcapi-features-1/1.0/conf/core",
    _OGC + "ogcapi-features-1/1.0/conf/geojson",
    _OGC + "ogcapi-features-1/1.0/conf/html",
    _OGC + "ogcapi-features-1/1.0/conf/oas30",
    _OGC + "ogcapi-features-2/1.0/conf/crs",
    _OGC + "ogcapi-features-3/1.0/conf/queryables",
    _OGC + "ogcapi-features-3/1.0/conf/queryables-query-parameters",
    _OGC + "ogcapi-features-3/1.0/conf/filter",
    _OGC + "ogcapi-features-3/1.0/conf/features-filter",
    _OGC + "cql2/1.0/conf/basic-cql2",
    _OGC + "cql2/1.0/conf/advanced-comparison-operators",
    _OGC + "cql2/1.0/conf/basic-spatial-functions",
    _OGC + "cql2/1.0/conf/basic-spatial-functions-plus",
    _OGC + "cql2/1.0/conf/spatial-functions",
    _OGC + "cql2/1.0/conf/cql2-text",
    _OGC + "cql2/1.0/conf/cql2-json",
]
# parameters of the pygeoapi resources the platform serves as they are (items: items_query)
STRICT_PARAMS = {
    "pygeoapi.landing_page": {"f", "lang"},
    "pygeoapi.conformance": {"f", "lang"},
    "pygeoapi.collections": {"f", "lang"},
    "pygeoapi.openapi": {"f", "lang", "ui"},
    "pygeoapi.collection_queryables": {"f", "lang", "profile"},
    "pygeoapi.collection_schema": {"f", "lang", "profile"},
}


def database_away(exc: BaseException) -> str | None:
    """What to tell a client when ``exc`` is the database being out of reach — down,
    restarting, closed to connections, the connection lost, every pooled connection held
    past its timeout: a 503 to try again, not the platform's 500; None for any other error
    (a full disk, a deadlock, a bad statement stay the server's errors, logged whole). A
    cancelled statement (the serving role's timeout) is answered where it happens."""
    import psycopg

    from services.pool import PoolTimeout

    for e in (exc, exc.__cause__):
        if isinstance(e, PoolTimeout):
            return f"the database is busy ({e}); try again shortly"
        if isinstance(e, psycopg.OperationalError):
            state = getattr(e, "sqlstate", None)
            # no state: the client could not connect (refused, closed to connections, a
            # lost socket); 08: connection exceptions; 57P01–03: an administrator or a
            # restart ended the session; 53300: too many connections
            if state is None or state.startswith("08") or state in _AWAY_STATES:
                return "the database is not reachable at the moment; try again shortly"
        if isinstance(e, psycopg.InterfaceError) and "closed" in str(e):
            return "the database is not reachable at the moment; try again shortly"
    return None


_AWAY_STATES = {"57P01", "57P02", "57P03", "53300"}


def error(status: int, code: str, message: str) -> Response:
    """An OGC API exception document: JSON, or for a browser (:func:`wants_html`) the page
    pygeoapi shows its own errors on (:data:`HTML_PAGE`) — a planner who mistypes a
    parameter in the address bar reads what is wrong, not JSON."""
    if HTML_PAGE is not None and has_request_context() and wants_html():
        body, language = HTML_PAGE(status, code, message)
        return Response(body, status=status, content_type="text/html; charset=utf-8",
                        headers={"Content-Language": language})
    return Response(json.dumps({"code": code, "description": message}, ensure_ascii=False),
                    status=status, content_type="application/json")


# (status, code, message) -> (pygeoapi's exception page in the request's language, its
# language tag): set by the app (:func:`services.app.create_app`)
HTML_PAGE: Callable[[int, str, str], tuple[str, str]] | None = None

# what a request may name as its format, best first when Accept allows several (a client's
# ``*/*``, fetch's default, is JSON's; a browser's navigation lists text/html first)
_FORMATS = ["application/json", "application/geo+json", "text/html"]


def wants_html() -> bool:
    """``f=html``, or without ``f`` an ``Accept`` that prefers HTML (a browser's)."""
    f = request.args.get("f")
    if f is not None:
        return f.lower() == "html"
    return request.accept_mimetypes.best_match(_FORMATS, default=_FORMATS[0]) == "text/html"


# a route whose body may be larger than ``max_body`` (endpoint → bytes), set by the route's
# owner: a case report carries its photos (services.cases_api)
BODY_LIMITS: dict[str, int] = {}
# what the refusal of a body over the route's limit says of the limit (endpoint → words)
BODY_HINTS: dict[str, str] = {}


# pygeoapi's routes for kinds of collection the platform never configures (a map, a coverage,
# an EDR position query): pygeoapi answered each with a 400 "invalid provider type" and logged
# a traceback at ERROR for every such request
NOT_SERVED = frozenset({"pygeoapi.collection_map", "pygeoapi.collection_coverage",
                        "pygeoapi.get_collection_edr_query"})


def _chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _read_chunked(limit: int) -> int:
    """Read a chunked body (no Content-Length) up to one byte past ``limit`` and hand it on
    with its length: Werkzeug cut such a body at the limit without a word, and a valid JSON
    body of 1.3 MB was refused as "not JSON" instead of as too large (413)."""
    import io

    env = request.environ
    stream, parts, got = env["wsgi.input"], [], 0
    while got <= limit:
        part = stream.read(min(1 << 16, limit + 1 - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    data = b"".join(parts)
    env["wsgi.input"] = io.BytesIO(data)
    env["CONTENT_LENGTH"] = str(len(data))  # over the limit: refused as any other body
    env.pop("HTTP_TRANSFER_ENCODING", None)
    env["wsgi.input_terminated"] = False
    return len(data)


def install(app: Flask, pygeoapi_mod, max_body: int) -> None:
    """Add the guards, error handlers and the platform's ``/conformance`` to ``app`` (after
    pygeoapi's blueprint is registered)."""
    app.config["MAX_CONTENT_LENGTH"] = max_body

    @app.before_request
    def _refuse():
        if request.endpoint in NOT_SERVED:
            return error(404, "NotFound",
                         f"{request.path}: the platform's collections are features (items, "
                         "tiles); maps, coverages and EDR queries are not served")
        limit = max(max_body, BODY_LIMITS.get(request.endpoint or "", 0))
        length = request.content_length
        if length is None and _chunked():  # its length known now, as a Content-Length
            length = _read_chunked(limit)  # (Werkzeug keeps the None it read: told here)
        if length is not None and length > limit:
            hint = BODY_HINTS.get(request.endpoint or "")
            return error(413, "PayloadTooLarge",
                         f"request body over {limit} bytes" + (f": {hint}" if hint else ""))
        if limit != max_body:  # read the body up to its own limit (Flask's is max_body)
            request.max_content_length = limit
        allowed = STRICT_PARAMS.get(request.endpoint or "")
        if allowed is not None:
            unknown = [k for k in request.args if k not in allowed]
            if unknown:
                return error(400, "InvalidParameterValue",
                             f"unknown query parameter{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(unknown)[:200]}; known here: "
                             f"{', '.join(sorted(allowed))}")
        return None

    @app.after_request
    def _html_charset(resp: Response) -> Response:
        # pygeoapi's pages say "text/html" alone: a client that does not read <meta charset>
        # (Python's requests, some proxies) decoded their Chinese as Latin-1
        # (their headers are a plain dict: Response.mimetype reads None)
        key, ctype = next(((k, str(v)) for k, v in resp.headers.items()
                           if k.lower() == "content-type"), ("Content-Type", ""))
        if ctype.split(";")[0].strip().lower() == "text/html" and "charset" not in ctype:
            resp.headers[key] = "text/html; charset=utf-8"
        return resp

    @app.after_request
    def _filter_failures(resp: Response) -> Response:
        if resp.status_code == 500 and "filter" in request.args:
            LOG.warning("pygeoapi answered %s for filter %r", resp.status_code,
                        request.args.get("filter", "")[:200])
            return error(400, "InvalidParameterValue",
                         "filter: could not be evaluated; use CQL2 Text or JSON "
                         "(filter-lang=cql2-text or cql2-json) with the collection's "
                         "queryable properties")
        return resp

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return error(exc.code or 500, exc.name.replace(" ", ""),
                     exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        away = database_away(exc)
        if away is not None:  # not the platform's fault: said so, one line in the log
            LOG.error("%s %s: 503: %s (%s)", request.method, request.path, away,
                      (str(exc).strip().splitlines() or [type(exc).__name__])[-1])
            return error(503, "ServiceUnavailable", away)
        LOG.exception("unhandled error on %s", request.path)
        return error(500, "NoApplicableCode", "internal error (logged by the server)")

    def conformance_fn(api, req):
        from pygeoapi.api import F_HTML
        from pygeoapi.util import render_j2_template, to_json

        # classes of the platform's other parts (e.g. services.processes), added on register
        doc = {"conformsTo": CONFORMANCE + app.config.get("CIM_CONFORMANCE", [])}
        headers = req.get_response_headers(**api.api_headers)
        if req.format == F_HTML:
            return headers, 200, render_j2_template(
                api.tpl_config, api.config["server"]["templates"], "conformance.html", doc,
                req.locale)
        return headers, 200, to_json(doc, api.pretty_print)

    def conformance():
        """The classes the platform passes (see the module's docstring)."""
        return pygeoapi_mod.execute_from_flask(conformance_fn, request)

    app.view_functions["pygeoapi.conformance"] = conformance
