"""Rules on numbers: heights (the parcel limit, every height-limit zone), the parcel indices
(FAR 容积率, density 建筑密度, green ratio 绿地率) and the GB 50289 pipe clearances.

A site spanning several parcels is held to the area-weighted index: Σ(index × the part of the
site on the parcel) / Σ(those parts), and the result says so; land under several parcels at
once (overlapping current parcels) counts once, as the strictest's. The parcels must cover the site
(``parcel_cover_min`` of the rules file), else the index of the rest is unknown: needs review.
Pipe clearances use the rules of ``pipe_clearances.csv`` (:mod:`layers.query.clearance_rules`)
exactly as ``cim query clearance`` does for existing buildings: plan distance from the
footprint to the pipe's centre line minus half its outer width, a gas pipe's pressure read as
its GB 50028 class (:func:`cim.pressure.grade`: 中压B级, 0.2MPa; a blank one takes the
strictest rule that may apply). A pipe whose rule depends on a pressure the rules do not name
(高压A where the building rules stop at 中压A, an unreadable text) needs review: it is never
a pass, and the check never stops on it.
"""

from __future__ import annotations

from typing import Any

import shapely

from cim import pressure
from layers.approval.config import Config
from layers.approval.data import Context
from layers.approval.project import Project
from layers.approval.result import Result, shown
from layers.approval.rules_place import _worst, parcel_cover, parcels_under
from layers.query.clearance_rules import UNCHECKED, Rule, pick
from layers.query.pipes import size_text, width_m

EPS = 1e-9


def height_parcel(res: Result, p: Project, ctx: Context, cfg: Config) -> None:
    res.unit = "m"
    for b in p.buildings:
        ps = parcels_under(b.footprint, ctx, cfg.area_tolerance_m2)
        missing = [x["parcel_code"] or x["code"] for x in ps if x["max_height"] is None]
        cover = parcel_cover(b.footprint, ps)
        part = ps and not missing and cover < cfg.parcel_cover_min
        req = min(float(x["max_height"]) for x in ps) if ps and not missing else None
        if part and b.height is not None and round(b.height, 3) > req:
            # the land without a parcel can only lower the limit: a fail already
            res.item("fail", b.label, b.height, req, b.footprint,
                     note=f"the parcels cover {cover:.1%} of the building")
            continue
        why = ("stands on no planning parcel" if not ps else
               f"parcel {', '.join(missing)} has no max_height" if missing else
               f"the parcels cover {cover:.1%} of the building (needs "
               f"{cfg.parcel_cover_min:.0%}): the limit of the rest is unknown"
               if part else
               "the building has no height" if b.height is None else None)
        if why:
            res.item("needs_review", b.label, b.height, None, note=why)
            continue
        res.item("fail" if round(b.height, 3) > req else "pass", b.label, b.height, req,
                 b.footprint)
    cand = [i for i in res.items if i["required"] is not None]
    if cand:
        w = max(cand, key=lambda i: i["measured"] - i["required"])
        res.measured, res.required = w["measured"], w["required"]


