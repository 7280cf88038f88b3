"""The platform's WSGI app: its own routes, then pygeoapi's blueprint, in one Flask app.

``create_app(settings)`` is the only entry: gunicorn calls it (``cim serve`` runs
``gunicorn 'services.app:create_app()'``), tests may call it directly. Nothing happens at
import time: pygeoapi's ``flask_app`` module reads ``PYGEOAPI_CONFIG``/``PYGEOAPI_OPENAPI``
when it is imported, so ``create_app`` first writes the configuration (no password in it:
:mod:`services.config`), points those variables at it, and only then imports pygeoapi.

Routes the platform owns come first; later issues add tiles, a web map, processes and
operational APIs here. GeoJSON items requests are answered by :mod:`services.items`, every
other request by pygeoapi.
"""

from __future__ import annotations

import importlib
import os
import sys

import yaml
from flask import Flask, jsonify

from services.settings import ServeSettings


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
                                      basemap_url=settings.basemap_url)
    with open(cfg_path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    os.environ["PYGEOAPI_CONFIG"] = str(cfg_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(oas_path)
    pygeoapi_app = _pygeoapi_flask_app(str(cfg_path))

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

    items = ItemsService(config, psycopg_conninfo(url), pool_size=settings.threads,
                         limits=limits, count_cap=settings.count_cap)
    items.set_filter_translator(cql2_translator())
    app.extensions["cim_items"] = items
    pygeoapi_items = app.view_functions["pygeoapi.collection_items"]

    def collection_items(collection_id, item_id=None):
        """GeoJSON pages and features from the platform's path, the rest from pygeoapi."""
        from flask import request

        if request.method == "GET":
            answer = (items.items(collection_id) if item_id is None
                      else items.item(collection_id, item_id))
            if answer is not None:
                return answer
        answer = pygeoapi_items(collection_id, item_id=item_id)
        if answer is None:  # pygeoapi has no answer for a body of another type: it was a 500
            from services.guard import error

            return error(415, "InvalidParameterValue",
                         f"a POST to {request.path} takes a CQL2 JSON filter: Content-Type "
                         f"application/json or application/query-cql-json, not "
                         f"{request.content_type or 'none'!r}")
        return answer

    app.view_functions["pygeoapi.collection_items"] = collection_items

    from services.tiles import TilesService, register

    register(app, TilesService(config, psycopg_conninfo(url), items.pool,
                               max_features=settings.tiles_max_features,
                               cache_bytes=settings.tiles_cache_mb << 20,
                               version_ttl=settings.tiles_version_ttl,
                               max_age=settings.tiles_max_age,
                               low_zoom_features=settings.tiles_low_zoom_features))

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


def _check_reader(conninfo: str) -> None:
    """Fail at start, with what to do, when the read-only role cannot log in."""
    import psycopg

    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        user = psycopg.conninfo.conninfo_to_dict(conninfo).get("user")
        raise RuntimeError(
            f"the server connects as the read-only role {user!r} and could not: {first}. "
            "Run `cim db upgrade` (it keeps the role), and for an external database give "
            "its password in CIM_READER_PASSWORD or ~/.pgpass") from None


def _pygeoapi_flask_app(cfg_path: str):
    """pygeoapi's ``flask_app`` module, imported (or re-imported) for ``cfg_path``."""
    mod = sys.modules.get("pygeoapi.flask_app")
    if mod is None:
        mod = importlib.import_module("pygeoapi.flask_app")
    elif getattr(mod, "_cim_config", None) != cfg_path:
        mod = importlib.reload(mod)
    mod._cim_config = cfg_path
    return mod
