"""The named computations an indicator of the catalog may use (``computation.template``).

Each answers per district a :class:`Part`: numerator, denominator, flags and detail, from
set-based SQL over current features (``valid_to IS NULL``) or, for distances, the road-network
coverage of :mod:`layers.health.distance`. The catalog chooses among these by name and gives
their parameters; nothing else runs. Areas and lengths are in the storage CRS (metres).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from cim.profile import CityProfile
from layers.health.population import COUNTED


@dataclass
class Part:
    """One district's (or the city's) share of an indicator before scaling."""

    num: float | None
    den: float | None = None  # None or 0 (not a count): no value
    flags: set[str] = field(default_factory=set)
    detail: dict[str, Any] = field(default_factory=dict)
    # sub-indicators whose mean is the value (facility types): {key: [num, den]}
    sub: dict[str, list[float]] | None = None
    is_count: bool = False  # the value is the numerator itself


@dataclass
class Context:
    conn: psycopg.Connection
    year: int
    profile: CityProfile | None
    settings: dict[str, Any]
    districts: list[str]
    _graph: Any = None
    _targets: Any = None

    def graph(self):
        from layers.health.distance import road_graph

        if self._graph is None:
            self._graph = road_graph(self.conn)
        return self._graph

    def targets(self):
        from layers.health.distance import residential_targets

        if self._targets is None:
            self._targets = residential_targets(self.conn, self.residential_uses)
        return self._targets

    @property
    def residential_uses(self) -> list[str]:
        """The building uses of homes (住宅, 商住混合): ``residential`` of the city's
        building_use.csv, where the population loader takes residents too."""
        from cim.profile import residential_uses

        return list(residential_uses(self.profile))

    @property
    def snap_m(self) -> float:
        return float(self.settings.get("road_snap_m", 100))


Result = dict[str, Part]
TEMPLATES: dict[str, Callable[[Context, dict[str, Any]], Result]] = {}


def template(name: str):
    def deco(fn):
        TEMPLATES[name] = fn
        return fn
    return deco


def district_of(a: str) -> str:
    """SQL: the current district of the feature aliased ``a`` (its ``district_code`` and
    ``geom``). The district a feature was given when it was loaded while it still lies in that
    district's current polygon (so nothing moves while boundaries stay as they were); else —
    the boundary changed under it, a new version of the districts — the district its
    representative point lies in now (else any it touches, the lowest code; else the stored
    one). Counted by the stored code, a pipe or component in a strip handed to the
    neighbouring district stayed in the old one, whose row is stored and mapped with the new
    polygon, while the area indicators clipped to the new one."""
    # a feature loaded after its district's current polygon was placed against it: no
    # geometry test (a correlated ST_Intersects per feature took 0.3 ms a pipe)
    return (f"CASE WHEN EXISTS (SELECT 1 FROM admin_divisions cd WHERE cd.valid_to IS NULL"
            f" AND cd.code = {a}.district_code AND CASE WHEN cd.valid_from < {a}.valid_from"
            f" THEN true ELSE ST_Intersects(cd.geom, {a}.geom) END)"
            f" THEN {a}.district_code ELSE coalesce("
            "(SELECT cd.code FROM admin_divisions cd WHERE cd.valid_to IS NULL AND"
            f" ST_Intersects(cd.geom, ST_PointOnSurface({a}.geom)) ORDER BY cd.code LIMIT 1),"
            "(SELECT cd.code FROM admin_divisions cd WHERE cd.valid_to IS NULL AND"
            f" ST_Intersects(cd.geom, {a}.geom) ORDER BY cd.code LIMIT 1),"
            f" {a}.district_code) END")


def _rows(ctx: Context, query: str, params: dict | None = None) -> list[tuple]:
    return ctx.conn.execute(query, {"year": ctx.year, **(params or {})}).fetchall()


# clipped to each district's polygon: {measure} over the features of {table} meeting {where}
_CLIPPED = (
    "SELECT d.code, {measure}, ST_Area(d.geom) FROM admin_divisions d"
    " LEFT JOIN {table} f ON f.valid_to IS NULL AND ST_Intersects(f.geom, d.geom) {where}"
    " WHERE d.valid_to IS NULL GROUP BY d.code, d.geom")


def _empty(ctx: Context, table: str) -> bool:
    """No current feature in ``table``: the layer is not loaded, so its indicators have no
    value (flagged ``no_<table>``) rather than a misleading 0."""
    return not _rows(ctx, f"SELECT 1 FROM {table} WHERE valid_to IS NULL LIMIT 1")


def _no_data(ctx: Context, table: str) -> Result:
    return {d: Part(None, flags={f"no_{table}"}) for d in ctx.districts}


def _absent(ctx: Context, table: str) -> set[str]:
    """The districts no current feature of ``table`` lies in: the layer was delivered for
    the others only. Their share would read 0 — a district without its buildings loaded was
    建筑密度 0 %, met, and scored best in the index — so it has no value, flagged
    ``no_<table>``, and is left out of the city's figure, as a layer absent everywhere is."""
    return {r[0] for r in _rows(ctx, (
        "SELECT d.code FROM admin_divisions d WHERE d.valid_to IS NULL AND NOT EXISTS"
        f" (SELECT 1 FROM {table} f WHERE f.valid_to IS NULL AND ST_Intersects(f.geom, d.geom))"
    ))}


