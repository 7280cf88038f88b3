"""Minimum clearances of GB 50289-2016 (tables 4.1.9 horizontal, 4.1.14 vertical) as data.

The values live in ``pipe_clearances.csv`` (a city overrides it in its profile, like every
dictionary), one rule a row::

    kind,a,a_when,b,b_when,required_m,verified,source
    vertical,02,,01,,0.40,yes,GB 50289-2016 table 4.1.14 (reference facts)
    horizontal,building,,01,d<=200,1.0,yes,GB 50289-2016 table 4.1.9 (reference facts)

``a``/``b``: a pipe class code of ``pipe_classes.csv`` or ``building``. ``*_when``: conditions
joined by ``;``, each ``FIELD OP VALUE`` with FIELD ``d`` (outer size in mm: diameter, else box
width; compared as a number), ``subclass``, ``burial``, ``pressure`` (compared as normalised
text) and OP one of ``= != < <= > >=``. An unknown value (no size, no burial method) meets every
condition on its field, so the strictest rule that may apply is used; so does, where no rule
would apply otherwise, a text value no rule names (a burial method spelt otherwise). A
``pressure`` is compared as the GB 50028 class :mod:`cim.pressure` reads from the text (中压B级,
0.2MPa → 中压B); one the rules do not name, or cannot be read, leaves the pair unchecked
(:func:`pick`), never under a weaker rule.
A rule applies to a pair in either order. When several apply, the most specific wins (most
conditions), then the largest distance. A pair no rule covers is not checked.
``verified``: ``yes`` where the value is stated in the project's collected standards facts, ``no``
where it is a third-party transcription or recalled: check it against the published table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from cim import pressure
from cim.errors import ConfigError
from cim.profile import CityProfile
from cim.text import norm_key
from layers.query.pipes import dictionary

KINDS = ("vertical", "horizontal")
FIELDS = ("d", "subclass", "burial", "pressure")
_COND = re.compile(r"^\s*(d|subclass|burial|pressure)\s*(<=|>=|!=|=|<|>)\s*(.+?)\s*$")
FILE = "pipe_clearances.csv"


@dataclass(frozen=True)
class Cond:
    field: str
    op: str
    value: Any

    def test(self, thing: dict[str, Any]) -> bool:
        v = thing.get(self.field)
        if v is None or v == "":
            return True  # unknown: every rule on the field may apply, the strictest wins
        if self.field == "d":
            v = float(v)
            return {"=": v == self.value, "!=": v != self.value, "<": v < self.value,
                    "<=": v <= self.value, ">": v > self.value, ">=": v >= self.value}[self.op]
        eq = norm_key(v) == self.value
        if self.op in ("=", "!="):
            return eq if self.op == "=" else not eq
        return False


@dataclass(frozen=True)
class Side:
    what: str  # class code or "building"
    conds: tuple[Cond, ...]

    def test(self, thing: dict[str, Any]) -> bool:
        return thing["what"] == self.what and all(c.test(thing) for c in self.conds)


@dataclass(frozen=True)
class Rule:
    kind: str
    a: Side
    b: Side
    required_m: float
    verified: bool
    source: str
    row: int

    @property
    def specificity(self) -> int:
        return len(self.a.conds) + len(self.b.conds)

    def applies(self, p: dict[str, Any], q: dict[str, Any]) -> bool:
        return (self.a.test(p) and self.b.test(q)) or (self.a.test(q) and self.b.test(p))


def _conds(text: str, row: int, field: str,
           pcs: tuple[pressure.PressureClass, ...] | None = None) -> tuple[Cond, ...]:
    out = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        m = _COND.match(part)
        if not m:
            raise ConfigError(f"condition {part!r}: expected FIELD OP VALUE with FIELD one of "
                              f"{', '.join(FIELDS)}", path=FILE, row=row, field=field)
        f, op, v = m.groups()
        if f == "d":
            try:
                value: Any = float(v)
                if not math.isfinite(value):
                    raise ValueError
            except ValueError:
                raise ConfigError(f"condition {part!r}: d needs a number (mm)", path=FILE,
                                  row=row, field=field) from None
        else:
            if op not in ("=", "!="):
                raise ConfigError(f"condition {part!r}: {f} takes = or !=", path=FILE,
                                  row=row, field=field)
            if f == "pressure":
                # read as the pipes' pressures are (cim.pressure): 中压A级 and 0.4MPa name the
                # class 中压A; compared raw, a rule so written could never match a pipe
                graded = pressure.grade(v, pcs)
                if not graded:
                    raise ConfigError(f"condition {part!r}: {v!r} is no GB 50028 pressure class "
                                      "(pressure_classes of risk_rules.yaml) nor a pressure "
                                      "in MPa within them", path=FILE, row=row, field=field)
                v = graded
            value = norm_key(v)
        out.append(Cond(f, op, value))
    return tuple(out)


def load_rules(profile: CityProfile | None) -> list[Rule]:
    """The clearance rules of the city (its ``pipe_clearances`` override, else the default)."""
    rules = []
    pcs = pressure.classes(profile)
    for i, r in enumerate(dictionary(profile, "pipe_clearances"), start=2):
        kind = r.get("kind", "")
        if kind not in KINDS:
            raise ConfigError(f"kind {kind!r} is not one of {', '.join(KINDS)}", path=FILE,
                              row=i, field="kind")
        try:
            req = float(r.get("required_m", ""))
            if not math.isfinite(req) or req < 0:
                raise ValueError
        except ValueError:
            raise ConfigError(f"required_m {r.get('required_m')!r} is not a distance in metres",
                              path=FILE, row=i, field="required_m") from None
        for side in ("a", "b"):
            if not r.get(side):
                raise ConfigError("a class code or 'building' is needed", path=FILE, row=i,
                                  field=side)
        if kind == "vertical" and "building" in (r["a"], r["b"]):
            raise ConfigError("a vertical clearance is between two pipes", path=FILE, row=i,
                              field="kind")
        rules.append(Rule(kind, Side(r["a"], _conds(r.get("a_when", ""), i, "a_when", pcs)),
                          Side(r["b"], _conds(r.get("b_when", ""), i, "b_when", pcs)), req,
                          (r.get("verified") or "").lower() in ("yes", "true", "1"),
                          r.get("source", ""), i))
    return rules


class _Unchecked:
    """:func:`pick`'s answer for a pair whose rule depends on a value it cannot read."""

    def __repr__(self) -> str:
        return "UNCHECKED"


