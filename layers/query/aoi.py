"""Area of interest: what of every layer lies in an area (exact counts, optionally features).

One statement counts all layers: the area is built once (a materialised CTE) and each layer
is an index scan of its GiST index (``ST_Intersects(geom, area.g)``) over current versions.

    >>> aoi(conninfo, Area(bbox=(116.60, 35.34, 116.62, 35.36)), layers=["buildings"])
    {'layers': {'buildings': {'count': 407}}}

(the sample district's buildings; ``conninfo`` a libpq conninfo, or the platform's
``postgresql+psycopg://`` URL, or an open connection)
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from cim.errors import InputError
from layers.catalog import layer_defs, map_where
from layers.query.area import MAX_RADIUS_M, Area
from layers.query.common import ConnOrInfo, capped, check_rows, connection, ident, layer_def
from layers.query.sqlparts import (
    area_cte,
    current,
    feature_collection,
    geojson_sql,
    properties_sql,
    storage_srid,
)
from layers.query.where import compile_where, parse_where


def layer_names(value: str | list[str] | None) -> list[str]:
    """``a,b`` or a list → checked layer names; None → every layer of the catalog (the
    loaded ones, then the results: alarms, cases …)."""
    if value is None or value == "" or value == []:
        return list(layer_defs())
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in names if n]  # "a,b," or "a,,b": a stray comma names no layer ''
    for n in names:
        layer_def(n)
    return list(dict.fromkeys(names))


def aoi(conninfo: ConnOrInfo, area: Area | None = None, layers: str | list[str] | None = None,
        where: list[str] | dict | None = None, features: bool = False,
        out_crs: str | None = None, zone: str | None = None,
        on_map: bool = False) -> dict[str, Any]:
    """Current features of each layer that intersect ``area`` (None: the whole city).

    ``on_map``: only those the one map shows (:func:`layers.catalog.map_where`: the open
    cases, the active alarms …), as the web map counts what it draws; else every current
    feature, as the OGC API serves them.

    ``where``: ``["LAYER:CQL2", …]`` filters one layer each (a date against a date-time
    property on the city's clock ``zone``, the profile's timezone — as the CLI and the API
    pass it; None: a UTC day). ``features``: add each layer's features (GeoJSON dicts in
    CRS84, or ``out_crs``; their times UTC instants) beside its count.

        aoi(conninfo, Area(district="370811"), layers="buildings,pipe_segments",
            where=["buildings:floors_above >= 10"])
        → {"layers": {"buildings": {"count": 12}, "pipe_segments": {"count": 340}}}
    """
    names = layer_names(layers)
    filters = parse_where(where)
    stray = sorted(set(filters) - set(names))
    if stray:
        raise InputError(f"--where names layer(s) not queried: {', '.join(stray)}")
    with connection(conninfo) as conn:
        srid = storage_srid(conn)
        cte, aparams = area_cte(conn, area, srid)
        present = {r["t"] for r in conn.cursor(row_factory=dict_row).execute(
            "SELECT table_name AS t FROM information_schema.tables "
            "WHERE table_schema = current_schema()")}
        names = [n for n in names if layer_def(n).table in present]
        wheres = {n: compile_where(n, t, srid, "t", zone) for n, t in filters.items()}
        if on_map:
            for n in names:
                if (shown := map_where(n)) is not None:  # declared SQL, not a user's
                    frag, p = wheres.get(n, (None, []))
                    wheres[n] = (sql.SQL(shown) if frag is None else sql.SQL(
                        "({}) AND ({})").format(frag, sql.SQL(shown)), list(p))
        out: dict[str, Any] = {}
        counts = _counts(conn, names, cte, aparams, wheres)
        for n in names:
            out[n] = {"count": counts[n]}
            if features:
                out[n]["features"] = _features(conn, n, cte, aparams, wheres.get(n), out_crs,
                                               srid)
    res: dict[str, Any] = {"layers": out}
    if features and (member := feature_collection([], out_crs).get("crs")):
        res["crs"] = member  # (the geometries carry none: the answer says its CRS, once)
    return res


def _with(cte: sql.Composable | None) -> sql.Composable:
    return sql.SQL("WITH {} ").format(cte) if cte is not None else sql.SQL("")


def _counts(conn, names, cte, aparams, wheres) -> dict[str, int]:
    if not names:
        return {}
    parts, params = [], list(aparams)
    for i, n in enumerate(names):
        cond, p = current("t", cte is not None, wheres.get(n))
        parts.append(sql.SQL("(SELECT count(*) FROM {} t{} WHERE {}) AS {}").format(
            ident(n), sql.SQL(", area") if cte is not None else sql.SQL(""), cond,
            sql.Identifier(f"c{i}")))
        params += p
    q = sql.SQL("{}SELECT {}").format(_with(cte), sql.SQL(", ").join(parts))
    row = conn.cursor(row_factory=dict_row).execute(q, params).fetchone()
    return {n: row[f"c{i}"] for i, n in enumerate(names)}


def _features(conn, name, cte, aparams, where, out_crs, srid: int) -> list[dict[str, Any]]:
    cond, p = current("t", cte is not None, where)
    q = sql.SQL("{}SELECT t.code, {} AS props, {} AS geom FROM {} t{} WHERE {} "
                "ORDER BY t.code").format(
        _with(cte), properties_sql("t", name), geojson_sql(sql.SQL("t.geom"), out_crs, srid),
        ident(name),
        sql.SQL(", area") if cte is not None else sql.SQL(""), cond)
    rows = check_rows(conn.cursor(row_factory=dict_row).execute(capped(q), [*aparams, *p])
                      .fetchall(), f"features of {name}", "give a smaller area or a filter")
    return [{"type": "Feature", "id": r["code"], "properties": r["props"],
             "geometry": r["geom"]} for r in rows]


AOI_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
        "polygon": {"type": ["string", "object"], "description": "WKT or GeoJSON"},
        "point": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "radius": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RADIUS_M},
        "code": {"type": "string"}, "district": {"type": "string"},
        "grid": {"type": "string"},
        "crs": {"type": "string", "description": "CRS of bbox/polygon/point (CRS84 by default); typed "
                "WKT, bbox and point in its axis order (EPSG:4490 lat/lon, a Gauss-Krüger "
                "CRS northing first), GeoJSON easting first in any CRS"},
    },
}


def area_from(inputs: dict[str, Any]) -> Area:
    """An :class:`Area` from a process's JSON inputs (the keys of ``AOI_SCHEMA``)."""
    return Area(bbox=tuple(inputs["bbox"]) if inputs.get("bbox") else None,
                polygon=inputs.get("polygon"),
                point=tuple(inputs["point"]) if inputs.get("point") else None,
                radius=inputs.get("radius"), code=inputs.get("code"),
                district=inputs.get("district"), grid=inputs.get("grid"),
                crs=inputs.get("crs"))


