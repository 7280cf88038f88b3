"""Overlay: the pieces of layer A cut by the polygons of layer B (buildings × grid cells, pipes ×
districts, components × parcels), each piece carrying both attribute sets.

The join is the GiST index of B probed by each A (``ST_Intersects``); a feature of A wholly
covered by a B polygon is its own piece (no ``ST_Intersection`` computed). With an area, A
features that intersect it take part and pieces are clipped to it, so the areas of the pieces
sum to the area of A inside both B and the area. Areas and lengths are planar in the storage
CRS (3D pipes measured in plan). A stretch of a line of A along the common edge of two polygons
of B (held by both, as closed sets) is in one piece, the lower B code's, so a partition's
pieces (grid cells, districts) sum to the line; where polygons of B overlap, what lies inside
both is in both.

    overlay(conninfo, "buildings", "grid_cells")
    → {"pieces": 3, "total_area_m2": 1234.5, "total_length_m": 0.0,
       "rows": [{"a_code": "37081181…", "b_code": "370811…", "area_m2": 400.0}, …]}
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from cim.errors import InputError
from layers.catalog import layer_defs
from layers.query.aoi import AOI_SCHEMA, area_from
from layers.query.area import Area
from layers.query.common import ConnOrInfo, capped, check_rows, connection, ident, layer_def
from layers.query.pipes import NO_JIT
from layers.query.sqlparts import (
    area_cte,
    current,
    dims_of,
    geojson_sql,
    properties_sql,
    segment_cut,
    storage_srid,
)

# A line B does not cover is cut segment by segment (sqlparts.segment_cut, as stats cuts
# its border lines), so a line doubling back over itself keeps its length.
_SQL = """{with_}
SELECT a.code AS a_code, b.code AS b_code, a.id AS a_id, b.id AS b_id, s.seg, p.piece
FROM {area}{a} a JOIN {b} b ON ST_Intersects(a.geom, b.geom)
CROSS JOIN LATERAL (SELECT ST_CoveredBy(a.geom, b.geom) AS inside OFFSET 0) w
{cut}
CROSS JOIN LATERAL (SELECT {clip} AS piece) p
WHERE {acond} AND b.valid_to IS NULL AND ST_Dimension(b.geom) = 2
ORDER BY a.code, b.code"""


def overlay(conninfo: ConnOrInfo, a: str, b: str, area: Area | None = None, features: bool = False,
            out_crs: str | None = None) -> dict[str, Any]:
    """Pieces of A's current features inside B's current polygons (see the module docstring).

    ``rows`` have ``area_m2`` for polygonal A, ``length_m`` for linear A (both for a layer of
    mixed geometry, e.g. components; neither for points). ``features``: each piece as a
    GeoJSON feature whose properties are A's attributes prefixed ``a_`` and B's ``b_``.
    """
    if layer_def(b).geometry_type not in ("MULTIPOLYGON", "POLYGON", "GEOMETRY"):
        raise InputError(f"overlay cuts A by the polygons of B: {b} has no polygons "
                         f"({layer_def(b).geometry_type})")
    has_area, has_length = dims_of(a)
    with connection(conninfo) as conn:
        srid = storage_srid(conn)
        cte, params = area_cte(conn, area, srid)
        acond, p = current("a", cte is not None)
        clip = sql.SQL("CASE WHEN ST_CoveredBy(c.g0, area.g) THEN c.g0 "
                       "ELSE ST_Intersection(c.g0, area.g) END") if cte is not None \
            else sql.SQL("c.g0")
        q = sql.SQL(_SQL).format(
            with_=sql.SQL("WITH {}").format(cte) if cte is not None else sql.SQL(""),
            area=sql.SQL("area, ") if cte is not None else sql.SQL(""),
            clip=clip, acond=acond, a=ident(a), b=ident(b),
            cut=segment_cut(sql.SQL("a.geom"), sql.SQL("b.geom"), sql.SQL("w.inside")))
        # a piece of dimension lower than A's (a building touching a cell along an edge)
        # is no piece; a layer of mixed geometry keeps any non-empty piece
        # (a segment's piece is its line: touching B at a point is no piece of it)
        dim = 2 if has_area and not has_length else 1 if has_length and not has_area else None
        piece = sql.SQL("CASE WHEN seg IS NOT NULL THEN ST_CollectionExtract(piece, 2) "
                        "ELSE {} END").format(sql.SQL("ST_CollectionExtract(piece, {})").format(
                            sql.Literal(dim + 1)) if dim else sql.SQL("piece"))
        # a stretch of a line along the common edge of two polygons of B lies in both (closed
        # sets): it was counted twice (a pipe along a district boundary, in both districts);
        # it counts in the lower code's piece — only the edge is taken off, so where polygons
        # of B overlap, what lies inside both stays in both. Only line pieces need the earlier
        # pieces of their feature (a window over the pieces): a layer without lines has no
        # window (it copied every polygon piece into the arrays of the later ones), a layer of
        # mixed geometry gathers its line pieces only (split off and materialised instead, its
        # points and polygons took longer than the window over them)
        pieces = sql.SQL("(SELECT *, {} AS g0 FROM ({}) s0) s1").format(piece, q)
        line = sql.SQL("GeometryType(g0) IN ('LINESTRING', 'MULTILINESTRING')")
        if not has_length:
            src = sql.SQL("SELECT *, NULL::geometry[] AS earlier FROM {}").format(pieces)
        else:
            src = sql.SQL(
                "SELECT *, array_agg(g0) {} OVER (PARTITION BY a_code, seg ORDER BY b_code "
                "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier FROM {}").format(
                sql.SQL("FILTER (WHERE {})").format(line) if has_area else sql.SQL(""),
                pieces)
        once = sql.SQL(
            "CASE WHEN earlier IS NULL OR NOT {} THEN g0 "
            "ELSE (SELECT CASE WHEN GeometryType(u.prior) IN ('LINESTRING', "
            "'MULTILINESTRING') AND ST_Relate(g0, u.prior, '1********') "
            "THEN ST_Difference(g0, ST_Intersection(ST_Intersection(g0, u.prior), "
            "(SELECT ST_Boundary(e.geom) FROM {} e WHERE e.code = s2.b_code "
            "AND e.valid_to IS NULL))) ELSE g0 END "
            "FROM (SELECT ST_Union(earlier) AS prior) u) END").format(line, ident(b))
        # OFFSET 0: the piece is computed once a row (flattened into the outer query, its
        # expression was computed again for its area, its length and the emptiness test).
        # A piece cut segment by segment is the sum of its segments' pieces, drawn as their
        # lines merged (collected, were a merge to lose a doubled stretch)
        cut = sql.SQL(
            "SELECT a_code, b_code, sum(ST_Area(g)) AS area_m2, sum(ST_Length(g)) AS length_m, "
            "a_id, b_id{} FROM (SELECT *, {} AS g FROM ({}) s2 OFFSET 0) s "
            "WHERE NOT ST_IsEmpty(g) GROUP BY a_code, b_code, a_id, b_id").format(
            sql.SQL(", CASE WHEN count(*) = 1 THEN (array_agg(g))[1] ELSE ST_Collect(g) END "
                    "AS parts, count(*) > 1 AS cut") if features else sql.SQL(""), once, src)
        drawn = sql.SQL(
            "CASE WHEN NOT c.cut THEN c.parts ELSE (SELECT CASE WHEN abs(ST_Length(m.g) - "
            "c.length_m) < 1e-9 THEN m.g ELSE c.parts END FROM (SELECT ST_LineMerge(c.parts) "
            "AS g) m) END")
        # the attributes of a piece's two features once a piece, not once a segment
        measure = sql.SQL(
            "SELECT c.a_code, c.b_code, c.area_m2, c.length_m, {} FROM ({}) c{} "
            "ORDER BY c.a_code, c.b_code").format(
            sql.SQL("{} AS a_props, {} AS b_props, {} AS geojson").format(
                properties_sql("a", a), properties_sql("b", b), geojson_sql(drawn, out_crs, srid))
            if features else sql.SQL("NULL AS a_props, NULL AS b_props"), cut,
            sql.SQL(" JOIN {} a ON a.id = c.a_id JOIN {} b ON b.id = c.b_id").format(
                ident(a), ident(b)) if features else sql.SQL(""))
        # JIT off (as stats and the pipe queries): it compiled ~0.3 s for the whole-city
        # overlay of 100,000 components, which runs in 0.4 s without it
        conn.execute(NO_JIT)
        rows = check_rows(conn.cursor(row_factory=dict_row).execute(
            capped(measure), [*params, *p]).fetchall(), "pieces", "give an area")
    out_rows, feats = [], []
    for r in rows:
        row: dict[str, Any] = {"a_code": r["a_code"], "b_code": r["b_code"]}
        if has_area:
            row["area_m2"] = r["area_m2"]
        if has_length:
            row["length_m"] = r["length_m"]
        out_rows.append(row)
        if features:
            props = {f"a_{k}": v for k, v in r["a_props"].items()}
            props.update({f"b_{k}": v for k, v in r["b_props"].items()})
            props.update({k: v for k, v in row.items()})
            feats.append({"type": "Feature", "properties": props, "geometry": r["geojson"]})
    result: dict[str, Any] = {
        "pieces": len(out_rows),
        "total_area_m2": sum(r["area_m2"] for r in rows) if has_area else 0.0,
        "total_length_m": sum(r["length_m"] for r in rows) if has_length else 0.0,
        "rows": out_rows}
    if features:
        result["features"] = feats
    return result


def run(conninfo: ConnOrInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """The process: JSON inputs (``PROCESS["inputs"]``) → the CLI's JSON result."""
    return overlay(conninfo, inputs["a"], inputs["b"], area_from(inputs),
                   bool(inputs.get("features")), inputs.get("out_crs"))


PROCESS: dict[str, Any] = {
    "id": "overlay", "title": "Overlay (叠加分析): pieces of layer A cut by the polygons of layer B",
    "description": ("The area is one of bbox, polygon, point with radius (metres), code, district or grid; geometries in CRS84 unless crs names another. The pieces of layer a cut by the polygons of layer b, with their lengths or areas; the CLI's cim query overlay."),
    "inputs": {"type": "object", "additionalProperties": False, "required": ["a", "b"],
               "properties": {**AOI_SCHEMA["properties"],
                              "a": {"type": "string", "enum": list(layer_defs())},
                              "b": {"type": "string", "enum": list(layer_defs())},
                              "features": {"type": "boolean"}, "out_crs": {"type": "string"}}},
    "run": run, "pooled": True,
}
