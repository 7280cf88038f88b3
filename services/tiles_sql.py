"""The SQL of the platform's vector tiles: one Mapbox Vector Tile layer per statement, in PostGIS.

A tile of a layer is one statement (its text depends only on the layer and on two switches,
detail and simplification, so psycopg prepares it on each pooled connection):

1. the tile's envelope ``ST_TileEnvelope(z, x, y)`` (EPSG:3857) with the 64-unit buffer as
   margin, cut to where the layer's data can lie (:func:`cim.crs.storage_lonlat_area`: the
   storage CRS's area of use widened by 5°; a z0–z2
   tile spans half the world, which a Gauss-Krüger zone cannot project: PROJ refused the z1
   tile holding China), densified and
   transformed ONCE to the storage CRS, so ``ST_Intersects(geom,
   envelope)`` uses the layer's GiST index (no per-row transform in the filter) and keeps only
   features that really meet the tile (a feature whose box only grazes it would be clipped
   away and, among the first ``limit``, leave the tile short);
2. current features only (``valid_to IS NULL``; a result layer's rows also meet its
   ``where``: the health check's latest year), at most ``limit`` of them, taken in a
   deterministic order (largest area, then longest, then a hash of ``id``): a dense low-zoom
   tile keeps its biggest footprints and longest pipes, and of features alike in size (every
   point) a sample spread over the whole tile — ordered by ``id`` they were those loaded first,
   so a tile of two surveys' pipe points showed the first one's and none of the second; the
   same request always gives the same tile;
3. below zoom :data:`SIMPLIFY_BELOW` lines and polygons are simplified by the tile's pixel size on
   the ground (Douglas-Peucker, ``ST_Simplify(…, preserveCollapsed)``, in the storage CRS before
   anything is transformed: as cheap as no simplification where there is nothing to remove,
   while ``ST_SimplifyPreserveTopology`` (GEOS) tripled the time of a z14 building tile; the
   polygons ST_AsMVTGeom writes are made valid by its clipper, wagyu, either way), then forced
   2D, transformed to 3857 and clipped with
   ``ST_AsMVTGeom(extent 4096, buffer 64, clip)``; a geometry that collapses at the tile's
   resolution (smaller than a pixel) is dropped — being the smallest, such features are the
   last ones the limit keeps;
4. attributes: ``code`` always; below the layer's ``tile_detail_zoom`` only the class columns and
   the layer's ``tile_fields`` (:mod:`cim.layerdefs`), from it every published column.

The data version of a layer (what tile ETags and the server-side cache are keyed by) is
:func:`version_statement`: the highest row id of the table (every new feature version gets a
new id) and the highest succeeded load batch that wrote the table (a replace load that only
retires features adds no row, but its batch commits with it). Both are index look-ups. Both
start again from 1 when the tables are made anew (``cim db downgrade base`` and ``upgrade``, a
database dropped and created) under a running server: the same load then gave the same
version, and the server's cache and the browsers' ETags kept the old rows' tiles; so the
version begins with the table's OID, which a table made anew does not keep.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from psycopg import sql

from cim.crs import storage_lonlat_area

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 24  # WebMercatorQuad's deepest tile matrix served
SIMPLIFY_BELOW = 16  # simplify lines and polygons at zooms below this one
EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0  # EPSG:3857's world width, metres
WEB_MERCATOR_MAX_LAT = 85.0511287798066
# the `layer` of load_batches for loads that write a table under another name
# (loaders/pipes/write.py records one batch "pipes" for points and segments)
BATCH_LAYERS = {"pipe_points": ("pipe_points", "pipes"),
                "pipe_segments": ("pipe_segments", "pipes")}
# tables whose rows change in place (an alarm cleared, a case dispatched, a risk point raised
# while an alarm on its asset is active): their version also carries the change counter the
# triggers of migrations 0008 and 0015 keep in ``layer_changes``
COUNTED_CHANGES = frozenset({"alarms", "cases", "risk_points"})
# tables whose versions are retired by commands that are not loads (`cim risk assess` retires
# the points a rule no longer finds, `cim health compute` a year's rows): a run that only
# retires adds no row and no batch, so their version also carries the latest retirement
# (small tables: the max is a scan of a few thousand rows)
RETIRED_BY_COMMANDS = frozenset({"risk_points", "health_indicators"})


@dataclass(frozen=True)
class TileLayer:
    """A served layer as its tiles need it."""

    name: str
    table: str
    srid: int
    geometry_type: str  # PostGIS type of the column: MULTIPOLYGON, LINESTRINGZ, GEOMETRY …
    columns: tuple[str, ...]  # published columns, `code` first
    low_columns: tuple[str, ...]  # the columns carried below detail_zoom
    min_zoom: int
    detail_zoom: int
    where: str = ""  # SQL on the table's rows beyond "current" (a result layer's map_where)
    # columns written as the items path writes them (column, "date-time" | "array"): ST_AsMVT
    # casts them to PostgreSQL's text, '2026-06-15 01:40:00+00' and '{position_from_asset}'
    formats: tuple[tuple[str, str], ...] = ()
    # each column's JSON type (number, integer, boolean, string, array, object) as the items
    # path publishes it: what the tile metadata says its values are
    types: tuple[tuple[str, str], ...] = ()

    def tilejson_fields(self) -> dict[str, str]:
        """TileJSON's ``fields``: Number, Boolean or String as the tile holds the value (an
        array or a JSON object, a date-time, as text); ``valid_to`` never (tiles hold
        current features). Every field was "String": a style editor offered a text filter
        on a building's height."""
        kinds = dict(self.types)
        word = {"number": "Number", "integer": "Number", "boolean": "Boolean"}
        return {c: word.get(kinds.get(c, "string"), "String") for c in self.columns
                if c != "valid_to"}

    @property
    def kind(self) -> str:
        """points | lines | polygons | mixed (OGC API Tiles' geometryType wording)."""
        t = self.geometry_type.upper().rstrip("ZM")
        for key, kind in (("POINT", "points"), ("LINE", "lines"), ("POLYGON", "polygons")):
            if key in t:
                return kind
        return "mixed"


