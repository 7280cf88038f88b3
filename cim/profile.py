"""City profiles: which city, its storage CRS, districts, boundaries, grid and dictionaries.

A profile is a YAML file a city edits; the platform reads facts about the city only from it
and from the dictionaries it names, never from code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from cim.cityclock import CHINA_TIME, city_today
from cim.crs import parse_crs, srid_of
from cim.dictionary_csv import DICTIONARY_DIR, check_csv_copy, read_csv_dictionary
from cim.errors import ConfigError, InputError
from cim.text import norm_key


@dataclass
class District:
    code: str
    name: str


@dataclass
class CityProfile:
    path: Path
    city_name: str
    city_code: str
    storage_crs: str
    districts: list[District]
    boundaries: Path | None = None
    grid: Path | None = None
    dictionaries: dict[str, Path] = field(default_factory=dict)
    # the attribute encoding of a boundaries or grid Shapefile, where its bytes do not tell
    # (given to `cim profile create --encoding`; `profile apply` reads the file with it)
    encodings: dict[str, str] = field(default_factory=dict)
    # the city's clock (an IANA zone, ``timezone:`` in the profile): a date the platform gives
    # (a risk point's deadline, an assessment's year) is the city's, whatever zone the server
    # keeps — on a server in UTC the day before until 08:00 in China
    timezone: str = CHINA_TIME

    def today(self) -> dt.date:
        """The city's date now."""
        return city_today(self.timezone)

    def residential_uses(self) -> tuple[str, ...]:
        """The building uses people live in (``residential`` of ``building_use.csv``: 住宅,
        商住混合): where the population loader takes residents and the health check finds
        homes — one list for both."""
        return residential_uses(self)

    @property
    def srid(self) -> int:
        return srid_of(self.storage_crs)

    def district_name(self, code: str) -> str | None:
        for d in self.districts:
            if d.code == code:
                return d.name
        return None

    def dictionary_path(self, name: str, suffix: str = ".csv") -> Path:
        """The city's copy of dictionary ``name``, else the platform's. A city's CSV copy is
        checked to carry the platform's key and name columns (:func:`check_csv_copy`): one
        whose header was translated (编码,名称) made every reader fail on a missing column,
        an internal error."""
        own = self.dictionaries.get(name)
        if own is None:
            return DICTIONARY_DIR / f"{name}{suffix}"
        if suffix == ".csv":
            check_csv_copy(name, own)
        return own

    def dictionary(self, name: str) -> list[dict[str, str]]:
        """Rows of a CSV dictionary (the city's override, else the platform default)."""
        return read_csv_dictionary(self.dictionary_path(name))

    def yaml_dictionary(self, name: str, what: str) -> dict[str, Any]:
        """A YAML dictionary's top-level mapping (the city's override, else the platform
        default); ConfigError naming the file and ``what`` it holds otherwise."""
        return read_yaml_mapping(self.dictionary_path(name, ".yaml"), what)

    @cached_property
    def field_aliases(self) -> dict[str, FieldAliases]:
        """Per layer section: {attribute: source field names}, with the units its attributes
        are read in (``field_units.yaml``) riding along as ``.units`` / ``.spellings``."""
        data = self.yaml_dictionary("field_aliases", "the field aliases")
        units = self.yaml_dictionary("field_units", "the field units")
        spellings = merged_spellings(units)
        letters = merged_spellings(units, "duration_letters")
        durations = {str(u) for u in units.get("durations") or []}
        by_layer = units.get("attributes") or {}
        return {section: FieldAliases(
            names or {}, units=dict(by_layer.get(section) or {}),
            spellings=spellings, duration_spellings={**spellings, **letters},
            durations=durations) for section, names in data.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"city": {"name": self.city_name, "admin_code": self.city_code},
                "storage_crs": self.storage_crs, "timezone": self.timezone,
                "districts": [{"code": d.code, "name": d.name} for d in self.districts]}


