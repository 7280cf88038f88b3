"""``cim health compute``: every indicator per district and for the city, compared, indexed.

The city value of an indicator is its own ratio (sum of the districts' numerators over the
sum of their denominators), not a mean of district values. Each value is compared with its
target (``status`` met / not_met, no_target, no_data) and with the newest earlier year stored
(``previous_value``, ``change``, ``trend`` improved / worsened / unchanged by the direction).

**City health index** (城市体检指数, per district and for the city), weights as data
(``dimensions[].weight`` of the catalog):

- indicator score in 0..1: direction up ``min(1, value / target)``, down ``1`` when
  ``value <= target`` else ``target / value`` (a target of 0 exceeded scores 0);
- dimension score: the mean of its indicators' scores (indicators without value or target
  are left out);
- index = 100 × Σ weight·score / Σ weight over the dimensions that have a score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from cim.errors import DatabaseError
from cim.profile import CityProfile
from layers.health.catalog import HealthCatalog, Indicator, load_catalog
from layers.health.parts import Context, Part
from layers.health.templates import TEMPLATES

CITY = "city"
INDEX_ID = "health_index"
# the index's method as the report prints it (a stored year's report too: layers.health.stored)
INDEX_METHOD = ("100 × Σ weight·dimension score / Σ weight; dimension score = mean of "
                "its indicators' scores; score = min(1, value/target) (up) or "
                "min(1, target/value) (down)")


def part_value(p: Part, scale: float) -> float | None:
    if p.sub is not None:
        shares = [n / d for n, d in p.sub.values() if d]
        return scale * sum(shares) / len(shares) if shares else None
    if p.num is None:
        return None
    if p.is_count:
        return p.num
    return scale * p.num / p.den if p.den else None


def city_part(parts: list[Part]) -> Part:
    """The city's part: numerators and denominators summed over the districts. For a ratio,
    a district without a denominator (its residents not loaded) gives neither: its park
    area over the other districts' residents would raise the city's figure (flagged as the
    district is); a denominator of 0 (no residents) counts with its numerator."""
    is_count = any(p.is_count for p in parts)
    summed = [p for p in parts if p.num is not None and (is_count or p.den is not None)]
    nums = [p.num for p in summed]
    dens = [p.den for p in parts if p.den is not None]
    out = Part(sum(nums) if nums else None, sum(dens) if dens else None, is_count=is_count)
    methods = {p.detail.get("method") for p in parts} - {None}
    if methods:  # the distance method of the city: one, or mixed
        out.detail["method"] = methods.pop() if len(methods) == 1 else "mixed"
    years = {p.detail.get("population_year") for p in parts}
    if len(years) == 1 and None not in years:  # the one year of a per-capita indicator
        out.detail["population_year"] = years.pop()
    for p in parts:
        out.flags |= p.flags
        if p.sub is not None:
            out.sub = out.sub or {}
            for k, (n, d) in p.sub.items():
                acc = out.sub.setdefault(k, [0.0, 0.0])
                acc[0] += n
                acc[1] += d
    if out.sub is not None:  # the city's own share per type, as each district's detail has
        # it (the city's row said nothing of the types its value is the mean of)
        kinds = {k: v for p in parts for k, v in (p.detail.get("types") or {}).items()}
        out.detail["types"] = {
            k: {**{f: kinds.get(k, {}).get(f) for f in ("name_zh", "life_circle_minutes",
                                                       "walk_distance_m")},
                "covered_m2": round(n, 2), "residential_m2": round(d, 2)}
            for k, (n, d) in out.sub.items()}
    return out


def status(value: float | None, target: float | None, direction: str) -> str:
    if value is None:
        return "no_data"
    if target is None:
        return "no_target"
    ok = value >= target if direction == "up" else value <= target
    return "met" if ok else "not_met"


def score(value: float | None, target: float | None, direction: str) -> float | None:
    if value is None or target is None:
        return None
    if direction == "up":
        return 1.0 if target <= 0 else max(0.0, min(1.0, value / target))
    if value <= target:
        return 1.0
    return 0.0 if target <= 0 else target / value


def trend(value: float | None, previous: float | None, direction: str) -> str | None:
    if value is None or previous is None:
        return None
    diff = (value - previous) * (1 if direction == "up" else -1)
    return "improved" if diff > 1e-9 else "worsened" if diff < -1e-9 else "unchanged"


def change_places(indicator_id: str) -> int:
    """Decimals of a change: an indicator's values are stored to 6 places, the index to 3."""
    return 3 if indicator_id == INDEX_ID else 6


