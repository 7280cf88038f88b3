"""The tile matrix set pages, ``/TileMatrixSets[/WebMercatorQuad]``, answered through
pygeoapi's request handling (f=json|html, Accept, lang) with the one set the tiles are
served in and the platform's offline templates."""

from __future__ import annotations

import json
import sys

from flask import request

from services.tiles_routes import TMS, TMS_URI, link
from services.tiles_sql import MAX_ZOOM


def pygeoapi_page(fn):
    """A view answering as pygeoapi's do (f=json|html, Accept, lang), through its request
    handling, with ``fn(api, api_request) -> (headers, status, content)``."""
    def view(**kw):
        flask_app = sys.modules["pygeoapi.flask_app"]
        return flask_app.execute_from_flask(fn, request, *kw.values())
    return view


def _render(api, template: str, data: dict, locale) -> str:
    """pygeoapi's tile matrix set pages pass its whole configuration as the template
    settings, so they were rendered from pygeoapi's own templates, which load Bootstrap from
    unpkg.com: the platform's (services/webmap/pygeoapi_templates) are offline."""
    from pygeoapi.util import render_j2_template

    return render_j2_template(api.config, api.config["server"].get("templates"), template,
                              data, locale)


def tms_list(api, req) -> tuple[dict, int, str]:
    """``/TileMatrixSets``: the one set the tiles are served in (pygeoapi listed
    WorldCRS84Quad too, whose tiles are a 404, and linked to ``/tileMatrixSets``, a 404)."""
    from pygeoapi.models.provider.base import TileMatrixSetEnum

    headers = req.get_response_headers(**api.api_headers)
    e = TileMatrixSetEnum.WEBMERCATORQUAD.value
    href = f"{api.base_url}/TileMatrixSets"
    # the HTML link first: pygeoapi's page links each set to its first link
    doc = {"tileMatrixSets": [{"title": e.title, "id": TMS, "uri": TMS_URI, "links": [
        link("alternate", "text/html", f"{href}/{TMS}?f=html", f"{TMS} (HTML)"),
        link("self", "application/json", f"{href}/{TMS}?f=json", f"{TMS} (JSON)")]}],
        "links": [link("self", "application/json", f"{href}?f=json", "This document"),
                  link("alternate", "text/html", f"{href}?f=html", "This document as HTML")]}
    if req.format == "html":
        return headers, 200, _render(api, "tilematrixsets/index.html", doc, req.locale)
    return headers, 200, json.dumps(doc, ensure_ascii=False)


def tms_one(api, req, tms: str) -> tuple[dict, int, str]:
    """``/TileMatrixSets/WebMercatorQuad``: its matrices 0–:data:`MAX_ZOOM`, the zooms
    served (pygeoapi listed 0–29); another set is a 404 (pygeoapi: 400)."""
    from pygeoapi.models.provider.base import TileMatrixSetEnum

    headers = req.get_response_headers(**api.api_headers)
    if tms != TMS:
        headers["Content-Type"] = "application/json"
        return headers, 404, json.dumps({"code": "NotFound", "description":
                                         f"tile matrix set {tms!r} is not served; use {TMS}"})
    e = TileMatrixSetEnum.WEBMERCATORQUAD.value
    doc = {"title": e.title, "id": TMS, "uri": TMS_URI, "crs": e.crs,
           "orderedAxes": e.orderedAxes, "wellKnownScaleSet": e.wellKnownScaleSet,
           "tileMatrices": [m for m in e.tileMatrices if int(m["id"]) <= MAX_ZOOM]}
    if req.format == "html":
        return headers, 200, _render(api, "tilematrixsets/tilematrixset.html", doc,
                                     req.locale)
    return headers, 200, json.dumps(doc, ensure_ascii=False)