class FieldAliases(dict):
    """{attribute: source field names} of one layer section, and the unit each attribute is
    read in (``units``: attribute → unit; ``spellings``: a unit's spelling, as
    :func:`cim.text.norm_key` gives it → unit), so that a header naming another unit is
    refused where the fields are matched (:func:`loaders.field_names.match_fields`)."""

    def __init__(self, names: dict[str, list[str]], *, units: dict[str, str] | None = None,
                 spellings: dict[str, str] | None = None,
                 duration_spellings: dict[str, str] | None = None,
                 durations: set[str] | None = None) -> None:
        super().__init__(names)
        self.units = units or {}
        self.spellings = spellings or {}
        # for an attribute read in a unit of time: h and d are hours and days too
        self.duration_spellings = duration_spellings or self.spellings
        self.durations = durations or set()

    def spellings_for(self, attr: str) -> dict[str, str]:
        """The unit spellings a header of ``attr`` is read with."""
        return self.duration_spellings if self.units.get(attr) in self.durations \
            else self.spellings


# libyaml's safe loader when PyYAML was built with it, else the Python one (same results)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def not_utf8(path: str | Path, what: str, exc: UnicodeDecodeError) -> ConfigError:
    """A city file saved in another encoding (GBK: Notepad or WPS on Chinese Windows): YAML is
    UTF-8, and guessing would read its Chinese names as other characters."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:  # (``exc`` counts from the reader's chunk, not from the file's start)
        data.decode("utf-8")
        at = exc.start
    except UnicodeDecodeError as whole:
        at = whole.start
    try:
        data.decode("gb18030")
        guess = " (it reads as GBK)"
    except UnicodeDecodeError:
        guess = ""
    line = data.count(b"\n", 0, at) + 1
    return ConfigError(f"{what} is not UTF-8 text{guess}: line {line} (byte {at}) — save it "
                       "as UTF-8 (记事本/WPS: 另存为, 编码 UTF-8)", path=str(path))


def read_yaml_mapping(path: str | Path, what: str, shape: str | None = None) -> dict[Any, Any]:
    """The top-level mapping of a YAML file (a dictionary, a mapping file); ConfigError naming
    the file and ``what`` it holds otherwise (``shape``: what it must map, for the message).

    Parsed by libyaml where PyYAML has it (``CSafeLoader``, the same safe subset): a load reads
    the dictionaries a dozen times (field units, aliases, its converter's rules), and the
    pure-Python parser took 0.25 s of a 1M-footprint reload's critical path doing so."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_SAFE_LOADER) or {}
    except UnicodeDecodeError as exc:
        raise not_utf8(path, what, exc) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {what}: {exc}", path=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must map {shape}" if shape else f"{what} must be a mapping",
                          path=str(path))
    return data


def merged_spellings(units: dict[str, Any], key: str = "spellings") -> dict[str, str]:
    """A spelling (``norm_key``) → unit, from ``units`` (a city's field_units.yaml, or the
    platform's) with the platform's spellings under it: a city's copy made before a spelling
    was added (万㎡, 厘米) still knows it — else 面积(万㎡) would be read in m². The city's
    entries win."""
    base = read_yaml_mapping(DICTIONARY_DIR / "field_units.yaml", "the field units")
    return {norm_key(s): str(unit) for src in (base, units)
            for unit, names in (src.get(key) or {}).items() for s in names or []}


def unit_names(units: dict[str, Any]) -> dict[str, str]:
    """A unit → how a header names it, for messages (wan_m2 → 万㎡, mu → 亩: a unit's id is
    no spelling): its first spelling in ``units`` (a city's field_units.yaml, or the
    platform's), else in the platform's, that :func:`merged_spellings` reads as that unit."""
    base = read_yaml_mapping(DICTIONARY_DIR / "field_units.yaml", "the field units")
    spellings = merged_spellings(units)
    names: dict[str, str] = {}
    for src in (units, base):
        for unit, spelt in (src.get("spellings") or {}).items():
            for s in spelt or []:
                if str(unit) not in names and spellings.get(norm_key(s)) == str(unit):
                    names[str(unit)] = str(s)
    return names


