"""The tile routes (OGC API Tiles, WebMercatorQuad) and which collections they tile.

One list, :data:`ROUTES`: the app mounts it (:func:`services.tiles.register`), ``/openapi``
describes it (:func:`services.openapi_paths.tile_paths`) and each tiled collection's link to
its tilesets is made from it (:func:`collection_tilesets_links`, written into pygeoapi's
configuration by :mod:`services.config`), so none of the three can name a route the others
do not. Nothing here touches the database or Flask: the configuration imports it.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from layers.catalog import layer_defs

MVT = "application/vnd.mapbox-vector-tile"
TMS = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"


@dataclass(frozen=True)
class TileRoute:
    """A tile route as the app serves it and as ``/openapi`` describes it
    (:func:`services.openapi_paths.tile_paths` reads :data:`ROUTES`): one list, so a route
    cannot be served undescribed. ``endpoint``: a ``pygeoapi.*`` rule whose view the platform
    replaces (the rule is pygeoapi's), else a rule the platform adds."""

    rule: str
    endpoint: str
    operation_id: str
    summary: str
    query: tuple[str, ...] = ()  # query parameters (services.openapi_paths names them)
    tile: bool = False  # answers a vector tile (else JSON, or HTML with f=html)


_Z = "<tileMatrix>/<tileRow>/<tileCol>"
ROUTES = (
    TileRoute("/collections/<path:collection_id>/tiles", "pygeoapi.get_collection_tiles",
              "getCollectionTilesets", "A collection's tilesets"),
    TileRoute("/collections/<path:collection_id>/tiles/<tileMatrixSetId>",
              "pygeoapi.get_collection_tiles_metadata", "getCollectionTileset",
              "A collection's tileset metadata (f=tilejson: TileJSON 3.0.0)", ("f",)),
    TileRoute("/collections/<path:collection_id>/tiles/<tileMatrixSetId>/metadata",
              "pygeoapi.get_collection_tiles_metadata", "getCollectionTilesetMetadata",
              "A collection's tileset metadata (f=tilejson: TileJSON 3.0.0)", ("f",)),
    TileRoute(f"/collections/<path:collection_id>/tiles/<tileMatrixSetId>/{_Z}",
              "pygeoapi.get_collection_tiles_data", "getCollectionTile",
              "A collection's vector tile (one source-layer named by the collection)",
              ("f",), tile=True),
    TileRoute("/tiles", "cim_tiles.tilesets", "getTilesets", "The one map's tilesets (一张图)"),
    TileRoute(f"/tiles/{TMS}", "cim_tiles.tileset", "getTileset",
              "The one map's tileset metadata (f=tilejson: TileJSON 3.0.0)",
              ("f", "collections")),
    TileRoute(f"/tiles/{TMS}/{_Z}", "cim_tiles.tile", "getTile",
              "The one map's vector tile (one source-layer per collection)",
              ("f", "collections"), tile=True),
    TileRoute("/tiles/versions", "cim_tiles.versions", "getTileVersions",
              "Each layer's data version (what its tiles' ETags are made of); the web map "
              "polls it to refresh its live layers", ("collections",)),
    TileRoute("/TileMatrixSets", "pygeoapi.get_tilematrix_sets", "getTileMatrixSets",
              "The tile matrix sets of the tiles (WebMercatorQuad)", ("f",)),
    TileRoute("/TileMatrixSets/<tileMatrixSetId>", "pygeoapi.get_tilematrix_set",
              "getTileMatrixSet", "A tile matrix set's definition", ("f",)),
)

REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"


def collection_tilesets_links(base_url: str, name: str) -> list[dict[str, str]]:
    """The links of collection ``name`` to its tilesets (pygeoapi's configured collection
    ``links``), to the route :data:`ROUTES` serves them on: without them OGC API clients (GDAL's
    OGCAPI driver, QGIS) found no tiles, pygeoapi linking only tiles of its own providers."""
    route = next(r for r in ROUTES if r.operation_id == "getCollectionTilesets")
    path = re.sub(r"<(?:[^:>]+:)?collection_id>", urllib.parse.quote(name, safe=""),
                  route.rule)
    return [{"type": "application/json", "rel": REL_TILESETS,
             "title": {"en": "Vector tilesets", "zh": "矢量瓦片集"},
             "href": f"{base_url.rstrip('/')}{path}?f=json"}]


def tiled_collections(config: dict) -> list[str]:
    """The collections of pygeoapi's ``config`` served as vector tiles: the feature
    collections of loaded and result layers (the OpenAPI document lists the same)."""
    defs = set(layer_defs())
    return [name for name, res in config["resources"].items()
            if res.get("type") == "collection" and name in defs
            and res["providers"][0].get("type") == "feature"]


def link(rel: str, type_: str, href: str, title: str) -> dict[str, Any]:
    return {"rel": rel, "type": type_, "title": title, "href": href}
