"""The indicator catalog (``cim/dictionaries/health_indicators.yaml``), read and checked.

Indicators are data: a city edits targets, parameters and weights in its copy of the file
(named in the profile, ``dictionaries: {health_indicators: …}``). What the file may ask for is
bounded by the named computations of :mod:`layers.health.templates`; an unknown computation,
dimension or direction is an error naming the file and the indicator, before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.errors import ConfigError
from cim.profile import CityProfile, read_yaml_mapping

DIRECTIONS = ("up", "down")


@dataclass(frozen=True)
class Dimension:
    id: str
    name_zh: str
    name_en: str
    weight: float


@dataclass(frozen=True)
class Indicator:
    id: str
    name_zh: str
    name_en: str
    dimension: str
    unit: str
    definition: str
    template: str
    params: dict[str, Any]
    direction: str
    target: float | None
    source: str
    scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name_zh": self.name_zh, "name_en": self.name_en,
                "dimension": self.dimension, "unit": self.unit, "direction": self.direction,
                "target": self.target, "computation": self.template, "source": self.source}


@dataclass(frozen=True)
class HealthCatalog:
    path: Path
    dimensions: list[Dimension]
    indicators: list[Indicator]
    settings: dict[str, Any] = field(default_factory=dict)

    def dimension(self, dim_id: str) -> Dimension:
        return next(d for d in self.dimensions if d.id == dim_id)


def catalog_path(profile: CityProfile | None) -> Path:
    from cim.profile import DICTIONARY_DIR

    if profile is None:
        return DICTIONARY_DIR / "health_indicators.yaml"
    return profile.dictionary_path("health_indicators", ".yaml")


def load_catalog(profile: CityProfile | None = None, path: Path | None = None) -> HealthCatalog:
    """The checked catalog of ``path`` (default: the profile's, else the platform's)."""
    from layers.health.compute import INDEX_ID
    from layers.health.params import check_params, check_settings
    from layers.health.service_coverage import facility_types
    from layers.health.templates import TEMPLATES

    path = Path(path) if path else catalog_path(profile)
    raw = read_yaml_mapping(path, "the indicator catalog")
    dims = []
    # a city's copy without its own dimensions takes the platform file's, as its settings
    # (an indicator of 'ecological' was refused as "not one of" an empty list)
    dims_from, dims_path = (raw, path) if raw.get("dimensions") is not None else (
        read_yaml_mapping(catalog_path(None), "the indicator catalog"), catalog_path(None))
    for i, d in enumerate(_entries(dims_from, "dimensions", dims_path)):
        try:
            dims.append(Dimension(str(d["id"]), str(d["name_zh"]), str(d.get("name_en", "")),
                                  _number(d.get("weight", 1), "weight")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{dims_path}: dimension {d.get('id') or i + 1}: missing or bad "
                              f"field {exc}") from exc
        if dims[-1].id in {x.id for x in dims[:-1]}:
            # the second one's weight silently replaced the first's in the index
            raise ConfigError(f"{dims_path}: dimension {dims[-1].id}: id declared twice")
    dim_ids = {d.id for d in dims}
    types = facility_types(profile)
    inds, seen = [], set()
    for i, r in enumerate(_entries(raw, "indicators", path)):
        where = f"{path}: indicator {r.get('id') or i + 1}"
        if str(r.get("id")) == INDEX_ID:
            # its rows took the city health index's codes: the store failed on them, after
            # the whole computation, as an internal error
            raise ConfigError(f"{where}, field 'id': {INDEX_ID!r} is the city health index's "
                              "id; name the indicator otherwise")
        try:
            comp = r["computation"]
            ind = Indicator(
                id=str(r["id"]), name_zh=str(r["name_zh"]), name_en=str(r.get("name_en", "")),
                dimension=str(r["dimension"]), unit=str(r.get("unit", "")),
                definition=str(r.get("definition", "")).strip(),
                template=str(comp["template"]), params=dict(comp.get("params") or {}),
                direction=str(r.get("direction", "up")),
                target=None if r.get("target") is None else _number(r["target"], "target",
                                                                     minimum=None),
                source=str(r.get("source", "")),
                scale=_number(r.get("scale", 1), "scale", above=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: missing or bad field {exc}") from exc
        if ind.id in seen:
            raise ConfigError(f"{where}: id declared twice")
        if ind.dimension not in dim_ids:
            raise ConfigError(f"{where}, field 'dimension': {ind.dimension!r} is not one of "
                           f"{', '.join(sorted(dim_ids)) or 'none (the catalog has none)'}")
        if ind.template not in TEMPLATES:
            raise ConfigError(f"{where}, field 'computation': unknown template "
                           f"{ind.template!r}; known: {', '.join(sorted(TEMPLATES))}")
        if ind.direction not in DIRECTIONS:
            raise ConfigError(f"{where}, field 'direction': {ind.direction!r} is not up or down")
        try:
            check_params(ind.template, ind.params, types)
        except ValueError as exc:
            raise ConfigError(f"{where}, field 'computation.params': {exc}") from exc
        seen.add(ind.id)
        inds.append(ind)
    settings = {**_platform_settings(path), **_settings(raw)}
    try:
        check_settings(settings)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return HealthCatalog(path=path, dimensions=dims, indicators=inds, settings=settings)


def _entries(raw: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    """The catalog's list ``key`` (dimensions, indicators), each entry a mapping, else
    ConfigError naming the file and the entry: an indicator written as its id alone
    (``- park_service_coverage``) or a mapping for the list was an internal error."""
    rows = raw.get(key) or []
    what = key[:-1]
    if not isinstance(rows, list):
        raise ConfigError(f"{path}: {key!r} must be a list, each {what} a mapping "
                          f"(- id: …), not {type(rows).__name__}")
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise ConfigError(f"{path}: {what} {i + 1}: must be a mapping (id: …, name_zh: …), "
                              f"not {r!r}")
    return rows


def _number(v: Any, name: str, minimum: float | None = 0.0, above: bool = False) -> float:
    """A finite number of the catalog, else ValueError naming the field. float() took
    "nan", ".nan" and -1: a dimension of weight -1 or nan was silently left out of the
    index, a target of nan was "not met" whatever the value, a scale of 0 made every value
    0 — the city's index changed with no word."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"{name!r}: {v!r} is not a number")
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"{name!r}: {v!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{name!r}: {v!r} is not a finite number")
    if minimum is not None and (x <= minimum if above else x < minimum):
        raise ValueError(f"{name!r}: {v!r} must be {'>' if above else '≥'} {minimum:g}")
    return x


def _settings(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in ("dimensions", "indicators")}


def _platform_settings(path: Path) -> dict[str, Any]:
    """The platform file's settings (pipe_design_life_years, road_snap_m …): a city's
    copy without one takes the platform's value, not nothing."""
    platform = catalog_path(None)
    if path.resolve() == platform.resolve():
        return {}
    return _settings(read_yaml_mapping(platform, "the indicator catalog"))
