"""The named computations an indicator of the catalog may use (``computation.template``).

Each answers per district a :class:`~layers.health.parts.Part`: numerator, denominator, flags
and detail, from set-based SQL over current features (``valid_to IS NULL``) or, for distances,
the road-network coverage of :mod:`layers.health.service_coverage`. The catalog chooses among
these by name (:data:`TEMPLATES`) and gives their parameters (checked by
:mod:`layers.health.params`); nothing else runs. Areas and lengths are in the storage CRS
(metres).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from layers.health.parts import (
    Context,
    Part,
    Result,
    absent_districts,
    by_district,
    clipped,
    district_of,
    empty,
    fetch,
    no_data,
)
from layers.health.population import COUNTED
from layers.health.service_coverage import facility_walk_coverage, residential_service_coverage

TEMPLATES: dict[str, Callable[[Context, dict[str, Any]], Result]] = {}
# the computations whose value is a count (their Parts ``is_count``: 栋, printed whole); a
# stored row does not say it, so a stored year's report (layers.health.stored) reads it here
COUNT_TEMPLATES: set[str] = set()


def template(name: str, count: bool = False):
    def deco(fn):
        TEMPLATES[name] = fn
        if count:
            COUNT_TEMPLATES.add(name)
        return fn
    return deco


# km of road in each district, every metre counted once across the districts: clipped to
# the district, less half of what lies in it and in a neighbour too (the shared boundary),
# measured per pair as L(r ∩ a) + L(r ∩ b) − L(r ∩ (a ∪ b)) — polygon overlays only, no
# line-on-line matching of the road with the boundary; a stretch outside every district that
# lies within the tolerance of districts (a sliver where their polygons do not meet) shared
# equally among them
_ROAD_KM = """
WITH d AS (SELECT code, geom FROM admin_divisions WHERE valid_to IS NULL),
own AS (SELECT d.code, ST_Area(d.geom) AS area,
               coalesce(sum(ST_Length(ST_Intersection(f.geom, d.geom))), 0) AS len
        FROM d LEFT JOIN roads f ON f.valid_to IS NULL AND ST_Intersects(f.geom, d.geom)
        GROUP BY d.code, d.geom),
pair AS (SELECT a.code AS a, b.code AS b, a.geom AS ag, b.geom AS bg,
                ST_Union(a.geom, b.geom) AS ug
         FROM d a JOIN d b ON a.code < b.code AND ST_Intersects(a.geom, b.geom)),
shared AS (SELECT p.a, p.b, greatest(0, sum(ST_Length(ST_Intersection(f.geom, p.ag))
                   + ST_Length(ST_Intersection(f.geom, p.bg))
                   - ST_Length(ST_Intersection(f.geom, p.ug)))) AS len
           FROM pair p JOIN roads f ON f.valid_to IS NULL AND ST_Intersects(f.geom, p.ag)
             AND ST_Intersects(f.geom, p.bg) GROUP BY p.a, p.b),
u AS MATERIALIZED (SELECT ST_Union(geom) AS g FROM d),
gap AS (SELECT row_number() OVER () AS n, q.g FROM (
            SELECT (ST_Dump(ST_Difference(f.geom, u.g))).geom AS g FROM roads f, u
            WHERE f.valid_to IS NULL AND ST_DWithin(f.geom, u.g, %(tol)s)
              AND NOT ST_CoveredBy(f.geom, u.g)) q WHERE ST_Dimension(q.g) = 1),
db AS MATERIALIZED (SELECT code, geom, ST_Buffer(geom, %(tol)s) AS bg FROM d),
near AS (SELECT g.n, ST_Length(g.g) AS len, db.code FROM gap g JOIN db
         ON ST_DWithin(g.g, db.geom, %(tol)s) AND ST_Covers(db.bg, g.g)),
gap_share AS (SELECT code, sum(len / k) AS len FROM (
                SELECT code, len, count(*) OVER (PARTITION BY n) AS k FROM near) q
              GROUP BY code)
SELECT o.code, (o.len - 0.5 * coalesce((SELECT sum(s.len) FROM shared s
                                         WHERE o.code IN (s.a, s.b)), 0)
                + coalesce(g.len, 0)) / 1000.0,
       o.area, coalesce((SELECT sum(s.len) FROM shared s WHERE o.code IN (s.a, s.b)), 0),
       coalesce(g.len, 0)
