"""Rules on where the buildings stand: inside the site, setbacks (road red lines, the site
boundary, blue lines), no building within green/blue/purple/yellow lines, no overlap with
existing buildings unless demolished, spacing between the new buildings.

Required setbacks come from the parcels a building stands on (the strictest, i.e. largest,
when it stands on several); a building on no parcel, on a parcel without the value, or partly
on land no parcel covers (parcels under less than ``parcel_cover_min`` of its footprint, the
share the parcel indices need of the site) needs review — unless it already fails the value of
the parcels it stands on, which the rest can only raise. Distances are plan distances in the storage CRS (metres), compared at millimetres.

A road red line (道路红线) drawn as a line is its centre line; with its width (红线宽度) it is the band
around it, without (the loader's ``width_missing``) the road's edge is unknown: a setback from
it is a fail when the centre line itself is closer than required (the edge is no farther), a
pass when the centre line is at least the setback plus half the widest red line (the rules
file's ``centre_line_max_width_m``) away, else it needs review. A line of an area type (绿线 蓝线
紫线 黄线) drawn closed is the area it encloses: a building inside is within it, its setback 0. An
open line of these is within a building when it runs through the building more than half a
millimetre inside its outline (distances compared at millimetres); a wall along the line is
contact, no intrusion. Likewise a wall less than half a millimetre beyond the site's edge, into a
control line's area or into an existing building is on its edge, not outside or overlapping
(an area tolerance alone failed 0.2 mm along 80 m).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import shapely

from layers.approval.config import Config
from layers.approval.data import Context
from layers.approval.linework import AREA_TYPES, LINEAL, areas, is_type, pieces
from layers.approval.project import Building, Project
from layers.approval.result import Result


def parcels_under(g: shapely.Geometry, ctx: Context, tol: float) -> list[dict[str, Any]]:
    """Parcels overlapping ``g`` by more than ``tol`` m²."""
    return [p for p in ctx.parcels if p["geom"].intersection(g).area > tol]


ROAD = "道路红线"
# distances are compared at millimetres (round(d, 3)): a line less than half a millimetre inside
# a building's outline is on it (contact), as a setback of 4.9996 m is 5.000 m
ON_LINE_M = 0.0005


def parcel_cover(g: shapely.Geometry, ps: list[dict[str, Any]]) -> float:
    """The share of ``g``'s area the parcels ``ps`` cover (overlapping parcels once)."""
    if not ps or g.area <= 0:
        return 0.0
    return shapely.union_all([p["geom"] for p in ps]).intersection(g).area / g.area


def line_geometry(line: dict[str, Any]) -> shapely.Geometry:
    """A control line as drawn, a centre line with a width as its band (flat ends)."""
    g = line["geom"]
    if line.get("width_m") and g.geom_type in LINEAL:
        return g.buffer(float(line["width_m"]) / 2, cap_style="flat")
    return g


def width_unknown(line: dict[str, Any]) -> bool:
    """A road red line given as its centre line without width: where its edge is, is unknown."""
    return (is_type(line, ROAD) and not line.get("width_m")
            and line["geom"].geom_type in LINEAL)


def lines_of(ctx: Context, line_type: str, cfg: Config) -> list[tuple[dict, shapely.Geometry]]:
    """The lines of ``line_type`` near the site, each with its geometry as the rules take it:
    a road red line as drawn (a centre line with a width its band); a line of an area type
    (绿线 蓝线 紫线 黄线) as drawn where it is an area, else its pieces joined into the areas
    they close (:func:`layers.approval.linework.areas`: one closed piece, or several whose
    ends meet within ``line_join_tolerance_m``; a ring within a ring a hole), the pieces that
    close none as drawn. An area several features close is named by all of them."""
    mine = [ln for ln in ctx.lines if is_type(ln, line_type)]
    if line_type not in AREA_TYPES:
        return [(ln, line_geometry(ln)) for ln in mine]
    out = [(ln, g) for ln in mine for g in [line_geometry(ln)] if g.geom_type not in LINEAL]
    rings, loose = areas([(ln, pieces(line_geometry(ln))) for ln in mine],
                         cfg.line_join_tolerance_m)
    for owners, area in rings:
        ln = owners[0] if len(owners) == 1 else {
            **owners[0], "name": " + ".join(str(o["name"] or o["code"]) for o in owners)}
        out.append((ln, area))
    by_line: dict[int, list[shapely.Geometry]] = {}
    for ln, piece in loose:  # each feature's open pieces as one line, as before
        by_line.setdefault(id(ln), [ln]).append(piece)
    out.extend((v[0], shapely.union_all(v[1:])) for v in by_line.values())
    return out


