"""Statistics of a layer per grid cell or district, optionally per class: count, length, area.

How features are attributed to units (the totals always add up to the layer):

- ``count``: by the unit the loader assigned to the feature (its ``grid_code`` /
  ``district_code`` column: the unit holding its point on surface), so each feature counts
  once; features without one count in the row whose ``unit_code`` is null.
- ``length_m`` / ``area_m2``: split by intersection with the units (current grid cells;
  current level-3 districts), so a pipe crossing two cells gives each its share; what lies
  outside every unit goes to the ``unit_code`` null row (total minus the shares, shown when
  more than rounding). Planar in the storage CRS, pipes in plan. A feature wholly inside the
  unit it is assigned to gives that unit all of it; otherwise what of it two units share —
  a stretch of pipe along their common edge, or where two districts as digitised overlap —
  is counted once, in the unit it is assigned to, else in the lowest code (it was counted in
  both, and the unit-null row went negative by as much). A line is cut segment by segment:
  cut whole, GEOS merged the stretches of a line that doubles back over itself, and their
  length went to the unit-null row.
- ``warnings``: when features counted without a current unit (code null, or a unit since
  retired) lie in a current unit, how many and the command that places them again (`cim
  places refresh`): their codes were decided before the units were loaded. Features outside
  every unit are no such sign.

Where the time goes (bench/query.py: 98,592 pipes × 10,404 grid cells, docs/benchmarks.md):
a GiST probe of the units per feature cost ~60 µs, most of the statement. So a feature is
first tested against its own assigned unit (a hash join on the code): when that unit covers
it — nearly always, 87 % of the pipes — it takes its own length/area, with neither a probe nor
``ST_Intersection``; only the others probe the units' GiST index and are cut. The covering
test is exact: a unit equal to its bounding box (a regular grid cell; ``ST_Equals`` with its
envelope, once per unit) covers a feature whose exact extent (``ST_XMin`` … are computed from
the coordinates, not the index's float boxes) lies inside it; any other unit asks
``ST_CoveredBy``. What two units share is taken off a border feature's later pieces by a window
over its pieces, run only for the features their own unit does not cover (set up for every
feature, it doubled buildings per grid cell), and not at all for polygons cut by units that
do not overlap (a grid, a district partition: they share no area; one query per call asks).
Counts and totals come from one pass over the table (no materialised copy of
the geometries), and JIT is off (it compiled for a second and more). Same rows as before, 2–3×
faster (pipes per grid cell 6.7 → 2.6–3.2 s; buildings per grid cell 56 → 21 s).

    stats(conninfo, "pipe_segments", by="grid", class_field="pipe_class")
    → {"rows": [{"unit_code": "370811…", "class": "01", "count": 12, "length_m": 840.2,
                 "area_m2": None}, …], "warnings": []}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from cim.errors import InputError
from layers.catalog import HIDDEN_COLUMNS, layer_defs
from layers.query.common import (
    ConnOrInfo,
    column,
    connection,
    ident,
    layer_def,
    published_columns,
)
from layers.query.pipes import NO_JIT
from layers.query.sqlparts import dims_of, segment_cut
from layers.query.where import queryables

UNITS = {"grid": ("grid_cells", "grid_code", sql.SQL("")),
         "district": ("admin_divisions", "district_code", sql.SQL(" AND u.level = 3"))}

_SQL = """
WITH cells AS MATERIALIZED (
    SELECT u.code, u.geom, ST_XMin(u.geom) AS x0, ST_YMin(u.geom) AS y0, ST_XMax(u.geom) AS x1,
           ST_YMax(u.geom) AS y1, ST_Equals(u.geom, ST_MakeEnvelope(ST_XMin(u.geom),
               ST_YMin(u.geom), ST_XMax(u.geom), ST_YMax(u.geom), ST_SRID(u.geom))) AS rect
    FROM {units} u WHERE u.valid_to IS NULL{level}),
counts AS (
    SELECT t.{unit_col} AS unit, {cls} AS cls, count(*) AS n, sum(ST_Length(t.geom)) AS len,
           sum(ST_Area(t.geom)) AS area
    FROM {t} t WHERE t.valid_to IS NULL GROUP BY 1, 2),
