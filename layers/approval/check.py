"""The approval check: a validated project against the CIM, rule by rule.

    result = check(conninfo, project, profile)        # -> {"project", "summary", "results"}

Reads the current features near the site once (:mod:`layers.approval.data`), runs every rule
of the rules file in its order, and returns the JSON result: the project's facts, the summary
(overall status and counts) and one result per rule (:mod:`layers.approval.result`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely

from cim import pressure
from cim.profile import CityProfile, dictionary_file
from layers.approval import rules_indices as ri
from layers.approval import rules_place as rp
from layers.approval.config import Config, load_config
from layers.approval.data import Context, read_context
from layers.approval.project import Project
from layers.approval.result import Result, crs84, summary
from layers.query.clearance_rules import Rule, load_rules, max_required
from layers.query.pipes import resolve_profile

PIPE_REACH_EXTRA_M = 2.5  # half the widest section the reach must allow for (DN5000)


# the share of a site outside every district from which its checks against the city's data
# are no pass: a boundary's digitising sliver is not, a site across the city line is
OUTSIDE_REVIEW_SHARE = 0.01


def _outside_is_no_pass(results: dict[str, Result], share: float) -> None:
    """A site lying (partly) where the city has no data: "no pipe within reach", no control
    line, no zone and no building there is no finding — missing data is never a pass. Each
    rule against the city's data that passed (or found nothing to check) needs review; the
    project's own (its buildings inside its site) stands."""
    for rid, r in results.items():
        if rid in _PROJECT_ONLY or not r.conf.enabled:
            continue
        if r.final_status() in ("pass", "not_applicable"):
            r.status("needs_review")
            r.notes.append(f"{share:.1%} of the site lies outside every district of the "
                           "city, where its data (pipes, buildings, control lines, zones, "
                           "parcels) does not reach: checked only where it does")


_PROJECT_ONLY = frozenset({"inside_site"})


def graded_classes(rules: list[Rule]) -> list[str]:
    """The pipe classes whose building clearance the rules grade by a pressure class (gas):
    one of these in a class the rules do not name has an unknown clearance."""
    return sorted({side.what for r in rules if r.kind == "horizontal"
                   and "building" in (r.a.what, r.b.what) for side in (r.a, r.b)
                   if side.what != "building" and any(c.field == "pressure"
                                                      for c in side.conds)})


def _sha256(path: Path) -> str | None:
    """The rules file's checksum (loaders.engine.checksum: the one a delivery's is), None if
    it cannot be read."""
    from loaders.engine.checksum import file_sha256

    try:
        return file_sha256(Path(path))
    except OSError:
        return None


