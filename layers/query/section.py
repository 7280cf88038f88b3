"""Cross-section (横断面): the pipes a line crosses, at their offsets, elevations and depths.

One statement: the line (storage CRS) finds the current segments it crosses through their GiST
index; each crossing point gives the offset along the line and the plan fraction along the
segment, where the pipe elevation is read off the 3D segment (:func:`layers.query.pipes.
elevation_sql`). Ground elevation at the crossing is interpolated, by the same fraction, between
the ground at the segment's two ends: ground = pipe elevation + burial depth at that end (the
survey's own identity, CJJ 61), else the ``ground_elevation`` of the end's pipe point when the
segment lacks depth or elevation there; one known end is used alone. ``depth`` is then ground −
pipe elevation at the crossing, measured to the same level as the survey's elevation (``elev_ref``
of the class: top, invert or centre). A line that runs along a pipe for a stretch crosses it
where the shared stretch begins along the line (the end of the stretch nearer the line's
start, whichever way the pipe was digitised).

    >>> section(conninfo, "LINESTRING(116.5999 35.3498, 116.6003 35.3498)")  # the sample
    {'length_m': 36.36, 'rows': [{'segment_code': …, 'offset_m': 3.716, 'class_name': '通信',
      'size': '400×300', …}, … {'offset_m': 20.743, 'class_name': '给水', 'size': '160',
      'material': 'PE', 'ground_elev': 36.611, 'pipe_elev': 35.355, 'depth': 1.256, …}, …]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shapely
from psycopg import sql
from psycopg.rows import dict_row

from cim.errors import InputError
from cim.profile import CityProfile
from layers.query.common import ConnOrInfo, connection, query_geometry
from layers.query.pipes import NO_JIT, class_facts, elevation_sql, resolve_profile, size_text
from layers.query.sqlparts import geojson_sql, storage_srid

ROW_KEYS = ("segment_code", "offset_m", "class_name", "subclass_name", "size", "material",
            "ground_elev", "pipe_elev", "depth")
# beyond the contract's keys, what a client needs to draw the section itself
EXTRA_KEYS = ("pipe_class", "elev_ref", "diameter_mm", "width_mm", "height_mm")

_SQL = """
WITH l AS MATERIALIZED (SELECT {line} AS g),
x AS (
  SELECT s.*, d.geom AS piece
  FROM pipe_segments s CROSS JOIN l
  CROSS JOIN LATERAL ST_Dump(ST_Intersection(ST_Force2D(s.geom), l.g)) d
  WHERE s.valid_to IS NULL AND ST_Intersects(s.geom, l.g)),
y AS (
  SELECT x.*, CASE WHEN GeometryType(x.piece) = 'POINT' THEN x.piece
                   WHEN ST_LineLocatePoint(l.g, ST_StartPoint(x.piece))
                        <= ST_LineLocatePoint(l.g, ST_EndPoint(x.piece))
                   THEN ST_StartPoint(x.piece) ELSE ST_EndPoint(x.piece) END AS p
  FROM x CROSS JOIN l),
z AS (
  SELECT y.*, ST_LineLocatePoint(ST_Force2D(y.geom), y.p) AS f,
         ST_LineLocatePoint(l.g, y.p) * ST_Length(l.g) AS offset_m
  FROM y CROSS JOIN l)
SELECT z.code AS segment_code, z.offset_m, z.f, z.pipe_class, z.class_name, z.subclass_name,
       z.size_text, z.diameter_mm, z.width_mm, z.height_mm, z.material,
       {elev} AS pipe_elev,
       COALESCE(COALESCE(z.start_elevation, CASE WHEN NOT 'no_z' = ANY(z.flags)
                THEN ST_Z(ST_StartPoint(z.geom)) END) + z.start_depth, ps.ground_elevation) AS g0,
       COALESCE(COALESCE(z.end_elevation, CASE WHEN NOT 'no_z' = ANY(z.flags)
                THEN ST_Z(ST_EndPoint(z.geom)) END) + z.end_depth, pe.ground_elevation) AS g1,
       z.start_depth AS d0, z.end_depth AS d1,
       {point} AS point