FROM own o LEFT JOIN gap_share g ON g.code = o.code"""


@template("road_network_density")
def road_network_density(ctx: Context, params: dict) -> Result:
    """km of road centre line inside the district per km² of district.

    Every metre of road counts once across the districts: a stretch lying in two districts'
    polygons — along their shared boundary (or in an overlap of the two) — counts half in
    each; a road on the city's outer boundary counts wholly in its district. So the
    districts' lengths add up to the road length inside the city, and the city value is that
    length over the city's area. ``detail.shared_boundary_m``: the length shared with
    neighbours (half of it counted here).

    District polygons that should meet often leave slivers (surveyed boundaries, a road drawn
    on the boundary between them): a stretch of road outside every district that lies wholly
    within ``district_gap_m`` (the catalog's settings, default 1 m) of districts is shared
    equally among them (``detail.gap_m``: the length counted here that way) — along a
    boundary digitised 2 cm apart half in each, as on one shared line. A stretch in a wider
    gap (outside the city, another jurisdiction between districts) counts nowhere, as it
    lies in no district's area."""
    if empty(ctx, "roads"):
        return no_data(ctx, "roads")
    tol = float(ctx.settings.get("district_gap_m", 1.0))
    absent = absent_districts(ctx, "roads")
    return {code: Part(None, flags={"no_roads"}) if code in absent else
            Part(float(km), float(area) / 1e6,
                 detail={"shared_boundary_m": round(float(shared), 2),
                         "gap_m": round(float(gap), 2)})
            for code, km, area, shared, gap in fetch(ctx, _ROAD_KM, {"tol": tol})}


@template("green_space_ratio")
def green_space_ratio(ctx: Context, params: dict) -> Result:
    """Green-space area (overlaps counted once) inside the district over its area."""
    return clipped(ctx, "green_spaces",
                   "coalesce(ST_Area(ST_Intersection(ST_Union(f.geom), d.geom)), 0)")


@template("building_density")
def building_density(ctx: Context, params: dict) -> Result:
    """Building footprint area (overlaps counted once) inside the district over its area."""
    return clipped(ctx, "buildings",
                   "coalesce(ST_Area(ST_Intersection(ST_Union(f.geom), d.geom)), 0)")


@template("development_intensity")
def development_intensity(ctx: Context, params: dict) -> Result:
    """Construction-land parcels (land-use code prefixes) inside the district over its area.

    A prefix is any leading part of a land_use.csv code: a major class (``07`` 居住用地) or a
    class of it (``1208``); only the two-digit ones were compared, so a catalog naming a
    four-digit class counted none of its parcels."""
    return clipped(ctx, "planning_parcels",
                   "coalesce(ST_Area(ST_Intersection(ST_Union(f.geom), d.geom)), 0)",
                   "AND EXISTS (SELECT 1 FROM unnest(%(prefixes)s::text[]) AS x(p)"
                   " WHERE starts_with(f.land_use_code, x.p))",
                   {"prefixes": list(params.get("construction_prefixes") or [])})


def population_year(years: dict[str, list[int]], check_year: int) -> int | None:
    """The one population year a per-capita indicator takes for every district.

    ``years``: each district's years of current population rows up to the check year. The
    check year where every district with population has it; else the latest year they all
    have (each district's own latest year mixed, say, 2026 in one district with 2024 in
    another: the city's figure summed residents of different years, and two districts'
    values compared were no comparison); else — no year in common — the check year where
    some district has it, else the latest year any has. A district without rows of the
    chosen year gets no value (flagged), never another year's residents. ``None``: no
    population at all."""
    have = [set(ys) for ys in years.values() if ys]
    if not have:
        return None
    common = set.intersection(*have)
    if check_year in common:
        return check_year
    if common:
        return max(common)
    every = set.union(*have)
    return check_year if check_year in every else max(every)


# each current district's residents per year up to the check year, by where the units lie
# now. A row loaded after its district's current polygon (the common case) is in the
# district it was loaded into, wholly, as the loader placed it (no geometry: a sum); a row
# older than its district's polygon, or of a district that is no more, by its geometry: a
# unit inside a district wholly, one a boundary cuts by the share of its area inside (as the
# park area is clipped). The district_code alone named the district of the day the row was
# loaded — after a boundary change the park area followed the new boundary and the
# residents stayed behind
_RESIDENTS = f"""
WITH p AS MATERIALIZED (
  SELECT p.year, p.residents, p.geom, d.code AS placed FROM {COUNTED} p
  LEFT JOIN admin_divisions d ON d.valid_to IS NULL AND d.code = p.district_code
    AND d.valid_from < p.valid_from
  WHERE p.year <= %(year)s)
SELECT code, year, sum(residents * share) FROM (
  SELECT placed AS code, year, residents, 1.0 AS share FROM p WHERE placed IS NOT NULL
  UNION ALL
  SELECT d.code, p.year, p.residents,
         CASE WHEN ST_Covers(d.geom, p.geom) THEN 1.0
              WHEN ST_Area(p.geom) > 0 THEN ST_Area(ST_Intersection(p.geom, d.geom))
                                            / ST_Area(p.geom) ELSE 0 END
  FROM p JOIN admin_divisions d ON d.valid_to IS NULL AND ST_Intersects(p.geom, d.geom)
  WHERE p.placed IS NULL) q
GROUP BY code, year HAVING bool_or(share > 0)"""


@template("park_area_per_capita")
def park_area_per_capita(ctx: Context, params: dict) -> Result:
    """Park area (green_spaces.is_park) per resident, the residents of one year for every
    district (:func:`population_year`, ``detail.population_year``; an earlier year than the
    check's flagged ``population_of_earlier_year``). A district with population of other
    years but none of that one has no value, flagged ``no_population_of_year`` with its own
    latest year in ``detail.latest_population_year`` (deliver its figure of that year);
    a district without any population, ``no_population``. Either is left out of the city's
    figure.

    Residents are counted by :mod:`layers.health.population`'s rule: per building where
    present, a grid cell only for what its buildings' rows do not hold, one row per unit; a
    district's are those of the units inside its current polygon (a unit its boundary cuts
    by the share of its area inside; a row loaded since that polygon, where the loader put
    it: :data:`_RESIDENTS`), as its park area is.

    The park area inside the district, clipped to its polygon as 建成区绿地率 is (overlaps
    counted once): a park across two districts gives each the part inside it, whichever
    district the loader assigned it; a part outside every district counts nowhere."""
    if empty(ctx, "green_spaces"):
        return no_data(ctx, "green_spaces")
    parks = dict(fetch(ctx, (
        "SELECT d.code,"
        " (SELECT coalesce(ST_Area(ST_Intersection(ST_Union(g.geom), d.geom)), 0)"
        "   FROM green_spaces g WHERE g.valid_to IS NULL AND g.is_park"
        "   AND ST_Intersects(g.geom, d.geom))"
        " FROM admin_divisions d WHERE d.valid_to IS NULL")))
    # residents per district and year, by where the units lie in the current districts
    pop: dict[str, dict[int, float]] = {code: {} for code in parks}
    for code, y, n in fetch(ctx, _RESIDENTS):
        pop[code][y] = float(n)
    year = population_year({code: list(ys) for code, ys in pop.items()}, ctx.year)
    out = {}
    for code, area in parks.items():
        years = list(pop[code])
        n = pop[code].get(year)
        # no population of the year for the district: no denominator (left out of the
        # city's figure); residents of 0 loaded: 0 (its parks count for the city's residents)
        part = Part(float(area), None if n is None else float(n),
                    detail={"population_year": year})
        if not years:
            part.flags.add("no_population")
        elif n is None:
            part.flags.add("no_population_of_year")
            part.detail["latest_population_year"] = max(years)
        elif not n:
            part.flags.add("no_residents")
        if n is not None and year != ctx.year:
            part.flags.add("population_of_earlier_year")
        out[code] = part
    return out


@template("new_high_rise_residential", count=True)
def new_high_rise_residential(ctx: Context, params: dict) -> Result:
    """Residential buildings (building_use.csv's residential uses) over ``min_height_m`` built
    within ``window_years`` to the year.
    No buildings loaded: no value (a count of 0 would read as met). Homes the count cannot
    judge are flagged, not taken as low or old: built in the window without a height
    (``height_unknown``), or over the height without a year built (``year_built_unknown``);
    ``detail`` counts them — a city whose buildings carry floors but no height read 0, met."""
    if empty(ctx, "buildings"):
        return no_data(ctx, "buildings")
    rows = fetch(ctx, (
        "SELECT d.code, count(b.id) FILTER (WHERE b.height > %(h)s AND b.year_built <= %(year)s"
        "   AND b.year_built > %(year)s - %(w)s),"
        " count(b.id) FILTER (WHERE b.height IS NULL AND b.year_built <= %(year)s"
        "   AND b.year_built > %(year)s - %(w)s),"
        " count(b.id) FILTER (WHERE b.height > %(h)s AND b.year_built IS NULL)"
        " FROM admin_divisions d LEFT JOIN (SELECT " + district_of("x") + " AS dc, x.*"
        "   FROM buildings x WHERE x.valid_to IS NULL AND x.use_code = ANY(%(uses)s)) b"
        " ON b.dc = d.code WHERE d.valid_to IS NULL GROUP BY d.code"),
        {"h": float(params.get("min_height_m", 80)), "w": int(params.get("window_years", 1)),
         "uses": ctx.residential_uses})
    absent = absent_districts(ctx, "buildings")
    out = {}
    for code, n, no_height, no_year in rows:
        if code in absent:  # no building of any use: not delivered, not "no high-rise"
            out[code] = Part(None, is_count=True, flags={"no_buildings"})
            continue
        part = Part(float(n), is_count=True,
                    detail={"height_unknown": no_height, "year_built_unknown": no_year})
        if no_height:
            part.flags.add("height_unknown")
        if no_year:
            part.flags.add("year_built_unknown")
        out[code] = part
    return out



@template("pipe_aging_rate")
def pipe_aging_rate(ctx: Context, params: dict) -> Result:
    """Length past its class's design life over the length with a known year, per class.

    A year built after the check year (a typo, 2062, or a check of a past year) gives no age
    in it: counted with the unknown years (as the risk score does), not as a known pipe of
    negative age that lowered the rate."""
    if empty(ctx, "pipe_segments"):
        return no_data(ctx, "pipe_segments")
    lives = {str(k): int(v) for k, v in (ctx.settings.get("pipe_design_life_years") or
                                         {}).items()}
    rows = fetch(ctx, (
        "SELECT " + district_of("f") + ", pipe_class,"
        " coalesce(sum(coalesce(length_m, ST_Length(geom))) FILTER (WHERE year_built IS NOT NULL"
        "   AND year_built <= %(year)s"
        "   AND %(year)s - year_built > (%(lives)s::jsonb ->> pipe_class)::int), 0),"
        " coalesce(sum(coalesce(length_m, ST_Length(geom))) FILTER (WHERE year_built IS NOT NULL"
        "   AND year_built <= %(year)s AND %(lives)s::jsonb ? pipe_class), 0),"
        " coalesce(sum(coalesce(length_m, ST_Length(geom))) FILTER (WHERE year_built IS NULL"
        "   OR year_built > %(year)s), 0)"
        " FROM pipe_segments f WHERE valid_to IS NULL GROUP BY 1, 2"),
        {"lives": json.dumps(lives)})

    def build(rs):
        detail = {cls: {"aged_m": round(a, 2), "known_m": round(k, 2), "unknown_year_m": round(u, 2),
                        "design_life_years": lives.get(cls)} for cls, a, k, u in rs}
        part = Part(sum(r[1] for r in rs), sum(r[2] for r in rs), detail={"by_class": detail})
        if any(r[3] for r in rs):
            part.flags.add("year_built_unknown")
        return part
    return by_district(ctx, rows, build, "no_pipe_segments")


@template("combined_sewer_share")
def combined_sewer_share(ctx: Context, params: dict) -> Result:
    """Length of combined-sewer drainage over all drainage length."""
    if empty(ctx, "pipe_segments"):
        return no_data(ctx, "pipe_segments")
    rows = fetch(ctx, (
        "SELECT " + district_of("f") + ","
        " coalesce(sum(coalesce(length_m, ST_Length(geom))) FILTER (WHERE subclass_code = %(s)s),"
        " 0), sum(coalesce(length_m, ST_Length(geom)))"
        " FROM pipe_segments f WHERE valid_to IS NULL AND pipe_class = %(c)s GROUP BY 1"),
        {"c": str(params.get("drainage_class", "02")),
         "s": str(params.get("combined_subclass", "03"))})
    return by_district(ctx, rows, lambda rs: Part(sum(r[0] for r in rs),
                                                  sum(r[1] for r in rs) or None),
                       "no_drainage_pipes")


@template("component_intact_rate")
def component_intact_rate(ctx: Context, params: dict) -> Result:
    """Components in the intact state over components with a state."""
    if empty(ctx, "components"):
        return no_data(ctx, "components")
    rows = fetch(ctx, (
        "SELECT " + district_of("f") + ", count(*) FILTER (WHERE state = %(s)s),"
        " count(*) FILTER (WHERE state IS NOT NULL), count(*) FILTER (WHERE state IS NULL)"
        " FROM components f WHERE valid_to IS NULL GROUP BY 1"),
        {"s": str(params.get("intact_state", "完好"))})

    def build(rs):
        n_none = sum(r[2] for r in rs)
        part = Part(float(sum(r[0] for r in rs)), float(sum(r[1] for r in rs)) or None,
                    detail={"without_state": n_none})
        if n_none:
            part.flags.add("state_unknown")
        return part
    return by_district(ctx, rows, build, "no_components")


# the road-network coverages, computed in layers.health.service_coverage
template("residential_service_coverage")(residential_service_coverage)
template("facility_walk_coverage")(facility_walk_coverage)
