"""The risk list's data files, read and checked: types, rules and the grading matrix.

``risk_types.csv`` (the catalog: code, name, domain, what asset it applies to),
``risk_domains.csv`` (the seven domains, the class part of a risk point's code),
``risk_rules.yaml`` (how points are generated from the layers) and ``risk_matrix.yaml``
(consequence factors and likelihood × consequence → level). Every number a city may change
lives in these files, never in code; a broken file is a configuration error naming the file and
the key.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.cityclock import CHINA_TIME, city_today
from cim.errors import ConfigError
from cim.layerdefs import LAYERS
from cim.profile import DICTIONARY_DIR, CityProfile, read_csv_dictionary, read_yaml_mapping

LEVELS = ("重大", "较大", "一般", "低")
COLORS = ("红", "橙", "黄", "蓝")
KINDS = ("pipe_condition", "reverse_slope", "select", "near", "low_point")
# the layer each kind reads when the rule does not name one
KIND_LAYER = {"pipe_condition": "pipe_segments", "reverse_slope": "pipe_segments",
              "low_point": "pipe_points"}


@dataclass(frozen=True)
class RiskType:
    code: str
    name: str
    name_en: str
    domain_code: str
    domain: str
    asset_layer: str
    # what an asset of the type must be (risk_types.csv asset_where, the form of a rule's
    # ``where``): column → values; {} takes any feature of asset_layer
    asset_where: dict[str, list[str]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    kind: str
    layer: str
    where: dict[str, list[str]]
    owner_fields: tuple[str, ...]
    default_unit: str
    measure: str
    params: dict[str, Any]  # everything else of the rule (likelihood spec, distances …)


@dataclass(frozen=True)
class Matrix:
    consequence: dict[str, Any]
    levels: dict[str, dict[str, Any]]  # level → {color, rgb, deadline_days}
    table: dict[int, list[str]]  # likelihood → level per consequence 1..5
    initial_status: str
    # the states of a measure (待落实 / 落实中 / 已落实); empty: any text (an older file)
    measure_statuses: tuple[str, ...] = ()
    # the likelihood of a point added by hand without one (`cim risk add` without
    # --likelihood): recorded as a default, not an assessment (``manual_likelihood``)
    manual_likelihood: int = 3

    def level(self, likelihood: int, consequence: int) -> tuple[str, str]:
        """(level, colour) of a likelihood and a consequence, both 1-5."""
        lv = self.table[likelihood][consequence - 1]
        return lv, self.levels[lv]["color"]


@dataclass(frozen=True)
class RiskConfig:
    types: dict[str, RiskType]
    rules: list[Rule]
    matrix: Matrix
    rules_path: Path
    matrix_path: Path
    timezone: str = CHINA_TIME  # the city's (its profile's): deadlines are the city's dates
    # the city's profile: the alarm levels (its iot.yaml) a point written during an alarm on
    # its asset is raised by (layers.iot.alarms.raise_unraised)
    profile: CityProfile | None = field(default=None, compare=False)

    def today(self) -> dt.date:
        """The city's date now: the day deadlines count from."""
        return city_today(self.timezone)


def _path(profile: CityProfile | None, name: str, suffix: str, given: str | Path | None) -> Path:
    if given is not None:
        return Path(given)
    if profile is not None:
        return profile.dictionary_path(name, suffix)
    return DICTIONARY_DIR / f"{name}{suffix}"


def _yaml(p: Path, what: str) -> dict:
    return read_yaml_mapping(p, what)


def _int(v: Any, p: Path, key: str, lo: int = 1, hi: int = 5) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ConfigError(f"must be an integer {lo}..{hi}, not {v!r}", path=str(p), field=key)
    return v


def _num(v: Any, p: Path, key: str) -> float:
    # YAML's .nan passes "< 0" (NaN compares false), and a NaN radius crashed the database
    # server in ST_Buffer
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise ConfigError(f"must be a finite number >= 0, not {v!r}", path=str(p), field=key)
    return float(v)


