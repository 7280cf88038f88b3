"""Alarm thresholds and the monitoring settings, read and checked from data files.

``sensor_thresholds.csv`` holds one row per sensor type, asset class ('' = any: the class
code of the watched asset in its layer as ``cim load sensors`` stores it, e.g. pipe class 01
给水, 03 燃气), level
(1 一级 红 … 4 四级 蓝) with the value that opens the level (``on``) and the hysteresis bound
that leaves it (``off``), in the type's unit. A sensor uses the row set of its type and its
asset class when the file has one, else the type's '' set: the most specific set wins whole
(levels are never mixed between sets, so a city states a class's four levels together).
``direction`` is ``above`` (gas, level, deflection …) or ``below`` (a pressure drop); one
direction per set, ``off`` on the safe side of ``on``, and more severe levels further out.

``iot.yaml`` names the levels (colour and the risk level an alarm raises), the gap detector's
factor and the partitions kept ahead. A broken row is a configuration error naming the file,
the row and the field; nothing about thresholds lives in code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cim.cityclock import CHINA_TIME
from cim.errors import ConfigError
from cim.profile import (
    DICTIONARY_DIR,
    CityProfile,
    dictionary_file,
    read_csv_dictionary,
    read_yaml_mapping,
)
from cim.text import norm_key

DIRECTIONS = ("above", "below")
COLUMNS = ("type_code", "asset_class", "direction", "level", "on", "off", "case_category")


@dataclass(frozen=True)
class Band:
    """One level of a row set."""

    level: int
    on: float
    off: float
    case_category: str


@dataclass(frozen=True)
class RowSet:
    """The levels that apply to a sensor type (and asset class), most severe first."""

    type_code: str
    asset_class: str
    direction: str
    bands: tuple[Band, ...]

    def beyond(self, value: float, bound: float) -> bool:
        """Whether ``value`` is on the alarm side of ``bound`` (inclusive)."""
        return value >= bound if self.direction == "above" else value <= bound

    @property
    def least(self) -> Band:
        """The least severe level: its ``on`` is the first bound a value crosses."""
        return self.bands[-1]

    def band(self, level: int) -> Band:
        return next(b for b in self.bands if b.level == level)

    def step(self, state: int | None, value: float) -> int | None:
        """The hysteresis state after ``value``: the most severe level whose ``on`` the value
        reaches, if more severe than ``state``; else ``state`` while the value stays beyond its
        ``off``; else the most severe less-severe level whose ``off`` it is still beyond;
        else None (cleared)."""
        for b in self.bands:  # most severe first
            if state is not None and b.level >= state:
                break
            if self.beyond(value, b.on):
                return b.level
        if state is None:
            return None
        for b in self.bands:
            if b.level >= state and self.beyond(value, b.off):
                return b.level
        return None


@dataclass(frozen=True)
class Level:
    name: str
    color: str
    risk_level: str


@dataclass(frozen=True)
class IotConfig:
    sets: dict[tuple[str, str], RowSet]
    levels: dict[int, Level]
    gap_factor: float
    gap_level: int
    gap_category: str
    gap_raise_risk: bool
    gap_statuses: tuple[str, ...]
    ahead: int
    behind: int
    matrix_path: Path
    type_names: dict[str, str] = field(default_factory=dict)
    type_intervals: dict[str, int] = field(default_factory=dict)  # sensor_types interval_s
    # a reading later than the platform's clock + this many seconds is refused (iot.yaml
    # readings.max_ahead_s): a device clock gone wrong would otherwise make every later
    # reading of the sensor "late" (met only by the episodes of their time) and its case
    # unworkable
    max_ahead_s: float = 300.0
    # a reading received more than this many seconds after its time that opens or escalates
    # an alarm is a backlog (iot.yaml readings.backlog_s): its case registered at receipt;
    # None: off
    backlog_s: float | None = field(default=None, kw_only=True)
    # a sensor in one of these states (iot.yaml alarms.end_statuses, 停用) or retired has no
    # threshold alarm: its active one is cleared (reason named) and its readings open none;
    # no default here: the platform's iot.yaml holds it (:func:`_end_statuses`)
    end_statuses: tuple[str, ...] = field(kw_only=True)
    # the city's clock (its profile's timezone): the year an alarm's risk raise is filed under
    timezone: str = field(default=CHINA_TIME, kw_only=True)
    # the risk type of each sensor type (the city's sensor_types.csv risk_type): the asset's
    # risk point of that type is the one an alarm raises
    risk_types: dict[str, str] = field(default_factory=dict, kw_only=True)
    # the alarms layer's code (the city's layers.csv), in each alarm's code
    alarm_layer_code: str | None = field(default=None, kw_only=True)
    # the city's profile: an alarm's case follows the city's case categories and workflow
    # (its thresholds' case_category is checked against them: layers.cases)
    profile: CityProfile | None = field(default=None, kw_only=True, compare=False)

    def rowset(self, type_code: str, asset_class: str | None) -> RowSet | None:
        """The most specific row set of a sensor (None: no thresholds, no alarms)."""
        return (self.sets.get((type_code, norm_key(asset_class)))
                or self.sets.get((type_code, "")))


def _float(v: str, p: Path, row: int, name: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise ConfigError(f"not a number: {v!r}", path=str(p), row=row, field=name) from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ConfigError(f"not a finite number: {v!r}", path=str(p), row=row, field=name)
    return x


def load_thresholds(p: Path, categories: set[str] | None = None,
                    types: set[str] | None = None,
                    classes: set[str] | None = None) -> dict[tuple[str, str], RowSet]:
    """The row sets of ``p`` keyed by (type code, normalised asset class); ``classes``: the
    class codes a watched asset can have (an asset class outside them would match no sensor
    and its levels would silently never apply)."""
    known = {norm_key(c) for c in classes} if classes is not None else None
    rows = read_csv_dictionary(p)
    if rows:
        missing = [c for c in COLUMNS if c not in rows[0]]
        if missing:
            raise ConfigError(f"missing column(s) {', '.join(missing)}", path=str(p), row=1,
                              field=missing[0])
    raw: dict[tuple[str, str], list[tuple[int, str, Band]]] = {}
    for i, r in enumerate(rows, start=2):  # row 1 is the header
        t = r["type_code"]
        if not t or (types is not None and t not in types):
            raise ConfigError(f"unknown sensor type {t!r} (sensor_types.csv)", path=str(p),
                              row=i, field="type_code")
        if r["direction"] not in DIRECTIONS:
            raise ConfigError(f"direction must be above or below, not {r['direction']!r}",
                              path=str(p), row=i, field="direction")
        if r["level"] not in ("1", "2", "3", "4"):
            raise ConfigError(f"level must be 1..4, not {r['level']!r}", path=str(p), row=i,
                              field="level")
        on, off = _float(r["on"], p, i, "on"), _float(r["off"], p, i, "off")
        above = r["direction"] == "above"
        if (off >= on) if above else (off <= on):
            raise ConfigError(f"off ({off:g}) must be {'below' if above else 'above'} on "
                              f"({on:g}) for direction {r['direction']}: the hysteresis "
                              "bound lies on the safe side", path=str(p), row=i, field="off")
        cat = r["case_category"]
        if not cat or (categories is not None and cat not in categories):
            raise ConfigError(f"unknown case category {cat!r} (case_categories.csv)",
                              path=str(p), row=i, field="case_category")
        key = (t, norm_key(r["asset_class"]))
        if key[1] and known is not None and key[1] not in known:
            hint = (f" (a spreadsheet dropped its leading zero? {'0' + key[1]!r} is one)"
                    if "0" + key[1] in known else "")
            raise ConfigError(f"asset class {r['asset_class']!r} is no class code of a layer a "
                              f"sensor watches (pipe_classes.csv, components.csv …){hint}: "
                              "no sensor would have these levels", path=str(p), row=i,
                              field="asset_class")
        raw.setdefault(key, []).append((i, r["direction"], Band(int(r["level"]), on, off, cat)))
    out = {}
    for key, items in raw.items():
        first = items[0][0]
        dirs = {d for _, d, _ in items}
        if len(dirs) > 1:
            raise ConfigError(f"type {key[0]} class {key[1]!r}: one direction per row set",
                              path=str(p), row=items[-1][0], field="direction")
        levels = [b.level for _, _, b in items]
        dup = next((lv for lv in levels if levels.count(lv) > 1), None)
        if dup is not None:
            row = [i for i, _, b in items if b.level == dup][1]
            raise ConfigError(f"level {dup} given twice for type {key[0]} class {key[1]!r}",
                              path=str(p), row=row, field="level")
        direction = dirs.pop()
        bands = tuple(sorted((b for _, _, b in items), key=lambda b: b.level))
        rs = RowSet(key[0], key[1], direction, bands)
        for a, b in zip(bands, bands[1:], strict=False):  # a more severe than b
            if not rs.beyond(a.on, b.on) or a.on == b.on:
                row = next(i for i, _, x in items if x is a)
                raise ConfigError(f"level {a.level} must open further out than level "
                                  f"{b.level} ({a.on:g} vs {b.on:g}, {direction})",
                                  path=str(p), row=row if row else first, field="on")
        out[key] = rs
    return out


def asset_classes(profile: CityProfile | None) -> set[str]:
    """The class codes a watched asset can have: those of each layer's class dictionary (the
    city's copy where its profile has one), as ``cim load sensors`` stores ``asset_class``."""
    from cim.layerdefs import LAYERS

    out: set[str] = set()
    for name in sorted({d.class_dictionary for d in LAYERS.values()
                        if d.class_dictionary and d.class_column}):
        p = _path(profile, name, ".csv")
        if p.exists():
            out |= {r["code"] for r in read_csv_dictionary(p) if r.get("code")}
    return out


