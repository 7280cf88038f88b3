"""Gas pressure as a survey writes it → its class of GB 50028-2006 §6.1.6: one parser for the
risk scores (:mod:`layers.risk.score`) and the clearances (:mod:`layers.query.clearance_rules`).

The classes and their bounds are data: ``pressure_classes`` of ``risk_rules.yaml`` (a city's
copy of the file, else the platform's), each ``name`` with its MPa bounds — ``min_mpa`` (from,
inclusive) or ``above_mpa`` (more than), ``max_mpa`` (up to, inclusive) or ``below_mpa`` (less
than)::

    pressure_classes:
      - {name: 中压A, above_mpa: 0.2, max_mpa: 0.4}

A text names a class (or its family: 中压 for 中压A and 中压B, a class name without its grade
letter) once full-width forms are folded and blanks, brackets and a closing 级 dropped
(``次高压（A）级`` → 次高压A), else gives its pressure in MPa or kPa (``0.2MPa``, ``400 kPa``,
``0.4兆帕``), placed in the class whose bounds hold it. :func:`grade` answers "" for a blank
text, None for one it cannot read or a pressure above every class: unknown, never a guess.

    grade("中压B级") → "中压B";  grade("0.2MPa") → "中压B";  grade("0.41 MPa") → "次高压B";
    grade("高压(A)") → "高压A";  grade("5MPa") → None;  grade("待查") → None
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, CityProfile, read_yaml_mapping

FILE = "risk_rules"  # the dictionary (YAML) that holds pressure_classes
KEY = "pressure_classes"
_MPA = re.compile(r"(\d+(?:\.\d+)?)\s*(mpa|kpa|兆帕|千帕)", re.IGNORECASE)
_DROP = re.compile(r"[\s()\[\]{}【】〔〕]")
_BOUNDS = ("min_mpa", "above_mpa", "max_mpa", "below_mpa")


@dataclass(frozen=True)
class PressureClass:
    name: str  # as normalised (:func:`normalise`)
    min_mpa: float | None = None
    above_mpa: float | None = None
    max_mpa: float | None = None
    below_mpa: float | None = None

    def holds(self, mpa: float) -> bool:
        return ((self.min_mpa is None or mpa >= self.min_mpa)
                and (self.above_mpa is None or mpa > self.above_mpa)
                and (self.max_mpa is None or mpa <= self.max_mpa)
                and (self.below_mpa is None or mpa < self.below_mpa))


def normalise(text: Any) -> str:
    """A pressure text for comparing names: full-width forms folded (NFKC), blanks and
    brackets dropped, a closing 级 dropped, letters upper-cased — "次高压（A）级" and
    "次高压 a" are "次高压A"."""
    t = _DROP.sub("", unicodedata.normalize("NFKC", "" if text is None else str(text)))
    return t.removesuffix("级").upper()


def mpa(text: Any) -> float | None:
    """The pressure in MPa written in the text ("0.3MPa", "400 kPa", "0.4兆帕"), if any."""
    m = _MPA.search(unicodedata.normalize("NFKC", "" if text is None else str(text)))
    if not m:
        return None
    v = float(m.group(1))
    return v / 1000.0 if m.group(2).lower() in ("kpa", "千帕") else v


_CACHE: dict[tuple[str, float], tuple[PressureClass, ...]] = {}


def classes(source: CityProfile | Path | str | None = None) -> tuple[PressureClass, ...]:
    """The pressure classes of ``source`` (a profile: its ``risk_rules`` copy; a file; None:
    the platform's), falling back to the platform's file where the city's has none."""
    if isinstance(source, CityProfile):
        path = source.dictionary_path(FILE, ".yaml")
    else:
        path = Path(source) if source else DICTIONARY_DIR / f"{FILE}.yaml"
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        key = (str(path), -1.0)
    hit = _CACHE.get(key)
    if hit is None:
        raw = read_yaml_mapping(path, "the risk rules").get(KEY)
        if raw is None and path != DICTIONARY_DIR / f"{FILE}.yaml":
            return classes(None)
        hit = _CACHE[key] = _read(raw, path)
    return hit


def _read(raw: Any, path: Path) -> tuple[PressureClass, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{KEY}: a list of classes, each a name and its MPa bounds",
                          path=str(path), field=KEY)
    out = []
    for i, r in enumerate(raw):
        where = f"{KEY}[{i}]"
        if not isinstance(r, dict) or not str(r.get("name") or "").strip():
            raise ConfigError("each class: name and its MPa bounds", path=str(path),
                              field=where)
        unknown = set(r) - {"name", *_BOUNDS}
        if unknown:
            raise ConfigError(f"unknown keys {', '.join(sorted(unknown))}: name, "
                              f"{', '.join(_BOUNDS)}", path=str(path), field=where)
        b: dict[str, float | None] = {}
        for k in _BOUNDS:
            v = r.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ConfigError(f"{k} {v!r} is not a pressure in MPa", path=str(path),
                                  field=f"{where}.{k}")
            b[k] = None if v is None else float(v)
        if all(v is None for v in b.values()):
            raise ConfigError("a class needs at least one MPa bound", path=str(path),
                              field=where)
        out.append(PressureClass(normalise(r["name"]), **b))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def names(cls: tuple[PressureClass, ...]) -> frozenset[str]:
    """The names a text may give: the classes and their families (a name without its grade
    letter: 中压 for 中压A)."""
    return frozenset({c.name for c in cls} | {re.sub(r"[A-Z]$", "", c.name) for c in cls})


def grade(text: Any, cls: tuple[PressureClass, ...] | None = None) -> str | None:
    """The class (or family) ``text`` names or whose bounds hold the MPa it gives,
    normalised; "" for a blank text; None for a text read as neither, or a pressure no class
    holds (above the highest). A layer's pipes share a few texts: each is read once."""
    cls = classes(None) if cls is None else cls
    if isinstance(text, (str, int, float)) or text is None:
        return _grade(text, cls)
    return _grade.__wrapped__(text, cls)


@functools.lru_cache(maxsize=4096)
def _grade(text: Any, cls: tuple[PressureClass, ...]) -> str | None:
    n = normalise(text)
    if not n:
        return ""
    if n in names(cls):
        return n
    v = mpa(text)
    if v is None:
        return None
    return next((c.name for c in cls if c.holds(v)), None)


def highest(cls: tuple[PressureClass, ...] | None = None) -> str:
    """The name of the class with the highest bounds (高压A)."""
    cls = classes(None) if cls is None else cls
    return max(cls, key=lambda c: max(v for v in (c.min_mpa, c.above_mpa, c.max_mpa,
                                                   c.below_mpa) if v is not None)).name


def above_all(text: Any, cls: tuple[PressureClass, ...] | None = None) -> bool:
    """Whether the text gives a pressure higher than every class holds (6 MPa: a transmission
    line beyond GB 50028's table) — for a score that must not read it as low."""
    cls = classes(None) if cls is None else cls
    if isinstance(text, (str, int, float)) or text is None:
        return _above_all(text, cls)
    return _above_all.__wrapped__(text, cls)


@functools.lru_cache(maxsize=4096)
def _above_all(text: Any, cls: tuple[PressureClass, ...]) -> bool:
    v = mpa(text)
    return v is not None and grade(text, cls) is None and all(
        (c.max_mpa is not None and v > c.max_mpa) or (c.below_mpa is not None and v >= c.below_mpa)
        for c in cls)
