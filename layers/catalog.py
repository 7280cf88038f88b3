"""The one catalog: which layers exist in this database, their extents and sizes.

The OGC API configuration, QGIS project and styles read the catalog rather than hard-coding
tables, so a layer added by a migration appears everywhere once it has data.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from cim.layerdefs import LAYERS, LayerDef


@dataclass
class CatalogEntry:
    layer: LayerDef
    count: int
    bbox_lonlat: tuple[float, float, float, float] | None


def catalog(conninfo: str) -> list[CatalogEntry]:
    """Layers whose tables exist, with current feature counts and CRS84 extents."""
    out = []
    with psycopg.connect(conninfo) as conn:
        for layer in LAYERS.values():
            if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (layer.table,)).fetchone()[0]:
                continue
            row = conn.execute(sql.SQL(
                "SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                " SELECT count(*) AS n, ST_Envelope(ST_Transform(ST_Segmentize(ST_SetSRID("
                "  ST_Extent(geom)::geometry, Find_SRID('public', %s, 'geom')), 100), 4490)) AS e"
                " FROM {} WHERE valid_to IS NULL) q"
            ).format(sql.Identifier(layer.table)), (layer.table,)).fetchone()
            n = row[0]
            bbox = tuple(row[1:5]) if row and row[1] is not None else None
            out.append(CatalogEntry(layer=layer, count=n, bbox_lonlat=bbox))
    return out
