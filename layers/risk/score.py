"""Likelihood and consequence scores: plain functions of an asset's attributes and of what
stands around it, driven by the rules and the matrix (:mod:`layers.risk.config`).

Kept apart from the SQL so a score can be explained: each function returns the score and the
factors that made it (stored in ``risk_assessments.factors`` and the point's ``attrs``).
"""

from __future__ import annotations

from typing import Any

from cim import pressure
from layers.risk.config import Matrix, Rule


def clamp(v: int, lo: int = 1, hi: int = 5) -> int:
    return max(lo, min(hi, v))


def pressure_mpa(text: str | None) -> float | None:
    """The pressure in MPa written in a survey's text (:func:`cim.pressure.mpa`)."""
    return pressure.mpa(text)


def pressure_name(text: str | None, classes: tuple[pressure.PressureClass, ...] | None = None
                  ) -> str:
    """A survey's pressure as the class it names or whose bounds hold its MPa (GB 50028,
    ``pressure_classes`` of risk_rules.yaml — the city's copy's, ``classes`` —:
    :func:`cim.pressure.grade`) — a pressure above every class scores as the highest, not as
    none — and "" if neither."""
    if pressure.above_all(text, classes):
        return pressure.highest(classes)
    return pressure.grade(text, classes) or ""


def _pressure_hit(p: dict, name: str, mpa: float | None) -> bool:
    """A rule's pressure row matches by the class ``name`` (of the text or of its MPa), or by
    the MPa in the text: ``min_mpa`` from that pressure on, ``above_mpa`` above it."""
    if name and name in {pressure.normalise(n) for n in p.get("names") or []}:
        return True
    if mpa is None:
        return False
    if p.get("above_mpa") is not None and mpa > p["above_mpa"]:
        return True
    return p.get("min_mpa") is not None and mpa >= p["min_mpa"]


def _first(rows: list[dict], test) -> dict | None:
    return next((r for r in rows or [] if test(r)), None)


def _step(rows: list[dict], key: str, value: float) -> dict | None:
    """The step of a threshold table (age, buildings, residents) that ``value`` reaches: the
    one with the highest ``key`` at most ``value``, in whatever order a city lists them (the
    first match of a list written from the lowest step up gave 35 buildings the step of 10,
    not of 30)."""
    reached = [r for r in rows or [] if value >= r[key]]
    return max(reached, key=lambda r: r[key], default=None)


def pipe_likelihood(rule: Rule, props: dict[str, Any], year: int,
                    classes: tuple[pressure.PressureClass, ...] | None = None
                    ) -> tuple[int | None, dict[str, Any]]:
    """Likelihood of a pipe segment by material × age × pressure × status; None when the
    pipe is no risk point (excluded status, or under ``min_likelihood``). ``classes``: the
    pressure classes of the rules' file (default: the platform's)."""
    lk = rule.params["likelihood"]
    status = props.get("status_code")
    if status is not None and str(status) in [str(s) for s in rule.params.get(
            "exclude_status") or []]:
        return None, {"excluded_status": status}
    f: dict[str, Any] = {"base": int(lk.get("base", 1))}
    # the inputs the pipe does not give (or gives as no value the rule knows), each scored by
    # the rule's default for it: named in the factors, so a grade resting on a default says
    # so, and the assessment counts them in its notes
    unknown: list[str] = []
    mat = props.get("material_code")
    materials = {str(k): v for k, v in (lk.get("material") or {}).items()}
    if mat and str(mat) in materials:
        f["material"] = int(materials[str(mat)])
    else:
        f["material"] = int(lk.get("material_default", 0))
        unknown.append("material_code")
    built = props.get("year_built")
    if built and int(built) <= year:
        age = year - int(built)
        hit = _step(lk.get("age"), "min_years", age)
        f["age_years"] = age
        f["age"] = int(hit["add"]) if hit else 0
    else:  # no year, or one after the assessment's (a typo, 2062): the age is not known
        if built:
            f["year_built_after_assessment"] = int(built)
        f["age"] = int(lk.get("age_unknown", 0))
        unknown.append("year_built")
    text = props.get("pressure")
    mpa, name = pressure_mpa(text), pressure_name(text, classes)
    hit = _first(lk.get("pressure"), lambda p: _pressure_hit(p, name, mpa))
    if hit:
        f["pressure"] = int(hit["add"])
    elif mpa is None and not name:  # blank, or a text read as no class and no MPa
        f["pressure"] = int(lk.get("pressure_unknown", 0))
        unknown.append("pressure")
    else:
        f["pressure"] = 0
    statuses = {str(k): v for k, v in (lk.get("status") or {}).items()}
    # no status is a pipe in service (a survey leaves 使用状态 blank for most of them)
    f["status"] = int(statuses.get(str(status), 0)) if status is not None else 0
    if unknown:
        f["unknown"] = unknown
    total = clamp(f["base"] + f["material"] + f["age"] + f["pressure"] + f["status"])
    if total < int(rule.params.get("min_likelihood", 1)):
        return None, f
    return total, f


def fixed_likelihood(rule: Rule, props: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A rule's fixed likelihood plus its ``adjust`` (column → value → added)."""
    f: dict[str, Any] = {"base": int(rule.params["likelihood"])}
    total = f["base"]
    for col, values in (rule.params.get("adjust") or {}).items():
        add = int((values or {}).get(str(props.get(col)), 0))
        if add:
            f[col] = add
            total += add
    return clamp(total), f


def consequence(matrix: Matrix, exposure: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Consequence 1-5 from what stands within the radius: ``exposure`` has ``buildings``
    (count), ``residents`` (number), ``facilities`` (types found), ``road_class`` (the highest
    class near, or None)."""
    c = matrix.consequence
    f: dict[str, Any] = {"base": int(c.get("base", 1))}
    hit = _step(c.get("buildings"), "min", exposure.get("buildings") or 0)
    f["buildings"] = int(hit["add"]) if hit else 0
    hit = _step(c.get("population"), "min", exposure.get("residents") or 0)
    f["population"] = int(hit["add"]) if hit else 0
    fac = c.get("facilities") or {}
    found = sorted(set(exposure.get("facilities") or []) & set(fac.get("types") or []))
    f["facilities"] = int(fac.get("add", 0)) if found else 0
    roads = (c.get("roads") or {}).get("classes") or {}
    f["road"] = max((int(roads.get(r, 0)) for r in exposure.get("road_classes") or []),
                    default=0)
    total = clamp(sum(f.values()), 1, int(c.get("max", 5)))
    return total, {**f, "exposure": {**exposure, "facilities": found}}