def _clipped(ctx: Context, table: str, measure: str, where: str = "", params=None,
             den_scale: float = 1.0) -> Result:
    if _empty(ctx, table):
        return _no_data(ctx, table)
    absent = _absent(ctx, table)
    rows = _rows(ctx, _CLIPPED.format(table=table, measure=measure, where=where), params)
    return {r[0]: Part(None, flags={f"no_{table}"}) if r[0] in absent else
            Part(float(r[1] or 0), float(r[2]) / den_scale) for r in rows}


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
    if _empty(ctx, "roads"):
        return _no_data(ctx, "roads")
    tol = float(ctx.settings.get("district_gap_m", 1.0))
    absent = _absent(ctx, "roads")
    return {code: Part(None, flags={"no_roads"}) if code in absent else
            Part(float(km), float(area) / 1e6,
                 detail={"shared_boundary_m": round(float(shared), 2),
                         "gap_m": round(float(gap), 2)})
            for code, km, area, shared, gap in _rows(ctx, _ROAD_KM, {"tol": tol})}


@template("green_space_ratio")
def green_space_ratio(ctx: Context, params: dict) -> Result:
    """Green-space area (overlaps counted once) inside the district over its area."""
    return _clipped(ctx, "green_spaces",
                    "coalesce(ST_Area(ST_Intersection(ST_Union(f.geom), d.geom)), 0)")


@template("building_density")
def building_density(ctx: Context, params: dict) -> Result:
    """Building footprint area (overlaps counted once) inside the district over its area."""
    return _clipped(ctx, "buildings",
                    "coalesce(ST_Area(ST_Intersection(ST_Union(f.geom), d.geom)), 0)")