def _adds(table: Any, p: Path, key: str) -> None:
    """A mapping value → integer added (materials, statuses, an adjust, road classes): a
    value that is no integer was found only when a feature met it, as an internal error."""
    if table is None:
        return
    if not isinstance(table, dict):
        raise ConfigError("a mapping of value → integer added", path=str(p), field=key)
    for k, v in table.items():
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"must be an integer (added), not {v!r}", path=str(p),
                              field=f"{key}.{k}")


def _steps(rows: Any, at: str, p: Path, key: str) -> None:
    """A threshold table (age, buildings, residents): rows of ``at`` (a number >= 0) and
    ``add`` (an integer); a row without ``add`` or with a text threshold failed at the first
    asset scored, as an internal error."""
    if rows is None:
        return
    if not isinstance(rows, list):
        raise ConfigError(f"a list of rows {{{at}: N, add: N}}", path=str(p), field=key)
    for j, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ConfigError(f"each row: {{{at}: N, add: N}}", path=str(p),
                              field=f"{key}[{j}]")
        _num(row.get(at), p, f"{key}[{j}].{at}")
        add = row.get("add")
        if isinstance(add, bool) or not isinstance(add, int):
            raise ConfigError(f"must be an integer (added), not {add!r}", path=str(p),
                              field=f"{key}[{j}].add")


def load_types(profile: CityProfile | None) -> dict[str, RiskType]:
    """The risk-type catalog joined with its domains (both CSV dictionaries)."""
    dp = _path(profile, "risk_domains", ".csv", None)
    tp = _path(profile, "risk_types", ".csv", None)
    domains = {r["code"]: r["name"] for r in read_csv_dictionary(dp)}
    out = {}
    for i, r in enumerate(read_csv_dictionary(tp), start=2):
        if r.get("domain_code") not in domains:
            raise ConfigError(f"domain {r.get('domain_code')!r} is not in {dp.name}",
                              path=str(tp), row=i, field="domain_code")
        if r.get("asset_layer") and r["asset_layer"] not in LAYERS:
            raise ConfigError(f"unknown layer {r['asset_layer']!r}", path=str(tp), row=i,
                              field="asset_layer")
        out[r["code"]] = RiskType(r["code"], r["name"], r.get("name_en", ""),
                                  r["domain_code"], domains[r["domain_code"]],
                                  r.get("asset_layer", ""),
                                  _asset_where(r.get("asset_where") or "",
                                               r.get("asset_layer", ""), tp, i))
    return out


def _asset_where(cell: str, layer: str, p: Path, row: int) -> dict[str, list[str]]:
    """``column=value|value; column=value`` → the ``where`` of a rule (column → values), of
    columns ``layer`` has: a city limits a type added only by hand (no rule says what it is
    on) to the assets it can be on — a heating leak on a heating pipe, not a gas main."""
    if not cell.strip():
        return {}
    if not layer:
        raise ConfigError("asset_where needs the type's asset_layer", path=str(p), row=row,
                          field="asset_where")
    columns = set(LAYERS[layer].column_names())
    out: dict[str, list[str]] = {}
    for part in filter(None, (x.strip() for x in cell.split(";"))):
        col, eq, vals = (x.strip() for x in part.partition("="))
        if not eq or not col:
            raise ConfigError(f"{part!r}: column=value|value expected (several joined by ;)",
                              path=str(p), row=row, field="asset_where")
        if col not in columns:
            raise ConfigError(f"{layer} has no column {col!r}", path=str(p), row=row,
                              field="asset_where")
        values = [v.strip() for v in vals.split("|") if v.strip()]
        if not values:
            raise ConfigError(f"{col}: no value", path=str(p), row=row, field="asset_where")
        out[col] = values
    return out


