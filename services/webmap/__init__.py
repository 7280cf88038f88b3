"""The web one map (``/map``) and its JSON routes, mounted on the platform's app.

Everything the page loads is served here, so it works on an intranet without internet access:
MapLibre GL JS and the other front-end files are vendored under ``static/vendor`` (with their
licences; ``make assets`` refreshes them from npm), label glyphs under ``static/fonts`` (Latin
and symbol ranges as PBF; Chinese characters are drawn by the browser from its own fonts through
MapLibre's ``localIdeographFontFamily``). The only optional outside resource is a raster basemap
(``CIM_BASEMAP_URL``), none by default.

Routes: ``/map`` (the page), ``/map/static/…``, ``/map/fonts/{fontstack}/{range}.pbf``,
``/map/tree.json`` (layer tree), ``/map/fields.json`` (attributes' Chinese names),
``/styles`` and ``/styles/onemap`` (MapLibre style),
``/codes/{code}`` (``cim code explain``), ``/map/api/aoi`` and ``/map/api/section`` (the query
library's area of interest and cross-section, for the boxes and lines drawn on the map).
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
)

from cim.errors import CimError, InputError
from cim.profile import CityProfile
from layers.catalog import city_extent_lonlat

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
FONTS = STATIC / "fonts"
# pygeoapi's templates with the CDN files replaced by the vendored ones (server.templates.path)
PYGEOAPI_TEMPLATES = HERE / "pygeoapi_templates"
# the zh_CN catalogue of those templates (server.locale_dir)
PYGEOAPI_LOCALE = HERE / "pygeoapi_locale"
STYLE_ID = "onemap"
_RANGE = re.compile(r"^\d{1,5}-\d{1,5}$")
LOG = logging.getLogger(__name__)


def pygeoapi_server_settings(basemap_url: str | None) -> dict[str, Any]:
    """pygeoapi ``server`` entries that keep its HTML pages offline: local templates (no CDN),
    the Chinese catalogue, and the basemap only when one is configured."""
    return {"templates": {"path": str(PYGEOAPI_TEMPLATES)},
            "locale_dir": str(PYGEOAPI_LOCALE),
            "map": {"url": basemap_url or "",
                    "attribution": "" if not basemap_url else "底图"}}


def register(app: Flask, *, conninfo: str, profile: CityProfile, base_url: str,
             basemap_url: str | None = None) -> None:
    """Mount the web map on ``app``; ``base_url`` is the server's public URL (pygeoapi's
    ``server.url``), ``conninfo`` the read-only connection of the query routes."""
    bp = Blueprint("webmap", __name__, static_folder=str(STATIC),
                   static_url_path="/map/static", template_folder=str(HERE / "templates"))
    base_url = base_url.rstrip("/")

    @bp.get("/map")
    def page():
        # the map opens on the city (its districts), not on the union of the layers' extents:
        # one layer reaching far beyond it (a prefecture's roads) opened it zoomed out to where
        # the city's buildings and pipes are not drawn
        items = current_app.extensions.get("cim_items")  # its pool: no connection a page
        w, s, e, n = city_extent_lonlat(conninfo, profile, items.pool if items else None)
        return render_template("map.html", base=base_url, city=profile.city_name,
                               style_url=f"{base_url}/styles/{STYLE_ID}?f=mapbox",
                               centre=[(w + e) / 2, (s + n) / 2], bounds=[[w, s], [e, n]],
                               tz=profile.timezone)

    @bp.get("/map/tree.json")
    def tree():
        from layers.styles import layer_tree

        return jsonify(layer_tree(profile))

    @bp.get("/map/fields.json")
    def fields():
        """Per collection, its attributes' Chinese names (the feature info's headings, as
        QGIS's field aliases)."""
        from layers.styles.fields import all_field_titles

        return jsonify(all_field_titles())

    @bp.get("/styles")
    def styles():
        href = f"{base_url}/styles/{STYLE_ID}"
        return jsonify({"styles": [{
            "id": STYLE_ID, "title": f"{profile.city_name} CIM 一张图",
            "links": [{"rel": "stylesheet", "type": "application/vnd.mapbox.style+json",
                       "href": href + "?f=mapbox", "title": "MapLibre / Mapbox style"},
                      {"rel": "map", "type": "text/html", "href": base_url + "/map",
                       "title": "一张图"}]}]})

    @bp.get("/styles/<style_id>")
    def style(style_id: str):
        from layers.styles import maplibre_style

        if style_id != STYLE_ID:
            return _error(404, f"no style {style_id!r}; styles: {STYLE_ID}")
        if request.args.get("f", "mapbox") not in ("mapbox", "json"):
            return _error(400, "f must be mapbox (the MapLibre style JSON)")
        body = maplibre_style(base_url, profile, basemap_url=basemap_url)
        resp = jsonify(body)
        resp.mimetype = "application/vnd.mapbox.style+json"
        return resp

    @bp.get("/map/fonts/<fontstack>/<glyph_range>.pbf")
    def glyphs(fontstack: str, glyph_range: str):
        if not _RANGE.match(glyph_range):
            abort(404)
        for font in [f.strip() for f in fontstack.split(",")] + _fonts():
            path = FONTS / font / f"{glyph_range}.pbf"
            if "/" not in font and ".." not in font and path.is_file():
                return Response(path.read_bytes(), mimetype="application/x-protobuf",
                                headers={"Cache-Control": "public, max-age=86400"})
        # a range not vendored: 404, so MapLibre draws its characters with the browser's fonts
        # (Φ of a pipe's Φ219×6, ①…); an empty PBF read as "no glyphs" left them out of the
        # labels. CJK ideographs are drawn by the browser without asking (localIdeograph…).
        return _error(404, f"no glyphs {glyph_range} in {fontstack}; the browser draws them")

    @bp.get("/codes/<code>")
    def code(code: str):
        from layers.features import explain_code

        try:
            d = explain_code(conninfo, profile, code)
        except (CimError, ValueError) as exc:
            return _error(400, str(exc))
        out = d.to_dict()
        out["exists"] = bool(d.exists)
        if d.exists and d.layer:
            out["item"] = f"{base_url}/collections/{d.layer}/items/{d.code}"
        return jsonify(out)

    @bp.get("/map/api/aoi")
    def aoi_route():
        from layers.query.aoi import aoi
        from layers.query.area import Area

        try:
            try:
                bbox = tuple(float(v) for v in request.args.get("bbox", "").split(","))
            except ValueError:
                bbox = ()
            if len(bbox) != 4:
                raise InputError("bbox: give minlon,minlat,maxlon,maxlat (CRS84), e.g. "
                                 "bbox=116.60,35.34,116.62,35.36")
            # what the map draws: its open cases and active alarms, not every current row
            return jsonify(aoi(conninfo, Area(bbox=bbox), layers=request.args.get("layers"),
                               on_map=True))
        except (CimError, ValueError) as exc:
            return _error(400, str(exc))

    @bp.get("/map/api/section")
    def section_route():
        from layers.query.section import section, write_drawings

        line = request.args.get("line", "").strip()
        if not line:
            return _error(400, "line: give the section line as WKT or GeoJSON in CRS84, e.g. "
                               "line=LINESTRING(116.605 35.35, 116.615 35.35)")
        try:
            result = section(conninfo, line, profile=profile)
        except (CimError, ValueError) as exc:
            return _error(400, str(exc))
        with tempfile.TemporaryDirectory() as tmp:
            svg = Path(tmp) / "section.svg"
            write_drawings(result, svg=svg, profile=profile, title="横断面")
            result["svg"] = svg.read_text(encoding="utf-8")
        return jsonify(result)

    app.register_blueprint(bp)


def _fonts() -> list[str]:
    """The vendored font stacks (any requested stack falls back to them)."""
    return sorted(p.name for p in FONTS.iterdir() if p.is_dir()) if FONTS.is_dir() else []


def _error(status: int, message: str) -> Response:
    resp = jsonify({"code": "InvalidParameterValue" if status == 400 else "NotFound",
                    "description": message})
    resp.status_code = status
    return resp
