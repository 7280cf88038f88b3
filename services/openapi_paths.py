"""The platform's own routes in the OpenAPI document: processes, tiles, the web map, look-ups.

pygeoapi describes what its configuration holds (collections, items, queryables); the routes
the platform answers itself are not in its configuration, so a client reading ``/openapi``
would not know them. Each is described here from the same sources the routes use: the
processes from :func:`layers.processes.all_processes` (their input schemas, converted to the
OpenAPI 3.0 dialect), the tiled collections from the configuration, and the operational APIs
from the ``OPENAPI_PATHS`` of their own modules (:data:`PATH_MODULES`), so a route and its
description live side by side. Those modules build their paths with the helpers here
(:func:`ok`, :func:`error`, :func:`errors`, :func:`param`), so every route's responses and
parameters have one shape.
"""

from __future__ import annotations

import copy
import importlib
import re
from typing import Any

# modules that declare the paths of their blueprints (``OPENAPI_PATHS``): skipped when absent
PATH_MODULES = ("services.iot_api", "services.cases_api")
TMS = "WebMercatorQuad"

_JSON = "application/json"


def ok(description: str, media: str = _JSON, schema: dict | None = None) -> dict:
    """A response object: ``description`` and its content in ``media`` (a JSON object by
    default)."""
    return {"description": description,
            "content": {media: {"schema": schema or {"type": "object"}}}}


def error(description: str) -> dict:
    """An error response: the JSON body ``{code, description}`` every route of the platform
    answers an error with (pygeoapi's exceptions, the guard, the operational APIs)."""
    return ok(description, schema={"type": "object", "properties": {
        "code": {"type": "string"}, "description": {"type": "string"}}})


def errors(texts: dict[str, str], *codes: str) -> dict[str, dict]:
    """The error responses of ``codes`` (HTTP statuses), each described by its text of
    ``texts``: a module keeps one table of what its statuses mean and names the ones a route
    answers."""
    return {c: error(texts[c]) for c in codes}


def param(name: str, where: str, description: str, schema: dict | None = None,
          required: bool | None = None) -> dict:
    """A parameter ``in`` ``where`` (query, path, header); a path parameter is required
    unless told, any other optional; a string unless ``schema`` says otherwise."""
    return {"name": name, "in": where, "required": where == "path" if required is None
            else required, "description": description, "schema": schema or {"type": "string"}}