def _yaml(p: Path) -> dict[str, Any]:
    return read_yaml_mapping(p, "the IoT settings")


def _path(profile: CityProfile | None, name: str, suffix: str) -> Path:
    return dictionary_file(profile, name, suffix)


def _num(v: Any, p: Path, key: str, lo: float = 0) -> float:
    # YAML's .nan passes "< lo": max_ahead_s of NaN made every ingest an internal error
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < lo:
        raise ConfigError(f"must be a finite number >= {lo:g}, not {v!r}", path=str(p),
                          field=key)
    return float(v)


def load_config(profile: CityProfile | None = None,
                thresholds: str | Path | None = None) -> IotConfig:
    """Thresholds, levels, gap and partition settings: the city's files, else the defaults."""
    from layers.risk.config import LEVELS

    type_rows = read_csv_dictionary(_path(profile, "sensor_types", ".csv"))
    types = {r["code"]: r["name"] for r in type_rows}
    intervals = {r["code"]: int(r["interval_s"]) for r in type_rows
                 if (r.get("interval_s") or "").isdigit()}
    risk_types = {r["code"]: r.get("risk_type") or "" for r in type_rows}
    cats = {r["code"] for r in read_csv_dictionary(_path(profile, "case_categories", ".csv"))}
    tp = Path(thresholds) if thresholds else _path(profile, "sensor_thresholds", ".csv")
    sets = load_thresholds(tp, cats, set(types), asset_classes(profile))
    yp = _path(profile, "iot", ".yaml")
    raw = _yaml(yp)
    lv = raw.get("levels")
    if not isinstance(lv, dict):
        raise ConfigError("levels: a mapping of the alarm levels 1, 2, 3 and 4", path=str(yp),
                          field="levels")
    # all four, always: the thresholds (sensor_thresholds.csv) and the gap detector name
    # them, and an active alarm keeps the level it opened at — a level dropped while an alarm
    # is at it would leave that alarm with no name, colour or risk level to clear or raise by
    # (a KeyError in `cim risk assess` and in the reading that clears it)
    given = {k for k in lv if isinstance(k, int) and not isinstance(k, bool)}
    missing = sorted({1, 2, 3, 4} - given)
    other = sorted((str(k) for k in lv if k not in (1, 2, 3, 4) or isinstance(k, bool)), key=str)
    if missing or other:
        why = "; ".join(x for x in (
            f"level(s) {', '.join(map(str, missing))} missing" if missing else "",
            f"not a level: {', '.join(map(repr, other))}" if other else "") if x)
        raise ConfigError(f"levels: 1, 2, 3 and 4, each named ({why}); every level is kept, "
                          "as alarms already open at a level still need its name, colour and "
                          "risk level", path=str(yp), field="levels")
    levels = {}
    for k, spec in lv.items():
        if not isinstance(spec, dict) or spec.get("risk_level") not in LEVELS:
            raise ConfigError(f"risk_level must be one of {', '.join(LEVELS)}", path=str(yp),
                              field=f"levels.{k}.risk_level")
        if not spec.get("name") or not spec.get("color"):
            raise ConfigError("name and color are required", path=str(yp), field=f"levels.{k}")
        levels[int(k)] = Level(str(spec["name"]), str(spec["color"]), spec["risk_level"])
    gap = raw.get("gap") or {}
    if not isinstance(gap, dict):
        raise ConfigError("gap: a mapping", path=str(yp), field="gap")
    factor = _num(gap.get("factor"), yp, "gap.factor", 1)
    glevel = _setting(gap, "gap", "level", yp)
    if glevel not in levels:
        raise ConfigError("gap.level: 1..4", path=str(yp), field="gap.level")
    gcat = str(gap.get("case_category") or "")
    if gcat not in cats:
        raise ConfigError(f"unknown case category {gcat!r} (case_categories.csv)",
                          path=str(yp), field="gap.case_category")
    part = raw.get("partitions") or {}
    ahead = int(_num(_setting(part, "partitions", "ahead", yp), yp, "partitions.ahead"))
    behind = int(_num(_setting(part, "partitions", "behind", yp), yp, "partitions.behind"))
    from layers.iot.times import MAX_MONTHS

    for name, months in (("ahead", ahead), ("behind", behind)):
        if not 0 <= months <= MAX_MONTHS:
            raise ConfigError(f"partitions.{name}: 0..{MAX_MONTHS} months", path=str(yp),
                              field=f"partitions.{name}")
    rd = raw.get("readings") or {}
    if not isinstance(rd, dict):
        raise ConfigError("readings: a mapping", path=str(yp), field="readings")
    max_ahead = _num(_setting(rd, "readings", "max_ahead_s", yp), yp, "readings.max_ahead_s")
    backlog = _setting(rd, "readings", "backlog_s", yp)
    if backlog is not None:
        backlog = _num(backlog, yp, "readings.backlog_s")
        if backlog < 0:
            raise ConfigError("readings.backlog_s: 0 or more seconds, or null (off)",
                              path=str(yp), field="readings.backlog_s")
    al = raw.get("alarms") or {}
    if not isinstance(al, dict) or not isinstance(al.get("end_statuses", []), list):
        raise ConfigError("alarms: a mapping, end_statuses a list of sensor states",
                          path=str(yp), field="alarms.end_statuses")
    ends = _end_statuses(al, yp)
    watched = tuple(str(s) for s in _setting(gap, "gap", "statuses", yp) or ())
    # the states as the sensors loader stores them (sensor_status.csv names): another word
    # (停止, a typo) would match no sensor, silently
    states = [r["name"] for r in read_csv_dictionary(_path(profile, "sensor_status", ".csv"))]
    for key, given in (("alarms.end_statuses", ends), ("gap.statuses", watched)):
        unknown = [s for s in given if s not in states]
        if unknown:
            raise ConfigError(f"{', '.join(unknown)}: no sensor state (sensor_status.csv: "
                              f"{', '.join(states)})", path=str(yp), field=key)
    return IotConfig(sets, levels, factor, int(glevel), gcat, bool(gap.get("raise_risk")),
                     watched, ahead, behind,
                     _path(profile, "risk_matrix", ".yaml"), types, intervals, max_ahead,
                     end_statuses=ends, backlog_s=backlog,
                     timezone=profile.timezone if profile is not None else CHINA_TIME,
                     risk_types=risk_types, alarm_layer_code=_alarm_layer_code(profile),
                     profile=profile)