shares AS (
    SELECT p.unit, t.cls, sum(ST_Length(p.g)) AS len, sum(ST_Area(p.g)) AS area
    FROM (SELECT t.{unit_col} AS unit, {cls} AS cls, t.geom FROM {t} t
          WHERE t.valid_to IS NULL) t
    LEFT JOIN cells o ON o.code = t.unit
    CROSS JOIN LATERAL (SELECT CASE WHEN o.rect THEN ST_XMin(t.geom) >= o.x0
                                 AND ST_XMax(t.geom) <= o.x1 AND ST_YMin(t.geom) >= o.y0
                                 AND ST_YMax(t.geom) <= o.y1
                            ELSE ST_CoveredBy(t.geom, o.geom) END OFFSET 0) AS w(inside)
    CROSS JOIN LATERAL (
        SELECT t.unit, t.geom AS g WHERE w.inside
        UNION ALL
        {border}
    GROUP BY p.unit, t.cls),
totals AS (SELECT cls, sum(len) AS len, sum(area) AS area FROM counts GROUP BY cls),
outside AS (
    SELECT NULL::text AS unit, t.cls, t.len - coalesce(s.len, 0) AS len,
           t.area - coalesce(s.area, 0) AS area
    FROM totals t LEFT JOIN (SELECT cls, sum(len) AS len, sum(area) AS area FROM shares
                             GROUP BY cls) s ON s.cls IS NOT DISTINCT FROM t.cls),
measures AS (SELECT * FROM shares UNION ALL SELECT * FROM outside)
SELECT unit AS unit_code, cls AS class, sum(n)::int8 AS count, sum(len) AS length_m,
       sum(area) AS area_m2
FROM (SELECT unit, cls, n, 0::float8 AS len, 0::float8 AS area FROM counts
      UNION ALL SELECT unit, cls, 0, len, area FROM measures) x
GROUP BY unit, cls
ORDER BY unit_code NULLS LAST, class NULLS FIRST"""

# the pieces of a feature its assigned unit does not cover: what two units share (a stretch
# of line along their common edge; where they overlap, an area) goes to the first of them,
# own unit first, then by code — the later ones less what the earlier took. A line is cut
# segment by segment (sqlparts.segment_cut, as overlay cuts: ``s.seg`` null for a
# polygon, a point, a line of one segment) and the window is per segment, as two segments of
# one line lying on each other are both its length. QWAT, 1,306 border pipes of 5.5 vertices
# on average: 281 -> 351 ms
_BORDER_ONCE = """SELECT x.code, CASE WHEN x.prior IS NOT NULL AND ST_Relate(x.piece, x.prior, 'T********')
                            THEN ST_Difference(x.piece, x.prior) ELSE x.piece END
        FROM (SELECT y.code, y.piece, ST_Union(y.piece) OVER (
                         PARTITION BY y.seg ORDER BY y.own DESC, y.code
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior
              FROM (SELECT u.code, s.seg, coalesce(u.code = t.unit, false) AS own,
                           ST_CollectionExtract(c.g0, ST_Dimension(t.geom) + 1) AS piece
                    FROM {units} u
                    {cut}
                    WHERE w.inside IS NOT TRUE AND u.valid_to IS NULL{level}
                      AND ST_Intersects(t.geom, u.geom)) y OFFSET 0) x
        WHERE w.inside IS NOT TRUE) p"""
# the same when the pieces cannot share anything: polygons cut by units that do not overlap
# (a grid, a district partition) share at most edges, of no area; the window above cost a
# border building ~50 µs (buildings per grid cell, bench DB at scale 0.1: 0.6 -> 1.1 s)
_BORDER_CUT = """SELECT u.code, ST_CollectionExtract(CASE WHEN ST_CoveredBy(t.geom, u.geom)
                               THEN t.geom ELSE ST_Intersection(t.geom, u.geom) END,
                               ST_Dimension(t.geom) + 1)
        FROM {units} u
        WHERE w.inside IS NOT TRUE AND u.valid_to IS NULL{level}
          AND ST_Intersects(t.geom, u.geom)) p"""
# whether two current units overlap (share an area): their boxes overlap strictly (cheap,
# and never true for a regular grid's cells) and then their geometries
_UNITS_OVERLAP = """SELECT EXISTS (
    SELECT 1 FROM {units} a JOIN {units} u ON u.geom && a.geom AND u.code > a.code
    WHERE a.valid_to IS NULL AND u.valid_to IS NULL{alevel}{level}
      AND ST_XMin(u.geom) < ST_XMax(a.geom) AND ST_XMin(a.geom) < ST_XMax(u.geom)
      AND ST_YMin(u.geom) < ST_YMax(a.geom) AND ST_YMin(a.geom) < ST_YMax(u.geom)
      AND ST_Relate(a.geom, u.geom, '2********'))"""

# features counted without a current unit (their code null, or a unit no longer current)
# that a current unit holds a share of — by the loaders' rule (loaders.engine.places), one
# the unit covers, or whose area/length/points it holds part of (touching it does not count)
# — so `cim places refresh` would place them: their code was decided before the units were
# there (loaded before the grid cells) or against units since replaced. A GiST probe for
# these features only (``OFFSET 0``: flattened, the planner probed every feature of the layer
# before asking its code), asked only when such a count row exists
_STRAYS = """SELECT count(*) FILTER (WHERE t.unit IS NULL), count(*) FILTER (WHERE t.unit IS NOT NULL)
FROM (SELECT t.{unit_col} AS unit, t.geom FROM {t} t
      WHERE t.valid_to IS NULL
        AND NOT EXISTS (SELECT 1 FROM {units} o
                        WHERE o.code = t.{unit_col} AND o.valid_to IS NULL{olevel})
      OFFSET 0) t