def oas30_schema(schema: Any) -> Any:
    """A JSON Schema (draft 2020-12, as the processes declare inputs) in the OpenAPI 3.0
    dialect: type lists become ``nullable`` or ``anyOf``, ``const`` an enum of one, numeric
    ``exclusiveMinimum``/``exclusiveMaximum`` the boolean form beside ``minimum``/``maximum``."""
    if isinstance(schema, list):
        return [oas30_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$schema", "$id", "$comment", "examples"):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key in ("properties", "patternProperties"):
            out[key] = {k: oas30_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf"):
            out[key] = oas30_schema(value)
        else:
            out[key] = copy.deepcopy(value)
    types = out.get("type")
    if isinstance(types, list):
        rest = [t for t in types if t != "null"]
        if len(rest) < len(types):
            out["nullable"] = True
        if len(rest) == 1:
            out["type"] = rest[0]
        else:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in rest]
    return out


def process_paths() -> dict[str, dict]:
    """``/processes``, each process's description and its execution with its inputs."""
    from layers.processes import all_processes

    procs = all_processes()
    paths: dict[str, dict] = {
        "/processes": {"get": {
            "summary": "The processes (查询与分析)", "tags": ["processes"],
            "operationId": "getProcesses",
            "parameters": [param("f", "query", "json", required=False)],
            "responses": {"200": ok("The list of processes")}}},
    }
    for pid, p in procs.items():
        title = p.get("title", pid)
        paths[f"/processes/{pid}"] = {"get": {
            "summary": f"Process {pid}: {title}", "tags": ["processes"],
            "operationId": f"describe-{pid}",
            "responses": {"200": ok("The process description"),
                          "404": error("No such process")}}}
        body = {"type": "object", "required": ["inputs"], "properties": {
            "inputs": oas30_schema(p["inputs"])}}
        paths[f"/processes/{pid}/execution"] = {"post": {
            "summary": f"Run {pid}: {title}", "tags": ["processes"],
            "operationId": f"execute-{pid}",
            "requestBody": {"required": True, "content": {_JSON: {"schema": body}}},
            "responses": {"200": ok("The result (the CLI's --json)"),
                          "400": error("Inputs not valid for the process")}}}
    return paths


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``<path:collection_id>`` → ``{collectionId}``."""
    def name(m: re.Match) -> str:
        n = m.group(1)
        return "{" + _PATH_NAMES.get(n, n) + "}"

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", name, rule)


_PATH_NAMES = {"collection_id": "collectionId"}


def tile_paths(collections: list[str]) -> dict[str, dict]:
    """The tile routes (:data:`services.tiles.ROUTES`, the list the app mounts) as OpenAPI
    paths: per collection of ``collections``, the one map's, the tile matrix sets."""
    from services.tiles import MAX_ZOOM, ROUTES

    params = {
        "collectionId": param("collectionId", "path", "A collection served as vector tiles",
                               {"type": "string", "enum": sorted(collections) or [""]}),
        "tileMatrixSetId": param("tileMatrixSetId", "path", "The tile matrix set (the "
                                  "tiles are served in WebMercatorQuad)",
                                  {"type": "string", "enum": [TMS]}),
        "tileMatrix": param("tileMatrix", "path", f"Zoom level (0–{MAX_ZOOM})",
                             {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}),
        "tileRow": param("tileRow", "path", "Row (y), 0 at the north",
                          {"type": "integer", "minimum": 0}),
        "tileCol": param("tileCol", "path", "Column (x), 0 at 180° W",
                          {"type": "integer", "minimum": 0}),
        "collections": param("collections", "query",
                              "Comma-separated collections (default: all)", required=False),
    }
    formats = {False: param("f", "query", "json (OGC); tilejson (TileJSON 3.0.0) for a "
                             "tileset; html for the tile matrix sets", {
                                 "type": "string", "enum": ["json", "tilejson", "html"]},
                             required=False),
               True: param("f", "query", "mvt (the default)",
                            {"type": "string", "enum": ["mvt", "pbf"]}, required=False)}
    not_found = error("No such collection, tile matrix set or tile (outside the matrix)")
    out: dict[str, dict] = {}
    for route in ROUTES:
        path = openapi_path(route.rule)
        if not collections and "{collectionId}" in path:
            continue  # no layer loaded (an enum may not be empty)
        plist = [params[n] for n in re.findall(r"{([^}]+)}", path)]
        plist += [formats[route.tile] if n == "f" else params[n] for n in route.query]
        if route.tile:
            responses = {
                "200": ok("A Mapbox vector tile (ETag, Cache-Control)",
                           "application/vnd.mapbox-vector-tile",
                           {"type": "string", "format": "binary"}),
                "204": {"description": "No feature in the tile"},
                "304": {"description": "Not modified (If-None-Match)"},
                "400": error("A tile number that is not a non-negative integer"),
                "404": not_found}
        else:
            responses = {"200": ok(route.summary)}
            if "{" in path:
                responses["404"] = not_found
            if "collections" in route.query:
                responses["400"] = error("An unknown collection in collections")
        out[path] = {"get": {"summary": route.summary, "tags": ["tiles"],
                             "operationId": route.operation_id, "parameters": plist,
                             "responses": responses}}
    return out


def map_paths() -> dict[str, dict]:
    """The web one map, its styles and the code look-up."""
    html = {"200": ok("The page", "text/html", {"type": "string"})}
    return {
        "/map": {"get": {"summary": "The web one map (一张图)", "tags": ["map"],
                         "operationId": "getMap", "responses": html}},
        "/map/tree.json": {"get": {"summary": "The map's layer tree and legends",
                                   "tags": ["map"], "operationId": "getMapTree",
                                   "responses": {"200": ok("The layer tree")}}},
        "/map/fields.json": {"get": {
            "summary": "Per collection, its attributes' Chinese names (QGIS's aliases, the "
                       "feature info's headings, the queryables' titles)",
            "tags": ["map"], "operationId": "getMapFields",
            "responses": {"200": ok("{collection: {column: Chinese name}}")}}},
        "/styles": {"get": {"summary": "The styles (MapLibre)", "tags": ["map"],
                            "operationId": "getStyles",
                            "responses": {"200": ok("The styles")}}},
        "/styles/{styleId}": {"get": {
            "summary": "A MapLibre style", "tags": ["map"], "operationId": "getStyle",
            "parameters": [param("styleId", "path", "Style id")],
            "responses": {"200": ok("The style"), "404": error("No such style")}}},
        "/codes/{code}": {"get": {
            "summary": "The feature with a platform code (统一编码), decoded", "tags": ["map"],
            "operationId": "getCode", "parameters": [param("code", "path", "A platform code")],
            "responses": {"200": ok("The feature and its decoded code"),
                          "404": error("No current feature has the code")}}},
        "/map/fonts/{fontstack}/{range}.pbf": {"get": {
            "summary": "Glyphs of the map's labels (vendored; CJK is drawn by the browser)",
            "tags": ["map"], "operationId": "getGlyphs",
            "parameters": [param("fontstack", "path", "Font stack"),
                           param("range", "path", "Glyph range, e.g. 0-255")],
            "responses": {"200": ok("Glyphs", "application/x-protobuf",
                                     {"type": "string", "format": "binary"})}}},
        "/map/api/aoi": {"get": {
            "summary": "The map's area query (the process aoi for a lon/lat box)",
            "tags": ["map"], "operationId": "getMapAoi",
            "parameters": [param("bbox", "query", "minlon,minlat,maxlon,maxlat (CRS84)",
                                  required=True),
                           param("layers", "query", "Comma-separated layers", required=False)],
            "responses": {"200": ok("Counts and statistics per layer"),
                          "400": error("Bad box or layer")}}},
        "/map/api/section": {"get": {
            "summary": "The map's cross-section (the process section, drawing included)",
            "tags": ["map"], "operationId": "getMapSection",
            "parameters": [param("line", "query", "The section line (WKT, CRS84)",
                                  required=True)],
            "responses": {"200": ok("The pipes crossed, with an SVG drawing"),
                          "400": error("Bad line")}}},
        "/health": {"get": {"summary": "Liveness (no database round trip)", "tags": ["server"],
                            "operationId": "getHealth",
                            "responses": {"200": ok("ok")}}},
    }


def module_paths() -> dict[str, dict]:
    """The ``OPENAPI_PATHS`` of the operational API modules that exist."""
    out: dict[str, dict] = {}
    for name in PATH_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        out.update(copy.deepcopy(getattr(mod, "OPENAPI_PATHS", {})))
    return out


def platform_paths(tiled: list[str]) -> dict[str, dict]:
    """Every path the platform answers itself; ``tiled``: the collections with tiles."""
    return {**process_paths(), **tile_paths(tiled), **map_paths(), **module_paths()}