def pixel_metres(z: int, y: int) -> float:
    """The ground size of one tile pixel (1/4096 of the tile) at the tile's centre latitude:
    Web Mercator metres shrink by cos(latitude) on the ground, where the storage CRS measures."""
    n = 2 ** z
    lat = math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n)))
    return EARTH_CIRCUMFERENCE / n / EXTENT * math.cos(lat)


# Planner settings for the tile statements, local to the transaction that makes a tile (the
# pool's connections also serve the items path, which keeps the server's defaults). Measured on
# 1,000,000 footprints (docs/benchmarks.md, "Vector tiles"):
# - jit off: a dense tile's plan costs more than jit_above_cost, and compiling it took 200-500 ms
#   (inlining and optimisation) for a statement that runs in 15-150 ms;
# - no parallel workers: starting them cost ~20 ms per tile on a loaded 2-core machine (the
#   worker found no rows: the bitmap scan hands its pages to the leader), and a tile server
#   runs many tiles at once anyway;
# - custom plans: the pool prepares the statement (prepare_threshold 1), and after 5 runs
#   PostgreSQL switched to a generic plan that knows neither the envelope nor the limit
#   (z14 60 -> 48 ms on its own);
# - work_mem 16MB: the top-`limit` sort by area holds the candidates with their geometries; at
#   z12 (~29,000 candidates, limit 8,000) 4 MB spilled to disk, 16 MB keeps a top-N heap.
TILE_SETTINGS = (
    "SELECT set_config('jit', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('work_mem', '16MB', true)")

_CACHE: dict[tuple, str] = {}
_LOCK = threading.Lock()


def _cached(key: tuple, build: Callable[[], sql.Composable]) -> str:
    text = _CACHE.get(key)
    if text is None:
        text = build().as_string(None)
        with _LOCK:
            _CACHE[key] = text
    return text


def _importance(layer: TileLayer) -> sql.Composable:
    """What a full tile keeps first: area for polygons, length for lines (0 for points)."""
    kind = layer.kind
    if kind == "polygons":
        return sql.SQL("ST_Area(p.geom)")
    if kind == "lines":
        return sql.SQL("ST_Length(p.geom)")
    if kind == "mixed":
        return sql.SQL("ST_Area(p.geom) + ST_Length(p.geom)")
    return sql.SQL("0::float8")


