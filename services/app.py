"""The platform's WSGI app: its own routes, then pygeoapi's blueprint, in one Flask app.

``create_app(settings)`` is the only entry: gunicorn calls it (``cim serve`` runs
``gunicorn 'services.app:create_app()'``), tests may call it directly. Nothing happens at
import time: pygeoapi's ``flask_app`` module reads ``PYGEOAPI_CONFIG``/``PYGEOAPI_OPENAPI``
when it is imported, so ``create_app`` first writes the configuration (no password in it:
:mod:`services.config`), points those variables at it, and only then imports pygeoapi.

Routes the platform owns come first; later issues add tiles, a web map, processes and
operational APIs here. GeoJSON items requests (a POSTed CQL2 JSON filter as its GET) are
answered by :mod:`services.items`, every other request by pygeoapi.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import logging
import os
import sys

import yaml
from flask import Flask, jsonify

from services.settings import ServeSettings

LOG = logging.getLogger("cim.services.app")
# set while pygeoapi answers a client's error (4xx): its own ERROR record of it is dropped
_CLIENT_ERROR = contextvars.ContextVar("cim_client_error", default=False)


def create_app(settings: ServeSettings | None = None) -> Flask:
    """The app for ``settings`` (default: read from the ``CIM_`` environment now)."""
    from cim.db.engine import database_url, psycopg_conninfo
    from cim.db.roles import serving_url
    from cim.profile import load_profile
    from services import guard
    from services.config import URL_ENV
    from services.items import ItemsService
    from services.items_filter import cql2_translator
    from services.items_query import Limits
    from services.serve import write_config

    settings = settings or ServeSettings()
    # least privilege: the items pool and pygeoapi's provider both log in as the read-only
    # role; the served process keeps only the reader's URL (its provider reads it from there)
    url = serving_url(database_url(settings))
    _check_reader(psycopg_conninfo(url))
    os.environ[URL_ENV] = url
    if settings.profile is None:
        raise RuntimeError("no city profile: set CIM_PROFILE")
    profile = load_profile(settings.profile)
    limits = Limits(settings.items_default_limit, settings.items_max_limit,
                    settings.items_max_offset)
    cfg_path, oas_path = write_config(url, profile, settings.host, settings.port,
                                      settings.home, limits=limits,
                                      basemap_url=settings.basemap_url,
                                      public_url=settings.public_url)
    with open(cfg_path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    os.environ["PYGEOAPI_CONFIG"] = str(cfg_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(oas_path)
    pygeoapi_app = _pygeoapi_flask_app(str(cfg_path))
    _quiet_client_errors(pygeoapi_app.api_)
    _match_languages_by_their_served_locale()

    # no static route of its own: /static/… is pygeoapi's (its CSS and logos)
    app = Flask("cim", static_folder=None)
    app.url_map.strict_slashes = pygeoapi_app.APP.url_map.strict_slashes
    app.config["CIM_SETTINGS"] = settings

    @app.get("/health")
    def health():
        """Liveness for load balancers and `cim serve` scripts: no database round trip."""
        return jsonify(status="ok")

    app.register_blueprint(pygeoapi_app.BLUEPRINT)
    guard.install(app, pygeoapi_app, settings.max_body_bytes)
    guard.HTML_PAGE = functools.partial(_exception_page, pygeoapi_app.api_)
    app.after_request(_geojson_items_links_without_format)

    items = ItemsService(config, psycopg_conninfo(url), pool_size=settings.threads,
                         limits=limits, count_cap=settings.count_cap)
    items.set_filter_translator(cql2_translator())
    app.extensions["cim_items"] = items
    pygeoapi_items = app.view_functions["pygeoapi.collection_items"]

    def collection_items(collection_id, item_id=None):
        """GeoJSON pages and features from the platform's path, the rest from pygeoapi."""
        from flask import request

        if request.method == "POST" and item_id is None:
            refused = _post_as_get(items, collection_id)
            if refused is not None:
                return refused
        if request.method in ("GET", "HEAD"):  # a HEAD is answered as its GET, bodiless
            answer = (items.items(collection_id) if item_id is None
                      else items.item(collection_id, item_id))
            if answer is not None:
                return answer
        answer = pygeoapi_items(collection_id, item_id=item_id)
        if getattr(answer, "status_code", None) == 200:
            # pygeoapi's GeoJSON (an ECQL filter's page) typed as the platform's pages are
            # (its headers are a dict: werkzeug's case-blind look-ups do not see them)
            for k, v in list(answer.headers.items()):
                if k.lower() == "content-type" and str(v).split(";")[0] == "application/json":
                    answer.headers[k] = "application/geo+json"
        if answer is None:  # pygeoapi has no answer for a body of another type: it was a 500
            from services.guard import error

            return error(415, "InvalidParameterValue",
                         f"a POST to {request.path} takes a CQL2 JSON filter: Content-Type "
                         f"application/json or application/query-cql-json, not "
                         f"{request.content_type or 'none'!r}")
        return answer

    app.view_functions["pygeoapi.collection_items"] = collection_items

    from services.tiles import TilesService, register

    tiles = TilesService(config, psycopg_conninfo(url), items.pool,
                         max_features=settings.tiles_max_features,
                         cache_bytes=settings.tiles_cache_mb << 20,
                         version_ttl=settings.tiles_version_ttl,
                         max_age=settings.tiles_max_age,
                         low_zoom_features=settings.tiles_low_zoom_features,
                         profile=profile)
    register(app, tiles)

    from services.collection_facts import ENDPOINTS, CollectionFacts

    facts = CollectionFacts(pygeoapi_app.api_.config["resources"], tiles.versions,
                            items.pool, psycopg_conninfo(url), profile)

    @app.before_request
    def _facts_as_the_data_is():
        from flask import request

        if request.endpoint in ENDPOINTS:
            try:
                facts.refresh()
            except Exception as exc:  # the database away: the documents as last known
                if guard.database_away(exc) is None:
                    raise
                LOG.warning("%s: collection facts not refreshed: %s", request.path,
                            guard.database_away(exc))

    from services import webmap

    webmap.register(app, conninfo=psycopg_conninfo(url), profile=profile,
                    base_url=config["server"]["url"], basemap_url=settings.basemap_url)

    from services import processes

    processes.register(app, conninfo=psycopg_conninfo(url), base_url=config["server"]["url"],
                       pool_size=settings.threads)
    from services import cases_api  # the case loop (issue 14)

    cases_api.register(app, conninfo=psycopg_conninfo(url), pool_size=settings.threads,
                       profile=profile)
    from services import iot_api  # sensor readings (issue 14)

    iot_api.register(app, conninfo=psycopg_conninfo(url), pool_size=settings.threads,
                     profile=profile)
    return app