def comparison(indicator_id: str, value: float | None, previous: float | None,
               direction: str, moved: bool, flags: Iterable[str] = (),
               other_basis: bool = False) -> dict[str, Any]:
    """A unit's value against the previous stored year's: ``previous_value``, ``change``,
    ``trend`` by the direction, ``flags`` with ``boundary_changed`` when the unit's polygon
    moved in between (``moved``: the previous value is of another area) and, for the index,
    ``indicators_changed`` when ``other_basis``: other indicators were scored in the two
    years (residents loaded for one year only, a target added), so the index's change is
    partly that of what it averages, not of the city.

    The one rule for a year being computed (:func:`_entry`, the index) and for a stored year
    compared anew when the year before it is stored or deleted (``store``): a second copy
    of it in SQL had to be kept in step with this one by hand."""
    own = set(flags) - {"boundary_changed", "indicators_changed"}
    if previous is not None and moved:
        own.add("boundary_changed")
    if previous is not None and other_basis:
        own.add("indicators_changed")
    return {"previous_value": previous,
            "change": None if value is None or previous is None
            else round(value - previous, change_places(indicator_id)),
            "trend": trend(value, previous, direction),
            "flags": sorted(own)}


def scored(indicators: list[dict], unit_code: str) -> frozenset[str]:
    """The indicators with a score for ``unit_code`` in a computed result: what its index
    averages."""
    return frozenset(ind["id"] for ind in indicators for e in [ind["city"], *ind["districts"]]
                     if e["unit_code"] == unit_code and e["score"] is not None)


def _entry(ind: Indicator, part: Part, prev: dict, unit_kind: str, code: str,
           name: str | None, moved: set[str] | frozenset[str] = frozenset()
           ) -> dict[str, Any]:
    v = part_value(part, ind.scale)
    # judged as stored and shown (6 places): 30 % of a district by construction measures
    # 30.000000000298 % in its storage coordinates, which is no "not met" of a 30 % limit
    v = None if v is None else round(v, 6)
    return {"unit_kind": unit_kind, "unit_code": code, "unit_name": name,
            "value": v, "target": ind.target,
            "status": status(v, ind.target, ind.direction),
            "score": score(v, ind.target, ind.direction),
            **comparison(ind.id, v, prev.get((ind.id, code)), ind.direction, code in moved,
                         part.flags),
            "method": part.detail.get("method"), "detail": part.detail}


def health_index(cat: HealthCatalog, indicators: list[dict], unit_code: str
                 ) -> tuple[float | None, dict[str, float | None]]:
    """(index, score per dimension) of one unit (``city`` or a district code)."""
    by_dim: dict[str, list[float]] = {d.id: [] for d in cat.dimensions}
    for ind in indicators:
        e = ind["city"] if unit_code == CITY else next(
            (x for x in ind["districts"] if x["unit_code"] == unit_code), None)
        if e is not None and e["score"] is not None:
            by_dim[ind["dimension"]].append(e["score"])
    dims = {d: (sum(s) / len(s) if s else None) for d, s in by_dim.items()}
    weights = {d.id: d.weight for d in cat.dimensions}
    used = [(weights[d], s) for d, s in dims.items() if s is not None and weights[d] > 0]
    if not used:
        return None, dims
    return round(100 * sum(w * s for w, s in used) / sum(w for w, _ in used), 3), dims


