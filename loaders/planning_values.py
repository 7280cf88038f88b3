"""Planning indices as regulatory plans write them, parsed strictly.

A 控规 table writes a limit many ways: ``2.5``, ``≤2.5``, ``不大于2.5``, ``不小于35%``,
``1.5-2.5`` (a range: its upper end is the maximum, its lower end the minimum), ``35%``,
``≥30%``, ``H≤24m``, ``80m以下``. The parser reads one form: an optional label (``H``, ``容积率``
…) once at the start, an optional bound word, the number, at most one unit sign right after it
(``%`` or ``m``/``米``; a range may carry it after each end or after its last), an optional
bound word after. It keeps the number the approval check needs and refuses everything it cannot
read without guessing — a lower bound where the column is an upper limit (``≥2.5`` for
容积率上限), a percent sign on a height, two numbers that are no range, a unit twice
(``80mm``, ``80米米``), a footnote mark (``45①``, ``2.5²``: no digit of the number; the text
is made half-width as :func:`cim.text.half_width` does, not NFKC, which reads ``①`` as 1),
text — with a message that says what was expected, so the reject names the row, the field
and the reason. A text reads as the number it writes: ``-5`` is −5, as a number −5.0 is.

A mark of no requirement (``/``, ``—``, ``-``, ``无``, ``不限``, ``不作要求``: a green parcel's 容积率)
is no limit, flagged ``limit_not_required``: the parcel and its other indices load.

Fractions (building density, green ratio) are stored 0–1: ``35%`` and ``0.35`` are both 0.35.
A bare number above 1 (``35``) is read as a percentage, as such tables mean it, and the row is
flagged ``percent_assumed``; a bare ``1`` could be 100 % or 1 %: it is read as the fraction 1
(100 %), the reading of every bare number up to 1, and flagged ``fraction_assumed``. A bare
range is read on one scale, decided by its upper end (``30-40`` is 30 %–40 %).

A width (a road red line's) is one measured number, not a limit: a range (``30-40``) or a bound
word (``≥40``) is refused.

Declared areas (a green space's 面积) are read with their unit by :func:`parse_area`, the
units spelled and converted as ``field_units.yaml`` says (:class:`AreaUnits`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cim.numbers import ValueProblem
from cim.profile import (
    DICTIONARY_DIR,
    CityProfile,
    merged_conversions,
    merged_spellings,
    read_yaml_mapping,
    unit_names,
)
from cim.text import half_width, header_unit, norm_key
from loaders.fields import as_float, is_blank

PERCENT_ASSUMED = "percent_assumed"  # a bare number above 1 read as a percentage
FRACTION_ASSUMED = "fraction_assumed"  # a bare 1 read as the fraction 1 (100 %), not 1 %
NOT_REQUIRED = "limit_not_required"  # a table's mark of no requirement (/, —, 不限) read as none

_UPPER = ("小于等于", "不大于", "不超过", "不高于", "不多于", "小于", "最大", "max", "<=", "≤",
          "≦", "<")
_LOWER = ("大于等于", "不小于", "不低于", "不少于", "大于", "最小", "min", ">=", "≥", "≧",
          ">")
_UPPER_AFTER = ("以下", "以内", "max")  # written after the number: 80m以下
_LOWER_AFTER = ("以上", "min")
_RANGE = ("~", "〜", "-", "—", "–", "至", "到")
# labels a table may repeat at the start of the value (H≤24, FAR≤2.5, 容积率≤2.5)
_LABELS = ("容积率", "建筑密度", "密度", "绿地率", "建筑限高", "限高", "高度", "退线", "far", "h")
_UNIT_SIGNS = ("%", "m", "米")


def _alt(words: tuple[str, ...]) -> str:
    """A regex alternation of ``words``, the longest first (不小于 before 小于)."""
    return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))


# grouped thousands as the fields read them (1,200: a 控制标高 in metres); 1,5 stays no number
_NUM = r"-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_LIMIT = re.compile(
    rf"(?P<label>{_alt(_LABELS)})?(?P<op>{_alt(_UPPER + _LOWER + ('=',))})?"
    rf"(?P<a>{_NUM})(?P<ua>{_alt(_UNIT_SIGNS)})?"
    rf"(?:(?P<sep>{_alt(_RANGE)})(?P<b>{_NUM})(?P<ub>{_alt(_UNIT_SIGNS)})?)?"
    rf"(?P<post>{_alt(_UPPER_AFTER + _LOWER_AFTER)})?")
_SPACED_NUMBERS = re.compile(r"[\d.]\s+[\d.]")  # "2.5 3": two numbers, no range
# what a 控规 table writes where an index does not apply (a green parcel's 容积率: "/", "—",
# "不限"): no requirement, read as no limit (the approval check then asks for a review) —
# never a number, and never a reason to refuse the parcel with its other indices
_NO_REQUIREMENT = re.compile(r"[/\\\-—–―‐]+|无|不限|无要求|不作要求|不要求|不控制|不作控制")


@dataclass(frozen=True)
class LimitSpec:
    """How one planning index is read."""

    bound: str  # "max" (an upper limit: 容积率上限) or "min" (a lower limit: 绿地率下限)
    lo: float
    hi: float
    fraction: bool = False  # stored 0–1; % allowed
    length: bool = False  # metres; m / 米 allowed
    measure: bool = False  # one measured number (a width): no range, no bound word


FAR = LimitSpec("max", 0.0, 30.0)
DENSITY = LimitSpec("max", 0.0, 1.0, fraction=True)
GREEN = LimitSpec("min", 0.0, 1.0, fraction=True)
HEIGHT = LimitSpec("max", 0.0, 1000.0, length=True)
SETBACK = LimitSpec("min", 0.0, 200.0, length=True)
ELEVATION = LimitSpec("max", -200.0, 9000.0, length=True)
WIDTH = LimitSpec("max", 0.0, 300.0, length=True, measure=True)

_EXPECTED = "expected a number such as 2.5, ≤2.5, 35%, 1.5-2.5"


def _direction(word: str | None) -> str | None:
    if word in _UPPER or word in _UPPER_AFTER:
        return "max"
    if word in _LOWER or word in _LOWER_AFTER:
        return "min"
    return None  # none, or "="


def parse_limit(value: Any, spec: LimitSpec, header_percent: bool = False
                ) -> tuple[float | None, str | None]:
    """(the limit, the flag of an assumed reading or None) of one cell; ValueProblem says why
    a value is refused. ``header_percent``: the column's header says % (建筑密度(%)), so a
    bare number of a fraction column is read as :func:`_scale` says for such a header."""
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueProblem(f"{value!r} is not a number") from None
        if not math.isfinite(f):
            raise ValueProblem(f"{value!r} is not a finite number")
        f, flag = _scale((f,), spec, header_percent)
        return _finish(f[0], flag, value, spec)
    raw = str(value)
    s = half_width(raw).strip().casefold()  # not NFKC: 45① is no 451
    if _NO_REQUIREMENT.fullmatch(re.sub(r"\s+", "", s)):
        return None, NOT_REQUIRED
    if _SPACED_NUMBERS.search(s):
        raise ValueProblem(f"{raw!r} is not a limit ({_EXPECTED})")
    m = _LIMIT.fullmatch(re.sub(r"\s+", "", s))
    if m is None:
        raise ValueProblem(f"{raw!r} is not a limit ({_EXPECTED})")
    ua, ub = m["ua"], m["ub"]
    if m["b"] is not None and ua is not None and ub is None:
        raise ValueProblem(f"{raw!r}: a unit after the range's first end only (write 30-40% "
                           "or 30%-40%)")
    units = {u.replace("米", "m") for u in (ua, ub) if u}
    if len(units) > 1:
        raise ValueProblem(f"{raw!r}: two different units")
    unit = units.pop() if units else None
    directions = {d for d in (_direction(m["op"]), _direction(m["post"])) if d}
    if len(directions) > 1:
        raise ValueProblem(f"{raw!r} says both at most and at least")
    direction = directions.pop() if directions else None
    if unit == "%" and not spec.fraction:
        raise ValueProblem(f"{raw!r}: a percentage where a number is expected")
    if unit == "m" and not spec.length:
        raise ValueProblem(f"{raw!r}: metres where a ratio is expected")
    a = float(m["a"].replace(",", ""))
    nums = (a,) if m["b"] is None else (a, float(m["b"].replace(",", "")))
    if spec.measure and (len(nums) > 1 or direction):
        raise ValueProblem(f"{raw!r}: a width is one number, not a "
                           + ("range" if len(nums) > 1 else "limit"))
    if len(nums) == 2:
        if direction:
            raise ValueProblem(f"{raw!r}: a range with a bound word (write 1.5-2.5 or ≤2.5)")
        if nums[0] > nums[1]:
            raise ValueProblem(f"{raw!r}: the range runs backwards")
    elif spec.bound == "max" and direction == "min":
        raise ValueProblem(f"{raw!r} is a lower bound where an upper limit (上限) is expected")
    elif spec.bound == "min" and direction == "max":
        raise ValueProblem(f"{raw!r} is an upper bound where a lower limit (下限) is expected")
    if unit == "%":
        scaled, flag = tuple(n / 100.0 for n in nums), None
    else:
        scaled, flag = _scale(nums, spec, header_percent)
    f = scaled[-1] if spec.bound == "max" else scaled[0]
    return _finish(f, flag, raw, spec)


def _scale(nums: tuple[float, ...], spec: LimitSpec, header_percent: bool = False
           ) -> tuple[tuple[float, ...], str | None]:
    """Bare numbers of a fraction column on one scale: a percentage when the largest is above
    1 (flagged), a fraction otherwise (flagged where the value kept is exactly 1).

    Under a header that says % (建筑密度(%), 绿地率（%）) a number above 1 is the percentage the
    header declares — nothing assumed, no flag (every parcel of such a table was flagged
    ``percent_assumed``, burying the flags that mean something) — and one up to 1 goes against
    the header (0.35 where 35 is written: a cell formatted as a percentage in Excel, or 0.35 %):
    read as the fraction, as without the header, and flagged ``fraction_assumed``."""
    if not spec.fraction:
        return nums, None
    top = max(nums)
    if 1.0 < top <= 100.0:
        # 35 means 35 % in 绿地率
        return tuple(n / 100.0 for n in nums), (None if header_percent else PERCENT_ASSUMED)
    if header_percent and 0.0 < top <= 1.0:
        return nums, FRACTION_ASSUMED
    kept = nums[-1] if spec.bound == "max" else nums[0]
    return nums, (FRACTION_ASSUMED if kept == 1.0 else None)


def _finish(f: float, flag: str | None, raw: Any, spec: LimitSpec
            ) -> tuple[float, str | None]:
    if not math.isfinite(f):
        raise ValueProblem(f"{raw!r} is not a finite number")
    if f < 0 and spec.lo >= 0:
        raise ValueProblem(f"{raw!r} is negative (expected {spec.lo:g}–{spec.hi:g})")
    if f < spec.lo or f > spec.hi:
        unit = " (a fraction 0–1 or a percentage)" if spec.fraction else ""
        raise ValueProblem(f"{raw!r} is outside {spec.lo:g}–{spec.hi:g}{unit}")
    return round(f, 6), flag


# -- units: of a declared area, its value's and its header's --------------------------------
MAX_AREA_M2 = 1e9
AREA = "m2"  # the unit a declared area is read in (field_units.yaml's name for m²)
LENGTH = "m"  # a length's: a value in it, or in a unit converted to it, is no area
_VALUE_UNIT = re.compile(r"(?P<num>[-+]?[\d.,]+)\s*(?P<unit>.*)")
_AREA_EXPECTED = "expected a number, with ㎡, 亩 or 公顷 if not m²"


@dataclass(frozen=True)
class AreaUnits:
    """How a declared area's unit is spelled and converted to m², from the one data file of
    units (``cim/dictionaries/field_units.yaml``, or the city's copy named in its profile):
    its ``spellings`` (the platform's under the city's, :func:`cim.profile.merged_spellings`)
    and its ``conversions`` to ``m2`` (亩, 公顷, 万㎡ …); a header's unit is read as the loaders'
    field matching and the approval check read it (:func:`cim.text.header_unit`)."""

    spellings: dict[str, str]  # a spelling (norm_key) → unit
    factors: dict[str, float]  # an area unit → m² per unit
    lengths: frozenset[str]  # the units of length (refused with their own message)
    names: dict[str, str]  # a unit → its first spelling, for messages (wan_m2 → 万㎡)

    @classmethod
    def of(cls, profile: CityProfile | None = None) -> AreaUnits:
        """The city's field units (its profile's ``field_units``), else the platform's; the
        platform's spellings and conversions under the city's."""
        what = "the field units"
        base = read_yaml_mapping(DICTIONARY_DIR / "field_units.yaml", what)
        units = profile.yaml_dictionary("field_units", what) if profile is not None else base
        conv = merged_conversions(units)  # the platform's under the city's
        return cls(merged_spellings(units), {AREA: 1.0, **conv.get(AREA, {})},
                   frozenset({LENGTH, *conv.get(LENGTH, {})}), unit_names(units))

    def header(self, field: str | None) -> str | None:
        """The unit a column's header names in its trailing brackets (面积(公顷) → ha,
        面积（万㎡） → wan_m2, 限高(层) → storeys); None without one, or where the brackets
        name no unit (面积(规划))."""
        return header_unit(field, self.spellings) if field else None


@lru_cache(maxsize=1)
def platform_area_units() -> AreaUnits:
    """The platform's :class:`AreaUnits` (no city profile)."""
    return AreaUnits.of()


