"""The road-network coverage computations (``residential_service_coverage``,
``facility_walk_coverage``): the residential footprint within a walking distance of parks or
facilities, measured by :mod:`layers.health.distance`, and the facility types they read
(the profile's ``facility_types.csv``).
"""

from __future__ import annotations

from cim.profile import CityProfile
from layers.health.parts import Context, Part, Result, absent_districts, empty, fetch, no_data


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
        rows = fetch(ctx, (
            "SELECT ST_AsBinary(geom) FROM green_spaces WHERE valid_to IS NULL AND is_park"
            " AND area_m2 >= %(lo)s AND area_m2 < %(hi)s ORDER BY id"),
            {"lo": float(tier.get("min_area_m2", 0)),
             "hi": float(tier.get("max_area_m2", float("inf")))})
        dmax = float(tier["distance_m"])
    else:
        t = _facility_type(ctx, str(tier["facility_type"]))
        rows = fetch(ctx, (
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


def residential_service_coverage(ctx: Context, params: dict) -> Result:
    """Residential footprint area covered by any tier over all residential footprint area."""
    for table in {"green_spaces" if t.get("source") == "parks" else "facilities"
                  for t in params.get("tiers") or []}:
        if empty(ctx, table):
            return no_data(ctx, table)
    if empty(ctx, "buildings"):
        return no_data(ctx, "buildings")
    unloaded = absent_districts(ctx, "buildings")
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


def facility_walk_coverage(ctx: Context, params: dict) -> Result:
    """Per facility type of the life circles, the residential area within its walking
    distance of one; the value is the mean of the types' shares."""
    if empty(ctx, "facilities"):
        return no_data(ctx, "facilities")
    if empty(ctx, "buildings"):
        return no_data(ctx, "buildings")
    unloaded = absent_districts(ctx, "buildings")
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