def run(conninfo: ConnOrInfo, inputs: dict[str, Any], zone: str | None = None
        ) -> dict[str, Any]:
    """The process: JSON inputs (``PROCESS["inputs"]``) → the CLI's JSON result (``zone``:
    the served city's clock, see :func:`aoi`)."""
    return aoi(conninfo, area_from(inputs), inputs.get("layers"), inputs.get("where"),
               bool(inputs.get("features")), inputs.get("out_crs"), zone=zone,
               on_map=bool(inputs.get("on_map")))


PROCESS: dict[str, Any] = {
    "id": "aoi", "title": "Area of interest (范围查询): current features of every layer in an area",
    "description": ("The area is one of bbox, polygon, point with radius (metres), code, district or grid; geometries in CRS84 unless crs names another. Exact counts (and, with features, the features) of every layer's current features in the area; the CLI's cim query aoi."),
    "inputs": {"type": "object", "additionalProperties": False, "properties": {
        **AOI_SCHEMA["properties"],
        "layers": {"type": "array",
                   "items": {"type": "string", "enum": list(layer_defs())}},
        "where": {"type": "object", "additionalProperties": {"type": "string"},
                  "description": "layer → CQL2 text filter"},
        "features": {"type": "boolean"}, "out_crs": {"type": "string"},
        "on_map": {"type": "boolean", "description": "only what the one map shows (open "
                   "cases, active alarms …); default: every current feature"}}},
    "run": run, "pooled": True, "city_clock": True,
}