def future_year_problem(year: int, profile: CityProfile | None) -> str | None:
    """Why ``year`` is refused without saying it is intended: it is after the city's current
    year (on its clock, the profile's ``timezone``). A mistyped year (2062 for 2026) was
    computed on today's data, stored for good and became the map's latest year; a plan-target
    scenario is asked for explicitly (``--future-year``, the process's ``future_year``)."""
    from cim.cityclock import city_today

    now = profile.today() if profile is not None else city_today()
    if year <= now.year:
        return None
    return (f"year {year} is after the city's current year {now.year}: a check of a future "
            "year (a plan-target scenario) must say so (--future-year; the process's "
            "future_year: true)")


def compute(conninfo: str, year: int, profile: CityProfile | None = None,
            catalog: HealthCatalog | None = None, store: bool = True) -> dict[str, Any]:
    """Every indicator of the catalog for ``year``; stored (replacing that year) when
    ``store``. Returns the ``--json`` result.

    Only the population (the residents of the year, :func:`templates.population_year`), the
    pipes' ages and the high-rise window follow ``year``: buildings, parks, roads, facilities,
    parcels and districts are the current features (``valid_to IS NULL``), today's, whatever
    the year. A past year computed now is today's city with that year's residents and pipe
    ages, not the city as it stood then. The caller checks a future year
    (:func:`future_year_problem`)."""
    from layers.health.store import moved_units, previous_values, scored_by_unit, write_year

    cat = catalog or load_catalog(profile)
    with psycopg.connect(conninfo) as conn:
        # the per-feature district look-ups (parts.district_of) cost the plans past
        # jit_above_cost: PostgreSQL spent ~0.75 s compiling each query that ran in ms (as
        # layers.query.pipes' NO_JIT); one transaction, so LOCAL holds for the whole run
        conn.execute("SET LOCAL jit = off")
        districts = conn.execute("SELECT code, name FROM admin_divisions WHERE valid_to IS NULL"
                                 " ORDER BY code").fetchall()
        if not districts:
            # every indicator is per district: it stored a year of "no data" rows without a
            # word why (no flag: no layer was missing), the map's latest year then empty
            raise DatabaseError("no district boundaries in the database: the health check is "
                                "computed per district; run `cim profile apply` to load the "
                                "profile's boundaries first")
        names = dict(districts)
        ctx = Context(conn, year, profile, cat.settings, [d for d, _ in districts])
        prev_year, prev = previous_values(conn, year)
        moved = moved_units(conn, prev_year)
        prev_scored = scored_by_unit(conn, prev_year)
        out_inds = []
        for ind in cat.indicators:
            parts = TEMPLATES[ind.template](ctx, ind.params)
            dist_entries = [_entry(ind, parts[d], prev, "district", d, names[d], moved)
                            for d in ctx.districts if d in parts]
            city = _entry(ind, city_part([parts[d] for d in ctx.districts if d in parts]), prev,
                          CITY, CITY, profile.city_name if profile else None, moved)
            out_inds.append({**ind.to_dict(), "scale": ind.scale, "definition": ind.definition,
                             # a count (栋) is shown whole, not as 2.00 buildings
                             "count": any(p.is_count for p in parts.values()),
                             "city": city, "districts": dist_entries})
    index = {"method": INDEX_METHOD,
             "weights": {d.id: d.weight for d in cat.dimensions}, "units": {}}
    for code in [CITY, *[d for d, _ in districts]]:
        value, dims = health_index(cat, out_inds, code)
        c = comparison(INDEX_ID, value, prev.get((INDEX_ID, code)), "up", code in moved,
                       other_basis=scored(out_inds, code) != prev_scored.get(code, frozenset()))
        index["units"][code] = {
            "value": value, "dimensions": dims, "previous_value": c["previous_value"],
            "change": c["change"], "trend": c["trend"], "flags": c["flags"],
            "boundary_changed": "boundary_changed" in c["flags"],
            "indicators_changed": "indicators_changed" in c["flags"]}
    result = {"year": year, "previous_year": prev_year, "catalog": str(cat.path),
              "dimensions": [{"id": d.id, "name_zh": d.name_zh, "name_en": d.name_en,
                              "weight": d.weight} for d in cat.dimensions],
              "index": index, "indicators": out_inds, "run_id": None}
    if store:
        result["run_id"] = write_year(conninfo, result)
    return result