def merged_conversions(units: dict[str, Any]) -> dict[str, dict[str, float]]:
    """An attribute's unit → {header unit: factor to it}, from ``units`` (a city's
    field_units.yaml, or the platform's) with the platform's conversions under it, as
    :func:`merged_spellings` does for the spellings: a city's copy made before km² was added
    still converts 平方公里 (its spelling came from the platform's). The city's factors win."""
    base = read_yaml_mapping(DICTIONARY_DIR / "field_units.yaml", "the field units")
    out: dict[str, dict[str, float]] = {}
    for src in (base, units):
        for target, factors in (src.get("conversions") or {}).items():
            if not isinstance(factors, dict):
                raise ConfigError(f"the field units: conversions.{target} must map a unit to a "
                                  f"number, not {factors!r}")
            for unit, factor in factors.items():
                try:
                    out.setdefault(str(target), {})[str(unit)] = float(factor)
                except (TypeError, ValueError):
                    raise ConfigError(f"the field units: conversions.{target}.{unit} must be a "
                                      f"number, not {factor!r}") from None
    return out


def merged_number(units: dict[str, Any], key: str) -> float:
    """A number of ``units`` (a city's field_units.yaml, or the platform's) at top-level
    ``key`` (``min_storey_height_m``), the platform's where the city's copy has none (made
    before the key was added), as :func:`merged_spellings` does; ConfigError unless it is a
    number > 0."""
    base = read_yaml_mapping(DICTIONARY_DIR / "field_units.yaml", "the field units")
    value = units.get(key, base.get(key))
    try:
        out = float(value)
        if isinstance(value, bool) or not out > 0 or out == float("inf"):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"the field units: {key} must be a number > 0, not {value!r}"
                          ) from None
    return out


def residential_uses(profile: CityProfile | None) -> tuple[str, ...]:
    """:meth:`CityProfile.residential_uses` of ``profile``, else of the platform's
    building_use.csv."""
    rows = profile.dictionary("building_use") if profile is not None else \
        read_csv_dictionary(DICTIONARY_DIR / "building_use.csv")
    return tuple(r["code"].strip() for r in rows
                 if (r.get("residential") or "").strip().lower() in ("yes", "true", "1", "是"))


# how far a storage CRS's scale may depart from 1 over its area of use: a Gauss-Krüger or UTM
# zone stays within ~0.1 % (a 3° CGCS2000 zone 0.03 %), a national grid within ~0.3 %;
# Mercator and continental conics are off by percents to a factor of several
MAX_SCALE_ERROR = 0.01


@lru_cache(maxsize=16)
def _worst_scale_error(storage_crs: str) -> float:
    """The largest |k − 1| of the CRS's meridional and parallel scales on a 5 × 5 grid of its
    area of use (latitudes within ±80°); 0 when it has no area of use (a city's own CRS)."""
    import numpy as np
    import pyproj

    crs = parse_crs(storage_crs)
    area = crs.area_of_use
    if area is None:
        return 0.0
    west, east = area.west, area.east + (360 if area.west > area.east else 0)
    lon, lat = np.meshgrid(np.linspace(west, east, 5),
                           np.linspace(max(area.south, -80), min(area.north, 80), 5))
    f = pyproj.Proj(crs).get_factors(((lon.ravel() + 180) % 360) - 180, lat.ravel(),
                                     errcheck=False)
    k = np.concatenate([np.asarray(f.meridional_scale), np.asarray(f.parallel_scale)])
    k = k[np.isfinite(k)]
    return float(np.max(np.abs(k - 1))) if len(k) else 0.0


