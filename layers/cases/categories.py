"""Case categories (事件/部件) as data: ``cim/dictionaries/case_categories.csv``.

Each row: code (4 digits, its first two the major class that goes into the case code),
kind 事件/部件, name, handling time limit in hours (counted from 立案), the default
responsible unit, and ``unit_fields``: which of a component's units is proposed for dispatch,
in order of preference (主管 = dept_name, or a risk point's responsible_unit — the 责任单位
the risk list assigned it; 权属 = owner_name; 养护 = maint_name; ``;`` separated, empty =
the default unit only). A city edits the file, not the code: its own copy, named in its
profile (``dictionaries: {case_categories: FILE}``), is the one every command and the HTTP
API read (:func:`categories_file`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cim.errors import ConfigError, InputError
from cim.numbers import ValueProblem, parse_number
from cim.profile import DICTIONARY_DIR, dictionary_file, read_csv_dictionary
from cim.text import shown

if TYPE_CHECKING:
    from cim.profile import CityProfile

CATEGORIES_FILE = DICTIONARY_DIR / "case_categories.csv"
# the longest handling time limit a category may have: past it, a limit is a typo (minutes or
# seconds typed as hours), and a deadline past the year 9999 cannot even be written
MAX_LIMIT_H = 100 * 365 * 24
# a feature's unit columns by the basis a category names: a component's (GB/T 30428.2 主管部门,
# 权属单位, 养护单位), and a risk point's 责任单位 (the unit the risk list made responsible for
# it, 赋码确责) as the one in charge
UNIT_BASES: dict[str, tuple[str, ...]] = {
    "主管": ("dept_name", "responsible_unit"), "权属": ("owner_name", "owner"),
    "养护": ("maint_name",)}


@dataclass(frozen=True)
class Category:
    code: str
    kind: str
    major_code: str
    major_name: str
    name: str
    time_limit_h: float
    default_unit: str
    unit_fields: tuple[str, ...]


def _category(row: dict[str, str], i: int, path: Path) -> Category:
    code = row.get("code", "")
    if not (len(code) == 4 and code.isdigit()):
        raise ConfigError(f"category code {code!r} is not 4 digits", path=str(path), row=i,
                          field="code")
    if row.get("kind") not in ("事件", "部件"):
        raise ConfigError(f"kind {row.get('kind')!r} is not 事件 or 部件", path=str(path),
                          row=i, field="kind")
    if row.get("major_code") != code[:2]:
        raise ConfigError(f"major_code {row.get('major_code')!r} is not the first two digits "
                          f"of {code}", path=str(path), row=i, field="major_code")
    # read by the platform's strict number reader: float() took inf and nan (the deadline then
    # failed at 立案), and 1_5 as 15
    try:
        limit = parse_number(row.get("time_limit_h") or "", metres=False)
    except ValueProblem:
        limit = None
    if limit is None or not 0 < limit <= MAX_LIMIT_H:
        raise ConfigError(f"time_limit_h {row.get('time_limit_h')!r} is not a number of hours "
                          f"above 0 and at most {MAX_LIMIT_H:g} (100 years)", path=str(path),
                          row=i, field="time_limit_h")
    if not row.get("default_unit"):
        raise ConfigError("a category needs a default_unit", path=str(path), row=i,
                          field="default_unit")
    fields = tuple(f.strip() for f in (row.get("unit_fields") or "").split(";") if f.strip())
    bad = [f for f in fields if f not in UNIT_BASES]
    if bad:
        raise ConfigError(f"unit_fields {bad} not among {', '.join(UNIT_BASES)}",
                          path=str(path), row=i, field="unit_fields")
    return Category(code, row["kind"], row["major_code"], row.get("major_name", ""),
                    row.get("name", ""), limit, row["default_unit"], fields)


def categories_file(profile: CityProfile | None = None) -> Path:
    """The categories a city's cases are opened under: its profile's copy (the one way a city
    overrides a dictionary, :meth:`cim.profile.CityProfile.dictionary_path`), else the
    platform's. None (no profile) is the platform's file."""
    return dictionary_file(profile, "case_categories")


@lru_cache(maxsize=8)
def load_categories(path: Path = CATEGORIES_FILE) -> dict[str, Category]:
    """The categories by code (rows numbered from 2, the header being row 1)."""
    out: dict[str, Category] = {}
    for i, row in enumerate(read_csv_dictionary(path), start=2):
        c = _category(row, i, path)
        if c.code in out:
            raise ConfigError(f"category {c.code} appears twice", path=str(path), row=i,
                              field="code")
        out[c.code] = c
    return out


def category(code: str, field: str = "category_code",
             profile: CityProfile | None = None) -> Category:
    """The category ``code`` of ``profile``'s categories (:func:`categories_file`); an
    InputError naming ``field`` if there is none."""
    path = categories_file(profile)
    cats = load_categories(path)
    code = (code or "").strip()  # pasted with a space: the code is still the code
    if not code:
        raise InputError(f"a case needs a category: the code of one of {path.name}: "
                         f"{', '.join(f'{c.code} {c.name}' for c in cats.values())}",
                         field=field)
    if code not in cats:
        raise InputError(f"unknown case category {shown(code)} ({path.name}); categories: "
                         f"{', '.join(f'{c.code} {c.name}' for c in cats.values())}",
                         field=field)
    return cats[code]