UNCHECKED = _Unchecked()


def pick(rules: list[Rule], kind: str, p: dict[str, Any], q: dict[str, Any]
         ) -> Rule | _Unchecked | None:
    """The rule for the pair (p, q): the most specific that applies, then the largest; None
    when no rule covers the pair; :data:`UNCHECKED` when the rules of the pair grade it by a
    pressure class and the pipe's pressure is none they name.

    ``pressure`` is the class :func:`cim.pressure.grade` reads ("" blank, None unreadable):
    blank meets every pressure condition (the strictest rule that may apply); a class the
    rules do not name (高压A where the building rules stop at 中压A), a family they do not name
    (次高压 where they name 次高压A and 次高压B) or an unreadable text is not checked — read as
    blank it would get a weaker rule than its own, or a stricter one than 中压B's (a false
    violation). A text value of another field no rule names (a burial method spelt otherwise)
    is, where no rule would apply otherwise, as unknown as a blank one."""
    for t in (p, q):
        v = t.get("pressure", "")
        if v == "":
            continue
        blank = {**t, "pressure": ""}
        pair = (blank, q) if t is p else (p, blank)
        # the values the rules that may apply to the pair grade this pipe's pressure by —
        # those that would apply with unnamed texts blanked where none applies as it is (as
        # the hits below: a burial spelt otherwise must not pass an unreadable pressure on
        # to the strictest rule)
        may = [r for r in rules if r.kind == kind and r.applies(*pair)] or \
            [r for r in rules if r.kind == kind
             and r.applies(*(_unnamed_blank(rules, kind, x) for x in pair))]
        named = _named(may, kind, t["what"], "pressure")
        if named and (v is None or norm_key(v) not in named):
            return UNCHECKED
    p, q = ({**t, "pressure": t.get("pressure") or ""} for t in (p, q))
    hits = [r for r in rules if r.kind == kind and r.applies(p, q)]
    if not hits:
        hits = [r for r in rules if r.kind == kind
                and r.applies(_unnamed_blank(rules, kind, p), _unnamed_blank(rules, kind, q))]
    if not hits:
        return None
    return max(hits, key=lambda r: (r.specificity, r.required_m))


def _named(rules: list[Rule], kind: str, what: str, f: str) -> set[str]:
    """The values the rules of ``kind`` compare field ``f`` of class ``what`` to."""
    return {c.value for r in rules if r.kind == kind for side in (r.a, r.b)
            if side.what == what for c in side.conds if c.field == f}


def _unnamed_blank(rules: list[Rule], kind: str, thing: dict[str, Any]) -> dict[str, Any]:
    """``thing`` with its text fields other than the pressure (:func:`pick`) blanked where
    their value is none of the values the rules of ``kind`` compare that field of its class
    to."""
    out = dict(thing)
    for f in FIELDS:
        v = thing.get(f)
        if f in ("d", "pressure") or v is None or v == "":
            continue
        named = _named(rules, kind, thing["what"], f)
        if named and norm_key(v) not in named:
            out[f] = None
    return out


def classes_in(rules: list[Rule], kind: str, building: bool | None = None) -> list[str]:
    """Pipe class codes the rules of ``kind`` name (with a building when ``building`` is True,
    without one when False)."""
    out = set()
    for r in rules:
        if r.kind != kind:
            continue
        has_b = "building" in (r.a.what, r.b.what)
        if building is None or has_b == building:
            out |= {r.a.what, r.b.what} - {"building"}
    return sorted(out)


def max_required(rules: list[Rule], kind: str, building: bool) -> float:
    vals = [r.required_m for r in rules if r.kind == kind
            and ("building" in (r.a.what, r.b.what)) == building]
    return max(vals, default=0.0)