def check(conninfo: str, project: Project, profile: CityProfile | None = None,
          config: Config | None = None) -> tuple[dict[str, Any], Context]:
    """Run every rule; returns the JSON result and the context read (for the report)."""
    t0 = time.perf_counter()
    prof = resolve_profile(profile)
    cfg = config or load_config(prof)
    clearance_rules = load_rules(prof)
    clearances = dictionary_file(prof, "pipe_clearances")
    # every pipe a building clearance of the rules can reach: the largest of the data file
    # (次高压A's 13.5 m), never a number here
    reach = max_required(clearance_rules, "horizontal", True) + PIPE_REACH_EXTRA_M
    unknown_reach = float(cfg.rules["pipe_clearance"].params["unknown_clearance_reach_m"])
    # around the site and every building: a building drawn beyond the red line (which
    # inside_site fails) still stands over the pipes and in the height zones out there,
    # which a read around the site alone did not see (a pass beside a main under it)
    around = shapely.union_all([project.site, *(b.footprint for b in project.buildings)])
    ctx = read_context(conninfo, around, cfg.search_m, reach, cfg.line_join_tolerance_m,
                       project.site, rp.spacing_reach(project, cfg),
                       (unknown_reach + PIPE_REACH_EXTRA_M, graded_classes(clearance_rules)))
    loaded = ctx.loaded
    R = {rid: Result(conf) for rid, conf in cfg.rules.items()}
    rp.inside_site(R["inside_site"], project, cfg)
    rp.setback_line(R["setback_road"], project, ctx, cfg, "道路红线", "setback_road_m",
                    loaded["control_lines"])
    rp.setback_site(R["setback_site"], project, ctx, cfg)
    rp.setback_line(R["setback_blue"], project, ctx, cfg, "蓝线", "setback_blue_m",
                    loaded["control_lines"])
    for rid in ("overlap_green", "overlap_blue", "overlap_purple", "overlap_yellow"):
        rp.overlap_line(R[rid], project, ctx, cfg, cfg.rules[rid].params["line_type"],
                        loaded["control_lines"])
    ri.height_parcel(R["height_parcel"], project, ctx, cfg)
    ri.height_zones(R["height_zones"], project, ctx, cfg, loaded["height_zones"])
    ri.far(R["far"], project, ctx, cfg)
    ri.density(R["density"], project, ctx, cfg)
    ri.green_ratio(R["green_ratio"], project, ctx, cfg)
    ri.pipe_clearance(R["pipe_clearance"], project, ctx, clearance_rules,
                      loaded["pipe_segments"], pressure.classes(prof), unknown_reach)
    rp.existing_buildings(R["existing_buildings"], project, ctx, cfg, loaded["buildings"])
    rp.building_spacing(R["building_spacing"], project, cfg, ctx, loaded["buildings"])
    if len(ctx.districts) > 1:
        project.notes.append("the site lies in " + str(len(ctx.districts)) + " districts: "
                             + ", ".join(f"{d['name']} ({d['code']}) {d['site_area_m2']:,.2f} m²"
                                         for d in ctx.districts))
    if ctx.outside_districts_m2 is None:
        project.notes.append("no district is loaded (cim profile apply): the districts the "
                             "site lies in are unknown")
    elif ctx.outside_districts_m2 > 0:
        # beyond the city's boundary (or in a gap between its districts): not the city's
        # land to approve, which the list of districts alone left unsaid
        share = ctx.outside_districts_m2 / project.site.area
        project.notes.append(f"{ctx.outside_districts_m2:,.2f} m² of the site "
                             f"({share:.1%}) lies in no district of the city "
                             "(admin_divisions)")
        if share >= OUTSIDE_REVIEW_SHARE:
            _outside_is_no_pass(R, share)
    if not loaded["planning_parcels"]:
        for rid in ("setback_road", "setback_site", "setback_blue", "height_parcel", "far",
                    "density", "green_ratio"):
            R[rid].notes.append("no planning parcels are loaded (cim load planning)")
    results = [R[rid].to_dict(ctx.srid) for rid in cfg.rules]
    site_area = project.site.area
    green = ri.green_areas(project, cfg.rules["green_ratio"].params["over_underground"])
    out = {
        "project": {
            "name": project.name, "source": project.source, "source_crs": project.source_crs,
            "site_area_m2": round(site_area, 2),
            "districts": ctx.districts,
            "outside_districts_m2": ctx.outside_districts_m2,
            "buildings": [{"name": b.label, "footprint_m2": round(b.footprint.area, 2),
                           "floors_above": b.floors_above, "floors_below": b.floors_below,
                           "height": b.height, "use": b.use,
                           "counted_area_m2": None if b.counted_area is None
                           else round(b.counted_area, 2),
                           "counted_area_from": "given" if b.counted_area_given is not None
                           else "floors × footprint" if b.floors_above is not None else None}
                          for b in project.buildings],
            "demolish": [d.label for d in project.demolish],
            # the green the ratio counts (in the site, not under a building) and as drawn
            "green_area_m2": round(green[1], 2),
            "green_drawn_m2": round(green[0], 2),
            # green over an underground structure (a garage's roof): counted as the rules say
            "green_over_underground_m2": round(green[2], 2),
            "site": crs84(project.site, ctx.srid),
            "notes": project.notes,
        },
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rules_file": str(cfg.path),
        # what was checked with which data: the rules files' contents and the layers' batches
        "rules": {"approval_rules": {"file": str(cfg.path), "sha256": _sha256(cfg.path)},
                  "pipe_clearances": {"file": str(clearances), "sha256": _sha256(clearances)}},
        "data": ctx.versions,
        "summary": summary(results),
        "results": results,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return out, ctx