def height_zones(res: Result, p: Project, ctx: Context, cfg: Config,
                 layer_loaded: bool = True) -> None:
    res.unit = "m"
    if not layer_loaded:  # an empty layer is missing data, not "no zone here"
        res.status("needs_review")
        res.notes.append("no height-limit zones are loaded (cim load planning): the "
                         "airport clearance and view-corridor limits are unknown")
        return
    hits = [(b, z) for b in p.buildings for z in ctx.zones
            if z["geom"].intersection(b.footprint).area > cfg.area_tolerance_m2]
    if not hits:
        res.status("not_applicable")
        res.notes.append("no height-limit zone over the buildings")
        return
    for b, z in hits:
        zone = f"{z['zone_type']} {z['name'] or z['code']}"
        if b.height is None:
            res.item("needs_review", b.label, None, None, zone=zone,
                     note="the building has no height")
            continue
        if z["max_height"] is None and z["max_elevation"] is None:
            res.item("needs_review", b.label, b.height, None, zone=zone,
                     note="the zone has neither max_height nor max_elevation")
        if z["max_height"] is not None:
            req = float(z["max_height"])
            res.item("fail" if round(b.height, 3) > req else "pass", b.label, b.height, req,
                     b.footprint, zone=zone, limit="height above ground")
        if z["max_elevation"] is not None:
            if b.ground_elevation is None:
                res.item("needs_review", b.label, None, float(z["max_elevation"]), zone=zone,
                         note="the zone limits the elevation; the building has no "
                              "ground_elevation (室外地坪标高)")
                continue
            top = b.ground_elevation + b.height
            req = float(z["max_elevation"])
            if b.ground_elevation == 0 and round(top, 3) <= req:
                # 0 is what a Shapefile written by ArcGIS holds for a number left empty: a
                # pass resting on it is no pass (a fail stays one: higher ground, higher top)
                res.item("needs_review", b.label, top, req, zone=zone,
                         limit="elevation of the top",
                         note="室外地坪标高 (ground_elevation) 0 m: a number left empty in a "
                              "Shapefile reads as 0; confirm the ground's elevation")
                continue
            res.item("fail" if round(top, 3) > req else "pass", b.label, top, req,
                     b.footprint, zone=zone, limit="elevation of the top")
    cand = [i for i in res.items if i["required"] is not None and i["measured"] is not None]
    if cand:
        w = max(cand, key=lambda i: i["measured"] - i["required"])
        res.measured, res.required = w["measured"], w["required"]


def weighted_index(p: Project, ctx: Context, cfg: Config, field: str, res: Result,
                   at_least: bool = False) -> float | None:
    """The parcels' ``field`` weighted by the part of the site on each, land under several
    parcels at the strictest of them (the largest for a minimum, ``at_least``; None:
    review)."""
    parts = [(x, x["geom"].intersection(p.site).area) for x in ctx.parcels]
    parts = [(x, a) for x, a in parts if a > cfg.area_tolerance_m2]
    if not parts:
        res.notes.append("the site lies on no planning parcel")
        return None
    cover = parcel_cover(p.site, [x for x, _ in parts])  # overlapping parcels once
    for x, a in parts:
        # the parcel's limit, and the part of the site on it as a detail (in the measured
        # column, an area in m² stood beside an index limit: "实测 12,000 | 要求 2.5")
        res.items.append({"status": "info", "what": f"parcel {x['parcel_code'] or x['code']}",
                          "measured": None, "required": x[field],
                          "site_area_m2": round(a, 1), "land_use": x["land_use_name"]})
    missing = [x["parcel_code"] or x["code"] for x, _ in parts if x[field] is None]
    if missing:
        res.notes.append(f"parcel {', '.join(missing)} has no {field}")
        return None
    if cover < cfg.parcel_cover_min:
        res.notes.append(f"the parcels cover {cover:.1%} of the site (needs "
                         f"{cfg.parcel_cover_min:.0%}): the index of the rest is unknown")
        return None
    # land under several parcels (a plan and its revision both current) counts once, at the
    # strictest of them: each parcel weighs the part of the site no stricter parcel covers
    taken, own = shapely.Polygon(), []
    for x, _ in sorted(parts, key=lambda xa: -float(xa[0][field]) if at_least
                       else float(xa[0][field])):
        piece = x["geom"].intersection(p.site)
        own.append((x, piece.difference(taken).area))
        taken = taken.union(piece)
    total = sum(a for _, a in own)
    value = sum(float(x[field]) * a for x, a in own) / total
    if len(parts) > 1:
        res.notes.append(f"the site spans {len(parts)} parcels: required value is the "
                         f"area-weighted {field} = Σ(index × area on the parcel) / Σ(area)"
                         f" = {value:.4f}" + ("" if total >= sum(a for _, a in parts) -
                                               cfg.area_tolerance_m2 else
                                               " (where parcels overlap, the strictest)"))
    return value


