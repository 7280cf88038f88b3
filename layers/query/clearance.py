"""Clearances (GB 50289 as data): pipe crossings and neighbours closer than the minimum.

- vertical: at every plan crossing of two current segments (segments sharing an end point are
  one network's joint, not a crossing; so is a segment ending on another of the same class
  and subclass — a branch tapped into a main a GIS network does not split at the tee — where
  the elevations are unknown or the two sections meet there in height: storm on foul, or one
  pipe passing above the other's end, is a crossing) the elevation of each pipe is read off
  its 3D segment
  at the crossing (:func:`layers.query.pipes.elevation_sql`), each section's outer extent is
  placed from its class's ``elevation_ref`` (top, invert or centre) and its height (diameter,
  else box height), and the clear distance is outer wall to outer wall: bottom of the upper
  pipe − top of the lower one (negative: the sections collide). Two pipes sharing a stretch
  in plan (one laid above the other) are one row: the least clear distance over the stretch,
  read at its ends and at every vertex of either pipe on it (−half their heights' sum where
  they pass through each other), placed where it is least. Crossings whose elevation is
  unknown are counted in ``unchecked``, as are pairs whose rules grade a gas pressure the
  pipe's text does not give as a class they name (高压A where the building rules stop at 中压A,
  an unreadable text: :mod:`cim.pressure`, :func:`layers.query.clearance_rules.pick`).
- horizontal: pairs of current segments that do not meet in plan (and those of two networks
  that do, away from where they meet: :func:`_beside_after_meeting`), and pipes and buildings,
  whose plan distance minus the pipes' half widths (outer wall to wall, or to the footprint)
  is below the rule.

The minimums are rules of ``pipe_clearances.csv`` (:mod:`layers.query.clearance_rules`): the
candidate pairs are found in one set-based statement per kind through the GiST indexes
(``ST_Intersects`` / ``ST_DWithin`` with the largest distance any rule asks, plus the widest
section), then each pair gets its rule. Rows come worst first (most below the minimum).

    >>> clearance(conninfo, Area(district="370811"), kind="vertical")
    {'rows': [{'a_code': '3708118302…', 'b_code': '3708118301…', 'kind': 'vertical',
               'clearance_m': 0.1, 'required_m': 0.4, 'verified': True}], 'unchecked': 0}
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from cim import pressure
from cim.errors import InputError
from cim.profile import CityProfile
from layers.query.area import Area
from layers.query.clearance_rules import (
    UNCHECKED,
    Rule,
    classes_in,
    load_rules,
    max_required,
    pick,
)
from layers.query.common import ConnOrInfo, connection
from layers.query.graph import VERSION_SQL
from layers.query.pipes import (
    NO_JIT,
    TAP_TOLERANCE_M,
    TEE_HEIGHT_TOLERANCE_M,
    ClassFacts,
    apart_subclasses,
    class_facts,
    elevation_sql,
    height_m,
    resolve_profile,
    vertical_extent,
    width_m,
)
from layers.query.sqlparts import area_cte, geojson_sql, in_area, storage_srid

PIPE_COLS = ("code", "pipe_class", "subclass_code", "burial", "pressure", "diameter_mm",
             "width_mm", "height_mm")


def _cols(alias: str, prefix: str) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.Identifier(alias, c),
                                                         sql.Identifier(f"{prefix}_{c}"))
                              for c in PIPE_COLS)


def _thing(r: dict[str, Any], prefix: str, pcs: tuple) -> dict[str, Any]:
    """A pipe of a result row as the rules see it (``pcs``: the pressure classes,
    :func:`cim.pressure.classes`; its pressure the class read from the text)."""
    d = r[f"{prefix}_diameter_mm"] or r[f"{prefix}_width_mm"]
    return {"what": r[f"{prefix}_pipe_class"], "d": d, "subclass": r[f"{prefix}_subclass_code"],
            "burial": r[f"{prefix}_burial"],
            "pressure": pressure.grade(r[f"{prefix}_pressure"], pcs)}


def _area_join(alias: str, has_area: bool) -> tuple[sql.Composable, sql.Composable]:
    if not has_area:
        return sql.SQL(""), sql.SQL("")
    return (sql.SQL(" CROSS JOIN area"),
            sql.SQL(" AND {}").format(in_area(sql.SQL("{}.geom").format(sql.Identifier(alias)))))


def _row(a: str, b: str, kind: str, gap: float, rule: Rule, geom: Any) -> dict[str, Any]:
    row = {"a_code": a, "b_code": b, "kind": kind, "clearance_m": round(gap, 3),
           "required_m": rule.required_m, "verified": rule.verified}
    if geom is not None:
        row["geometry"] = geom
    return row


def _vertical(cur, cte, aparams, rules, facts: dict[str, ClassFacts], geo, pcs,
              apart: frozenset[tuple[str, str, str]] = frozenset()) -> tuple[list, int]:
    classes = classes_in(rules, "vertical")
    has_area = cte is not None
    join, cond = _area_join("a", has_area)
    # each piece of the plan intersection: a crossing point, or a stretch the pipes share in
    # plan (one above the other), read at its ends and at every vertex of either pipe on it
    # (the elevations are linear between vertices, so the gap's worst is at one of them, or
    # where the two pass through each other: see _worst)
    q = sql.SQL("""{head}