def inside_site(res: Result, p: Project, cfg: Config) -> None:
    worst = 0.0
    # a wall less than half a millimetre beyond the site's edge is on it (distances are
    # compared at millimetres): 0.2 mm along 80 m is 0.016 m², no building outside
    edge = p.site.buffer(ON_LINE_M, join_style="mitre")
    for b in p.buildings:
        out = b.footprint.difference(p.site)
        beyond = b.footprint.difference(edge).area > cfg.area_tolerance_m2
        a = out.area if beyond and out.area > cfg.area_tolerance_m2 else 0.0
        worst = max(worst, a)
        res.item("fail" if a else "pass", b.label, a, 0.0, out, unit="m²")
    res.measured, res.required, res.unit = worst, 0.0, "m² outside the site"


def _required(b: Building, ctx: Context, cfg: Config, field: str
              ) -> tuple[float | None, str | None]:
    """The strictest parcel value of ``field`` under ``b``, or why there is none. Where the
    parcels cover too little of ``b`` the value is theirs with the reason: the land no parcel
    covers can only add to the strictest (a building already short of it fails)."""
    ps = parcels_under(b.footprint, ctx, cfg.area_tolerance_m2)
    if not ps:
        return None, "stands on no planning parcel"
    missing = [p["parcel_code"] or p["code"] for p in ps if p[field] is None]
    if missing:
        return None, f"parcel {', '.join(missing)} has no {field}"
    cover = parcel_cover(b.footprint, ps)
    if cover < cfg.parcel_cover_min:
        return max(float(p[field]) for p in ps), (
            f"the parcels cover {cover:.1%} of the building (needs "
            f"{cfg.parcel_cover_min:.0%}): the {field} of the rest is unknown")
    return max(float(p[field]) for p in ps), None


def _worst(res: Result) -> None:
    """The rule's numbers: those of the item furthest below its requirement."""
    cand = [i for i in res.items if i["measured"] is not None and i["required"] is not None]
    if cand:
        w = min(cand, key=lambda i: i["measured"] - i["required"])
        res.measured, res.required = w["measured"], w["required"]


def setback_site(res: Result, p: Project, ctx: Context, cfg: Config) -> None:
    res.unit = "m"
    for b in p.buildings:
        req, why = _required(b, ctx, cfg, "setback_site_m")
        inside = b.footprint.difference(p.site).area <= cfg.area_tolerance_m2
        d = b.footprint.distance(p.site.boundary) if inside else 0.0
        if req is None or (why and round(d, 3) >= req):
            res.item("needs_review", b.label, d, None, note=why)
            continue
        line = shapely.shortest_line(b.footprint, p.site.boundary)
        res.item("fail" if round(d, 3) < req else "pass", b.label, d, req,
                 line if inside else b.footprint, **({"note": why} if why else {}))
    _worst(res)


def setback_line(res: Result, p: Project, ctx: Context, cfg: Config, line_type: str,
                 field: str, layer_loaded: bool) -> None:
    """Setback from the nearest line of ``line_type`` (道路红线 or 蓝线) within the search."""
    res.unit = "m"
    lines = lines_of(ctx, line_type, cfg)
    half_max = float(cfg.rules["setback_road"].params["centre_line_max_width_m"]) / 2
    if not lines:
        if layer_loaded:
            res.status("not_applicable")
            res.notes.append(f"no {line_type} within {cfg.search_m:g} m of the site")
        else:
            res.status("needs_review")
            res.notes.append("no control lines are loaded (cim load planning)")
        return
    for b in p.buildings:
        ln, g = min(lines, key=lambda lg: b.footprint.distance(lg[1]))
        d = b.footprint.distance(g)
        req, why = _required(b, ctx, cfg, field)
        name = ln["name"] or ln["code"]
        if req is None or (why and round(d, 3) >= req):
            res.item("needs_review", b.label, d, None, line=name, note=why)
            continue
        if round(d, 3) >= req:
            # every line is at least req away, as drawn; a centre line without width is
            # nearer by half the road's unknown width, at most half the widest red line
            blind = [(x, dc) for x, xg in lines if width_unknown(x)
                     for dc in [b.footprint.distance(xg)] if round(dc - half_max, 3) < req]
            if blind:
                x, dc = min(blind, key=lambda xd: xd[1])
                res.item("needs_review", b.label, None, req, line=x["name"] or x["code"],
                         note=f"{x['line_type']} {x['name'] or x['code']} is a centre line "
                              f"without width (红线宽度): the road's edge is unknown "
                              f"({dc:.3f} m to the centre line)")
                continue
        notes = [why] if why else []
        if width_unknown(ln):
            notes.append("a centre line without width (红线宽度): the road's edge is nearer "
                         "still" + ("" if round(d, 3) < req else
                                    f", by at most {half_max:g} m (half the widest red line)"))
        extra = {"note": "; ".join(notes)} if notes else {}
        res.item("fail" if round(d, 3) < req else "pass", b.label, d, req,
                 shapely.shortest_line(b.footprint, g) if d > 0 else b.footprint.intersection(g),
                 line=name, **extra)
    _worst(res)


