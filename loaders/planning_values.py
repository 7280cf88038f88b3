"""Planning indices as regulatory plans write them, parsed strictly.

A 控规 table writes a limit many ways: ``2.5``, ``≤2.5``, ``不大于2.5``, ``1.5-2.5`` (a range:
its upper end is the maximum, its lower end the minimum), ``35%``, ``≥30%``, ``H≤24m``. The
parser keeps the number the approval check needs and refuses everything it cannot read
without guessing — a lower bound where the column is an upper limit (``≥2.5`` for 容积率上限),
a percent sign on a height, two numbers that are no range, text — with a message that says
what was expected, so the reject names the row, the field and the reason.

Fractions (building density, green ratio) are stored 0–1: ``35%`` and ``0.35`` are both 0.35;
a bare number above 1 (``35``) is read as a percentage, as such tables mean it, and the row is
flagged ``percent_assumed``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from loaders.fields import ValueProblem, is_blank

_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_UPPER = ("小于等于", "不大于", "不超过", "不高于", "不多于", "以下", "以内", "小于", "最大", "max",
          "<=", "≤", "≦", "<")
_LOWER = ("大于等于", "不小于", "不低于", "不少于", "以上", "大于", "最小", "min", ">=", "≥",
          "≧", ">")
_RANGE = ("~", "～", "-", "—", "–", "至", "到")
# labels a table may repeat inside the value (H≤24, FAR≤2.5, 容积率≤2.5)
_LABELS = ("容积率", "建筑密度", "密度", "绿地率", "建筑限高", "限高", "高度", "退线", "far", "h")
_LENGTH_UNITS = ("米", "m")


@dataclass(frozen=True)
class LimitSpec:
    """How one planning index is read."""

    bound: str  # "max" (an upper limit: 容积率上限) or "min" (a lower limit: 绿地率下限)
    lo: float
    hi: float
    fraction: bool = False  # stored 0–1; % allowed
    length: bool = False  # metres; m / 米 allowed


FAR = LimitSpec("max", 0.0, 30.0)
DENSITY = LimitSpec("max", 0.0, 1.0, fraction=True)
GREEN = LimitSpec("min", 0.0, 1.0, fraction=True)
HEIGHT = LimitSpec("max", 0.0, 1000.0, length=True)
SETBACK = LimitSpec("min", 0.0, 200.0, length=True)
ELEVATION = LimitSpec("max", -200.0, 9000.0, length=True)
WIDTH = LimitSpec("max", 0.0, 300.0, length=True)


def _strip_all(s: str, tokens: tuple[str, ...]) -> tuple[str, bool]:
    found = False
    for t in tokens:
        if t in s:
            s, found = s.replace(t, ""), True
    return s, found


def parse_limit(value: Any, spec: LimitSpec) -> tuple[float | None, bool]:
    """(the limit, percent assumed?) of one cell; ValueProblem says why a value is refused."""
    if is_blank(value):
        return None, False
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueProblem(f"{value!r} is not a number") from None
        return _finish(f, False, value, spec)
    raw = str(value)
    s = unicodedata.normalize("NFKC", raw).strip().casefold()
    if s.startswith("-") and _NUMBER.match(s[1:].lstrip()):
        raise ValueProblem(f"{raw!r} is negative")
    nums = [float(n) for n in _NUMBER.findall(s)]  # before the spaces go: "2.5 3" is two
    rest = re.sub(r"\s+", "", _NUMBER.sub("#", s))
    rest, percent = _strip_all(rest, ("%",))
    rest, upper = _strip_all(rest, _UPPER)
    rest, lower = _strip_all(rest, _LOWER)
    rest = rest.replace("=", "")
    rest, metres = _strip_all(rest, _LENGTH_UNITS)
    rest, _ = _strip_all(rest, _LABELS)
    is_range = False
    if len(nums) == 2:
        between = rest.strip("#")
        if between in _RANGE:
            rest, is_range = "##", True
    if not nums or rest not in ("#", "##") or (len(nums) == 2 and not is_range) or len(nums) > 2:
        raise ValueProblem(f"{raw!r} is not a limit (expected a number such as 2.5, ≤2.5, "
                           "35%, 1.5-2.5)")
    if upper and lower:
        raise ValueProblem(f"{raw!r} says both at most and at least")
    if percent and not spec.fraction:
        raise ValueProblem(f"{raw!r}: a percentage where a number is expected")
    if metres and not spec.length:
        raise ValueProblem(f"{raw!r}: metres where a ratio is expected")
    if is_range:
        a, b = nums
        if a > b:
            raise ValueProblem(f"{raw!r}: the range runs backwards")
        f = b if spec.bound == "max" else a
    else:
        if spec.bound == "max" and lower:
            raise ValueProblem(f"{raw!r} is a lower bound where an upper limit (上限) is "
                               "expected")
        if spec.bound == "min" and upper:
            raise ValueProblem(f"{raw!r} is an upper bound where a lower limit (下限) is "
                               "expected")
        f = nums[0]
    if percent:
        return _finish(f / 100.0, False, raw, spec, percent=True)
    return _finish(f, False, raw, spec)


def _finish(f: float, assumed: bool, raw: Any, spec: LimitSpec,
            percent: bool = False) -> tuple[float, bool]:
    if not math.isfinite(f):
        raise ValueProblem(f"{raw!r} is not a finite number")
    if spec.fraction and not percent and 1.0 < f <= 100.0:
        f, assumed = f / 100.0, True  # 35 means 35 % in a 绿地率 column
    if f < spec.lo or f > spec.hi:
        unit = " (a fraction 0–1 or a percentage)" if spec.fraction else ""
        raise ValueProblem(f"{raw!r} is outside {spec.lo:g}–{spec.hi:g}{unit}")
    return round(f, 6), assumed
