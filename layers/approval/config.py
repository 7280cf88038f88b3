"""The approval rules file (``cim/dictionaries/approval_rules.yaml``) read and checked.

The numbers a city may change (search radius, tolerances, the spacing factor, the widest
road red line) and each rule's titles and clause live in the file, never in code; a broken
file is a configuration error naming the file and the key; a key a city's older copy lacks is
the platform file's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, CityProfile, read_yaml_mapping
from layers.approval.linework import TYPE_CODES

FILE = "approval_rules.yaml"
RULE_IDS = ("inside_site", "setback_road", "setback_site", "setback_blue", "overlap_green",
            "overlap_blue", "overlap_purple", "overlap_yellow", "height_parcel",
            "height_zones", "far", "density", "green_ratio", "pipe_clearance",
            "existing_buildings", "building_spacing")
LINE_TYPES = tuple(TYPE_CODES)  # the standard names of the types the rules know
# how the green drawn over an underground structure (地上层数 0) counts in the green ratio
GREEN_OVER_UNDERGROUND = ("review", "count", "exclude")


@dataclass(frozen=True)
class RuleConf:
    id: str
    title_zh: str
    title_en: str
    clause: str
    enabled: bool
    params: dict[str, Any]


@dataclass(frozen=True)
class Config:
    path: Path
    search_m: float
    area_tolerance_m2: float
    parcel_cover_min: float
    demolish_match_share: float
    rules: dict[str, RuleConf]
    line_join_tolerance_m: float = 0.0  # ends of area-line pieces this close meet
    site_seam_m: float = 0.0  # a site's parts this close (half the gap) are one site


def rules_path(profile: CityProfile | None, path: str | Path | None = None) -> Path:
    """The rules file: ``path`` if given, else the city's override, else the default."""
    if path is not None:
        return Path(path)
    if profile is not None:
        return profile.dictionary_path("approval_rules", ".yaml")
    return DICTIONARY_DIR / FILE


def _number(raw: dict, key: str, path: Path, lo: float = 0.0, hi: float | None = None
            ) -> float:
    v = raw.get(key)
    # YAML's .nan passes "< lo" (NaN compares false): a search distance of NaN reached
    # ST_DWithin; .inf one of infinity
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or \
            v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"{key} must be a finite number {rng}, not {v!r}", path=str(path),
                          field=key)
    return float(v)


def _platform_default(params: dict[str, Any], rid: str | None, key: str, path: Path
                      ) -> dict[str, Any]:
    """``params`` (the file's top level, or rule ``rid``'s) with ``key`` from the platform's
    file where a city's copy, made before the key was added, has none (the number lives in
    the data file, not in code)."""
    if key in params or path.resolve() == (DICTIONARY_DIR / FILE).resolve():
        return params
    raw = read_yaml_mapping(DICTIONARY_DIR / FILE, "the approval rules")
    params[key] = (raw if rid is None else raw["rules"][rid])[key]
    return params


def load_config(profile: CityProfile | None, path: str | Path | None = None) -> Config:
    """Read and check the rules file (every rule of :data:`RULE_IDS` must be described)."""
    p = rules_path(profile, path)
    raw = read_yaml_mapping(p, "the approval rules")
    if not isinstance(raw.get("rules"), dict):
        raise ConfigError("expected a mapping with a 'rules' mapping", path=str(p),
                          field="rules")
    rules: dict[str, RuleConf] = {}
    unknown = sorted(set(raw["rules"]) - set(RULE_IDS))
    if unknown:
        raise ConfigError(f"unknown rule(s) {', '.join(unknown)}; rules: {', '.join(RULE_IDS)}",
                          path=str(p), field="rules")
    for rid in RULE_IDS:
        spec = raw["rules"].get(rid)
        key = f"rules.{rid}"
        if not isinstance(spec, dict):
            raise ConfigError("missing: each rule needs title_zh, title_en and clause",
                              path=str(p), field=key)
        for k in ("title_zh", "title_en", "clause"):
            if not isinstance(spec.get(k), str) or not spec[k].strip():
                raise ConfigError(f"{k} is missing", path=str(p), field=f"{key}.{k}")
        params = {k: v for k, v in spec.items()
                  if k not in ("title_zh", "title_en", "clause", "enabled")}
        if rid.startswith("overlap_"):  # a standard name, or its code (HX LVX LX ZX HUX)
            by_code = {c: n for n, c in TYPE_CODES.items()}
            params["line_type"] = by_code.get(params.get("line_type"), params.get("line_type"))
            if params["line_type"] not in LINE_TYPES:
                raise ConfigError(f"line_type must be one of {', '.join(LINE_TYPES)} (or its "
                                  f"code: {', '.join(TYPE_CODES.values())})", path=str(p),
                                  field=f"{key}.line_type")
        if rid == "setback_road":
            _platform_default(params, rid, "centre_line_max_width_m", p)
            _number(params, "centre_line_max_width_m", p)
        if rid == "green_ratio":
            _platform_default(params, rid, "over_underground", p)
            if params["over_underground"] not in GREEN_OVER_UNDERGROUND:
                raise ConfigError("over_underground must be one of "
                                  f"{', '.join(GREEN_OVER_UNDERGROUND)}", path=str(p),
                                  field=f"{key}.over_underground")
        if rid == "pipe_clearance":
            _platform_default(params, rid, "unknown_clearance_reach_m", p)
            _number(params, "unknown_clearance_reach_m", p)
        if rid == "building_spacing":
            _number(params, "factor", p)
            _number(params, "min_m", p)
            if params.get("height_of") not in ("lower", "taller"):
                raise ConfigError("height_of must be lower or taller", path=str(p),
                                  field=f"{key}.height_of")
        rules[rid] = RuleConf(rid, spec["title_zh"].strip(), spec["title_en"].strip(),
                              spec["clause"].strip(), spec.get("enabled", True) is not False,
                              params)
    return Config(p, _number(raw, "search_m", p), _number(raw, "area_tolerance_m2", p),
                  _number(raw, "parcel_cover_min", p, 0.0, 1.0),
                  _number(raw, "demolish_match_share", p, 0.0, 1.0), rules,
                  _number(_platform_default(raw, None, "line_join_tolerance_m", p),
                          "line_join_tolerance_m", p, 0.0, 1.0),
                  _number(_platform_default(raw, None, "site_seam_m", p), "site_seam_m", p,
                          0.0, 1.0))
