"""Vector tiles (OGC API Tiles, WebMercatorQuad) made in PostGIS, cached, invalidated by loads.

pygeoapi 0.21's MVT provider returns instead of raising its not-found error, has no margin and
no simplification, and nothing in it knows when a load changed a layer. The platform serves
its own tiles (SQL: :mod:`services.tiles_sql`):

- ``/collections/{id}/tiles`` (tileset list), ``/collections/{id}/tiles/WebMercatorQuad``
  (tileset metadata; ``?f=tilejson`` → TileJSON 3.0.0) and
  ``/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}`` (one source-layer named ``id``);
- ``/tiles``, ``/tiles/WebMercatorQuad[?f=tilejson]`` and ``/tiles/WebMercatorQuad/{z}/{y}/{x}``:
  the whole one map, one source-layer per collection (``collections=a,b`` picks some), made
  by concatenating the per-layer tiles (a valid MVT: layers are independent messages);
- ``/tiles/versions[?collections=a,b]``: each layer's data version (below), polled by the web
  map for its live layers (sensors, alarms, cases).
- ``/TileMatrixSets[/WebMercatorQuad]``: the one tile matrix set served, zooms 0–24 (pygeoapi's
  pages listed another and were rendered from its CDN-loading templates).

Every route is a :class:`TileRoute` of :data:`ROUTES`, which ``/openapi`` describes too
(:mod:`services.tiles_routes`; the tile matrix set pages: :mod:`services.tiles_matrixsets`;
the cache and the request's connection: :mod:`services.tiles_cache`; the SQL:
:mod:`services.tiles_sql`).

Feature limit: at most ``tiles_max_features`` features of a layer in a tile, and
``tiles_low_zoom_features`` below the layer's detail zoom (the largest kept, see
:mod:`services.tiles_sql`): ``code`` is a unique string per feature, about half of a low-zoom
tile's bytes, so the count is what keeps a z12 tile near 500 KB. A thinned tile says so in
the header ``Cim-Tile-Thinned: <layers>``.

Every tile carries the property ``code``, the id of ``/collections/{id}/items/{code}``
(click-to-identify). Answers: 200 ``application/vnd.mapbox-vector-tile``; 204 (no body) for
an empty tile (no Content-Type); 400 for a z/y/x that is not a number; 404 for a tile outside
the tile matrix set, an unknown tile matrix set or collection.

Caching. Each layer has a data version (highest row id and highest succeeded load batch that
wrote it), read in one statement for all layers at most once per ``tiles_version_ttl`` seconds
per worker. A tile's ETag is a hash of the layers' versions and z/y/x, so a load that changes
a layer changes the ETag of that layer's tiles (and of the one-map tiles), never of another
layer's; ``If-None-Match`` → 304 with no tile made (weak comparison: ``W/"tag"``, as a
compressing proxy sends it back, matches too). ``Cache-Control: public, max-age=N``
(``tiles_max_age``, default 0: browsers revalidate, cheaply). A server-side LRU of recent
per-layer tiles keyed by (layer, version, z, x, y) (``tiles_cache_mb`` per worker) answers
repeated tiles without PostGIS; an old version's tiles are never served again and age out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import psycopg
from flask import Flask, Response, request

from cim.crs import CRS84_URI
from cim.layerdefs import LAYERS
from layers.catalog import layer_defs, map_where, published_columns
from services.guard import database_away
from services.pool import Pool

if TYPE_CHECKING:
    from cim.profile import CityProfile
from services.tiles_cache import LazyConnection, TileCache
from services.tiles_matrixsets import pygeoapi_page, tms_list, tms_one

# the tile routes' names stay importable from here (services.serve, openapi_paths, tests)
from services.tiles_routes import (  # noqa: F401
    CRS_3857,
    MVT,
    REL_TILESETS,
    REL_TILING_SCHEME,
    ROUTES,
    TMS,
    TMS_URI,
    TileRoute,
    collection_tilesets_links,
    link,
    tiled_collections,
)
from services.tiles_sql import (
    MAX_ZOOM,
    SIMPLIFY_BELOW,
    TileLayer,
    tile_params,
    tile_statement,
    version_statement,
)

LOG = logging.getLogger("cim.services.tiles")
_LazyConnection = LazyConnection  # the name tests/test_tiles.py imports
TILEJSON_MAX_ZOOM = 18  # clients overzoom beyond (a z18 tile unit is ~4 cm)
# ASCII digits only: \d also matches full-width and other scripts' digits (１２, ١٢), which
# int() reads, so /tiles/…/１２/… was served as tile 12 under another URL
_INT = re.compile(r"[0-9]{1,9}")
RECIPE = "cim-mvt-4"  # change when the tile SQL changes, so that no client keeps old tiles


class TilesService:
    """The tiles of one app: its layers (from pygeoapi's configuration), pool, cache."""

    def __init__(self, config: dict, conninfo: str, pool: Pool, max_features: int = 50_000,
                 cache_bytes: int = 64 << 20, version_ttl: float = 1.0,
                 max_age: int = 0, low_zoom_features: int = 8_000,
                 profile: CityProfile | None = None) -> None:
        self.base = config["server"]["url"].rstrip("/")
        # loaded layers and result layers (the health check's latest year: map_where)
        self.defs = layer_defs()
        self.resources = {name: config["resources"][name] for name in tiled_collections(config)}
        self.config_resources = config["resources"]
        # the city's extent (its districts', else its profile's, as the configuration
        # advertises them): where a layer's features may be loaded while the server runs
        city = config["resources"].get("admin_divisions", {})
        self.city_bbox = city.get("extents", {}).get("spatial", {}).get("bbox")
        self.conninfo = conninfo
        self.pool = pool
        self.max_features = max_features
        self.low_zoom_features = min(low_zoom_features, max_features)
        self.cache = TileCache(cache_bytes)
        self.version_ttl = version_ttl
        self.max_age = max_age
        self._layers: dict[str, TileLayer] | None = None
        self._versions: tuple[float, dict[str, str]] = (-1e9, {})
        self._lock = threading.Lock()
        self.profile = profile
        # (admin_divisions' data version, the city's extent read at that version)
        self._city: tuple[str | None, list[float] | None] = ("", None)

    # -- layers and versions ---------------------------------------------------------------
    def layers(self) -> dict[str, TileLayer]:
        """The served layers in catalog order, read from the database once per process."""
        if self._layers is None:
            out = {}
            for name, res in self.resources.items():
                d, prov = self.defs[name], res["providers"][0]
                published = published_columns(self.conninfo, prov["table"])
                cols = [c.name for c in published]
                formats = tuple((c.name, "array" if c.json_type == "array" else c.json_format)
                                for c in published
                                if c.json_type == "array" or c.json_format == "date-time")
                if name not in LAYERS:  # a result table: its declared columns and the fields
                    # its tiles are declared to carry (the health selector colours by `score`)
                    keep = {"code", *d.column_names(), *d.tile_fields}
                    cols = [c for c in cols if c in keep]
                cols = ["code"] + [c for c in cols if c != "code"]
                low = {"code", d.class_column, *d.tile_fields}
                if d.class_column and d.class_column.endswith("_code"):
                    low.add(d.class_column[:-5] + "_name")
                out[name] = TileLayer(name, prov["table"], int(prov["srid"]), d.geometry_type,
                                      tuple(cols), tuple(c for c in cols if c in low),
                                      d.tile_min_zoom, d.tile_detail_zoom,
                                      map_where(name) or "", formats,
                                      tuple((c.name, c.json_type) for c in published))
            self._layers = out
        return self._layers

    def versions(self) -> dict[str, str]:
        """Each layer's data version, re-read when older than ``version_ttl`` seconds."""
        at, got = self._versions
        if time.monotonic() - at < self.version_ttl:
            return got
        layers = list(self.layers().values())
        with self.pool.connection() as conn:
            row = conn.execute(version_statement(layers)).fetchone()
        got = {lay.name: v for lay, v in zip(layers, row)}
        self._versions = (time.monotonic(), got)
        return got

    # -- tiles -----------------------------------------------------------------------------
    def layer_tile(self, conn: LazyConnection, layer: TileLayer, version: str, z: int,
                   x: int, y: int) -> tuple[bytes, bool]:
        """(MVT bytes of one layer, thinned?) from the cache or PostGIS."""
        if z < layer.min_zoom:
            return b"", False
        limit = self.max_features if z >= layer.detail_zoom else self.low_zoom_features
        key = (layer.name, version, limit, z, x, y)
        got = self.cache.get(key)
        if got is not None:
            return got
        text = tile_statement(layer, detail=z >= layer.detail_zoom, simplify=z < SIMPLIFY_BELOW)
        data, candidates = conn.get().execute(text, tile_params(z, x, y, limit, layer.srid)).fetchone()
        got = (bytes(data or b""), candidates > limit)
        self.cache.put(key, got)
        return got

    def tile_response(self, names: list[str], z_s: str, y_s: str, x_s: str) -> Response:
        """The MVT of ``names`` at z/y/x (row y, column x), with ETag and Cache-Control."""
        bad = _tile_error(z_s, y_s, x_s)
        if bad is not None:
            return bad
        z, y, x = int(z_s), int(y_s), int(x_s)
        if request.args.get("f", "mvt").lower() not in ("mvt", "pbf"):
            return _error(400, "InvalidParameterValue",
                          f"f={request.args['f']}: tiles are Mapbox Vector Tiles (f=mvt)")
        layers = self.layers()
        try:
            versions = self.versions()
        except psycopg.Error as exc:
            return _db_error(exc)
        tag = _etag(names, versions, z, x, y, (self.max_features, self.low_zoom_features))
        headers = {"ETag": f'"{tag}"', "Cache-Control": f"public, max-age={self.max_age}",
                   "Vary": "Accept-Encoding"}
        # If-None-Match compares weakly (RFC 9110 13.1.2): a proxy that compresses the tile
        # (nginx's gzip) hands the client W/"tag", which must still revalidate to a 304
        if request.if_none_match.contains_weak(tag):
            return _bodiless(304, headers)
        parts, thinned = [], []
        try:
            with LazyConnection(self.pool) as conn:
                for name in names:
                    data, cut = self.layer_tile(conn, layers[name], versions[name], z, x, y)
                    parts.append(data)
                    if cut:
                        thinned.append(name)
        except psycopg.Error as exc:
            return _db_error(exc)
        if thinned:  # the feature limit cut these layers' tiles (largest features kept)
            headers["Cim-Tile-Thinned"] = ",".join(thinned)
        body = b"".join(parts)
        if not body:
            return _bodiless(204, headers)
        return Response(body, status=200, content_type=MVT, headers=headers)

    # -- metadata --------------------------------------------------------------------------
    def tileset(self, names: list[str], path: str, title: str) -> dict[str, Any]:
        """OGC API Tiles tileset metadata of ``names`` served under ``path``."""
        layers = self.layers()
        uri = f"{self.base}{path}/tiles/{TMS}"
        return {
            "title": title, "tileMatrixSetURI": TMS_URI, "crs": CRS_3857, "dataType": "vector",
            "links": [
                link("self", "application/json", f"{uri}?f=json", "This tileset metadata"),
                link("alternate", "application/vnd.mapbox.tile+json", f"{uri}?f=tilejson",
                      "TileJSON"),
                link(REL_TILING_SCHEME, "application/json",
                      f"{self.base}/TileMatrixSets/{TMS}", "WebMercatorQuad"),
                {**link("item", MVT, f"{uri}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
                         "Mapbox Vector Tiles"), "templated": True}],
            "boundingBox": _bbox(self._bounds(names)),
            "layers": [{"id": n, "title": self._title(n), "dataType": "vector",
                        "geometryType": layers[n].kind,
                        "minTileMatrix": str(layers[n].min_zoom), "maxTileMatrix": str(MAX_ZOOM),
                        "propertiesSchema": {"type": "object", "properties": {
                            c: {"type": t.lower()} for c, t
                            in layers[n].tilejson_fields().items()}}} for n in names],
        }

    def tilesets(self, names: list[str], path: str, title: str) -> dict[str, Any]:
        """The tileset list under ``path``: one WebMercatorQuad vector tileset."""
        uri = f"{self.base}{path}/tiles"
        return {"links": [link("self", "application/json", uri, "Tilesets")],
                "tilesets": [{"title": title, "tileMatrixSetURI": TMS_URI, "crs": CRS_3857,
                              "dataType": "vector", "links": [
                                  link("self", "application/json", f"{uri}/{TMS}",
                                        "Tileset metadata"),
                                  link(REL_TILING_SCHEME,
                                        "application/json", f"{self.base}/TileMatrixSets/{TMS}",
                                        "WebMercatorQuad")]}]}

    def tilejson(self, names: list[str], path: str, query: str = "") -> dict[str, Any]:
        """TileJSON 3.0.0 of ``names`` (what MapLibre's vector source reads); ``query`` is
        appended to the tile URL template (the one map's ``?collections=``)."""
        layers = self.layers()
        bounds = self._bounds(names)
        return {
            "tilejson": "3.0.0", "name": ",".join(names) if path else "cim",
            "scheme": "xyz", "tiles": [f"{self.base}{path}/tiles/{TMS}/{{z}}/{{y}}/{{x}}{query}"],
            "minzoom": min((layers[n].min_zoom for n in names), default=0),
            "maxzoom": TILEJSON_MAX_ZOOM, "bounds": bounds,
            "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2,
                       max(12, min((layers[n].min_zoom for n in names), default=0))],
            "vector_layers": [{"id": n, "description": self._title(n),
                               "minzoom": layers[n].min_zoom, "maxzoom": TILEJSON_MAX_ZOOM,
                               "fields": layers[n].tilejson_fields()}
                              for n in names],
        }

    def city_extent(self) -> list[float] | None:
        """The city's extent as its districts in the database are now
        (:func:`layers.catalog.city_extent_lonlat`, as the web map opens on), re-read only
        when admin_divisions' data version moved. The configuration's, read at start, left a district `cim profile apply` added
        while the server ran outside every TileJSON's ``bounds``: MapLibre requested none of
        its tiles, and its features stayed off /map until a restart."""
        profile = self.profile
        if profile is None:
            return self.city_bbox
        try:
            version = self.versions().get("admin_divisions")
        except psycopg.Error:
            version = None  # the database away: read below (it falls back to the profile)
        at, box = self._city
        if version is not None and at == version and box is not None:
            return box
        from layers.catalog import city_extent_lonlat

        box = list(city_extent_lonlat(self.conninfo, profile, self.pool))
        self._city = (version, box)
        return box

    def _title(self, name: str) -> str:
        t = self.resources[name].get("title", name)
        return t.get("zh") or t.get("en") or name if isinstance(t, dict) else str(t)

    def _bounds(self, names: list[str]) -> list[float]:
        """Where the tiles of ``names`` may have features: their extents when the server
        started and the city's. MapLibre requests no tile outside a TileJSON's ``bounds``,
        and the extents are read once: features loaded later elsewhere in the city (a case
        reported in another district, a new district's survey) were never drawn on /map
        until the server restarted."""
        boxes = [self.resources[n]["extents"]["spatial"]["bbox"] for n in names]
        city = self.city_extent() if boxes else None
        if city:
            boxes.append(city)
        if not boxes:
            return [-180.0, -85.0511, 180.0, 85.0511]
        return [min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _etag(names: list[str], versions: dict[str, str], z: int, x: int, y: int,
          limit: tuple) -> str:
    key = f"{RECIPE}|{limit}|{z}/{x}/{y}|" + "|".join(f"{n}={versions[n]}" for n in names)
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def _tile_error(z: str, y: str, x: str) -> Response | None:
    if not all(_INT.fullmatch(v) for v in (z, y, x)):
        return _error(400, "InvalidParameterValue",
                      f"tile {z}/{y}/{x}: tileMatrix, tileRow and tileCol are non-negative "
                      "integers ({z}/{y}/{x})")
    zi, yi, xi = int(z), int(y), int(x)
    if zi > MAX_ZOOM:
        return _error(404, "NotFound", f"tile matrix {zi} is not in {TMS} (0–{MAX_ZOOM})")
    n = 2 ** zi
    if yi >= n or xi >= n:
        return _error(404, "NotFound", f"tile {zi}/{yi}/{xi} is outside tile matrix {zi} "
                      f"(rows and columns 0–{n - 1})")
    return None


def _bodiless(status: int, headers: dict) -> Response:
    """A 204 or 304 without Flask's default ``Content-Type: text/html``: an empty tile was
    labelled an HTML page."""
    resp = Response(status=status, headers=headers)
    del resp.headers["Content-Type"]
    return resp


def _bbox(b: list[float]) -> dict[str, Any]:
    return {"lowerLeft": b[:2], "upperRight": b[2:], "crs": CRS84_URI}


def _json(doc: dict, content_type: str = "application/json") -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), status=200, content_type=content_type)