def overlap_line(res: Result, p: Project, ctx: Context, cfg: Config, line_type: str,
                 layer_loaded: bool) -> None:
    """No building within a control line area (or crossing a line drawn without width; a
    building touching the line, its wall along it, is not within)."""
    lines = lines_of(ctx, line_type, cfg)
    res.required, res.unit = 0.0, "m² (m for lines)"
    if not lines:
        res.status("not_applicable" if layer_loaded else "needs_review")
        res.notes.append(f"no {line_type} within {cfg.search_m:g} m of the site" if layer_loaded
                         else "no control lines are loaded (cim load planning)")
        res.required = None
        return
    total = 0.0
    for b in p.buildings:
        core = b.footprint.buffer(-ON_LINE_M)  # the footprint less its outline's millimetre
        for ln, g in lines:
            inter = b.footprint.intersection(g)
            areal = g.geom_type in ("Polygon", "MultiPolygon")
            if areal:  # less than half a millimetre inside the area is on its edge
                v = inter.area if core.intersection(g).area > cfg.area_tolerance_m2 else 0.0
            else:  # the line's length inside the building; along its outline is contact
                v = (inter.length - inter.intersection(b.footprint.boundary).length
                     if g.intersects(core) else 0.0)
            if (areal and v > cfg.area_tolerance_m2) or (not areal and v > 0):
                total += v
                res.item("fail", b.label, v, 0.0, inter, line=ln["name"] or ln["code"],
                         unit="m²" if areal else "m")
        if not any(i["what"] == b.label for i in res.items):
            res.item("pass", b.label, 0.0, 0.0)
    res.measured = total


def demolished_codes(p: Project, ctx: Context, cfg: Config, res: Result) -> set[str]:
    """Codes of the current buildings the demolition outlines mark (code, else overlap)."""
    near = {e["code"]: e for e in ctx.buildings}
    out: set[str] = set()
    for d in p.demolish:
        if d.code:
            hit = [d.code] if d.code in near else []
        else:
            hit = [c for c, e in near.items() if e["geom"].area > 0 and
                   e["geom"].intersection(d.outline).area >= cfg.demolish_match_share
                   * e["geom"].area]
        if not hit:
            res.item("needs_review", d.label, note="the demolition outline matches no current "
                     "building" + (f" with code {d.code}" if d.code else ""))
        out.update(hit)
    return out


def existing_buildings(res: Result, p: Project, ctx: Context, cfg: Config,
                       layer_loaded: bool) -> None:
    res.required, res.unit = 0.0, "m²"
    if not layer_loaded:
        res.status("needs_review")
        res.notes.append("no existing buildings are loaded (cim load buildings)")
        return
    gone = demolished_codes(p, ctx, cfg, res)
    if gone:
        res.notes.append(f"to be demolished: {', '.join(sorted(gone))}")
    total = 0.0
    for b in p.buildings:
        clash = False
        core = b.footprint.buffer(-ON_LINE_M)  # a wall against a wall is no overlap
        for e in ctx.buildings:
            inter = b.footprint.intersection(e["geom"])
            if inter.area <= cfg.area_tolerance_m2 or \
                    core.intersection(e["geom"]).area <= cfg.area_tolerance_m2:
                continue
            if e["code"] in gone:
                res.item("pass", b.label, inter.area, 0.0, existing=e["code"],
                         note="overlaps a building to be demolished")
                continue
            clash = True
            total += inter.area
            res.item("fail", b.label, inter.area, 0.0, inter, existing=e["code"])
        if not clash and not any(i["what"] == b.label for i in res.items):
            res.item("pass", b.label, 0.0, 0.0)
    res.measured = total


def spacing_reach(p: Project, cfg: Config) -> float:
    """How far an existing building can stand and still be too close to a new one: the
    largest spacing the rule can ask of the project's tallest building (with ``height_of:
    taller`` a taller neighbour asks more: those beyond are read within ``search_m`` only)."""
    prm = cfg.rules["building_spacing"].params
    tallest = max((b.height for b in p.buildings if b.height is not None), default=0.0)
    return max(float(prm["min_m"]), float(prm["factor"]) * tallest)