@template("development_intensity")
def development_intensity(ctx: Context, params: dict) -> Result:
    """Construction-land parcels (land-use code prefixes) inside the district over its area.

    A prefix is any leading part of a land_use.csv code: a major class (``07`` 居住用地) or a
    class of it (``1208``); only the two-digit ones were compared, so a catalog naming a
    four-digit class counted none of its parcels."""
    return _clipped(ctx, "planning_parcels",
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
    if _empty(ctx, "green_spaces"):
        return _no_data(ctx, "green_spaces")
    parks = dict(_rows(ctx, (
        "SELECT d.code,"
        " (SELECT coalesce(ST_Area(ST_Intersection(ST_Union(g.geom), d.geom)), 0)"
        "   FROM green_spaces g WHERE g.valid_to IS NULL AND g.is_park"
        "   AND ST_Intersects(g.geom, d.geom))"
        " FROM admin_divisions d WHERE d.valid_to IS NULL")))
    # residents per district and year, by where the units lie in the current districts
    pop: dict[str, dict[int, float]] = {code: {} for code in parks}
    for code, y, n in _rows(ctx, _RESIDENTS):
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


@template("new_high_rise_residential")
def new_high_rise_residential(ctx: Context, params: dict) -> Result:
    """Residential buildings (building_use.csv's residential uses) over ``min_height_m`` built
    within ``window_years`` to the year.
    No buildings loaded: no value (a count of 0 would read as met). Homes the count cannot
    judge are flagged, not taken as low or old: built in the window without a height
    (``height_unknown``), or over the height without a year built (``year_built_unknown``);
    ``detail`` counts them — a city whose buildings carry floors but no height read 0, met."""
    if _empty(ctx, "buildings"):
        return _no_data(ctx, "buildings")
    rows = _rows(ctx, (
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
    absent = _absent(ctx, "buildings")
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


def _by_district(ctx: Context, rows: list[tuple], build, none_flag: str) -> Result:
    """Group rows (district_code first) into Parts; every district gets one — a district
    without rows none (no value), flagged ``none_flag`` to say why."""
    groups: dict[str, list[tuple]] = {d: [] for d in ctx.districts}
    for r in rows:
        if r[0] in groups:
            groups[r[0]].append(r[1:])
    return {d: build(rs) if rs else Part(None, flags={none_flag}) for d, rs in groups.items()}


@template("pipe_aging_rate")
def pipe_aging_rate(ctx: Context, params: dict) -> Result:
    """Length past its class's design life over the length with a known year, per class.

    A year built after the check year (a typo, 2062, or a check of a past year) gives no age
    in it: counted with the unknown years (as the risk score does), not as a known pipe of
    negative age that lowered the rate."""
    if _empty(ctx, "pipe_segments"):
        return _no_data(ctx, "pipe_segments")
    lives = {str(k): int(v) for k, v in (ctx.settings.get("pipe_design_life_years") or
                                         {}).items()}
    rows = _rows(ctx, (
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
    return _by_district(ctx, rows, build, "no_pipe_segments")


@template("combined_sewer_share")
def combined_sewer_share(ctx: Context, params: dict) -> Result:
    """Length of combined-sewer drainage over all drainage length."""
    if _empty(ctx, "pipe_segments"):
        return _no_data(ctx, "pipe_segments")
    rows = _rows(ctx, (
        "SELECT " + district_of("f") + ","
        " coalesce(sum(coalesce(length_m, ST_Length(geom))) FILTER (WHERE subclass_code = %(s)s),"
        " 0), sum(coalesce(length_m, ST_Length(geom)))"
        " FROM pipe_segments f WHERE valid_to IS NULL AND pipe_class = %(c)s GROUP BY 1"),
        {"c": str(params.get("drainage_class", "02")),
         "s": str(params.get("combined_subclass", "03"))})
    return _by_district(ctx, rows, lambda rs: Part(sum(r[0] for r in rs),
                                                   sum(r[1] for r in rs) or None),
                        "no_drainage_pipes")


@template("component_intact_rate")
def component_intact_rate(ctx: Context, params: dict) -> Result:
    """Components in the intact state over components with a state."""
    if _empty(ctx, "components"):
        return _no_data(ctx, "components")
    rows = _rows(ctx, (
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
    return _by_district(ctx, rows, build, "no_components")


# -- distances (layers/health/distance.py) -------------------------------------------------
def facility_types(profile: CityProfile | None) -> list[dict[str, str]]:
    """The facility types (the profile's facility_types.csv, else the platform's)."""
    from cim.profile import DICTIONARY_DIR, read_csv_dictionary

    if profile is not None:
        return profile.dictionary("facility_types")
    return read_csv_dictionary(DICTIONARY_DIR / "facility_types.csv")


def _facility_types(ctx: Context) -> list[dict[str, str]]:
    return facility_types(ctx.profile)


def find_facility_type(types: list[dict[str, str]], key: str) -> dict[str, str] | None:
    return next((t for t in types if key in (t.get("type_code"), t.get("code"),
                                             t.get("name_zh"))), None)


def _facility_type(ctx: Context, key: str) -> dict[str, str]:
    t = find_facility_type(_facility_types(ctx), key)
    if t is None:  # the catalog is checked against the dictionary when it is read
        raise KeyError(f"facility type {key!r} is not in facility_types.csv")
    return t


def _sources(ctx: Context, tier: dict) -> tuple[list, float]:
    import shapely

    if tier.get("source") == "parks":
        rows = _rows(ctx, (
            "SELECT ST_AsBinary(geom) FROM green_spaces WHERE valid_to IS NULL AND is_park"
            " AND area_m2 >= %(lo)s AND area_m2 < %(hi)s ORDER BY id"),
            {"lo": float(tier.get("min_area_m2", 0)),
             "hi": float(tier.get("max_area_m2", float("inf")))})
        dmax = float(tier["distance_m"])
    else:
        t = _facility_type(ctx, str(tier["facility_type"]))
        rows = _rows(ctx, (
            "SELECT ST_AsBinary(geom) FROM facilities WHERE valid_to IS NULL AND"
            " (facility_type_code IN (%(c)s, %(tc)s) OR facility_type = %(n)s) ORDER BY id"),
            {"c": t.get("code"), "tc": t.get("type_code"), "n": t.get("name_zh")})
        dmax = float(tier.get("distance_m") or t["walk_distance_m"])
    return [shapely.from_wkb(bytes(r[0])) for r in rows], dmax


def _coverage(ctx: Context, tiers: list[dict]) -> dict[str | None, dict[str, float]]:
    from layers.health.distance import coverage

    return coverage(ctx.graph(), ctx.targets(), [_sources(ctx, t) for t in tiers], ctx.snap_m)


def _method(c: dict[str, float]) -> str:
    if c["straight_line"] and c["network"]:
        return "mixed"
    return "straight_line" if c["straight_line"] else "network"


@template("residential_service_coverage")
def residential_service_coverage(ctx: Context, params: dict) -> Result:
    """Residential footprint area covered by any tier over all residential footprint area."""
    for table in {"green_spaces" if t.get("source") == "parks" else "facilities"
                  for t in params.get("tiers") or []}:
        if _empty(ctx, table):
            return _no_data(ctx, table)
    if _empty(ctx, "buildings"):
        return _no_data(ctx, "buildings")
    unloaded = _absent(ctx, "buildings")
    cov = _coverage(ctx, list(params.get("tiers") or []))
    out = {}
    for d in ctx.districts:
        c = cov.get(d, {"covered": 0.0, "total": 0.0, "network": 0, "straight_line": 0})
        part = Part(c["covered"], c["total"] or None,
                    detail={"method": _method(c), "buildings_network": c["network"],
                            "buildings_straight_line": c["straight_line"]})
        if c["straight_line"]:
            part.flags.add("straight_line")
        if not c["total"]:  # say why there is no value
            part.flags |= _no_homes(d, unloaded)
        out[d] = part
    return out


def _no_homes(district: str, unloaded: set[str]) -> set[str]:
    """Why a district has no residential land to cover: none of its buildings is a home
    (``no_residential_buildings``), or no building of any use lies in it — the layer was not
    delivered for it — ``no_buildings`` too, as the area indicators flag it. Both read only
    ``no_residential_buildings``: a district, or a city, whose buildings were not loaded was
    told it had no homes."""
    return {"no_residential_buildings"} | ({"no_buildings"} if district in unloaded else set())


@template("facility_walk_coverage")
def facility_walk_coverage(ctx: Context, params: dict) -> Result:
    """Per facility type of the life circles, the residential area within its walking
    distance of one; the value is the mean of the types' shares."""
    if _empty(ctx, "facilities"):
        return _no_data(ctx, "facilities")
    if _empty(ctx, "buildings"):
        return _no_data(ctx, "buildings")
    unloaded = _absent(ctx, "buildings")
    circles = {int(x) for x in params.get("life_circles") or (5, 10, 15)}
    exclude = set(params.get("exclude_types") or ())
    types = [t for t in _facility_types(ctx)
             if (t.get("life_circle_minutes") or "").isdigit()
             and int(t["life_circle_minutes"]) in circles and t.get("type_code") not in exclude]
    out = {d: Part(None, None, sub={}, detail={"types": {}}) for d in ctx.districts}
    for t in types:
        cov = _coverage(ctx, [{"source": "facilities", "facility_type": t["type_code"]}])
        for d, part in out.items():
            c = cov.get(d, {"covered": 0.0, "total": 0.0, "network": 0, "straight_line": 0})
            part.sub[t["type_code"]] = [c["covered"], c["total"]]
            part.detail["types"][t["type_code"]] = {
                "name_zh": t.get("name_zh"), "life_circle_minutes": int(t["life_circle_minutes"]),
                "walk_distance_m": float(t["walk_distance_m"]), "method": _method(c),
                "covered_m2": round(c["covered"], 2), "residential_m2": round(c["total"], 2)}
            if c["straight_line"]:
                part.flags.add("straight_line")
            if not c["total"]:
                part.flags |= _no_homes(d, unloaded)
    return out


# -- the parameters a catalog may give each computation, checked when it is read -----------
def _num(params: dict, key: str, *, required: bool = False, minimum: float = 0.0,
         above: bool = False, integer: bool = False) -> None:
    if key not in params or params[key] is None:
        if required:
            raise ValueError(f"{key!r} is required")
        return
    v = params[key]
    ok = isinstance(v, int | float) and not isinstance(v, bool) and v == v and \
        (v > minimum if above else v >= minimum) and (not integer or float(v).is_integer())
    if not ok:
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{key!r} must be {kind} {'>' if above else '≥'} {minimum:g}, "
                         f"not {v!r}")


def _list(params: dict, key: str, item=str) -> list:
    v = params.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, item) and not isinstance(x, bool)
                                          for x in v):
        raise ValueError(f"{key!r} must be a list of {'codes' if item is str else 'numbers'}, "
                         f"not {v!r}")
    return v


def _scalar(params: dict, key: str) -> None:
    v = params.get(key)
    if v is not None and not isinstance(v, str):  # YAML reads an unquoted 02 as the number 2
        raise ValueError(f"{key!r} must be a quoted code (\"02\", not 02), not {v!r}")


def check_params(name: str, params: dict[str, Any], types: list[dict[str, str]]) -> None:
    """``params`` of the computation ``name`` as it reads them, else ValueError naming the
    parameter (a catalog's mistake is refused before anything runs, not met mid-run)."""
    if name == "residential_service_coverage":
        tiers = params.get("tiers")
        if not isinstance(tiers, list) or not tiers:
            raise ValueError("'tiers' must be a list of one or more tiers")
        for i, tier in enumerate(tiers, 1):
            if not isinstance(tier, dict):
                raise ValueError(f"tier {i} must be a mapping")
            try:
                if tier.get("source") == "parks":
                    _num(tier, "distance_m", required=True, above=True)
                    _num(tier, "min_area_m2")
                    _num(tier, "max_area_m2", above=True)
                    lo, hi = tier.get("min_area_m2"), tier.get("max_area_m2")
                    if lo is not None and hi is not None and lo >= hi:
                        # no park in [min, max): the tier covered nothing, silently
                        raise ValueError(f"'min_area_m2' {lo!r} must be below "
                                         f"'max_area_m2' {hi!r}")
                elif tier.get("source") == "facilities":
                    _scalar(tier, "facility_type")
                    t = find_facility_type(types, str(tier.get("facility_type")))
                    if t is None:
                        raise ValueError(f"'facility_type' {tier.get('facility_type')!r} is "
                                         "not in facility_types.csv")
                    _num(tier, "distance_m", above=True)
                    if tier.get("distance_m") is None:
                        _num({"walk_distance_m": _float(t.get("walk_distance_m"))},
                             "walk_distance_m", required=True, above=True)
                else:
                    raise ValueError(f"'source' must be parks or facilities, not "
                                     f"{tier.get('source')!r}")
            except ValueError as exc:
                raise ValueError(f"tier {i}: {exc}") from exc
    elif name == "new_high_rise_residential":
        _num(params, "min_height_m")
        _num(params, "window_years", minimum=1, integer=True)
    elif name == "development_intensity":
        if not _list(params, "construction_prefixes"):
            raise ValueError("'construction_prefixes' must list land-use code prefixes")
    elif name == "facility_walk_coverage":
        circles = set(_list(params, "life_circles", int)) or {5, 10, 15}
        exclude = set(_list(params, "exclude_types"))
        # a type not in the dictionary (a typo, shleter) excluded nothing: the shelters
        # counted in the mean; circles no type has measured nothing: no value, no word
        codes = {t.get("type_code") for t in types}
        unknown = sorted(str(x) for x in exclude if x not in codes)
        if unknown:
            raise ValueError(f"'exclude_types': {', '.join(map(repr, unknown))} is no "
                             "type_code of facility_types.csv")
        measured = [t for t in types if (t.get("life_circle_minutes") or "").isdigit()
                    and int(t["life_circle_minutes"]) in circles
                    and t.get("type_code") not in exclude]
        if not measured:
            raise ValueError(f"'life_circles' {sorted(circles)}: no facility type of "
                             "facility_types.csv is of these circles (less exclude_types)")
        for t in types:  # the types it measures: their walking distances are numbers
            if (t.get("life_circle_minutes") or "").isdigit() and \
                    int(t["life_circle_minutes"]) in circles and t.get("type_code") not in exclude:
                try:
                    _num({"walk_distance_m": _float(t.get("walk_distance_m"))},
                         "walk_distance_m", required=True, above=True)
                except ValueError as exc:
                    raise ValueError(f"facility_types.csv {t.get('type_code')!r}: {exc}") \
                        from exc
    elif name == "combined_sewer_share":
        _scalar(params, "drainage_class")
        _scalar(params, "combined_subclass")
    elif name == "component_intact_rate":
        _scalar(params, "intact_state")


def _float(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def check_settings(settings: dict[str, Any]) -> None:
    """The catalog's settings the computations read (pipe_design_life_years, road_snap_m,
    district_gap_m), else ValueError naming the key."""
    lives = settings.get("pipe_design_life_years")
    if lives is not None:
        if not isinstance(lives, dict):
            raise ValueError("'pipe_design_life_years' must map pipe class codes to years")
        for cls, v in lives.items():
            if not isinstance(cls, str):  # YAML reads an unquoted 01 as the number 1
                raise ValueError(f"'pipe_design_life_years': the class {cls!r} must be a "
                                 "quoted code of pipe_classes.csv (\"01\", not 01)")
            try:
                _num({str(cls): v}, str(cls), integer=True)
            except ValueError as exc:
                raise ValueError(f"'pipe_design_life_years': {exc}") from exc
    if "residential_uses" in settings:  # one list for the health check and the population
        raise ValueError("'residential_uses' is the 'residential' column of building_use.csv "
                         "now (the population loader's homes too): mark the uses there")
    _num(settings, "road_snap_m")
    _num(settings, "district_gap_m")