def _error(status: int, code: str, message: str) -> Response:
    return Response(json.dumps({"code": code, "description": message}, ensure_ascii=False),
                    status=status, content_type="application/json")


def _db_error(exc: psycopg.Error) -> Response:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return _error(503, "ServiceUnavailable", "the tile took too long; try again")
    if (away := database_away(exc)) is not None:
        LOG.error("tiles: 503: %s (%s)", away, str(exc).strip().splitlines()[-1:])
        return _error(503, "ServiceUnavailable", away)
    LOG.exception("tile query failed")
    return _error(500, "NoApplicableCode", "internal error (logged by the server)")


def register(app: Flask, tiles: TilesService) -> None:
    """Mount :data:`ROUTES` on ``app``: pygeoapi's tile views are replaced (its other
    collections, if any, still go to pygeoapi), the one-map routes added."""
    originals = {r.endpoint: app.view_functions[r.endpoint] for r in ROUTES
                 if r.endpoint.startswith("pygeoapi.")}

    def _tms_error(tms: str) -> Response | None:
        if tms != TMS:
            return _error(404, "NotFound", f"tile matrix set {tms!r} is not served; use {TMS}")
        return None

    def _meta(names: list[str], path: str, title: str) -> Response:
        f = request.args.get("f", "json").lower()
        if f not in ("json", "tilejson", "application/json"):
            # answered as JSON whatever was asked (f=xml a 200 of JSON), where /TileMatrixSets
            # and the styles refuse it
            return _error(400, "InvalidParameterValue", f"f={request.args.get('f')!r}: a "
                          "tileset's metadata is f=json (OGC API Tiles) or f=tilejson")
        if f == "tilejson":
            pick = request.args.get("collections") if not path else None
            query = f"?collections={urllib.parse.quote(pick, safe=',')}" if pick else ""
            return _json(tiles.tilejson(names, path, query))
        return _json(tiles.tileset(names, path, title))

    def _other(endpoint: str, collection_id: str, **kw) -> Response:
        """A collection the platform does not tile: pygeoapi's, if it has tiles there (it
        answered an unknown collection's tile with a 400 "Invalid format requested")."""
        res = tiles.config_resources.get(collection_id)
        if res and any(p.get("type") == "tile" for p in res.get("providers", [])):
            return originals[endpoint](collection_id, **kw)
        return _error(404, "NotFound", f"collection {collection_id!r} has no tiles; tiled: "
                      f"{', '.join(tiles.resources)}")

    def _list_f() -> Response | None:
        """A tileset list is JSON: another f (xml, html) answered a 200 of JSON."""
        f = request.args.get("f", "json").lower()
        if f in ("json", "application/json"):
            return None
        return _error(400, "InvalidParameterValue", f"f={request.args.get('f')!r}: a list "
                      "of tilesets is f=json (a tileset's TileJSON: …/WebMercatorQuad?f=tilejson, "
                      "or /tiles?f=tilejson)")

    def collection_tiles(collection_id):
        if collection_id not in tiles.resources:
            return _other("pygeoapi.get_collection_tiles", collection_id)
        return _list_f() or _json(tiles.tilesets(
            [collection_id], f"/collections/{collection_id}", tiles._title(collection_id)))

    def collection_tiles_metadata(collection_id, tileMatrixSetId=None):  # noqa: N803
        if collection_id not in tiles.resources:
            return _other("pygeoapi.get_collection_tiles_metadata", collection_id,
                          tileMatrixSetId=tileMatrixSetId)
        return _tms_error(tileMatrixSetId) or _meta(
            [collection_id], f"/collections/{collection_id}", tiles._title(collection_id))

    def collection_tile(collection_id, tileMatrixSetId=None, tileMatrix=None,  # noqa: N803
                        tileRow=None, tileCol=None):  # noqa: N803
        if collection_id not in tiles.resources:
            return _other("pygeoapi.get_collection_tiles_data", collection_id,
                          tileMatrixSetId=tileMatrixSetId, tileMatrix=tileMatrix,
                          tileRow=tileRow, tileCol=tileCol)
        return _tms_error(tileMatrixSetId) or tiles.tile_response(
            [collection_id], tileMatrix, tileRow, tileCol)

    def _chosen() -> list[str] | Response:
        names = list(tiles.resources)
        given = request.args.getlist("collections")
        if len(given) > 1:  # the second was dropped unsaid
            return _error(400, "InvalidParameterValue", "collections is given twice: give it "
                          "once, the collections separated by commas")
        pick = given[0] if given else None
        if pick:
            wanted = [n.strip() for n in pick.split(",") if n.strip()]
            if not wanted:  # ",,," answered an empty tile (and {} of versions)
                return _error(400, "InvalidParameterValue", f"collections={pick!r} names no "
                              f"collection; known: {', '.join(names)}")
            unknown = [n for n in wanted if n not in tiles.resources]
            if unknown:
                return _error(400, "InvalidParameterValue",
                              f"collections: unknown {', '.join(unknown)}; known: "
                              f"{', '.join(names)}")
            names = [n for n in names if n in wanted]
        return names

    def dataset_tilesets():
        """The one map's tilesets (every layer in one tile, or those of ``collections``);
        ``f=tilejson``: their TileJSON, as README says of ``/tiles``."""
        names = _chosen()
        if isinstance(names, Response):
            return names
        if request.args.get("f", "").lower() == "tilejson":
            return _meta(names, "", "一张图 One map")
        return _list_f() or _json(tiles.tilesets(names, "", "一张图 One map"))

    def dataset_tileset():
        names = _chosen()
        return names if isinstance(names, Response) else _meta(names, "", "一张图 One map")

    def dataset_tile(tileMatrix, tileRow, tileCol):  # noqa: N803
        names = _chosen()
        return names if isinstance(names, Response) else tiles.tile_response(
            names, tileMatrix, tileRow, tileCol)

    def tile_versions():
        """Each layer's data version (what the tiles' ETags are made of): the web map polls
        it for its live layers and reloads their tiles only when a version moved, with the
        version in the tile URL, so an unchanged layer is still answered 304."""
        names = _chosen()
        if isinstance(names, Response):
            return names
        try:
            versions = tiles.versions()
        except psycopg.Error as exc:
            return _db_error(exc)
        resp = _json({"versions": {n: versions[n] for n in names}})
        resp.headers["Cache-Control"] = "no-store"
        return resp

    views = {"pygeoapi.get_collection_tiles": collection_tiles,
             "pygeoapi.get_collection_tiles_metadata": collection_tiles_metadata,
             "pygeoapi.get_collection_tiles_data": collection_tile,
             "pygeoapi.get_tilematrix_sets": pygeoapi_page(tms_list),
             "pygeoapi.get_tilematrix_set": pygeoapi_page(tms_one),
             "cim_tiles.tilesets": dataset_tilesets, "cim_tiles.tileset": dataset_tileset,
             "cim_tiles.tile": dataset_tile, "cim_tiles.versions": tile_versions}
    rules = {(r.rule, r.endpoint) for r in app.url_map.iter_rules()}
    for route in ROUTES:
        if route.endpoint.startswith("pygeoapi."):
            # pygeoapi's rule, the platform's view: a pygeoapi that renamed the rule would
            # leave the description pointing nowhere
            if (route.rule, route.endpoint) not in rules:
                raise RuntimeError(f"pygeoapi serves no {route.rule} ({route.endpoint})")
            app.view_functions[route.endpoint] = views[route.endpoint]
        else:
            app.add_url_rule(route.rule, route.endpoint, views[route.endpoint],
                             methods=["GET"])