def zone_problem(storage_crs: str, lon: Sequence[float], lat: Sequence[float]) -> str | None:
    """Why ``storage_crs`` does not fit a city at ``lon``/``lat`` (its boundary's corners and
    centre, CGCS2000 degrees), else None: its scale there departs from 1 by more than
    :data:`MAX_SCALE_ERROR` — a zone digit mistyped (EPSG:4513, zone 25 at 75°E, for Jining at
    116.6°E) made every area 42 % too large, the CRS being sound over its own zone."""
    import numpy as np
    import pyproj

    f = pyproj.Proj(parse_crs(storage_crs)).get_factors(np.asarray(lon, float),
                                                        np.asarray(lat, float), errcheck=False)
    k = np.concatenate([np.asarray(f.meridional_scale), np.asarray(f.parallel_scale)])
    worst = float(np.nanmax(np.abs(k - 1))) if np.isfinite(k).any() else float("inf")
    if worst <= MAX_SCALE_ERROR:
        return None
    mid = (min(lon) + max(lon)) / 2
    zone = round(mid / 3)
    hint = (f"; the CGCS2000 3° Gauss-Krüger zone there is {zone} (central meridian "
            f"{zone * 3}°E), EPSG:{4513 + zone - 25}") if 25 <= zone <= 45 else ""
    return (f"storage CRS {storage_crs} does not fit the city at {mid:.2f}°E: its scale there "
            f"is off by {worst:.1%}, and lengths and areas with it{hint}")


def load_profile(path: str | Path) -> CityProfile:
    path = Path(path).resolve()
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
    except UnicodeDecodeError as exc:
        raise not_utf8(path, "the city profile", exc) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read city profile: {exc.strerror}", path=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=str(path)) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("city"), dict):
        # (a list, or `city: 济宁市`: "missing profile key string indices must be integers")
        raise ConfigError("a city profile maps city: {name: …, admin_code: …}, storage_crs, "
                          "districts, boundaries …", path=str(path),
                          field=None if not isinstance(raw, dict) else "city")
    try:
        city = raw["city"]
        storage_crs = str(raw["storage_crs"])
        districts = [District(str(d["code"]), str(d["name"])) for d in raw.get("districts") or []]
        name, code = str(city["name"]), str(city["admin_code"])
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"missing profile key {exc}", path=str(path)) from exc
    try:
        crs = parse_crs(storage_crs)
    except InputError as exc:  # (named neither the profile nor the key, exit 3 as input)
        raise ConfigError(f"storage CRS: {exc.message}", path=str(path),
                          field="storage_crs") from None
    if not crs.is_projected:
        raise ConfigError(f"storage CRS {storage_crs} must be projected (metres) so lengths and "
                          "areas are metric", path=str(path), field="storage_crs")
    units = {a.unit_name for a in crs.axis_info[:2]}
    if units - {"metre"}:  # a US-feet state plane: every radius, clearance and area off
        raise ConfigError(f"storage CRS {storage_crs} is in {', '.join(sorted(units))}: it must "
                          "be in metres so that radii, clearances, lengths and areas are "
                          "metric", path=str(path), field="storage_crs")
    distortion = _worst_scale_error(storage_crs)
    if distortion > MAX_SCALE_ERROR:  # Mercator, a continental conic: metres in name only
        raise ConfigError(f"storage CRS {storage_crs} ({crs.name}) is no survey CRS: its "
                          f"scale is off by up to {distortion:.1%} over its area of use, and "
                          "radii, clearances, lengths and areas with it; use the city's "
                          "CGCS2000 Gauss-Krüger zone", path=str(path), field="storage_crs")
    for d in districts:
        if not (d.code.isdigit() and len(d.code) == 6):
            raise ConfigError(f"district code {d.code!r} is not a 6-digit GB/T 2260 code",
                              path=str(path), field="districts")
    _check_dictionary_names(raw.get("dictionaries"), path)
    base = path.parent

    def rel(v: Any) -> Path | None:
        return (base / v).resolve() if v else None

    return CityProfile(
        path=path, city_name=name, city_code=code, storage_crs=storage_crs, districts=districts,
        boundaries=rel(raw.get("boundaries")), grid=rel(raw.get("grid")),
        dictionaries={k: rel(v) for k, v in (raw.get("dictionaries") or {}).items()},
        encodings={str(k): str(v) for k, v in (raw.get("encodings") or {}).items() if v},
        timezone=_zone(raw.get("timezone"), path),
    )


