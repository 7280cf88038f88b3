"""The parameters a catalog may give each named computation, and its settings, checked when
the catalog is read: a catalog's mistake is refused naming the parameter before anything
runs, not met mid-run.
"""

from __future__ import annotations

import math
from typing import Any

from layers.health.service_coverage import find_facility_type


def _num(params: dict, key: str, *, required: bool = False, minimum: float = 0.0,
         above: bool = False, integer: bool = False) -> None:
    if key not in params or params[key] is None:
        if required:
            raise ValueError(f"{key!r} is required")
        return
    v = params[key]
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and \
        (v > minimum if above else v >= minimum) and (not integer or float(v).is_integer())
    if not ok:
        kind = "a whole number" if integer else "a finite number"
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