def tile_statement(layer: TileLayer, detail: bool, simplify: bool) -> str:
    """SQL of one layer's MVT: one row (mvt bytea, candidates); ``candidates`` > limit means the
    tile was thinned to ``limit`` features. Parameters: z, x, y, margin, seg, tol, limit, more
    (= limit + 1)."""
    def build() -> sql.Composable:
        cols = layer.columns if detail else layer.low_columns
        geom = sql.SQL("p.geom")
        if simplify and layer.kind != "points":
            geom = sql.SQL("ST_Simplify({}, %(tol)s, true)").format(geom)
        mvt_geom = sql.SQL(
            "ST_AsMVTGeom(ST_Transform(ST_Force2D({}), 3857), t.env, {}, {}, true)").format(
            geom, sql.Literal(EXTENT), sql.Literal(BUFFER))
        picked = sql.SQL(", ").join(_column(c, dict(layer.formats).get(c)) for c in cols)
        out = sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in cols)
        return sql.SQL(
            "WITH t AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env, "
            "ST_Transform(ST_Segmentize(ST_Intersection(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, "
            "margin => %(margin)s), ST_MakeEnvelope(%(ax0)s, %(ay0)s, %(ax1)s, %(ay1)s, 3857)), "
            "%(seg)s), {srid}) AS q), "
            "c AS MATERIALIZED (SELECT p.id, {imp} AS imp, hashint8(p.id) AS spread, {picked}, "
            "{mvt_geom} AS geom "
            "FROM {table} p, t WHERE ST_Intersects(p.geom, t.q) AND p.valid_to IS NULL {where}"
            "ORDER BY imp DESC, spread, p.id LIMIT %(more)s) "
            "SELECT (SELECT ST_AsMVT(f, {name}, {extent}, 'geom') FROM ("
            "SELECT {out}, c.geom FROM c WHERE c.geom IS NOT NULL "
            "ORDER BY c.imp DESC, c.spread, c.id LIMIT %(limit)s) f), "
            "(SELECT count(*) FROM c)").format(
            srid=sql.Literal(layer.srid), imp=_importance(layer), picked=picked,
            mvt_geom=mvt_geom, table=sql.Identifier(layer.table), name=sql.Literal(layer.name),
            extent=sql.Literal(EXTENT), out=out,
            where=sql.SQL(f"AND ({layer.where}) " if layer.where else ""))

    return _cached(("tile", layer.name, detail, simplify), build)


def _column(name: str, fmt: str | None) -> sql.Composable:
    """A published column as the items path writes it (RFC 3339 in UTC, trailing zeros of the
    fraction dropped; an array as JSON)."""
    col = sql.SQL("p.{}").format(sql.Identifier(name))
    if fmt == "date-time":
        return sql.SQL("rtrim(rtrim(to_char({c} AT TIME ZONE 'UTC', "
                       "'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '0'), '.') || '+00:00' AS {n}").format(
            c=col, n=sql.Identifier(name))
    if fmt == "array":
        return sql.SQL("to_json({c})::text AS {n}").format(c=col, n=sql.Identifier(name))
    return col


def tile_params(z: int, x: int, y: int, limit: int, srid: int) -> dict:
    """The bound values of :func:`tile_statement` for tile z/x/y (x column, y row) of a layer
    stored in ``srid``."""
    width = EARTH_CIRCUMFERENCE / 2 ** z
    ax0, ay0, ax1, ay1 = storage_area(srid)
    return {"z": z, "x": x, "y": y, "margin": BUFFER / EXTENT, "seg": width / 16,
            "tol": pixel_metres(z, y), "limit": limit, "more": limit + 1,
            "ax0": ax0, "ay0": ay0, "ax1": ax1, "ay1": ay1}


@lru_cache(maxsize=32)
def storage_area(srid: int) -> tuple[float, float, float, float]:
    """The EPSG:3857 box a layer stored in ``srid`` is looked for in: where its data can lie
    (:func:`cim.crs.storage_lonlat_area`, the CRS's area of use widened), the whole world for
    a CRS without an area of use."""
    half = EARTH_CIRCUMFERENCE / 2
    area = storage_lonlat_area(srid)
    if area is None:
        return -half, -half, half, half
    west, south, east, north = area

    def merc_y(lat: float) -> float:
        lat = max(-WEB_MERCATOR_MAX_LAT, min(WEB_MERCATOR_MAX_LAT, lat))
        return 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    return half * west / 180, merc_y(south), half * east / 180, merc_y(north)


def version_statement(layers: list[TileLayer]) -> str:
    """SQL of one row: for each layer (in order) its data version as text
    ``<table oid>.<max row id>.<max succeeded batch that wrote it>`` (0 for none), for the tables of
    :data:`COUNTED_CHANGES` ``.<changes>`` (rows updated in place), for those of
    :data:`RETIRED_BY_COMMANDS` ``.<latest valid_to>``."""
    def build() -> sql.Composable:
        parts = [sql.SQL(
            "to_regclass({name})::oid::text || '.' || "
            "coalesce((SELECT max(id) FROM {t}), 0)::text || '.' || coalesce((SELECT max(id) "
            "FROM load_batches WHERE status = 'succeeded' AND layer = ANY({names})), 0)::text"
            + (" || '.' || coalesce((SELECT changes FROM layer_changes WHERE layer = {name}), "
               "0)::text" if lay.table in COUNTED_CHANGES else "")
            + (" || '.' || coalesce((SELECT extract(epoch FROM max(valid_to)) FROM {t}), "
               "0)::text" if lay.table in RETIRED_BY_COMMANDS else ""))
            .format(t=sql.Identifier(lay.table), name=sql.Literal(lay.table),
                    names=sql.Literal(list(BATCH_LAYERS.get(lay.table, (lay.table,)))))
            for lay in layers]
        return sql.SQL("SELECT {}").format(sql.SQL(", ").join(parts))

    return _cached(("version",) + tuple(lay.name for lay in layers), build)