def _geojson_items_links_without_format(resp):
    """A collection's GeoJSON ``items`` link as ``…/items``, without pygeoapi's ``?f=json``
    (the server answers GeoJSON to a client that asks for it, or for anything). GDAL's OAPIF
    driver (3.6) takes that link as the items URL and appends ``/{id}`` to it for a
    ``-where "id = '…'"``: ``…/items?f=json/3708…`` was a 400 "Invalid format requested"."""
    import json

    from flask import request

    if request.endpoint != "pygeoapi.collections" or resp.status_code != 200:
        return resp
    ctype = next((str(v) for k, v in resp.headers.items() if k.lower() == "content-type"), "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        return resp
    try:
        body = json.loads(resp.get_data())
    except ValueError:
        return resp
    changed = False
    for coll in body.get("collections", [body]) if isinstance(body, dict) else []:
        for link in coll.get("links", []) if isinstance(coll, dict) else []:
            href = link.get("href", "") if isinstance(link, dict) else ""
            if (link.get("rel") == "items" and link.get("type") == "application/geo+json"
                    and href.endswith("/items?f=json")):
                link["href"] = href[:-len("?f=json")]
                changed = True
    if changed:
        resp.set_data(json.dumps(body, ensure_ascii=False))
    return resp


def _post_as_get(items, collection_id: str):
    """A CQL2 JSON body ``POST``ed to a served layer's items, answered as the ``GET`` with
    ``filter=<body>&filter-lang=cql2-json`` (the other query parameters kept): the request is
    made that ``GET`` in place, so the platform's items path (or pygeoapi's page for HTML,
    CSV, JSON-LD, with the filter the platform compiled) answers it and the same filter gives
    the same features by either method. pygeoapi's parser never sees the body: it read the
    2021 draft of CQL2 JSON (``between`` and ``s_dwithin`` were its 400 "Bad CQL JSON") and
    its POST path ignored ``crs=EPSG:4527``, which GET takes. None: go on (as a GET now, or
    untouched: no Content-Type, GeoJSON to create, a collection the path does not serve);
    a Response: the request's 400."""
    from flask import request
    from werkzeug.datastructures import ImmutableMultiDict

    from services.guard import error

    if (request.content_type is None or request.mimetype == "application/geo+json"
            or items.layer(collection_id) is None):
        return None
    body = request.get_data(cache=True)  # within MAX_CONTENT_LENGTH (413 past it)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return error(400, "InvalidParameterValue",
                     "filter: the body is not UTF-8 text (a CQL2 JSON filter)")
    if "filter" in request.args:
        return error(400, "InvalidParameterValue",
                     "a POST's filter is its body (CQL2 JSON): no filter in the query string")
    lang = request.args.get("filter-lang")
    if lang not in (None, "cql2-json", "cql-json"):
        return error(400, "InvalidParameterValue",
                     f"filter-lang {lang}: a POSTed filter is CQL2 JSON (filter-lang=cql2-json "
                     "or none)")
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "filter-lang"]
    if text.strip():  # an empty body filters nothing, as a GET without filter
        args += [("filter", text), ("filter-lang", "cql2-json")]
    request.args = ImmutableMultiDict(args)
    request.method = "GET"  # pygeoapi's view then takes it as the GET it now is …
    request.data = request._cached_data = b""  # … and has no body to parse
    return None