x AS (
  SELECT a.id AS aid, b.id AS bid, d.path AS part, d.geom AS piece,
         ST_Force2D(a.geom) AS ag, ST_Force2D(b.geom) AS bg,
         (a.pipe_class = b.pipe_class
          AND a.pipe_class || ':' || a.subclass_code || ':' || b.subclass_code <> ALL({apart})
          AND GeometryType(d.geom) = 'POINT'
          AND (ST_DWithin(d.geom, ST_Boundary(ST_Force2D(a.geom)), {tap})
               OR ST_DWithin(d.geom, ST_Boundary(ST_Force2D(b.geom)), {tap}))) AS tee
  FROM pipe_segments a{join}
  JOIN pipe_segments b ON b.valid_to IS NULL AND a.code < b.code
   AND b.pipe_class = ANY(%s) AND ST_Intersects(a.geom, b.geom)
   AND a.start_point_code NOT IN (b.start_point_code, b.end_point_code)
   AND a.end_point_code NOT IN (b.start_point_code, b.end_point_code)
  CROSS JOIN LATERAL ST_Dump(ST_Intersection(ST_Force2D(a.geom), ST_Force2D(b.geom))) d
  WHERE a.valid_to IS NULL AND a.pipe_class = ANY(%s){cond}),
y AS (
  SELECT aid, bid, part, tee, v.p, v.k
  FROM x CROSS JOIN LATERAL (
    SELECT piece AS p, 0.0::float8 AS k WHERE GeometryType(piece) = 'POINT'
    UNION ALL
    SELECT q.geom, ST_LineLocatePoint(piece, q.geom)
    FROM ST_DumpPoints(CASE WHEN GeometryType(piece) = 'LINESTRING'
                            THEN ST_Collect(ARRAY[piece, ag, bg]) END) q
    WHERE ST_DWithin(q.geom, piece, 1e-6)) v)
SELECT y.aid, y.bid, y.part, y.k, y.tee, {acols}, {bcols}, {ea} AS a_elev, {eb} AS b_elev,
       {geo} AS geometry