def _rule(spec: Any, i: int, p: Path, types: dict[str, RiskType]) -> Rule:
    key = f"rules[{i}]"
    if not isinstance(spec, dict):
        raise ConfigError("each rule is a mapping", path=str(p), field=key)
    rid = spec.get("id")
    if not isinstance(rid, str) or not rid:
        raise ConfigError("id is missing", path=str(p), field=f"{key}.id")
    key = f"rules.{rid}"
    if str(spec.get("type")) not in types:
        raise ConfigError(f"type {spec.get('type')!r} is not in risk_types.csv", path=str(p),
                          field=f"{key}.type")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}", path=str(p),
                          field=f"{key}.kind")
    layer = spec.get("layer") or KIND_LAYER.get(kind)
    if layer not in LAYERS:
        raise ConfigError(f"unknown layer {layer!r}", path=str(p), field=f"{key}.layer")
    columns = set(LAYERS[layer].column_names())
    where = spec.get("where") or {}
    if not isinstance(where, dict):
        raise ConfigError("where: column → list of values", path=str(p), field=f"{key}.where")
    for col, vals in where.items():
        if col not in columns:
            raise ConfigError(f"{layer} has no column {col!r}", path=str(p),
                              field=f"{key}.where")
        if not isinstance(vals, list) or not vals:
            raise ConfigError("a non-empty list of values", path=str(p),
                              field=f"{key}.where.{col}")
    owners = tuple(spec.get("owner_fields") or ())
    for f in owners:
        if f not in columns:
            raise ConfigError(f"{layer} has no column {f!r}", path=str(p),
                              field=f"{key}.owner_fields")
    for k in ("default_unit", "measure"):
        if not isinstance(spec.get(k), str) or not spec[k].strip():
            raise ConfigError(f"{k} is missing", path=str(p), field=f"{key}.{k}")
    params = {k: v for k, v in spec.items() if k not in (
        "id", "type", "kind", "layer", "where", "owner_fields", "default_unit", "measure")}
    if kind == "pipe_condition":
        lk = params.get("likelihood")
        if not isinstance(lk, dict):
            raise ConfigError("likelihood: base, material, age, pressure, status", path=str(p),
                              field=f"{key}.likelihood")
        _int(lk.get("base", 1), p, f"{key}.likelihood.base")
        _int(params.get("min_likelihood", 1), p, f"{key}.min_likelihood")
        for k in ("material_default", "age_unknown", "pressure_unknown"):
            v = lk.get(k, 0)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"must be an integer (added to the likelihood), not {v!r}",
                                  path=str(p), field=f"{key}.likelihood.{k}")
        _steps(lk.get("age"), "min_years", p, f"{key}.likelihood.age")
        for k in ("material", "status"):
            _adds(lk.get(k), p, f"{key}.likelihood.{k}")
        for j, pr in enumerate(lk.get("pressure") or []):
            pk = f"{key}.likelihood.pressure[{j}]"
            if not isinstance(pr, dict) or not isinstance(pr.get("add"), int):
                raise ConfigError("each row: names and/or min_mpa / above_mpa, and add",
                                  path=str(p), field=pk)
            for b in ("min_mpa", "above_mpa"):
                if pr.get(b) is not None:
                    _num(pr[b], p, f"{pk}.{b}")
    else:
        _int(params.get("likelihood"), p, f"{key}.likelihood")
    if kind == "near":
        if params.get("near_layer") not in LAYERS:
            raise ConfigError("near_layer must be a layer", path=str(p),
                              field=f"{key}.near_layer")
        _num(params.get("distance_m"), p, f"{key}.distance_m")
    if kind == "reverse_slope":
        _num(params.get("tolerance_m", 0), p, f"{key}.tolerance_m")
    if kind == "low_point":
        for k in ("radius_m", "percentile", "min_drop_m", "cluster_m"):
            _num(params.get(k), p, f"{key}.{k}")
        if params.get("threshold_m") is not None:
            _num(params["threshold_m"], p, f"{key}.threshold_m")
    adjust = params.get("adjust") or {}
    if not isinstance(adjust, dict):
        raise ConfigError("adjust: column → value → added", path=str(p), field=f"{key}.adjust")
    for col, values in adjust.items():
        if col not in columns:
            raise ConfigError(f"{layer} has no column {col!r}", path=str(p),
                              field=f"{key}.adjust")
        _adds(values, p, f"{key}.adjust.{col}")
    return Rule(rid, str(spec["type"]), kind, layer,
                {c: [str(v) for v in vs] for c, vs in where.items()}, owners,
                spec["default_unit"].strip(), spec["measure"].strip(), params)