def _quiet_client_errors(api) -> None:
    """pygeoapi's answers of a client's error (4xx) logged as one line, at INFO (404) or
    WARNING (other 4xx). pygeoapi's ``API.get_exception`` logs every error it answers at
    ERROR, with the traceback of the exception being handled: each ``GET`` of an unknown
    item (its page, HTML or JSON-LD: the provider raises ``ProviderItemNotFoundError``) was
    a traceback in the server's log, and an unknown collection an ERROR line, which ops staff
    read as the server's faults. A 5xx keeps pygeoapi's record, traceback and all."""
    original = api.get_exception

    def get_exception(status, headers, format_, code, description):
        if int(status) >= 500:
            answer = original(status, headers, format_, code, description)
            return _in_request_language(api, answer, format_, code, description)
        from flask import has_request_context, request

        where = f"{request.method} {request.path}" if has_request_context() else "request"
        first = (str(description).splitlines() or [""])[0][:300]
        LOG.log(logging.INFO if int(status) == 404 else logging.WARNING, "%s: %d %s: %s",
                where, int(status), code, first)
        token = _CLIENT_ERROR.set(True)
        try:
            answer = original(status, headers, format_, code, description)
        finally:
            _CLIENT_ERROR.reset(token)
        return _in_request_language(api, answer, format_, code, description)

    if not getattr(api.get_exception, "_cim_quiet", False):
        get_exception._cim_quiet = True
        api.get_exception = get_exception
    logging.getLogger("pygeoapi.api").addFilter(_not_a_client_error)
    logging.getLogger("pygeoapi.api.itemtypes").addFilter(_bad_filter_is_a_warning)
    logging.getLogger("pygeoapi.formatter.csv_").addFilter(_empty_csv_is_no_error)


# pygeoapi's record of a filter it could not parse (itemtypes: "Bad CQL text: <filter>")
_BAD_FILTER = ("Bad CQL text", "Bad CQL JSON")


def _bad_filter_is_a_warning(record: logging.LogRecord) -> bool:
    """pygeoapi logs a filter it cannot parse at ERROR before it answers the client's 400:
    a planner's mistyped filter read as a fault of the server. Kept, as a WARNING (with the
    filter, which the 400's one line does not name)."""
    if record.levelno >= logging.ERROR and str(record.msg).startswith(_BAD_FILTER):
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(
            logging.WARNING)
    return True


def _empty_csv_is_no_error(record: logging.LogRecord) -> bool:
    """Drops pygeoapi's ERROR "no features" of a CSV page without features: a filter or bbox
    that matches nothing is an answer (the platform writes its header row), not a fault."""
    return record.getMessage() != "no features"


def _exception_page(api, status: int, code: str, description: str) -> tuple[str, str]:
    """pygeoapi's HTML error page (its template, header and footer) of one of the
    platform's own refusals, in the request's language: (page, language tag)."""
    from flask import request
    from pygeoapi.api import APIRequest
    from pygeoapi.l10n import locale2str
    from pygeoapi.util import render_j2_template

    locale = APIRequest(request, api.locales).locale
    page = render_j2_template(api.tpl_config, api.config["server"]["templates"],
                              "exception.html", {"code": code, "type": code,
                                                 "description": description}, locale)
    return page, locale2str(locale)


def _in_request_language(api, answer: tuple, format_: str, code: str, description) -> tuple:
    """pygeoapi's HTML error page in the language the request asked for (``lang``, else
    ``Accept-Language``), as its other pages are: pygeoapi renders it in its system locale,
    so a Chinese user's 404 page said ``<html lang="en">`` and "Exception" in English."""
    headers, status, content = answer
    from flask import has_request_context
    from pygeoapi.api import F_HTML

    if format_ != F_HTML or not has_request_context():
        return answer
    content, headers["Content-Language"] = _exception_page(api, status, code, description)
    return headers, status, content