def _index(res: Result, p: Project, ctx: Context, cfg: Config, field: str,
           measured: float | None, at_least: bool) -> None:
    _judge(res, p, weighted_index(p, ctx, cfg, field, res, at_least), measured, at_least)


def _judge(res: Result, p: Project, req: float | None, measured: float | None,
           at_least: bool) -> None:
    """The site's index ``measured`` against the parcels' ``req`` (None: review)."""
    res.measured, res.required = measured, req
    if req is None or measured is None:
        res.status("needs_review")
        return
    # exact comparison (an index is a limit: 2.0001 exceeds 2.0); EPS absorbs float noise only
    ok = measured >= req - EPS if at_least else measured <= req + EPS
    res.status("pass" if ok else "fail")
    if not ok:
        m, r = shown(measured, req, True)
        res.offending.append((p.site, f"site: {m} vs {r}"))


def far(res: Result, p: Project, ctx: Context, cfg: Config) -> None:
    unknown = [b.label for b in p.buildings if b.counted_area is None]
    res.unit = "ratio"
    if unknown:
        res.notes.append(f"no counted floor area nor floors above ground: {', '.join(unknown)}")
    total = sum(b.counted_area or 0.0 for b in p.buildings)
    res.notes.append(f"counted floor area {total:,.1f} m² / site area {p.site.area:,.1f} m²")
    _index(res, p, ctx, cfg, "max_far", None if unknown else total / p.site.area, False)


def density(res: Result, p: Project, ctx: Context, cfg: Config) -> None:
    """建筑基底面积 / 用地面积: the ground the buildings cover, a structure with no floor above
    ground (地上层数 0) none."""
    foot = shapely.union_all([b.footprint for b in p.buildings if not b.underground]
                             ).intersection(p.site).area
    res.unit = "fraction"
    under = [b.label for b in p.buildings if b.underground]
    if under:
        res.notes.append(f"no floor above ground (地上层数 0), no ground covered: "
                         f"{', '.join(under)}")
    res.notes.append(f"footprint {foot:,.1f} m² / site area {p.site.area:,.1f} m²")
    _index(res, p, ctx, cfg, "max_density", foot / p.site.area, False)


def green_areas(p: Project, over_underground: str = "exclude"
                ) -> tuple[float, float, float]:
    """(green drawn in the site, green area, the part of that over an underground structure),
    m². A green drawn under a building above ground is no green; one over a structure with
    no floor above ground (地上层数 0, a garage's roof) is on the ground — the density rule
    says so — and counts in the green area only where ``over_underground`` is ``count`` (the
    rules file's ``green_ratio.over_underground``; ``review`` and ``exclude`` leave it out
    here: :func:`green_ratio` bounds the ratio by it)."""
    drawn = p.green_union.intersection(p.site)
    above = shapely.union_all([b.footprint for b in p.buildings if not b.underground])
    under = shapely.union_all([b.footprint for b in p.buildings if b.underground])
    ground = drawn.difference(above)
    over = ground.intersection(under).area
    counted = ground.area if over_underground == "count" else ground.difference(under).area
    return drawn.area, counted, over