WHERE EXISTS (SELECT 1 FROM {units} u WHERE u.valid_to IS NULL{level}
              AND ST_Intersects(t.geom, u.geom)
              AND (ST_Dimension(t.geom) = 0 OR ST_CoveredBy(t.geom, u.geom)
                   OR ST_Relate(t.geom, u.geom, 'T********')
                   OR ST_Dimension(t.geom) = 1 AND ST_Relate(t.geom, u.geom, '*1*******')))"""
UNIT_NAMES = {"grid": ("grid cell", "grid cells"), "district": ("district", "districts")}

# the unit-null remainder (class total minus its shares) below EPSILON + REL_EPSILON × the
# class total is rounding, not geometry outside every unit: summing a million areas of ~100 m²
# leaves a few 1e-6 m² whatever the order of the sums
EPSILON = 1e-6
REL_EPSILON = 1e-9


def stats(conninfo: ConnOrInfo, layer: str, by: str = "grid", class_field: str | None = None
          ) -> dict[str, Any]:
    """Count, plan length and area of ``layer``'s current features per unit (``by`` grid or
    district) and class (the values of ``class_field``, e.g. ``pipe_class``; None: one class).
    See the module docstring for how straddling features are split."""
    if by not in UNITS:
        raise InputError(f"--by {by!r}: grid or district")
    units, unit_col, level = UNITS[by]
    d = layer_def(layer)
    if unit_col not in d.column_names():
        raise InputError(f"layer {layer} is not assigned to {by} units (no {unit_col})")
    has_area, has_length = dims_of(layer)
    if class_field and class_field in HIDDEN_COLUMNS:
        # the geometry (a class per feature, its WKB as the name) or a column the catalog
        # keeps unpublished (attrs, source keys, hashes) was grouped by and shown
        raise InputError(f"--class {class_field}: not a published column of {layer}; "
                         f"columns: {', '.join(queryables(layer))}")
    cls = sql.SQL("t.{}::text").format(column(layer, class_field)) if class_field \
        else sql.SQL("NULL::text")
    timed = bool(class_field) and any(
        c.name == class_field and c.pgtype.startswith(("timestamp", "date"))
        for c in published_columns(layer))
    if timed:  # grouped as stored, written RFC 3339 below (its text read 2026-06-15 01:40:00+00)
        cls = sql.SQL("t.{}").format(column(layer, class_field))
    alevel = sql.SQL(" AND a.level = 3") if by == "district" else sql.SQL("")
    with connection(conninfo) as conn:
        conn.execute(NO_JIT)
        # polygons cut by units that do not overlap share no area: no window needed
        cut = has_area and not has_length and not conn.execute(sql.SQL(_UNITS_OVERLAP).format(
            units=ident(units), level=level, alevel=alevel)).fetchone()[0]
        border = sql.SQL(_BORDER_CUT if cut else _BORDER_ONCE).format(
            units=ident(units), level=level,
            cut=segment_cut(sql.SQL("t.geom"), sql.SQL("u.geom")))
        q = sql.SQL(_SQL).format(unit_col=sql.Identifier(unit_col), cls=cls, t=ident(layer),
                                 units=ident(units), level=level, border=border)
        rows = conn.cursor(row_factory=dict_row).execute(q).fetchall()
        warnings = _stray_warnings(conn, layer, by, rows)
    total: dict[str | None, list[float]] = {}
    for r in rows:
        t = total.setdefault(r["class"], [0.0, 0.0])
        t[0] += abs(r["length_m"])
        t[1] += abs(r["area_m2"])
    out = []
    for r in rows:
        length, area = total[r["class"]]
        if r["unit_code"] is None and r["count"] == 0 \
                and abs(r["length_m"]) < EPSILON + REL_EPSILON * length \
                and abs(r["area_m2"]) < EPSILON + REL_EPSILON * area:
            continue  # nothing outside every unit
        out.append({"unit_code": r["unit_code"], "class": _rfc3339(r["class"]) if timed
                    else r["class"], "count": r["count"],
                    "length_m": r["length_m"] if has_length else None,
                    "area_m2": r["area_m2"] if has_area else None})
    return {"rows": out, "warnings": warnings}


def _rfc3339(value: Any) -> str | None:
    """A date-time class as the API writes times (UTC, RFC 3339); a date as its ISO text."""
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.isoformat()


def _stray_warnings(conn: Any, layer: str, by: str, rows: list[dict[str, Any]]) -> list[str]:
    """Why the unit-null row (or a row of a unit no longer current) holds features a current
    unit holds: a warning naming how many and the command that places them again; none when
    every such feature lies outside every current unit."""
    units, unit_col, level = UNITS[by]
    counted = {r["unit_code"] for r in rows if r["count"]}
    codes = sorted(c for c in counted if c is not None)
    olevel = sql.SQL(" AND o.level = 3") if by == "district" else sql.SQL("")
    current = {c for (c,) in conn.execute(sql.SQL(
        "SELECT o.code FROM {} o WHERE o.code = ANY(%s) AND o.valid_to IS NULL{}").format(
        ident(units), olevel), (codes,)).fetchall()} if codes else set()
    if None not in counted and current == set(codes):
        return []  # every feature is counted in a current unit: nothing to look for
    no_code, retired = conn.execute(sql.SQL(_STRAYS).format(
        unit_col=sql.Identifier(unit_col), t=ident(layer), units=ident(units), level=level,
        olevel=olevel)).fetchone()
    # the commands that place stored features again (named, not imported: layers/ reads what
    # the loaders wrote and imports none of them; loaders.places_refresh.COMMAND, OWN_RULE)
    fix = ("`cim risk assess`" if layer == "risk_points"
           else f"`cim places refresh --layer {layer}`") + " places them again"
    one, many = UNIT_NAMES[by]
    out = []
    if no_code:
        out.append(f"{no_code:,} {layer} counted in the unit-null row (no {unit_col}) lie in "
                   f"current {many}: their {unit_col} was decided before the {many} were "
                   f"loaded; {fix}")
    if retired:
        out.append(f"{retired:,} {layer} counted in a {one} no longer current lie in current "
                   f"{many}; {fix}")
    return out


def run(conninfo: ConnOrInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """The process: JSON inputs (``PROCESS["inputs"]``) → the CLI's JSON result."""
    return stats(conninfo, inputs["layer"], inputs.get("by", "grid"), inputs.get("class"))


PROCESS: dict[str, Any] = {
    "id": "stats", "title": "Statistics (分区统计) of a layer per grid cell or district (and class)",
    "description": ("Counts (and lengths or areas) of the layer's current features per grid cell or district, optionally per class, within an area or the whole city; the CLI's cim query stats."),
    "inputs": {"type": "object", "additionalProperties": False, "required": ["layer"],
               "properties": {"layer": {"type": "string", "enum": list(layer_defs())},
                              "by": {"type": "string", "enum": list(UNITS)},
                              "class": {"type": "string"}}},
    "run": run, "pooled": True,
}
