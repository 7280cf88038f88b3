"""What the health check's named computations share: a district's :class:`Part` of an
indicator, the :class:`Context` of one run (connection, year, settings, the road graph built
once), the district a feature is counted in (:func:`district_of`) and the per-district SQL
helpers that give a layer not loaded, or not delivered for a district, no value rather than 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from cim.profile import CityProfile


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


def fetch(ctx: Context, query: str, params: dict | None = None) -> list[tuple]:
    return ctx.conn.execute(query, {"year": ctx.year, **(params or {})}).fetchall()


# clipped to each district's polygon: {measure} over the features of {table} meeting {where}
_CLIPPED = (
    "SELECT d.code, {measure}, ST_Area(d.geom) FROM admin_divisions d"
    " LEFT JOIN {table} f ON f.valid_to IS NULL AND ST_Intersects(f.geom, d.geom) {where}"
    " WHERE d.valid_to IS NULL GROUP BY d.code, d.geom")


def empty(ctx: Context, table: str) -> bool:
    """No current feature in ``table``: the layer is not loaded, so its indicators have no
    value (flagged ``no_<table>``) rather than a misleading 0."""
    return not fetch(ctx, f"SELECT 1 FROM {table} WHERE valid_to IS NULL LIMIT 1")


def no_data(ctx: Context, table: str) -> Result:
    return {d: Part(None, flags={f"no_{table}"}) for d in ctx.districts}


def absent_districts(ctx: Context, table: str) -> set[str]:
    """The districts no current feature of ``table`` lies in: the layer was delivered for
    the others only. Their share would read 0 — a district without its buildings loaded was
    建筑密度 0 %, met, and scored best in the index — so it has no value, flagged
    ``no_<table>``, and is left out of the city's figure, as a layer absent everywhere is."""
    return {r[0] for r in fetch(ctx, (
        "SELECT d.code FROM admin_divisions d WHERE d.valid_to IS NULL AND NOT EXISTS"
        f" (SELECT 1 FROM {table} f WHERE f.valid_to IS NULL AND ST_Intersects(f.geom, d.geom))"
    ))}


def clipped(ctx: Context, table: str, measure: str, where: str = "", params=None,
            den_scale: float = 1.0) -> Result:
    if empty(ctx, table):
        return no_data(ctx, table)
    absent = absent_districts(ctx, table)
    rows = fetch(ctx, _CLIPPED.format(table=table, measure=measure, where=where), params)
    return {r[0]: Part(None, flags={f"no_{table}"}) if r[0] in absent else
            Part(float(r[1] or 0), float(r[2]) / den_scale) for r in rows}


def by_district(ctx: Context, rows: list[tuple], build, none_flag: str) -> Result:
    """Group rows (district_code first) into Parts; every district gets one — a district
    without rows none (no value), flagged ``none_flag`` to say why."""
    groups: dict[str, list[tuple]] = {d: [] for d in ctx.districts}
    for r in rows:
        if r[0] in groups:
            groups[r[0]].append(r[1:])
    return {d: build(rs) if rs else Part(None, flags={none_flag}) for d, rs in groups.items()}