def green_ratio(res: Result, p: Project, ctx: Context, cfg: Config) -> None:
    """Green area (:func:`green_areas`) over the site area; green over an underground
    structure as the rules file says (``over_underground``): counted, left out, or (review)
    the ratio bounded by the two — a pass without it, a fail even with it, else review."""
    mode = cfg.rules["green_ratio"].params.get("over_underground", "review")
    drawn, g, over = green_areas(p, mode)
    res.unit = "fraction"
    under = drawn - g - (over if mode != "count" else 0.0)
    res.notes.append(f"green area {g:,.1f} m² / site area {p.site.area:,.1f} m²"
                     + (f" (green drawn {drawn:,.1f} m², less {under:,.1f} m² under the "
                        "buildings)" if under > cfg.area_tolerance_m2 else ""))
    if over <= cfg.area_tolerance_m2 or mode != "review":
        if over > cfg.area_tolerance_m2:
            res.notes.append(f"{over:,.1f} m² of green over underground structures "
                             f"({_underground(p)}) " + ("counted" if mode == "count" else
                                                        "not counted")
                             + f" (approval_rules.yaml over_underground: {mode})")
        _index(res, p, ctx, cfg, "min_green_ratio", g / p.site.area, True)
        return
    # review: bounded by the ratio without the green over them and with it
    req = weighted_index(p, ctx, cfg, "min_green_ratio", res, True)
    lo, hi = g / p.site.area, (g + over) / p.site.area
    if req is None or lo >= req - EPS:
        _judge(res, p, req, lo, True)
        res.notes.append(f"{over:,.1f} m² of green over underground structures "
                         f"({_underground(p)}) not counted" + ("" if req is None else
                                                               ": the ratio holds without it"))
    elif hi < req - EPS:
        _judge(res, p, req, hi, True)
        res.notes.append(f"{over:,.1f} m² of green over underground structures "
                         f"({_underground(p)}) counted: the ratio fails even with it")
    else:
        res.measured, res.required = None, req
        res.status("needs_review")
        res.notes.append(f"{over:,.1f} m² of the green lies over underground structures "
                         f"({_underground(p)}): the ratio is {lo:.3f} without it and "
                         f"{hi:.3f} with it, against {req:.3f} — it counts where the city's "
                         "rule on its soil depth (覆土) is met (approval_rules.yaml "
                         "over_underground)")


def _underground(p: Project) -> str:
    return ", ".join(b.label for b in p.buildings if b.underground)


def _pipe_thing(r: dict[str, Any], pcs: tuple | None) -> dict[str, Any]:
    """A pipe as the rules see it, as the query library's (its pressure the class read from
    the text: the rules name classes, a stored pressure is what the survey typed)."""
    return {"what": r["pipe_class"], "d": r["diameter_mm"] or r["width_mm"],
            "subclass": r["subclass_code"], "burial": r["burial"],
            "pressure": pressure.grade(r["pressure"], pcs)}


def _weakest_for_blank(rules: list[Rule], thing: dict[str, Any], other: dict[str, Any],
                      strictest: Rule | object) -> Rule | None:
    """For a pipe without a recorded pressure (``pick`` gave the strictest rule its class may
    meet), the weakest rule a recorded pressure class would give it — the classes the rules
    name for its class; None when its pressure is recorded or no rule hangs on one."""
    if thing.get("pressure") != "" or strictest is UNCHECKED:
        return None
    named = {c.value for r in rules if r.kind == "horizontal" for side in (r.a, r.b)
             if side.what == thing["what"] for c in side.conds
             if c.field == "pressure" and c.op == "="}
    got = [pick(rules, "horizontal", {**thing, "pressure": v}, other) for v in sorted(named)]
    got = [g for g in got if isinstance(g, Rule)]
    return min(got, key=lambda g: g.required_m) if got else None


def clear_gap(footprint: shapely.Geometry, pipe: dict[str, Any]) -> float:
    """The horizontal clear distance (净距) from the footprint to the pipe's outer wall:
    the centre line's distance less half the outer width, never below 0. GB 50289 states a
    minimum distance between the two; a footprint reaching the wall, or over the pipe, has
    none (0 m, a violation), where the bare difference read as a negative clearance
    (−0.15 m for a DN300 main under a building) that no rule states."""
    d = footprint.distance(pipe["geom"]) - width_m(pipe["diameter_mm"], pipe["width_mm"]) / 2
    return max(d, 0.0)