def _spacing_bounds(hs: list[float | None], factor: float, min_m: float, which: str
                    ) -> tuple[float, float]:
    """The spacing a pair needs, as (at least, at most): equal when both heights are known;
    with one unknown, the lower building of the pair is no taller than the known one (and the
    taller no lower), so the bounds still settle a pair far enough apart or too close."""
    known = [h for h in hs if h is not None]
    if len(known) == len(hs):
        h = min(known) if which == "lower" else max(known)
        return (max(min_m, factor * h),) * 2
    if which == "lower":
        return min_m, max(min_m, factor * min(known)) if known else float("inf")
    return max([min_m] + [factor * h for h in known]), float("inf")


def _spacing_existing(res: Result, p: Project, ctx: Context, cfg: Config, factor: float,
                      min_m: float, which: str) -> None:
    """Each new building against the existing ones around it (not those to be demolished,
    nor one it overlaps: ``existing_buildings`` reports that): a fail or a pair needing review
    each an item, else the nearest to its requirement as the building's pass."""
    gone = demolished_codes(p, ctx, cfg, Result(res.conf))  # its findings are existing_buildings'
    for b in p.buildings:
        if b.underground:
            continue
        best: dict[str, Any] | None = None
        core = b.footprint.buffer(-ON_LINE_M)
        for e in ctx.buildings:
            if e["code"] in gone or core.intersection(e["geom"]).area > cfg.area_tolerance_m2:
                continue
            d = b.footprint.distance(e["geom"])
            eh = None if e.get("height") is None else float(e["height"])
            lo, hi = _spacing_bounds([b.height, eh], factor, min_m, which)
            what = f"{b.label} – existing {e['code']}"
            if round(d, 3) < lo:
                geom = shapely.shortest_line(b.footprint, e["geom"]) if d > 0 else \
                    b.footprint.intersection(e["geom"])
                res.item("fail", what, d, lo, geom, existing=e["code"], existing_height=eh,
                         **({} if lo == hi else {"note": "the height of a building of the "
                             "pair is unknown: at least this much whatever it is"}))
            elif round(d, 3) < hi:
                res.item("needs_review", what, d, None, existing=e["code"],
                         existing_height=eh, note="the height of a building of the pair is "
                         f"unknown: the spacing required lies between {lo:g} m and "
                         + (f"{hi:g} m" if hi != float("inf") else "any larger"))
            elif best is None or d - hi < best["d"] - best["req"]:
                best = {"d": d, "req": hi, "what": what, "existing": e["code"],
                        "existing_height": eh}
        if best is not None:
            d, req, what = best.pop("d"), best.pop("req"), best.pop("what")
            res.item("pass", what, d, req, **best)


def building_spacing(res: Result, p: Project, cfg: Config, ctx: Context | None = None,
                     buildings_loaded: bool = True) -> None:
    """Between the new buildings, and from each new building to the existing ones of the
    CIM near it (``ctx``: the rule is one spacing, whoever built the neighbour first)."""
    prm = cfg.rules["building_spacing"].params
    factor, min_m, which = float(prm["factor"]), float(prm["min_m"]), prm["height_of"]
    res.unit = "m"
    res.notes.append(f"required = max({min_m:g} m, {factor:g} × height of the {which} "
                     "building of each pair)")
    if ctx is not None and not buildings_loaded:
        res.notes.append("no existing buildings are loaded (cim load buildings): the spacing "
                         "to them is not checked")
    elif ctx is not None:
        _spacing_existing(res, p, ctx, cfg, factor, min_m, which)
    if len(p.buildings) < 2 and not res.items:
        res.status("needs_review" if ctx is not None and not buildings_loaded
                   else "not_applicable")
        res.notes.append("one new building and no existing building near it: no pair to "
                         "space")
        return
    for a, b in combinations(p.buildings, 2):
        d = a.footprint.distance(b.footprint)
        what = f"{a.label} – {b.label}"
        if a.underground or b.underground:
            res.item("not_applicable", what, d, None,
                     note="a building of the pair has no floor above ground (地上层数 0)")
            continue
        shared = a.footprint.intersection(b.footprint).area
        if shared > cfg.area_tolerance_m2:  # no spacing between them to measure
            res.item("needs_review", what, 0.0, None, a.footprint.intersection(b.footprint),
                     note=f"the outlines overlap ({shared:,.1f} m²): parts of one building "
                          "(a tower over its podium: give it as one, its counted floor area "
                          "given) or a drawing error")
            continue
        if a.height is None or b.height is None:
            res.item("needs_review", what, d, None, note="a building of the pair has no height")
            continue
        h = min(a.height, b.height) if which == "lower" else max(a.height, b.height)
        req = max(min_m, factor * h)
        geom = shapely.shortest_line(a.footprint, b.footprint) if d > 0 else \
            a.footprint.intersection(b.footprint)
        res.item("fail" if round(d, 3) < req else "pass", what, d, req, geom)
    _worst(res)