FROM y{join}
JOIN pipe_segments a ON a.id = y.aid
JOIN pipe_segments b ON b.id = y.bid
CROSS JOIN LATERAL (SELECT ST_LineLocatePoint(ST_Force2D(a.geom), y.p) AS fa,
                           ST_LineLocatePoint(ST_Force2D(b.geom), y.p) AS fb) f
{where}
ORDER BY y.aid, y.bid, y.part, y.k""").format(
        head=sql.SQL("WITH {},").format(cte) if has_area else sql.SQL("WITH"),
        join=join, cond=cond, tap=sql.Literal(TAP_TOLERANCE_M), acols=_cols("a", "a"),
        apart=sql.Literal(sorted(":".join(t) for t in apart)),
        bcols=_cols("b", "b"),
        ea=elevation_sql("a", sql.SQL("f.fa")), eb=elevation_sql("b", sql.SQL("f.fb")),
        geo=geojson_sql(sql.SQL("y.p"), geo[1], geo[2]) if geo[0] else sql.SQL("NULL"),
        where=sql.SQL("WHERE {}").format(in_area(sql.SQL("y.p"))) if has_area else sql.SQL(""))
    rows, unchecked = [], 0
    for _, group in groupby(cur.execute(q, [*aparams, classes, classes]),
                            key=lambda r: (r["aid"], r["bid"], r["part"])):
        pts = list(group)
        r = pts[0]
        if any(p["a_elev"] is None or p["b_elev"] is None for p in pts):
            if not r["tee"]:
                unchecked += 1
            continue
        gap, geom = _worst(pts, facts)
        if r["tee"] and gap <= TEE_HEIGHT_TOLERANCE_M:
            continue  # the sections meet at the tee (within the survey's height tolerance)
        rule = pick(rules, "vertical", _thing(r, "a", pcs), _thing(r, "b", pcs))
        if rule is UNCHECKED:
            unchecked += 1
            continue
        if rule is None:
            continue
        if round(gap, 3) < rule.required_m:
            rows.append(_row(r["a_code"], r["b_code"], "vertical", gap, rule, geom))
    return rows, unchecked


def _worst(pts: list[dict[str, Any]], facts: dict[str, ClassFacts]) -> tuple[float, Any]:
    """(clear distance, place) of a crossing, or the least along a shared stretch whose
    points ``pts`` come in order along it: outer wall to outer wall at each point, and where
    the centres swap between two points (the pipes pass through each other) the sections
    overlap by half their heights' sum there."""
    heights, refs = [], []
    for p in ("a", "b"):
        cf = facts.get(pts[0][f"{p}_pipe_class"])
        refs.append(cf.elevation_ref if cf else "top")
        heights.append(height_m(pts[0][f"{p}_diameter_mm"], pts[0][f"{p}_height_mm"]))
    half = (heights[0] + heights[1]) / 2
    best: tuple[float, Any] | None = None
    prev = None
    for r in pts:
        (abot, atop), (bbot, btop) = (vertical_extent(r[f"{p}_elev"], ref, h) for p, ref, h in
                                      zip(("a", "b"), refs, heights, strict=True))
        d = (abot + atop - bbot - btop) / 2  # centre of a above centre of b
        gap = abs(d) - half  # = bottom of the upper − top of the lower
        if prev is not None and (d > 0 > prev or d < 0 < prev):
            gap = -half
        if best is None or gap < best[0]:
            best = (gap, r["geometry"])
        prev = d
    assert best is not None
    return best


def _horizontal(cur, cte, aparams, rules, geo, reach_extra: float, pcs) -> tuple[list, int]:
    rows: list = []
    unchecked = 0
    has_area = cte is not None
    join, cond = _area_join("a", has_area)
    head = sql.SQL("WITH {} ").format(cte) if has_area else sql.SQL("")
    geo_sql = (geojson_sql(sql.SQL("ST_ShortestLine(ST_Force2D(a.geom), ST_Force2D(b.geom))"),
                           geo[1], geo[2]) if geo[0] else sql.SQL("NULL"))
    pipe_classes = classes_in(rules, "horizontal", building=False)
    if pipe_classes:
        other = (sql.SQL("(a.code < b.code OR NOT {})").format(in_area(sql.SQL("b.geom")))
                 if has_area
                 else sql.SQL("a.code < b.code"))
        q = sql.SQL("""{head}
SELECT {acols}, {bcols}, ST_Distance(a.geom, b.geom) AS dist, {geo} AS geometry
FROM pipe_segments a{join}
JOIN pipe_segments b ON b.valid_to IS NULL AND b.pipe_class = ANY(%s)
 AND ST_DWithin(a.geom, b.geom, %s) AND {other} AND NOT ST_Intersects(a.geom, b.geom)
WHERE a.valid_to IS NULL AND a.pipe_class = ANY(%s){cond}""").format(
            head=head, acols=_cols("a", "a"), bcols=_cols("b", "b"), geo=geo_sql, join=join,
            other=other, cond=cond)
        reach = max_required(rules, "horizontal", False) + reach_extra
        for found, n in (
                _too_near(cur.execute(q, [*aparams, pipe_classes, reach, pipe_classes]), rules,
                          pcs),
                _beside_after_meeting(cur, head, join, cond, other, aparams, rules, geo,
                                      pipe_classes, reach, pcs)):
            rows += found
            unchecked += n
    bclasses = classes_in(rules, "horizontal", building=True)
    if bclasses:
        geo_sql = (geojson_sql(sql.SQL("ST_ShortestLine(ST_Force2D(a.geom), bl.geom)"), geo[1],
                               geo[2])
                   if geo[0] else sql.SQL("NULL"))
        q = sql.SQL("""{head}
SELECT {acols}, bl.code AS b_code, ST_Distance(bl.geom, a.geom) AS dist, {geo} AS geometry
FROM pipe_segments a{join}
JOIN buildings bl ON bl.valid_to IS NULL AND ST_DWithin(bl.geom, a.geom, %s)
WHERE a.valid_to IS NULL AND a.pipe_class = ANY(%s){cond}""").format(
            head=head, acols=_cols("a", "a"), geo=geo_sql, join=join, cond=cond)
        reach = max_required(rules, "horizontal", True) + reach_extra / 2
        building = {"what": "building"}
        for r in cur.execute(q, [*aparams, reach, bclasses]):
            rule = pick(rules, "horizontal", _thing(r, "a", pcs), building)
            if rule is UNCHECKED:
                unchecked += 1
                continue
            if rule is None:
                continue
            gap = r["dist"] - width_m(r["a_diameter_mm"], r["a_width_mm"]) / 2
            if round(gap, 3) < rule.required_m:
                rows.append(_row(r["a_code"], r["b_code"], "horizontal", gap, rule,
                                 r["geometry"]))
    return rows, unchecked