def pipe_clearance(res: Result, p: Project, ctx: Context, rules: list[Rule],
                   layer_loaded: bool, pcs: tuple | None = None,
                   unknown_reach_m: float | None = None) -> None:
    """``pcs``: the city's pressure classes (:func:`cim.pressure.classes`; None the
    platform's). ``unknown_reach_m``: how far a pipe whose clearance the rules cannot give
    (a pressure class they do not name) needs review (the rules file's
    ``pipe_clearance.unknown_clearance_reach_m``; None: any read)."""
    res.unit = "m"
    if not layer_loaded:
        res.status("needs_review")
        res.notes.append("no pipes are loaded (cim load pipes)")
        return
    building = {"what": "building"}
    for b in p.buildings:
        best: dict | None = None
        for r in ctx.pipes:
            thing = _pipe_thing(r, pcs)
            rule = pick(rules, "horizontal", thing, building)
            if rule is None:
                continue
            gap = clear_gap(b.footprint, r)
            low = _weakest_for_blank(rules, thing, building, rule)
            if low is not None and low.required_m <= round(gap, 3) < rule.required_m:
                # no pressure recorded: far enough for the lowest class, too near for the
                # highest — which it is, the survey does not say (a fail would be a guess)
                res.item("needs_review", b.label, gap, rule.required_m, pipe=r["code"],
                         **{"class": r["class_name"]}, size=size_text(r), pressure=None,
                         rule_source=rule.source, verified=rule.verified,
                         note=f"no pressure recorded: its clearance is {low.required_m:g}–"
                              f"{rule.required_m:g} m by its pressure class "
                              "(pipe_clearances.csv)")
                continue
            if rule is UNCHECKED:  # its rule hangs on a pressure class the rules do not name
                # (高压A: its clearance is larger than any they give, so any within reach)
                if unknown_reach_m is not None and round(gap, 3) > unknown_reach_m:
                    continue
                res.item("needs_review", b.label, gap, None, pipe=r["code"],
                         **{"class": r["class_name"]}, size=size_text(r),
                         pressure=r["pressure"],
                         note=f"pressure {r['pressure']!r} is no class the clearance rules "
                              "(pipe_clearances.csv) name: its clearance is unknown")
                continue
            extra = {"pipe": r["code"], "class": r["class_name"], "size": size_text(r),
                     "rule_source": rule.source, "verified": rule.verified}
            required = rule.required_m
            if low is not None and round(gap, 3) < low.required_m:
                # nearer than any class allows: the fail states the lowest class's distance
                # (the strictest, 13.5 m, was told to an applicant whose main may be 低压)
                required = low.required_m
                extra["note"] = (f"no pressure recorded: nearer than even the lowest "
                                 f"class's {low.required_m:g} m (up to {rule.required_m:g} m "
                                 "by its class)")
            if gap == 0.0:  # over the pipe: no clearance at all, whatever the rule asks
                extra["note"] = "the building stands over the pipe (its footprint reaches " \
                    "the pipe's outer wall): 0 m clearance"
            if round(gap, 3) < required:
                # a building over the pipe: where the pipe runs under it (a shortest line
                # between touching geometries is a point the map cannot show)
                where = r["geom"].intersection(b.footprint) if b.footprint.intersects(
                    r["geom"]) else shapely.shortest_line(b.footprint, r["geom"])
                res.item("fail", b.label, gap, required, where, **extra)
            elif best is None or gap - rule.required_m < best["gap"] - best["req"]:
                best = {"gap": gap, "req": rule.required_m, **extra}
        if best and not any(i["what"] == b.label and i["status"] != "needs_review"
                            for i in res.items):
            gap, req = best.pop("gap"), best.pop("req")
            res.item("pass", b.label, gap, req, **best)
    if not res.items:
        res.status("pass")
        res.notes.append("no pipe within reach of any clearance rule")
    _worst(res)