def load_rules(p: Path, types: dict[str, RiskType]) -> list[Rule]:
    raw = _yaml(p, "the risk rules")
    if not isinstance(raw.get("rules"), list):
        raise ConfigError("expected a 'rules' list", path=str(p), field="rules")
    rules = [_rule(s, i, p, types) for i, s in enumerate(raw["rules"])
             if not (isinstance(s, dict) and s.get("enabled") is False)]
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise ConfigError("rule id used twice", path=str(p), field=f"rules.{r.id}")
        seen.add(r.id)
    return rules


def load_matrix(p: Path) -> Matrix:
    raw = _yaml(p, "the risk matrix")
    levels = raw.get("levels")
    if not isinstance(levels, dict) or list(levels) != list(LEVELS):
        raise ConfigError(f"levels must list {', '.join(LEVELS)} in this order", path=str(p),
                          field="levels")
    for lv, spec in levels.items():
        if not isinstance(spec, dict) or spec.get("color") not in COLORS:
            raise ConfigError(f"color must be one of {''.join(COLORS)}", path=str(p),
                              field=f"levels.{lv}.color")
        _int(spec.get("deadline_days"), p, f"levels.{lv}.deadline_days", 0, 3650)
    table = raw.get("matrix")
    if not isinstance(table, dict) or sorted(table) != [1, 2, 3, 4, 5]:
        raise ConfigError("matrix: rows 1..5 (likelihood)", path=str(p), field="matrix")
    for lk, row in table.items():
        if not isinstance(row, list) or len(row) != 5 or any(v not in LEVELS for v in row):
            raise ConfigError(f"five levels (one per consequence 1..5) of {', '.join(LEVELS)}",
                              path=str(p), field=f"matrix.{lk}")
    cons = raw.get("consequence")
    if not isinstance(cons, dict):
        raise ConfigError("consequence factors missing", path=str(p), field="consequence")
    _num(cons.get("radius_m"), p, "consequence.radius_m")
    _int(cons.get("base", 1), p, "consequence.base")
    _int(cons.get("max", 5), p, "consequence.max")
    for k in ("buildings", "population"):
        _steps(cons.get(k), "min", p, f"consequence.{k}")
    fac = cons.get("facilities")
    if fac is not None:
        if not isinstance(fac, dict) or not isinstance(fac.get("types") or [], list):
            raise ConfigError("types: a list of facility types, add: an integer", path=str(p),
                              field="consequence.facilities")
        _adds({"add": fac.get("add", 0)}, p, "consequence.facilities")
    roads = cons.get("roads")
    if roads is not None:
        if not isinstance(roads, dict):
            raise ConfigError("radius_m and classes (road class → added)", path=str(p),
                              field="consequence.roads")
        _num(roads.get("radius_m", 0), p, "consequence.roads.radius_m")
        _adds(roads.get("classes"), p, "consequence.roads.classes")
    initial = str(raw.get("initial_status") or "待落实")
    statuses = raw.get("measure_statuses") or []
    if not isinstance(statuses, list) or not all(isinstance(v, str) and v.strip()
                                                 for v in statuses):
        raise ConfigError("a list of the states of a measure", path=str(p),
                          field="measure_statuses")
    if statuses and initial not in statuses:
        raise ConfigError(f"initial_status {initial!r} is not one of measure_statuses",
                          path=str(p), field="initial_status")
    return Matrix(cons, levels, {int(k): list(v) for k, v in table.items()}, initial,
                  tuple(v.strip() for v in statuses),
                  _int(raw.get("manual_likelihood", 3), p, "manual_likelihood"))


def matrix_path(profile: CityProfile | None) -> Path:
    """The grading matrix: the city's override, else the platform's."""
    return _path(profile, "risk_matrix", ".yaml", None)


def load_config(profile: CityProfile | None, rules: str | Path | None = None,
                matrix: str | Path | None = None) -> RiskConfig:
    """Types, rules and matrix: the given files, else the city's overrides, else the defaults."""
    types = load_types(profile)
    rp = _path(profile, "risk_rules", ".yaml", rules)
    mp = _path(profile, "risk_matrix", ".yaml", matrix)
    return RiskConfig(types, load_rules(rp, types), load_matrix(mp), rp, mp,
                      profile.timezone if profile is not None else CHINA_TIME, profile)
