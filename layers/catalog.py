"""The one catalog: which layers exist in this database, their extents, sizes and columns.

The OGC API configuration and provider, QGIS project and styles read the catalog rather than
hard-coding tables, so a layer added by a migration appears everywhere once it has data.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cim.crs import CGCS2000_GEOG, lonlat_srid, parse_crs, transformer
from cim.layerdefs import LAYERS, LayerDef
from cim.profile import CityProfile

LOG = logging.getLogger(__name__)
LonLatBox = tuple[float, float, float, float]
# bookkeeping columns that are not feature attributes: never published
HIDDEN_COLUMNS = frozenset({"geom", "attrs", "row_hash", "source_hash", "source_key", "id",
                            "batch_id"})
_JSON_TYPES = {"boolean": "boolean", "smallint": "integer", "integer": "integer",
               "bigint": "integer", "real": "number", "double precision": "number",
               "numeric": "number", "ARRAY": "array", "jsonb": "object", "json": "object"}
# the JSON Schema format of a string column holding dates or times: what CQL2's DATE('…') and
# TIMESTAMP('…') compare with (the queryables say it, the items path's CQL2 types by it)
_JSON_FORMATS = {"date": "date", "timestamp with time zone": "date-time",
                 "timestamp without time zone": "date-time"}
# the extent of current features in lon/lat (cim.crs.lonlat_srid); the storage extent is densified
# first, so the lon/lat box covers the curved edges of the projected one
_EXTENT_SQL = (
    "SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
    " SELECT count(*) AS n, ST_Envelope(ST_Transform(ST_Segmentize(ST_SetSRID("
    "  ST_Extent(geom)::geometry, Find_SRID('public', %(t)s, 'geom')), 100), {srid})) AS e"
    " FROM {table} WHERE valid_to IS NULL {extra}) q")


# the storage extent of current features and who wrote the layer last, in one scan
_DETAIL_SQL = (
    "SELECT ST_XMin(s), ST_YMin(s), ST_XMax(s), ST_YMax(s), b.id, b.finished_at"
    " FROM (SELECT ST_Extent(geom) FILTER (WHERE valid_to IS NULL) AS s, max(batch_id) AS last"
    "  FROM {table}) q LEFT JOIN load_batches b ON b.id = q.last")


# a result table (no load batches): its storage extent only
_RESULT_DETAIL_SQL = (
    "SELECT ST_XMin(s), ST_YMin(s), ST_XMax(s), ST_YMax(s), NULL, NULL"
    " FROM (SELECT ST_Extent(geom) FILTER (WHERE valid_to IS NULL) AS s FROM {table}) q")


# a room's module that declares its result layers (``RESULT_LAYERS``: a tuple of LayerDefs)
RESULT_MODULE = "layer"


def result_layers() -> list[LayerDef]:
    """Tables of computed results published like layers (current rows by ``code``) but not
    loaded, so not in ``cim.layerdefs.LAYERS``: the health check's ``health_indicators``,
    the operations' ``alarms`` and ``cases`` … Listed always, empty until computed (the
    server's collections are fixed when it starts: a health check computed after that was
    served only after a restart).

    Each room declares its own once, in ``layers/<room>/layer.py`` as ``RESULT_LAYERS``, every
    fact the catalog hands on (map condition, other and unpublished columns, live refresh) a
    field of its LayerDef; this function finds them there. The catalog named the three of its
    day here and in each function below (and the styles' field names scanned modules for
    their other columns), so a fourth needed an edit in each before it was on every map."""
    return list(_registry())


@lru_cache(maxsize=1)
def _registry() -> tuple[LayerDef, ...]:
    """The result layers of every room, by layer name (the order of the catalog)."""
    import layers

    found: dict[str, tuple[str, LayerDef]] = {}
    rooms = sorted(m.name for m in pkgutil.iter_modules(layers.__path__) if m.ispkg)
    for room in rooms:
        module = f"layers.{room}.{RESULT_MODULE}"
        if importlib.util.find_spec(module) is None:
            continue
        declared = getattr(importlib.import_module(module), "RESULT_LAYERS", ())
        if not isinstance(declared, tuple) or not all(isinstance(d, LayerDef)
                                                      for d in declared):
            raise RuntimeError(f"{module}.RESULT_LAYERS: a tuple of LayerDefs expected, "
                               f"got {declared!r}")
        for d in declared:
            before = found[d.name][0] if d.name in found else (
                "cim.layerdefs" if d.name in LAYERS else None)
            if before:
                raise RuntimeError(f"{module}.RESULT_LAYERS: layer {d.name!r} is declared "
                                   f"in {before} already")
            found[d.name] = (module, d)
    return tuple(found[name][1] for name in sorted(found))


def layer_defs() -> dict[str, LayerDef]:
    """Every layer the catalog knows by name: the loaded ones, then the result layers."""
    return {**LAYERS, **{d.name: d for d in result_layers()}}


def live_layers() -> list[str]:
    """Layers that change while the platform runs (sensors registered, alarms raised and
    cleared by readings, cases moving through the loop: ``LayerDef.live``): served even
    while empty, and refreshed periodically by the web map and QGIS."""
    return [d.name for d in layer_defs().values() if d.live]


def map_where(name: str) -> str | None:
    """The SQL condition on a layer's current rows that the one map shows (vector tiles, the
    QGIS project's subset: ``LayerDef.map_where``), or None: every current row. The OGC API
    serves all."""
    d = layer_defs().get(name)
    return d.map_where if d else None


def unpublished(table: str) -> frozenset[str]:
    """Columns of ``table`` beyond :data:`HIDDEN_COLUMNS` that the services never publish
    (``LayerDef.unpublished``: a case's free text and JSON detail, no personal data reaches
    the public API)."""
    return next((d.unpublished for d in layer_defs().values() if d.table == table),
                frozenset())


@dataclass
class CatalogEntry:
    """A layer as it stands in this database.

    ``last_batch`` is the newest load batch that wrote a version of the layer (its id and
    when it finished); ``dimension`` is the coordinate dimension of the geometry column (2, or
    3 for pipes with elevations)."""

    layer: LayerDef
    count: int
    bbox_lonlat: LonLatBox | None
    bbox_storage: LonLatBox | None = None
    srid: int | None = None
    dimension: int | None = None
    last_batch: dict | None = None

    def to_dict(self) -> dict:
        """The ``cim layers --json`` shape (the contract of issue 9, item 1)."""
        d = self.layer
        return {"name": d.name, "title_zh": d.title_zh, "title_en": d.title_en,
                "geometry_type": d.geometry_type, "dimension": self.dimension,
                "count": self.count,
                "extent_crs84": list(self.bbox_lonlat) if self.bbox_lonlat else None,
                "extent_storage": list(self.bbox_storage) if self.bbox_storage else None,
                "srid": self.srid, "code_scheme": d.code_scheme,
                "last_batch": self.last_batch}


@dataclass(frozen=True)
class PublishedColumn:
    """A feature attribute as the services publish it: JSON Schema type, and format for a
    date (``date``) or timestamp (``date-time``) column, published as a string."""

    name: str
    json_type: str
    json_format: str | None = None


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def _extent(conn: psycopg.Connection, table: str, storage: int,
            extra: sql.Composable | None = None,
            params: dict | None = None) -> tuple[int, LonLatBox | None]:
    """(current features, their lon/lat box) of ``table`` (stored in ``storage``)."""
    row = conn.execute(sql.SQL(_EXTENT_SQL).format(
        srid=sql.Literal(lonlat_srid(storage)), table=sql.Identifier(table),
        extra=extra or sql.SQL("")),
        {"t": table, **(params or {})}).fetchone()
    return row[0], (tuple(row[1:5]) if row[1] is not None else None)


def current_extent(conn: psycopg.Connection, layer: LayerDef) -> tuple[int, LonLatBox | None]:
    """(current features, their lon/lat box or None) of one catalogued layer, as
    :func:`catalog` counts them."""
    gc = conn.execute("SELECT srid FROM geometry_columns WHERE f_table_schema = "
                      "current_schema() AND f_table_name = %s AND f_geometry_column = 'geom'",
                      (layer.table,)).fetchone()
    return _extent(conn, layer.table, gc[0] if gc else CGCS2000_GEOG)


def catalog(conninfo: str) -> list[CatalogEntry]:
    """Layers whose tables exist, with current feature counts, CRS84 and storage extents,
    SRID and coordinate dimension, and the last batch that wrote them."""
    out = []
    results = {d.name for d in result_layers()}
    with psycopg.connect(conninfo) as conn:
        for layer in layer_defs().values():
            if not _exists(conn, layer.table):
                continue
            gc = conn.execute("SELECT srid, coord_dimension FROM geometry_columns WHERE "
                              "f_table_schema = current_schema() AND f_table_name = %s "
                              "AND f_geometry_column = 'geom'", (layer.table,)).fetchone()
            n, bbox = _extent(conn, layer.table, gc[0] if gc else CGCS2000_GEOG)
            row = conn.execute(sql.SQL(
                _RESULT_DETAIL_SQL if layer.name in results else _DETAIL_SQL).format(
                table=sql.Identifier(layer.table))).fetchone()
            out.append(CatalogEntry(
                layer=layer, count=n, bbox_lonlat=bbox,
                bbox_storage=tuple(row[0:4]) if row[0] is not None else None,
                srid=gc[0] if gc else None, dimension=gc[1] if gc else None,
                last_batch={"id": row[4], "finished_at": row[5]} if row[4] is not None
                else None))
    return out


def city_extent_lonlat(conninfo: str, profile: CityProfile, pool: Any = None) -> LonLatBox:
    """The active city's area in lon/lat, as the database holds it now: what the web map
    opens on, the tiles' TileJSON bounds and an empty layer's advertised extent.

    In order: the city's current districts (its code their parent: a district `cim profile
    apply` added or renamed while a server ran is in it, whichever districts the profile read
    at start names), the extent of its boundary file, the area of use of its storage CRS.
    Never another city's. ``pool``: a connection pool to read on (``pool.connection()``:
    ~5 ms a read against ~50 ms on a new connection, where PostGIS looks up the
    transformation once per backend); the database away, the profile's area (logged).
    """
    try:
        with pool.connection() if pool is not None else psycopg.connect(conninfo) as conn:
            if _exists(conn, "admin_divisions"):
                _, bbox = _extent(conn, "admin_divisions", profile.srid,
                                  sql.SQL("AND level = 3 AND parent_code = %(city)s"),
                                  {"city": profile.city_code})
                if bbox is not None:
                    return bbox
    except psycopg.Error:
        LOG.warning("the city's districts could not be read; its profile's area is used",
                    exc_info=True)
    return profile_extent_lonlat(profile)


def profile_extent_lonlat(profile: CityProfile) -> LonLatBox:
    """The city's area in lon/lat from its profile alone (no database): the extent of its
    boundary file, else the area of use of its storage CRS — what an empty layer advertises
    (:func:`city_extent_lonlat`) and the latitude the web map's scales are taken at."""
    return _profile_extent(str(profile.boundaries) if profile.boundaries else "",
                           profile.storage_crs, lonlat_srid(profile.srid))


@lru_cache(maxsize=8)
def _profile_extent(boundaries: str, storage_crs: str, lonlat: int) -> LonLatBox:
    if boundaries and Path(boundaries).exists():
        import pyogrio

        info = pyogrio.read_info(boundaries, force_total_bounds=True)
        if info["crs"] and info["features"]:
            return transformer(info["crs"], lonlat).transform_bounds(
                *info["total_bounds"], densify_pts=50)
    area = parse_crs(storage_crs).area_of_use
    if area is None:  # a CRS without one: the world
        return (-180.0, -90.0, 180.0, 90.0)
    return (area.west, area.south, area.east, area.north)


def published_columns(conninfo: str, table: str) -> list[PublishedColumn]:
    """The attributes of ``table`` the services publish, in table order, with JSON types
    (and formats: ``date``, ``date-time``)."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "ORDER BY ordinal_position", (table,)).fetchall()
    hidden = HIDDEN_COLUMNS | unpublished(table)
    return [PublishedColumn(name, _JSON_TYPES.get(dtype, "string"), _JSON_FORMATS.get(dtype))
            for name, dtype in rows if name not in hidden]
