"""Grading (算法评估定级): likelihood of each candidate, what stands around it, consequence,
level and colour by the matrix, and the measure's deadline.

Exposure is measured around the asset's geometry (the whole pipe, the site polygon; the point
itself for a point placed by hand) within the matrix's ``radius_m``, planar in the storage CRS:

- buildings: current buildings within the radius (count);
- residents: each district's latest year of ``population`` up to the assessment's year (a
  district delivered for a later year leaves the others their own figures), counted as the
  health check counts them
  (:mod:`layers.health.population`: per building where present, a grid cell only for what its
  buildings' rows do not hold, one row per unit); a point unit within the radius counts
  wholly, a polygon unit (building footprint or grid cell) within it (``ST_DWithin``) with the
  share of its area inside the radius: inside the asset's buffer, drawn with enough segments
  (``circle_segments``) that it lies at most ``CIRCLE_TOLERANCE_M`` (5 mm) inside the true
  circle (PostGIS's default 8 a quarter cut 0.48 m inside a 100 m circle: 417 of the 548
  residents of a home on the circle);
- facilities: the types of the current facilities within the radius (schools, hospitals …);
- roads: the classes of the roads within ``roads.radius_m``.

A base layer that does not exist or has no current feature (never loaded: the migrations make
every layer's table) adds nothing; the assessment names it in its notes when the matrix counts
it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cim import pressure
from layers.health.population import COUNTED
from layers.risk.config import RiskConfig
from layers.risk.generate import table_exists, write_back
from layers.risk.score import consequence, fixed_likelihood, pipe_likelihood


def _describe(layer: str | None, props: dict[str, Any], kind: str | None) -> str:
    p = props
    if layer == "pipe_segments":
        parts = [p.get("subclass_name") or p.get("class_name"), p.get("material"),
                 p.get("size_text") or (f"DN{p['diameter_mm']:g}" if p.get("diameter_mm")
                                        else None),
                 f"{p['year_built']}年" if p.get("year_built") else None, p.get("pressure"),
                 p.get("road")]
        if kind == "reverse_slope" and p.get("rise_m") is not None:
            parts.append(f"倒坡 {p['rise_m']} m")
    elif layer == "pipe_points":
        parts = [p.get("road"), p.get("point_no"),
                 f"地面高程 {p['ground_elevation']:.2f} m" if p.get("ground_elevation")
                 is not None else None,
                 f"周边中位 {p['local_median_m']} m" if p.get("local_median_m") is not None
                 else None]
    else:
        parts = [p.get("subclass_name"), p.get("name"), p.get("location"), p.get("state")]
    return " ".join(str(x) for x in parts if x not in (None, ""))


def score_likelihood(conn: psycopg.Connection, cfg: RiskConfig, year: int,
                     unknown_dropped: dict[str, int] | None = None) -> dict[str, int]:
    """Likelihood of the rule candidates; those that are no risk are dropped. Counts kept
    per rule id. ``unknown_dropped`` (filled when given): per rule id, the candidates dropped
    under ``min_likelihood`` while an input of theirs was unknown — a pipe whose grade rests on
    a default it does not show may be a risk all the same, so the assessment says how many."""
    rules = {r.id: r for r in cfg.rules}
    classes = pressure.classes(cfg.rules_path)  # the city's copy of the rules holds them too
    rows = conn.cursor(row_factory=dict_row).execute(
        "SELECT source_key, rule_id, asset_layer, props FROM _risk_cand "
        "WHERE source = 'rule'").fetchall()
    keep, drop, kept = [], [], {}
    for r in rows:
        rule = rules[r["rule_id"]]
        if rule.kind == "pipe_condition":
            lk, f = pipe_likelihood(rule, r["props"], year, classes)
        else:
            lk, f = fixed_likelihood(rule, r["props"])
        if lk is None:
            drop.append(r["source_key"])
            if unknown_dropped is not None and f.get("unknown"):
                unknown_dropped[rule.id] = unknown_dropped.get(rule.id, 0) + 1
            continue
        kept[rule.id] = kept.get(rule.id, 0) + 1
        keep.append({"source_key": r["source_key"], "likelihood": lk, "lfactors": f,
                     "description": _describe(r["asset_layer"], r["props"], rule.kind)})
    if drop:
        conn.execute("DELETE FROM _risk_cand WHERE source_key = ANY(%s)", (drop,))
    write_back(conn, keep, ["likelihood", "lfactors", "description"])
    return kept


CIRCLE_TOLERANCE_M = 0.005  # the buffer's chords lie at most this far inside the circle


def circle_segments(radius: float, tolerance: float = CIRCLE_TOLERANCE_M) -> int:
    """Segments a quarter circle (``quad_segs``) so that a chord of a circle of ``radius``
    lies at most ``tolerance`` inside it (79 for 100 m); at least PostGIS's default 8."""
    if radius <= tolerance:
        return 8
    return max(8, math.ceil(math.pi / (4 * math.acos(1 - tolerance / radius))))