def _alarm_layer_code(profile: CityProfile | None) -> str | None:
    """The alarms layer's code in the city's layers dictionary (None without a profile: the
    platform's, :func:`layers.iot.alarms.layer_code`)."""
    if profile is None:
        return None
    from cim.coding.scheme import layer_code_of

    return layer_code_of(profile, "alarms")


def _setting(section: dict[str, Any], name: str, key: str, yp: Path) -> Any:
    """``name.key`` of the iot file ``yp``; a city's copy written before the key was added
    has the platform's iot.yaml value (the values live in the data file, not in code)."""
    if key in section:
        return section[key]
    platform = DICTIONARY_DIR / "iot.yaml"
    base = (_yaml(platform).get(name) or {}) if yp.resolve() != platform.resolve() else {}
    if not isinstance(base, dict) or key not in base:
        raise ConfigError(f"{name}.{key} is missing (the platform's file has none either)",
                          path=str(platform), field=f"{name}.{key}")
    return base[key]


def _end_statuses(alarms: dict[str, Any], yp: Path) -> tuple[str, ...]:
    """``alarms.end_statuses`` of the iot file ``yp`` (an empty list is none); a city's copy
    written before the key was added has the platform's iot.yaml value (the states live in
    the data file, not in code)."""
    if "end_statuses" not in alarms:
        platform = DICTIONARY_DIR / "iot.yaml"
        al = (_yaml(platform).get("alarms") or {}) if yp.resolve() != platform.resolve() else {}
        if not isinstance(al, dict) or not isinstance(al.get("end_statuses"), list):
            raise ConfigError("alarms.end_statuses: a list of sensor states (the platform's "
                              "file has none)", path=str(platform), field="alarms.end_statuses")
        alarms = al
    return tuple(str(s) for s in alarms["end_statuses"])


@lru_cache(maxsize=8)
def cached_config(profile_path: str | None = None) -> IotConfig:
    """The configuration of a profile file (None: the platform defaults), read once per
    process (the served app and the benchmark ingest many batches)."""
    from cim.profile import load_profile

    return load_config(load_profile(profile_path) if profile_path else None)
