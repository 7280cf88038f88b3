"""Generate the pygeoapi configuration from the catalog (one collection per layer).

The configuration is a file on disk, so it holds no secret: the provider's ``data.url`` is the
database URL without its password, and the served process takes the full URL from the
environment variable named by ``data.url_env`` (``cim serve`` sets it; without it libpq's
usual sources apply: ``PGPASSWORD``, ``PGPASSFILE``/``~/.pgpass``, a service file).
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from cim.crs import CRS84_URI, crs_uri, lonlat_srid
from cim.profile import CityProfile
from layers.catalog import catalog, city_extent_lonlat

PROVIDER = "services.providers.CimProvider"
URL_ENV = "CIM_DATABASE_URL"
_SECRET_QUERY_KEYS = ("password", "sslpassword")


def public_url(url: str) -> str:
    """``url`` without any password (user info or libpq query parameter)."""
    u = make_url(url)
    # URL.set(password=None) keeps the password: build the URL anew without it
    return URL.create(u.drivername, username=u.username, host=u.host, port=u.port,
                      database=u.database,
                      query={k: v for k, v in u.query.items()
                             if k.lower() not in _SECRET_QUERY_KEYS}) \
        .render_as_string(hide_password=False)


def connection_url(data: dict[str, Any]) -> str:
    """The URL the served process connects with: the one in ``data.url_env`` when it names
    the configured server, database and user, else the configured (password-free) URL."""
    configured = data["url"]
    secret = os.environ.get(data.get("url_env") or URL_ENV)
    if secret:
        try:
            env_url = make_url(secret)
        except ArgumentError:  # not a URL: not the one this configuration was written for
            return configured
        if _comparable(public_url(secret)) == _comparable(configured):
            # the configured driver (postgresql+psycopg), the environment's password
            return env_url.set(drivername=make_url(configured).drivername) \
                .render_as_string(hide_password=False)
    return configured


def _comparable(url: str) -> tuple:
    u = make_url(url)
    return (u.get_backend_name(), u.host, u.port, u.username, u.database,
            tuple(sorted(u.query.items())))


def collection_facts(layer: Any, count: int, bbox: list[float], profile: CityProfile,
                     srid: int) -> dict[str, Any]:
    """What a collection's document says of its data — its current features in the
    description, its extent — as the configuration is written, and as the app keeps it
    after a load (:mod:`services.collection_facts`)."""
    return {
        "description": {
            "en": f"{layer.title_en} of {profile.city_name} ({count} current "
                  f"features). Stored in EPSG:{srid}; request crs= for other CRSs.",
            "zh": f"{profile.city_name}{layer.title_zh}（现势要素 {count} 个），"
                  f"存储坐标系 EPSG:{srid}。",
        },
        "extents": {"spatial": {"bbox": list(bbox), "crs": CRS84_URI}},
    }


def pygeoapi_config(url: str, conninfo: str, profile: CityProfile, base_url: str,
                    host: str = "127.0.0.1", port: int = 5000,
                    limits: Any = None, basemap_url: str | None = None) -> dict[str, Any]:
    """pygeoapi's configuration: one collection per catalogued layer; no secret in it.

    ``limits`` (:class:`services.items_query.Limits`) sizes pages as the platform's items
    path does, so that pygeoapi's HTML pages agree with its GeoJSON. Those pages load nothing
    from outside the server (:func:`services.webmap.pygeoapi_server_settings`);
    ``basemap_url`` is their optional basemap."""
    from services.webmap import pygeoapi_server_settings

    srid = profile.srid
    city_bbox: list[float] | None = None
    # lon/lat of the storage datum: EPSG:4490 for CGCS2000 data; for data on another datum
    # EPSG:4326 (through CGCS2000, for which PROJ has no operation, 4490 was 176 m off)
    crs_list = [CRS84_URI, crs_uri(lonlat_srid(srid)), crs_uri(srid)]
    collections: dict[str, Any] = {}
    for entry in catalog(conninfo):
        layer = entry.layer
        if entry.bbox_lonlat:
            bbox = list(entry.bbox_lonlat)
        else:  # an empty layer covers the city, whichever city it is
            city_bbox = city_bbox or list(city_extent_lonlat(conninfo, profile))
            bbox = list(city_bbox)
        collections[layer.name] = {
            "type": "collection",
            "title": {"en": layer.title_en, "zh": layer.title_zh},
            "keywords": ["CIM", "城市信息模型", layer.title_zh, layer.name],
            **collection_facts(layer, entry.count, bbox, profile, srid),
            "providers": [{
                "type": "feature",
                "name": PROVIDER,
                "data": {"url": public_url(url), "url_env": URL_ENV},
                "table": layer.table,
                "srid": srid,
                "id_field": "code",
                # pygeoapi's HTML pages link each feature by this field: a layer without a
                # name (pipes, parcels, risk points, cases) by its whole code, not "None"
                # (without a title field pygeoapi cuts the id to 12 characters)
                "title_field": "name" if "name" in layer.column_names() else "code",
                "storage_crs": crs_uri(srid),
                "crs": crs_list,
            }],
        }
    # the collections the tile routes serve link to their tilesets (the same list and route)
    from services.tiles_routes import collection_tilesets_links, tiled_collections

    for name in tiled_collections({"resources": collections}):
        collections[name]["links"] = collection_tilesets_links(base_url, name)
    return {
        "server": {
            "bind": {"host": host, "port": port},
            "url": base_url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["zh-CN", "en-US"],
            "limits": {"default_items": limits.default_limit if limits else 10,
                       "max_items": limits.max_limit if limits else 10000},
            **pygeoapi_server_settings(basemap_url),
            "pretty_print": False,
            "admin": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": {"en": f"CIM platform — {profile.city_name}",
                          "zh": f"{profile.city_name}城市信息模型基础平台"},
                "description": {"en": "City information model layers (OGC API)",
                                "zh": "城市信息模型一张图 OGC API 服务"},
                "keywords": {"en": ["CIM", "OGC API"], "zh": ["城市信息模型"]},
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": base_url,
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "CIM platform", "url": base_url},
            "contact": {"name": "CIM platform", "position": "Operator", "email": "cim@example.org"},
        },
        "resources": collections,
    }