def _has_rows(conn: psycopg.Connection, table: str) -> bool:
    """The base layer exists and has current features: every layer's table is made by the
    migrations, so one never loaded is there, empty — and it adds nothing just the same."""
    return table_exists(conn, table) and conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE valid_to IS NULL)").format(
            sql.Identifier(table))).fetchone()[0]


def measure_exposure(conn: psycopg.Connection, cfg: RiskConfig, year: int | None = None
                     ) -> list[str]:
    """Fill buildings / residents / facilities / road_classes of every candidate; the names of
    the base layers the matrix counts that are missing or empty (no current feature).
    ``year``: the assessment's (residents of no later year)."""
    c = cfg.matrix.consequence
    r = float(c["radius_m"])
    have = {t: _has_rows(conn, t) for t in ("buildings", "population", "facilities", "roads")}
    missing = [t for t, there in have.items() if c.get(t) and not there]
    if have["buildings"]:
        conn.execute("UPDATE _risk_cand c SET buildings = (SELECT count(*) FROM buildings b "
                     "WHERE b.valid_to IS NULL AND ST_DWithin(b.geom, c.ageom, %s))", (r,))
    if have["population"]:
        # the buffer drawn once a candidate (materialised), for the units within the radius;
        # a unit the buffer covers counts wholly without an intersection (most of them: the
        # intersections took 14 of the 20 s of 18,600 pipes among 20,000 homes)
        # the residents of the latest year as the health check counts them (per building
        # where present, a grid cell only for the rest: layers.health.population), indexed
        conn.execute("DROP TABLE IF EXISTS _risk_pop")
        # — each district's own latest year up to the assessment's: one city-wide latest
        # year left every district not delivered for it without residents. (The health
        # check's per-capita figure takes one year for all districts instead: a ratio
        # compared across districts must not mix years; a count of people near an asset
        # is better with a district's older figure than with none.)
        conn.execute(f"CREATE TEMP TABLE _risk_pop ON COMMIT DROP AS SELECT p.geom, "
                     f"p.residents FROM {COUNTED} p JOIN (SELECT district_code, max(year) AS y "
                     "FROM population WHERE valid_to IS NULL AND (%(year)s::int IS NULL OR "
                     "year <= %(year)s::int) GROUP BY district_code) l ON l.y = p.year AND "
                     "l.district_code IS NOT DISTINCT FROM p.district_code "
                     "WHERE p.residents > 0", {"year": year})
        conn.execute("CREATE INDEX ON _risk_pop USING gist (geom)")
        conn.execute("ANALYZE _risk_pop")
        conn.execute(
            "UPDATE _risk_cand c SET residents = (WITH z AS MATERIALIZED (SELECT "
            "ST_Buffer(c.ageom, %(r)s, %(q)s) AS disk) SELECT sum(CASE WHEN "
            "ST_Dimension(p.geom) = 2 AND NOT ST_Covers(z.disk, p.geom) THEN p.residents * "
            "ST_Area(ST_Intersection(p.geom, z.disk)) / NULLIF(ST_Area(p.geom), 0) "
            "ELSE p.residents END) FROM z, _risk_pop p "
            "WHERE ST_DWithin(p.geom, c.ageom, %(r)s))",
            {"r": r, "q": f"quad_segs={circle_segments(r)}"})
    if have["facilities"]:
        conn.execute("UPDATE _risk_cand c SET facilities = ARRAY(SELECT DISTINCT "
                     "f.facility_type FROM facilities f WHERE f.valid_to IS NULL AND "
                     "ST_DWithin(f.geom, c.ageom, %s) ORDER BY 1)", (r,))
    if have["roads"]:
        rr = float((c.get("roads") or {}).get("radius_m", 0))
        conn.execute("UPDATE _risk_cand c SET road_classes = ARRAY(SELECT DISTINCT "
                     "t.road_class FROM roads t WHERE t.valid_to IS NULL AND "
                     "ST_DWithin(t.geom, c.ageom, %s) ORDER BY 1)", (rr,))
    return missing


