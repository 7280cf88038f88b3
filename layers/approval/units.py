"""The units of a proposed project's attributes and the header units converted to them
(``cim/dictionaries/field_units.yaml``: ``attributes.project``, ``spellings``,
``conversions``): 计容建筑面积(万㎡) 2.5 is 25,000 m², 建筑高度(mm) 85000 is 85 m, and a header
in a unit that does not fit (建筑高度(层)) or in brackets that look like a unit the spellings
do not know (计容建筑面积(万), 建筑高度(dm), (yd), (ft²)) is refused. Brackets naming no unit
are qualifiers and change nothing (地面高程(黄海), 建筑高度(规划), 计容建筑面积(地上)), as the
file's header says and the loaders read them. Read as the loaders read a header's unit
(:func:`cim.text.header_unit`, :func:`cim.profile.merged_spellings`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cim.profile import (
    DICTIONARY_DIR,
    CityProfile,
    merged_conversions,
    merged_spellings,
    read_yaml_mapping,
    unit_names,
)
from cim.text import header_brackets, header_unit

# what brackets naming a unit look like (norm_key'd: ² and ³ are 2 and 3): letters with a
# power or a second letter (dm, yd, ft2, m3), a magnitude alone (万, 千) or before a unit
# (万亩, 千m2, 100m2). A single letter is the quantity's symbol (高程(H), 面积(S)), Chinese
# text a qualifier (黄海, 规划, 地上, 北坐标): neither names a unit.
_LETTERS = re.compile(r"[a-z]+(?:[./][a-z]+)*\d*")
_MAGNITUDE = re.compile(r"(?:[十百千万亿]+|\d+(?:\.\d+)?)")


@dataclass
class Units:
    """The project attributes' units and the header units converted to them
    (``field_units.yaml``: ``attributes.project``, ``spellings``, ``conversions``)."""
    want: dict[str, str]  # attribute → its unit
    spellings: dict[str, str]  # a spelling (norm_key) → unit
    conversions: dict[str, dict[str, float]]  # attribute unit → {header unit: factor}
    names: dict[str, str] = field(default_factory=dict)  # unit → its first spelling (万㎡)

    @classmethod
    def of(cls, profile: CityProfile | None = None) -> Units:
        """The city's ``field_units``, else the platform's; the platform's spellings and
        conversions under the city's."""
        what = "the field units"
        base = read_yaml_mapping(DICTIONARY_DIR / "field_units.yaml", what)
        city = profile.yaml_dictionary("field_units", what) if profile is not None else base
        want = (city.get("attributes") or {}).get("project") or \
            (base.get("attributes") or {}).get("project") or {}
        # the platform's spellings and conversions under the city's; a unit's first spelling
        return cls({str(k): str(v) for k, v in want.items()}, merged_spellings(city),
                   merged_conversions(city), unit_names(city))

    def spelled(self, unit: str) -> str:
        """How a header names ``unit`` (wan_m2 → 万㎡, mu → 亩): its first spelling; a unit's
        id is no spelling (a header 计容建筑面积(wan_m2) names no unit)."""
        return self.names.get(unit) or next(
            (s for s, u in self.spellings.items() if u == unit), unit)

    def _unit_like(self, text: str) -> bool:
        """Whether bracket ``text`` (norm_key'd) looks like a unit, not a qualifier."""
        if _LETTERS.fullmatch(text):
            return len(text) > 1  # 高程(H), 面积(S): the quantity's symbol
        m = _MAGNITUDE.match(text)
        if m is None:
            return False
        rest = text[m.end():]
        if not rest:  # 万, 千: a magnitude of some unit; a number alone (2020) is no unit
            return not text[0].isdigit()
        return rest in self.spellings or bool(_LETTERS.fullmatch(rest))

    def factor(self, f: str, name: str) -> tuple[float | None, str | None]:
        """(factor from field ``name``'s unit to attribute ``f``'s or None: refused, why)."""
        want = self.want.get(f)
        if not want:
            return 1.0, None
        got = header_unit(name, self.spellings)
        known = ", ".join(self.spelled(u) for u in [want, *self.conversions.get(want, {})])
        if got is None:
            # brackets that look like a unit the spellings do not know (万, dm, yd): never the
            # attribute's; any other text in brackets is a qualifier (黄海, 规划, 地上)
            tail = next((t for t in header_brackets(name) if self._unit_like(t)), None)
            if tail is None:
                return 1.0, None
            return None, (f"its header's brackets ({tail}) name no unit the reader knows; "
                          f"{f} is read in {self.spelled(want)} (a header may name {known}, "
                          "or no unit): give the values in one of those and name the header "
                          "so")
        if got == want:
            return 1.0, None
        fac = self.conversions.get(want, {}).get(got)
        if fac is not None:
            return fac, None
        return None, (f"the field is in {self.spelled(got)} (its header says so); {f} is read "
                      f"in {self.spelled(want)} (a header may name {known}): give the values "
                      "in one of those and name the header so")