def _beside_after_meeting(cur, head, join, cond, other, aparams, rules, geo,
                          pipe_classes: list[str], reach: float, pcs) -> tuple[list, int]:
    """Pipes that meet in plan (a crossing, a shared stretch) of two networks (no end point
    in common), checked in plan away from where they meet: beyond twice the reach (the
    largest horizontal clearance plus the widest pipe) of each meeting piece, the least
    distance of either pipe's rest to the other. A drain that crosses a main and then runs
    0.45 m beside it for 28 m was checked nowhere (the crossing vertically, the run not at
    all). A pipe crossing at less than ~30° runs within its clearance of the other beyond
    that distance: reported too, as pipes laid beside each other."""
    geo_sql = (geojson_sql(sql.SQL("d.line"), geo[1], geo[2]) if geo[0] else sql.SQL("NULL"))
    q = sql.SQL("""{head}
SELECT {acols}, {bcols}, d.dist, {geo} AS geometry
FROM pipe_segments a{join}
JOIN pipe_segments b ON b.valid_to IS NULL AND b.pipe_class = ANY(%s) AND {other}
 AND ST_Intersects(a.geom, b.geom)
 AND a.start_point_code NOT IN (b.start_point_code, b.end_point_code)
 AND a.end_point_code NOT IN (b.start_point_code, b.end_point_code)
CROSS JOIN LATERAL (SELECT ST_Force2D(a.geom) AS a2, ST_Force2D(b.geom) AS b2) g
CROSS JOIN LATERAL (SELECT ST_Buffer(ST_Intersection(g.a2, g.b2), %s) AS z) m
CROSS JOIN LATERAL (SELECT ST_Difference(g.a2, m.z) AS ar, ST_Difference(g.b2, m.z) AS br) r
CROSS JOIN LATERAL (
  SELECT CASE WHEN ST_IsEmpty(r.ar) THEN NULL ELSE ST_Distance(r.ar, g.b2) END AS da,
         CASE WHEN ST_IsEmpty(r.br) THEN NULL ELSE ST_Distance(r.br, g.a2) END AS db) e
CROSS JOIN LATERAL (
  SELECT least(e.da, e.db) AS dist,
         CASE WHEN e.db IS NULL OR e.da <= e.db THEN ST_ShortestLine(r.ar, g.b2)
              ELSE ST_ShortestLine(r.br, g.a2) END AS line) d
WHERE a.valid_to IS NULL AND a.pipe_class = ANY(%s){cond} AND d.dist < %s""").format(
        head=head, acols=_cols("a", "a"), bcols=_cols("b", "b"), geo=geo_sql, join=join,
        other=other, cond=cond)
    return _too_near(cur.execute(q, [*aparams, pipe_classes, 2 * reach, pipe_classes, reach]),
                     rules, pcs)