# each candidate with its current point, if any, and the level of its last grading
GRADED = (
    "SELECT c.source_key, c.source, c.likelihood, c.buildings, c.residents, c.facilities, "
    "c.road_classes, c.deadline, c.measure_status, c.code, r.level AS old_level, "
    "g.level AS graded_level, r.likelihood AS old_likelihood, "
    "r.consequence AS old_consequence, r.deadline AS old_deadline, "
    "r.measure_status AS old_status FROM _risk_cand c "
    "LEFT JOIN risk_points r ON r.valid_to IS NULL AND r.source_key = c.source_key "
    # risk_assessments.code is in the default collation, risk_points.code in "C": compared
    # in the index's (in "C" the look-up read the whole history once a point)
    "LEFT JOIN LATERAL (SELECT a.level FROM risk_assessments a WHERE "
    "a.code = r.code COLLATE \"default\" AND a.source <> 'alarm' "
    "ORDER BY a.run_id DESC, a.id DESC LIMIT 1) g ON true")


def grade(conn: psycopg.Connection, cfg: RiskConfig, today: dt.date) -> None:
    """Consequence, level, colour; a point whose level is unchanged keeps its deadline and
    measure status, a new or regraded one gets the level's deadline from ``today``. The level
    compared is the point's own — the one its last grading gave (``risk_assessments``, an
    assessment or its placing by hand), not the one an active alarm raised it to
    (:mod:`layers.risk.alarm`): an assessment during an alarm is no regrade; and not its
    stored likelihood × consequence read through today's matrix, which a city that edits its
    matrix changed too (一般 → 重大 kept the 180 days of 一般)."""
    m = cfg.matrix
    rows = conn.cursor(row_factory=dict_row).execute(GRADED).fetchall()
    out = []
    for r in rows:
        if r["old_level"] is None:
            pass
        elif r["graded_level"] is not None:
            r["old_level"] = r["graded_level"]
        elif r["old_likelihood"] and r["old_consequence"]:  # a point never recorded
            r["old_level"] = m.level(r["old_likelihood"], r["old_consequence"])[0]
        exposure = {"buildings": r["buildings"] or 0,
                    "residents": round(r["residents"] or 0.0, 1),
                    "facilities": r["facilities"] or [], "road_classes": r["road_classes"] or []}
        cons, f = consequence(m, exposure)
        level, color = m.level(r["likelihood"], cons)
        due = today + dt.timedelta(days=int(m.levels[level]["deadline_days"]))
        if r["old_level"] is not None:  # a point graded before, by a rule or by hand
            deadline = r["old_deadline"] if r["old_level"] == level else due
            status = r["old_status"] or m.initial_status
        elif r["source"] == "manual":  # placed now: the deadline given, else the level's
            deadline = r["deadline"] or due
            status = r["measure_status"] or m.initial_status
        else:
            deadline, status = due, m.initial_status
        out.append({"source_key": r["source_key"], "consequence": cons, "cfactors": f,
                    "level": level, "color": color, "deadline": deadline,
                    "measure_status": status})
    write_back(conn, out, ["consequence", "cfactors", "level", "color", "deadline",
                           "measure_status"])