FROM z
LEFT JOIN pipe_points ps ON ps.code = z.start_point_code AND ps.valid_to IS NULL
LEFT JOIN pipe_points pe ON pe.code = z.end_point_code AND pe.valid_to IS NULL
ORDER BY z.offset_m, z.code
"""


def _line(value: str | shapely.Geometry, crs: str | int | None, srid: int):
    g = query_geometry(value, crs, srid, "the section line", "refuse")
    geom = shapely.from_wkb(g.wkb)
    if geom.geom_type != "LineString":
        raise InputError(f"the section line must be a LineString, not a {geom.geom_type}")
    return g


def _ground(f: float, g0: float | None, g1: float | None) -> float | None:
    if g0 is not None and g1 is not None:
        return g0 + f * (g1 - g0)
    return g0 if g0 is not None else g1


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None else round(float(v), nd)


def section(conninfo: ConnOrInfo, line: str | shapely.Geometry, crs: str | int | None = None,
            profile: CityProfile | None = None, out_crs: str | None = None,
            geometry: bool = False) -> dict[str, Any]:
    """The pipes ``line`` crosses, sorted by offset along it (metres from its first vertex).

    ``line``: WKT, GeoJSON or a file, in ``crs`` (CRS84 default; EPSG:4490 lat/lon; the
    storage CRS northing first). ``geometry``: add each crossing point as GeoJSON (``point``,
    CRS84 or ``out_crs``) to its row. Returns ``{"length_m", "rows": [{segment_code,
    offset_m, class_name, subclass_name, size, material, ground_elev, pipe_elev, depth,
    pipe_class, elev_ref, diameter_mm, width_mm, height_mm}]}``.

        section(conninfo, "LINESTRING(3913474.50 39463631.62, 3913474.36 39463667.98)",
                crs="EPSG:4527")["rows"][3]["pipe_elev"]   # northing first → 35.355
    """
    facts = class_facts(resolve_profile(profile))
    with connection(conninfo) as conn:
        conn.execute(NO_JIT)
        srid = storage_srid(conn)
        cur = conn.cursor(row_factory=dict_row)
        g_sql, params = _line(line, crs, srid).storage_sql(srid)
        q = sql.SQL(_SQL).format(line=g_sql, elev=elevation_sql("z", sql.SQL("z.f")),
                                 point=geojson_sql(sql.SQL("z.p"), out_crs, srid)
                                 if geometry else sql.SQL("NULL"))
        length = cur.execute(sql.SQL("SELECT ST_Length({})").format(g_sql),
                             params).fetchone()["st_length"]
        raw = cur.execute(q, params).fetchall()
    rows = []
    for r in raw:
        ground = _ground(r["f"], r["g0"], r["g1"])
        elev = r["pipe_elev"]
        # ground − pipe elevation; where either is unknown (a GIS delivery with 埋深 but no
        # heights), the delivered depths at the ends, interpolated like the ground
        depth = ground - elev if ground is not None and elev is not None else \
            _ground(r["f"], r["d0"], r["d1"])
        cf = facts.get(r["pipe_class"])
        row = {"segment_code": r["segment_code"], "offset_m": _r(r["offset_m"]),
               "class_name": r["class_name"], "subclass_name": r["subclass_name"],
               "size": size_text(r), "material": r["material"], "ground_elev": _r(ground),
               "pipe_elev": _r(elev),
               "depth": _r(depth),
               "pipe_class": r["pipe_class"], "elev_ref": cf.elevation_ref if cf else "top",
               "diameter_mm": r["diameter_mm"], "width_mm": r["width_mm"],
               "height_mm": r["height_mm"]}
        if geometry:
            row["point"] = r["point"]
        rows.append(row)
    return {"length_m": _r(length), "rows": rows}


def section_features(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The crossings as GeoJSON features (rows computed with ``geometry=True``)."""
    return [{"type": "Feature", "id": f"{r['segment_code']}@{r['offset_m']}",
             "properties": {k: v for k, v in r.items() if k != "point"},
             "geometry": r["point"]} for r in result["rows"]]


def write_drawings(result: dict[str, Any], svg: Path | None = None, png: Path | None = None,
                   profile: CityProfile | None = None, title: str | None = None) -> list[str]:
    """Write the profile drawing as SVG and/or PNG; returns warnings (e.g. no CJK font)."""
    from layers.query.drawing import draw_png, draw_svg

    facts = class_facts(resolve_profile(profile))
    warnings: list[str] = []
    loose = sum(1 for r in result["rows"] if r["pipe_elev"] is None)
    if loose and (svg or png):
        warnings.append(f"{loose} of {len(result['rows'])} crossings have no elevation: drawn "
                        "at their offsets as dashed lines, not in height")
    out = svg
    try:
        if svg:
            draw_svg(result, facts, svg, title=title)
        out = png
        if png:
            warnings += draw_png(result, facts, png, title=title)
    except OSError as exc:  # a full disk, a folder removed while the query ran
        raise InputError(f"{out}: cannot write the drawing: {exc.strerror or exc}") from None
    return warnings


def run(conninfo: ConnOrInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """The process: JSON inputs (``PROCESS["inputs"]``) → the CLI's JSON result."""
    line = inputs["line"]
    if isinstance(line, dict):
        import json

        line = json.dumps(line)
    return section(conninfo, line, inputs.get("crs"))


PROCESS: dict[str, Any] = {
    "id": "section", "title": "Cross-section (横断面): the pipes a line crosses",
    "description": ("The pipes a line crosses, with their depths and clearances along it; the CLI's cim query section."),
    "inputs": {"type": "object", "additionalProperties": False, "required": ["line"],
               "properties": {
                   "line": {"type": ["string", "object"],
                            "description": "the section line: WKT or GeoJSON LineString"},
                   "crs": {"type": "string", "description": "CRS of the line (CRS84)"}}},
    "run": run, "pooled": True,
}
