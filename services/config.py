"""Generate the pygeoapi configuration from the catalog (one collection per layer)."""

from __future__ import annotations

from typing import Any

from cim.crs import CRS84_URI, crs_uri
from cim.profile import CityProfile
from layers.catalog import catalog

PROVIDER = "services.providers.CimProvider"
ID_FIELDS = {"admin_divisions": "code", "grid_cells": "code"}


def pygeoapi_config(url: str, conninfo: str, profile: CityProfile, base_url: str,
                    host: str = "127.0.0.1", port: int = 5000) -> dict[str, Any]:
    srid = profile.srid
    crs_list = [CRS84_URI, crs_uri(4490), crs_uri(srid)]
    collections: dict[str, Any] = {}
    for entry in catalog(conninfo):
        layer = entry.layer
        bbox = list(entry.bbox_lonlat) if entry.bbox_lonlat else [115.5, 34.0, 118.5, 36.5]
        collections[layer.name] = {
            "type": "collection",
            "title": {"en": layer.title_en, "zh": layer.title_zh},
            "description": {
                "en": f"{layer.title_en} of {profile.city_name} ({entry.count} current "
                      f"features). Stored in EPSG:{srid}; request crs= for other CRSs.",
                "zh": f"{profile.city_name}{layer.title_zh}（现势要素 {entry.count} 个），"
                      f"存储坐标系 EPSG:{srid}。",
            },
            "keywords": ["CIM", "城市信息模型", layer.title_zh, layer.name],
            "extents": {"spatial": {"bbox": bbox, "crs": CRS84_URI}},
            "providers": [{
                "type": "feature",
                "name": PROVIDER,
                "data": {"url": url},
                "table": layer.table,
                "srid": srid,
                "id_field": ID_FIELDS.get(layer.name, "code"),
                "title_field": "name",
                "storage_crs": crs_uri(srid),
                "crs": crs_list,
            }],
        }
    return {
        "server": {
            "bind": {"host": host, "port": port},
            "url": base_url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["zh-CN", "en-US"],
            "limits": {"default_items": 100, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    "attribution": "© OpenStreetMap contributors"},
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