def _not_a_client_error(record: logging.LogRecord) -> bool:
    """Drops pygeoapi's own record of a client's error (:func:`_quiet_client_errors` logged
    it as one line)."""
    return not (_CLIENT_ERROR.get() and record.funcName == "get_exception")


def _match_languages_by_their_served_locale() -> None:
    """A requested language the server serves in another territory (``lang=zh``, or a
    browser's ``Accept-Language: zh`` or ``zh-TW``, the server's ``zh-CN``) is answered in
    that served locale. pygeoapi's ``l10n.best_match`` built such a match as
    ``Locale('zh', territory='CN')``, which Babel does not know (it knows ``zh_Hans_CN``):
    every page pygeoapi renders (landing page, collections, HTML items) was a 500 for it,
    and for a language not served at all (``Accept-Language: fr``: its fallback is the first
    served locale, built the same way). The tag is handed to pygeoapi as the served locale's
    own tag, which its match takes as it is, and that tag ends every list."""
    from pygeoapi import l10n

    if getattr(l10n.best_match, "_cim_served", False):
        return
    original = l10n.best_match

    def best_match(accept_languages, available_locales):
        if not isinstance(accept_languages, (list, l10n.Locale)):
            accept_languages = []  # as pygeoapi reads any other value
        if isinstance(accept_languages, list) and available_locales:
            served = [a if isinstance(a, l10n.Locale) else l10n.str2locale(a, True)
                      for a in available_locales]
            served = [s for s in served if s is not None]
            accept_languages = [_served_tag(t, served) for t in accept_languages]
            if served:  # no match: the first served locale (pygeoapi's fallback, built
                # as Locale('zh', territory='CN') too)
                accept_languages.append(l10n.locale2str(served[0]))
        return original(accept_languages, available_locales)

    best_match._cim_served = True
    l10n.best_match = best_match


def _served_tag(tag, served: list) -> str:
    """``tag`` as pygeoapi matches it: as sent when it names a served locale (or a language
    served without territory) or no served language; else the first served locale of its
    language (``zh`` → ``zh-CN``)."""
    from pygeoapi import l10n

    loc = l10n.str2locale(tag, True) if isinstance(tag, str) else None
    if loc is None:
        return tag
    same = [s for s in served if s.language == loc.language]
    if not same or any(s.territory in (loc.territory, None) for s in same):
        return tag
    return l10n.locale2str(same[0])


def _check_reader(conninfo: str) -> None:
    """Fail at start, with what to do, when the read-only role cannot log in."""
    problem = reader_login_problem(conninfo)
    if problem:
        raise RuntimeError(problem)


def reader_login_problem(conninfo: str) -> str | None:
    """What to do when the read-only role cannot log in with ``conninfo``; None when it can.
    ``cim serve`` asks before it starts the server (a database error, exit 4, not the
    workers' failure after the addresses were printed)."""
    import psycopg

    from cim.db.search_path import postgis_problem
    from cim.layerdefs import declared_layers

    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            problem = postgis_problem(conn)  # PostGIS in a schema out of the role's reach
            # the layers it may not read (a restore without its grants, `pg_restore -x`):
            # the server printed its addresses, then died with a raw traceback
            unread = [t for (t,) in conn.execute(
                "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL AND "
                "NOT has_table_privilege(t, 'SELECT') ORDER BY t",
                ([d.table for d in declared_layers().values()],))]
        if problem:
            return f"the server connects as the read-only role: {problem}"
        if unread:
            user = psycopg.conninfo.conninfo_to_dict(conninfo).get("user")
            return (f"the read-only role {user!r} the server connects as may not read "
                    f"{', '.join(unread[:5])}{' …' if len(unread) > 5 else ''} (a database "
                    "restored without its grants?): run `cim db upgrade`, which grants them")
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        user = psycopg.conninfo.conninfo_to_dict(conninfo).get("user")
        return (f"the server connects as the read-only role {user!r} and could not: {first}. "
                "Run `cim db upgrade` (it keeps the role, and says what a DBA runs where it "
                "may not), and for an external database give its password in "
                "CIM_READER_PASSWORD or ~/.pgpass")
    return None


def _pygeoapi_flask_app(cfg_path: str):
    """pygeoapi's ``flask_app`` module, imported (or re-imported) for ``cfg_path``."""
    mod = sys.modules.get("pygeoapi.flask_app")
    if mod is None:
        mod = importlib.import_module("pygeoapi.flask_app")
    elif getattr(mod, "_cim_config", None) != cfg_path:
        mod = importlib.reload(mod)
    mod._cim_config = cfg_path
    return mod
