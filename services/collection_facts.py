"""pygeoapi's collection documents kept as the data is.

pygeoapi reads its configuration once, when the server starts: a collection's description
("济宁市建筑（现势要素 0 个）") and its extent (what QGIS zooms to) stayed as they were at
start while loads and the operations changed the layers — a planner read 0 features of a
layer loaded since, and a layer empty at start kept the city's box. Before a collections
request the app asks each layer's data version (the tiles' ``versions()``, re-read at most
every few seconds); a layer whose version moved is counted again and its description and
extent rewritten in pygeoapi's configuration in place (:func:`services.config.collection_facts`)."""

from __future__ import annotations

import threading
from typing import Any

from cim.profile import CityProfile
from layers.catalog import city_extent_lonlat, current_extent, layer_defs
from services.config import collection_facts

# the pygeoapi endpoints whose documents say a collection's description and extent
ENDPOINTS = frozenset({"pygeoapi.collections"})


class CollectionFacts:
    def __init__(self, resources: dict[str, Any], versions: Any, pool: Any,
                 conninfo: str, profile: CityProfile) -> None:
        """``resources``: pygeoapi's configured resources (changed in place);
        ``versions``: a callable giving each layer's data version; ``pool``: connections."""
        self._resources = resources
        self._versions = versions
        self._pool = pool
        self._conninfo = conninfo
        self._profile = profile
        self._seen: dict[str, str] = dict(versions())  # as the configuration was written
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Rewrite the facts of every layer whose data version moved since last seen."""
        versions = self._versions()
        if all(self._seen.get(n) == v for n, v in versions.items()):
            return
        with self._lock:
            moved = {n: v for n, v in versions.items()
                     if self._seen.get(n) != v and n in self._resources}
            if not moved:
                return
            defs = layer_defs()
            with self._pool.connection() as conn:
                counted = {name: current_extent(conn, defs[name]) for name in moved}
            city = None
            for name, (count, bbox) in counted.items():
                if bbox is None:  # an empty layer covers the city, as at start
                    city = city or city_extent_lonlat(self._conninfo, self._profile,
                                                      self._pool)
                    bbox = city
                srid = int(self._resources[name]["providers"][0]["srid"])
                self._resources[name].update(
                    collection_facts(defs[name], count, list(bbox), self._profile, srid))
            self._seen.update(moved)