def _spelled(unit: str, units: AreaUnits) -> str:
    """How a header names ``unit`` (wan_m2 → 万㎡, mu → 亩), for a message: a unit's id is no
    spelling (面积(wan_m2) names no unit)."""
    return units.names.get(unit) or next(
        (s for s, u in units.spellings.items() if u == unit), unit)


def parse_area(value: Any, header: str | None = None, units: AreaUnits | None = None
               ) -> float | None:
    """A declared area in m²: a number with its unit (``15亩``, ``1公顷``, ``1.5万㎡``,
    ``10000㎡``, ``10000m2``; 1 亩 = 10000/15 m², 1 公顷 = 1 ha = 10000 m²: the factors of
    ``units``, the platform's by default), or bare in the unit its header names
    (``header``: a unit as :meth:`AreaUnits.header` reads it; none: m²). A length unit
    (``9999m``) or any other is refused."""
    if is_blank(value):
        return None
    units = units or platform_area_units()
    factor = 1.0
    if header is not None:
        if header not in units.factors:
            raise ValueProblem(f"the header's unit {_spelled(header, units)!r} is no unit of area "
                               f"({', '.join(_spelled(u, units) for u in units.factors)})")
        factor = units.factors[header]
    if isinstance(value, str):
        # the number read in its half-width form only (a footnote mark is no digit), the
        # unit after it as the field units spell it
        m = _VALUE_UNIT.fullmatch(half_width(value).strip())
        if m is None:
            raise ValueProblem(f"{value!r} is not an area ({_AREA_EXPECTED})")
        unit = None
        if m["unit"]:
            unit = units.spellings.get(norm_key(m["unit"]))
            if unit in units.lengths:
                raise ValueProblem(f"{value!r}: a length ({m['unit']}) where an area is "
                                   "expected")
            if unit not in units.factors:
                raise ValueProblem(f"{value!r} is not an area ({_AREA_EXPECTED})")
            factor = units.factors[unit]
        number: Any = m["num"]
    else:
        number = value
    try:
        f = as_float(number)
    except ValueProblem:
        raise ValueProblem(f"{value!r} is not an area ({_AREA_EXPECTED})") from None
    if f is None:
        return None
    if f < 0 or f * factor > MAX_AREA_M2:
        raise ValueProblem(f"{value!r} is outside 0–{MAX_AREA_M2:g} m²")
    return f * factor
