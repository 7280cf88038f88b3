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
would apply otherwise, a text value no rule names (a pressure written 0.4MPa: :func:`pick`).
A rule applies to a pair in either order. When several apply, the most specific wins (most
conditions), then the largest distance. A pair no rule covers is not checked.
``verified``: ``yes`` where the value is stated in the project's collected standards facts, ``no``
where it is a third-party transcription or recalled: check it against the published table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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


def _conds(text: str, row: int, field: str) -> tuple[Cond, ...]:
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
            except ValueError:
                raise ConfigError(f"condition {part!r}: d needs a number (mm)", path=FILE,
                                  row=row, field=field) from None
        else:
            if op not in ("=", "!="):
                raise ConfigError(f"condition {part!r}: {f} takes = or !=", path=FILE,
                                  row=row, field=field)
            value = norm_key(v)
        out.append(Cond(f, op, value))
    return tuple(out)


def load_rules(profile: CityProfile | None) -> list[Rule]:
    """The clearance rules of the city (its ``pipe_clearances`` override, else the default)."""
    rules = []
    for i, r in enumerate(dictionary(profile, "pipe_clearances"), start=2):
        kind = r.get("kind", "")
        if kind not in KINDS:
            raise ConfigError(f"kind {kind!r} is not one of {', '.join(KINDS)}", path=FILE,
                              row=i, field="kind")
        try:
            req = float(r.get("required_m", ""))
            if req < 0:
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
        rules.append(Rule(kind, Side(r["a"], _conds(r.get("a_when", ""), i, "a_when")),
                          Side(r["b"], _conds(r.get("b_when", ""), i, "b_when")), req,
                          (r.get("verified") or "").lower() in ("yes", "true", "1"),
                          r.get("source", ""), i))
    return rules


def pick(rules: list[Rule], kind: str, p: dict[str, Any], q: dict[str, Any]) -> Rule | None:
    """The rule for the pair (p, q): the most specific that applies, then the largest.

    When none applies, a text value that no rule of the pair's classes names (a gas pipe's
    pressure written ``0.4MPa`` where the rules say 低压 … 次高压A, a burial method spelt
    otherwise) is as unknown to the rules as a blank one, and meets every condition on its
    field: the strictest rule that may apply is used rather than none (the pair was not
    checked at all)."""
    hits = [r for r in rules if r.kind == kind and r.applies(p, q)]
    if not hits:
        hits = [r for r in rules if r.kind == kind
                and r.applies(_unnamed_blank(rules, kind, p), _unnamed_blank(rules, kind, q))]
    if not hits:
        return None
    return max(hits, key=lambda r: (r.specificity, r.required_m))


def _unnamed_blank(rules: list[Rule], kind: str, thing: dict[str, Any]) -> dict[str, Any]:
    """``thing`` with its text fields blanked where their value is none of the values the
    rules of ``kind`` compare that field of its class to."""
    out = dict(thing)
    for f in FIELDS:
        v = thing.get(f)
        if f == "d" or v is None or v == "":
            continue
        named = {c.value for r in rules if r.kind == kind for side in (r.a, r.b)
                 if side.what == thing["what"] for c in side.conds if c.field == f}
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
