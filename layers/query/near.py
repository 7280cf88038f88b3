"""Proximity: pairs of features of A and B within a distance, or each A's K nearest B.

Distances are planar in the storage CRS and in plan: PostGIS's ``ST_DWithin``,
``ST_Distance`` and the KNN operator ``<->`` on geometry are two-dimensional, so a 3D pipe is
measured by its plan position without ``ST_Force2D`` (which would hide the column from the
GiST index). ``ST_DWithin`` probes B's GiST index for each A; ``--nearest`` walks it in
distance order (``ORDER BY b.geom <-> a.geom LIMIT K``; no tie-break key, which would stop
the index giving the order, so which of two equidistant K-th neighbours is kept is unspecified).
A feature is never its own
neighbour when A and B are the same layer. With an area, the A features intersecting it take
part (their neighbours may lie outside it).

A layer against itself within a distance (``near A A --distance``) lists each unordered pair
once — a and b are symmetric there — with the lower code as ``a``, unless only the other
feature lies in the area (then that one is ``a``). ``--nearest`` stays per feature: b being
among a's K nearest says nothing of a among b's, so both directions may be listed.

    near(conninfo, "buildings", "pipe_segments", distance=5.0)
    → {"rows": [{"a_code": "…", "b_code": "…", "distance_m": 3.2}, …]}
    near(conninfo, "buildings", "pipe_segments", nearest=1)   # each building's nearest pipe
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from cim.errors import InputError
from layers.catalog import layer_defs
from layers.query.aoi import AOI_SCHEMA, area_from
from layers.query.area import Area
from layers.query.common import ConnOrInfo, capped, check_rows, connection, ident
from layers.query.sqlparts import area_cte, current, in_area, storage_srid

_WITHIN = """{with_}
SELECT a.code AS a_code, b.code AS b_code, ST_Distance(a.geom, b.geom) AS distance_m
FROM {area}{a} a JOIN {b} b ON ST_DWithin(a.geom, b.geom, %s)
WHERE {acond} AND b.valid_to IS NULL{notself}
ORDER BY a.code, distance_m, b.code"""

_NEAREST = """{with_}
SELECT a.code AS a_code, n.code AS b_code, n.distance_m
FROM {area}{a} a CROSS JOIN LATERAL (
    SELECT b.code, ST_Distance(a.geom, b.geom) AS distance_m FROM {b} b
    WHERE b.valid_to IS NULL{within}{notself}
    ORDER BY b.geom <-> a.geom LIMIT %s) n
WHERE {acond}
ORDER BY a.code, n.distance_m, n.code"""


def near(conninfo: ConnOrInfo, a: str, b: str, distance: float | None = None,
         nearest: int | None = None, area: Area | None = None) -> dict[str, Any]:
    """Pairs (a, b) of current features with plan distance ≤ ``distance`` metres, sorted by
    a's code then distance; with ``nearest`` K, at most the K nearest b for each a (within
    ``distance`` when given)."""
    if distance is None and nearest is None:
        raise InputError("give --distance M, --nearest K, or both")
    if distance is not None and not distance >= 0:
        raise InputError(f"--distance {distance}: metres, ≥ 0")
    if nearest is not None and nearest < 1:
        raise InputError(f"--nearest {nearest}: at least 1")
    with connection(conninfo) as conn:
        srid = storage_srid(conn)
        cte, aparams = area_cte(conn, area, srid)
        acond, p = current("a", cte is not None)
        notself = sql.SQL(" AND b.id <> a.id") if a == b else sql.SQL("")
        if a == b and nearest is None:  # each unordered pair once (see the module's notes)
            notself = sql.SQL(" AND (b.code > a.code{})").format(
                sql.SQL(" OR NOT {}").format(in_area(sql.SQL("b.geom"))) if cte is not None
                else sql.SQL(""))
        parts = dict(with_=sql.SQL("WITH {}").format(cte) if cte is not None else sql.SQL(""),
                     area=sql.SQL("area, ") if cte is not None else sql.SQL(""),
                     a=ident(a), b=ident(b), acond=acond, notself=notself)
        if nearest is None:
            q = sql.SQL(_WITHIN).format(**parts)
            params = [*aparams, float(distance), *p]
        else:
            within = sql.SQL(" AND ST_DWithin(a.geom, b.geom, %s)") if distance is not None \
                else sql.SQL("")
            q = sql.SQL(_NEAREST).format(within=within, **parts)
            params = [*aparams, *([float(distance)] if distance is not None else []),
                      int(nearest), *p]
        rows = conn.cursor(row_factory=dict_row).execute(capped(q), params).fetchall()
    return {"rows": check_rows(rows, "pairs", "give a smaller distance, fewer nearest or an "
                               "area")}


def run(conninfo: ConnOrInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """The process: JSON inputs (``PROCESS["inputs"]``) → the CLI's JSON result."""
    return near(conninfo, inputs["a"], inputs["b"], inputs.get("distance"),
                inputs.get("nearest"), area_from(inputs))


PROCESS: dict[str, Any] = {
    "id": "near", "title": "Proximity (邻近分析): features of A within a distance of (or nearest to) B",
    "description": ("The area is one of bbox, polygon, point with radius (metres), code, district or grid; geometries in CRS84 unless crs names another. Give distance (metres), nearest (how many) or both: at least one of them is required. The CLI's cim query near."),
    "inputs": {"type": "object", "additionalProperties": False, "required": ["a", "b"],
               "anyOf": [{"required": ["distance"]}, {"required": ["nearest"]}],
               "properties": {**AOI_SCHEMA["properties"],
                              "a": {"type": "string", "enum": list(layer_defs())},
                              "b": {"type": "string", "enum": list(layer_defs())},
                              "distance": {"type": "number", "minimum": 0},
                              "nearest": {"type": "integer", "minimum": 1}}},
    "run": run, "pooled": True,
}