def _too_near(pairs, rules, pcs) -> tuple[list, int]:
    """The rows of pipe pairs (``dist``: plan distance of their centre lines) whose outer
    walls are nearer than their horizontal rule asks, and the number of pairs left
    unchecked (a pressure the rules do not grade)."""
    rows, unchecked = [], 0
    for r in pairs:
        rule = pick(rules, "horizontal", _thing(r, "a", pcs), _thing(r, "b", pcs))
        if rule is UNCHECKED:
            unchecked += 1
            continue
        if rule is None:
            continue
        gap = r["dist"] - (width_m(r["a_diameter_mm"], r["a_width_mm"])
                           + width_m(r["b_diameter_mm"], r["b_width_mm"])) / 2
        if round(gap, 3) < rule.required_m:
            rows.append(_row(r["a_code"], r["b_code"], "horizontal", gap, rule, r["geometry"]))
    return rows, unchecked


# the widest current section (m), per database and network version (layers.query.graph's:
# it changes only with a load or new rows): a scan of the whole layer, half of a small area's
# query on 300,000 segments, for a number that changes with loads only
_WIDEST_SQL = """
SELECT coalesce(max(greatest(coalesce(diameter_mm, 0), coalesce(width_mm, 0))), 0) / 1000.0
FROM pipe_segments WHERE valid_to IS NULL"""
_WIDEST: dict[str, tuple[tuple, float]] = {}


def _widest(conn) -> float:
    version = tuple(conn.execute(VERSION_SQL).fetchone())
    hit = _WIDEST.get(conn.info.dsn)
    if hit is not None and hit[0] == version:
        return hit[1]
    w = float(conn.execute(_WIDEST_SQL).fetchone()[0])
    _WIDEST[conn.info.dsn] = (version, w)
    return w


def clearance(conninfo: ConnOrInfo, area: Area | None = None, kind: str | None = None,
              profile: CityProfile | None = None, geometry: bool = False,
              out_crs: str | None = None) -> dict[str, Any]:
    """Pairs closer than GB 50289 allows, in ``area`` (None: the whole city).

    ``kind``: ``vertical`` (crossings), ``horizontal`` (neighbouring pipes, pipes and
    buildings) or None for both. ``geometry``: add each row's place as GeoJSON (the crossing
    point, or the shortest line between the two) in CRS84 or ``out_crs``. Returns
    ``{"rows": [{a_code, b_code, kind, clearance_m, required_m, verified}], "unchecked": n}``
    (a_code the pipe and b_code the building for pipe–building rows).

        clearance(conninfo, Area(bbox=(116.60, 35.34, 116.62, 35.36)), kind="horizontal")
    """
    if kind not in (None, "vertical", "horizontal"):
        raise InputError(f"--kind {kind!r}: vertical or horizontal")
    prof = resolve_profile(profile)
    rules = load_rules(prof)
    facts = class_facts(prof)
    pcs = pressure.classes(prof)
    with connection(conninfo) as conn:
        conn.execute(NO_JIT)
        srid = storage_srid(conn)
        cte, aparams = area_cte(conn, area, srid)
        cur = conn.cursor(row_factory=dict_row)
        rows: list = []
        unchecked = 0
        if kind in (None, "vertical"):
            rows, unchecked = _vertical(cur, cte, aparams, rules, facts,
                                        (geometry, out_crs, srid), pcs, apart_subclasses(prof))
        if kind in (None, "horizontal"):
            found, n = _horizontal(cur, cte, aparams, rules, (geometry, out_crs, srid),
                                   2 * _widest(conn), pcs)
            rows += found
            unchecked += n
    rows.sort(key=lambda r: (r["clearance_m"] - r["required_m"], r["kind"], r["a_code"],
                             r["b_code"]))
    return {"rows": rows, "unchecked": unchecked}


def run(conninfo: ConnOrInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """The process: JSON inputs (``PROCESS["inputs"]``) → the CLI's JSON result."""
    from layers.query.aoi import area_from

    return clearance(conninfo, area_from(inputs), inputs.get("kind"))


def _schema() -> dict[str, Any]:
    from layers.query.aoi import AOI_SCHEMA

    return {"type": "object", "additionalProperties": False, "properties": {
        **AOI_SCHEMA["properties"],
        "kind": {"type": "string", "enum": ["vertical", "horizontal"]}}}


PROCESS: dict[str, Any] = {
    "id": "clearance",
    "title": "Clearances (净距分析, GB 50289): pipe crossings and neighbours closer than the minimum",
    "description": ("Pipe crossings and parallel neighbours closer than the minimum clearance of GB 50289 (pipe_clearances.csv), within an area or the whole city; the CLI's cim query clearance."),
    "inputs": _schema(),
    "run": run, "pooled": True,
}
