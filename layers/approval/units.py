"""The units of a proposed project's attributes and the header units converted to them
(``cim/dictionaries/field_units.yaml``: ``attributes.project``, ``spellings``,
``conversions``): 计容建筑面积(万㎡) 2.5 is 25,000 m², 建筑高度(mm) 85000 is 85 m, and a header
in a unit that does not fit (建筑高度(层)) or in brackets naming no unit the spellings know
(计容建筑面积(万), 建筑高度(dm)) is refused. Read as the loaders read a header's unit
(:func:`cim.text.header_unit`, :func:`cim.profile.merged_spellings`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cim.profile import (
    DICTIONARY_DIR,
    CityProfile,
    merged_conversions,
    merged_spellings,
    read_yaml_mapping,
)
from cim.text import header_unit, norm_key

_TAIL = re.compile(r"[(\[【]([^)\]】]*)[)\]】]$")  # a header's trailing brackets, norm_key'd


@dataclass
class Units:
    """The project attributes' units and the header units converted to them
    (``field_units.yaml``: ``attributes.project``, ``spellings``, ``conversions``)."""
    want: dict[str, str]  # attribute → its unit
    spellings: dict[str, str]  # a spelling (norm_key) → unit
    conversions: dict[str, dict[str, float]]  # attribute unit → {header unit: factor}

    @classmethod
    def of(cls, profile: CityProfile | None = None) -> Units:
        """The city's ``field_units``, else the platform's; the platform's spellings and
        conversions under the city's."""
        what = "the field units"
        base = read_yaml_mapping(DICTIONARY_DIR / "field_units.yaml", what)
        city = profile.yaml_dictionary("field_units", what) if profile is not None else base
        want = (city.get("attributes") or {}).get("project") or \
            (base.get("attributes") or {}).get("project") or {}
        # the platform's spellings and conversions under the city's
        return cls({str(k): str(v) for k, v in want.items()}, merged_spellings(city),
                   merged_conversions(city))

    def factor(self, f: str, name: str) -> tuple[float | None, str | None]:
        """(factor from field ``name``'s unit to attribute ``f``'s or None: refused, why)."""
        want = self.want.get(f)
        got = header_unit(name, self.spellings) if want else None
        known = ", ".join([want or "", *self.conversions.get(want, {})])
        tail = _TAIL.search(norm_key(name)) if got is None and want else None
        if tail:  # brackets naming no unit known (万, dm, yd, 地下): never the attribute's
            return None, (f"its header's brackets ({tail.group(1)}) name no unit the reader "
                          f"knows; {f} is read in {want} (a header may name {known}, or no "
                          "unit): give the values in one of those and name the header so")
        if got is None or got == want:
            return 1.0, None
        fac = self.conversions.get(want, {}).get(got)
        if fac is not None:
            return fac, None
        return None, (f"the field is in {got} (its header says so); {f} is read in {want} "
                      f"(a header may name {known}): give the values in one of those and "
                      "name the header so")