def _check_dictionary_names(given: Any, path: Path) -> None:
    """The profile's ``dictionaries`` name the platform's dictionaries: a misspelt one
    (``pipe_clearance`` for ``pipe_clearances``) was read as none, and the platform's file used
    without a word in its place."""
    if given is None:
        return
    if not isinstance(given, dict):
        raise ConfigError("dictionaries maps a dictionary's name to the city's file "
                          "(building_use: my_uses.csv)", path=str(path), field="dictionaries")
    import difflib

    known = sorted({p.stem for p in DICTIONARY_DIR.iterdir() if p.suffix in (".csv", ".yaml")})
    # a near miss of a platform's name only: a city's own dictionary (a styles file's
    # categories_from: {dictionary: my_colours}) has a name of its own
    for k in sorted(str(k) for k in given if str(k) not in known):
        near = difflib.get_close_matches(k, known, n=1, cutoff=0.85)
        if near:
            raise ConfigError(f"{k}: no dictionary of that name — {near[0]}? (a misspelt name "
                              "is read by nothing, and the platform's file used in its place)",
                              path=str(path), field=f"dictionaries.{k}")


def dictionary_file(profile: CityProfile | None, name: str, suffix: str = ".csv") -> Path:
    """A dictionary's file: the city's copy (:meth:`CityProfile.dictionary_path`), else — no
    profile — the platform's."""
    return profile.dictionary_path(name, suffix) if profile is not None else \
        DICTIONARY_DIR / f"{name}{suffix}"


def _zone(value: Any, path: Path) -> str:
    """The profile's ``timezone`` (default China's), checked against the IANA database."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone = str(value).strip() if value else CHINA_TIME
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder (Asia)
        raise ConfigError(f"timezone {zone!r} is no IANA time zone (e.g. Asia/Shanghai)",
                          path=str(path), field="timezone") from None
    return zone


def write_profile(path: Path, *, name: str, admin_code: str, storage_crs: str,
                  districts: list[District], boundaries: str | None,
                  grid: str | None = None, encodings: dict[str, str] | None = None) -> None:
    data: dict[str, Any] = {
        "city": {"name": name, "admin_code": admin_code},
        "storage_crs": storage_crs,
        "districts": [{"code": d.code, "name": d.name} for d in districts],
        "boundaries": boundaries,
        "grid": grid,
        "dictionaries": {},
    }
    if encodings:
        data["encodings"] = dict(encodings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# City profile generated by `cim profile create`; edit freely.\n")
        yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=False)


def check_new_city(admin_code: str, storage_crs: str) -> None:
    """A new city's code and storage CRS, checked before anything is read for it."""
    crs = parse_crs(storage_crs)
    if not crs.is_projected:
        raise ConfigError(f"storage CRS {storage_crs} must be projected (metres)")
    if not (admin_code.isdigit() and len(admin_code) == 6):
        raise ConfigError(f"admin code {admin_code!r} is not a 6-digit GB/T 2260 code")


def create_profile(out: Path, *, name: str, admin_code: str, storage_crs: str,
                   boundary: Path, districts: list[District], grid: Path | None = None,
                   encoding: str | None = None) -> CityProfile:
    """Write a profile for a new city. Its ``districts`` are read from the ``boundary`` file
    by the loaders (``loaders.divisions.boundary_districts``: the core reads no delivery, and a
    boundary Shapefile needs the loaders' encoding detection — a GBK .dbf without a .cpg read
    as Latin-1 lost its field names)."""
    import os

    check_new_city(admin_code, storage_crs)
    if not districts:
        raise ConfigError("the boundary file holds no district", path=str(boundary))
    out = Path(out)
    rel = os.path.relpath(Path(boundary).resolve(), out.resolve().parent)
    grel = os.path.relpath(Path(grid).resolve(), out.resolve().parent) if grid else None
    encodings = {k: encoding for k in ("boundaries", "grid") if encoding
                 and (k == "boundaries" or grid is not None)}
    write_profile(out, name=name, admin_code=admin_code, storage_crs=storage_crs,
                  districts=districts, boundaries=rel, grid=grel, encodings=encodings)
    return load_profile(out)
