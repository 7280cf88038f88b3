"""The case loop as a state machine read from ``cim/dictionaries/case_workflow.yaml``.

:func:`act` is the one way a case changes state (CLI, HTTP, tests): it locks the case row,
finds the transition the action makes from the case's state (refused with a
:class:`TransitionError` naming the case, its state and the actions allowed there), checks
the user's role (:class:`RoleError`; a 处置单位 user acts only on cases of its unit) and the
action's required fields (a sensor alarm's case reaches a final state, 结案 or 作废, only once
its alarm has cleared), then sets the state and its timestamp (moving forward; back to a
state reached before, the first time and the deadline stay), clears the timestamps of the
later states, and writes the audit row (who, role, when, from, to, note). It runs in the
caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from cim.errors import CimError, ConfigError, InputError
from cim.profile import DICTIONARY_DIR, dictionary_file, read_yaml_mapping
from cim.text import shown
from cim.times import rfc3339
from layers.cases.auth import ROLES, User
from layers.cases.categories import Category, categories_file, category
from layers.cases.dispatch import OVERDUE_FLAG, known_units, propose
from layers.cases.store import (
    CaseNotFound,
    get_case,
    instant_text,
    not_in_future,
    record_event,
    utc,
    zone_of,
)

if TYPE_CHECKING:
    from cim.profile import CityProfile

WORKFLOW_FILE = DICTIONARY_DIR / "case_workflow.yaml"
# the columns of ``cases`` (migration 0008) a state's time may be kept in: the workflow file
# names them, and a name goes into an UPDATE, so only these are accepted
TIME_COLUMNS = ("reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at",
                "closed_at")


class TransitionError(CimError):
    """The action is not allowed in the case's state (HTTP 409)."""

    exit_code = 6


class RoleError(CimError):
    """The user's role (or unit) may not make this transition (HTTP 403)."""

    exit_code = 7


@dataclass(frozen=True)
class Transition:
    from_states: tuple[str, ...]
    to: str
    roles: tuple[str, ...]
    when: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    code: str
    name: str
    transitions: tuple[Transition, ...]
    fields: dict[str, dict[str, Any]]

    def label(self) -> str:
        return f"{self.code} ({self.name})"


@dataclass(frozen=True)
class Workflow:
    states: tuple[str, ...]
    final: tuple[str, ...]
    timestamps: dict[str, str]
    unit_roles: tuple[str, ...]
    actions: dict[str, Action]
    deadline_from: str
    initial: str  # the state a report opens in (上报)
    waiting: tuple[str, ...]  # the states in which a case waits to be handled (立案, 派遣)

    @property
    def registered(self) -> str:
        """The state a report is registered into (the ``register`` action from
        ``initial``): where a sensor alarm's case is opened."""
        act = self.actions.get("register")
        to = next((t.to for t in act.transitions if self.initial in t.from_states),
                  None) if act else None
        if to is None:
            raise ConfigError(f"case_workflow.yaml: no register action from {self.initial}",
                              field="actions.register")
        return to

    def allowed(self, state: str) -> list[Action]:
        """The actions that leave ``state``."""
        return [a for a in self.actions.values()
                if any(state in t.from_states for t in a.transitions)]


def _list(v: Any) -> tuple[str, ...]:
    return tuple(v) if isinstance(v, list) else (v,)


def workflow_file(profile: CityProfile | None = None) -> Path:
    """The loop a city's cases follow: its profile's copy of ``case_workflow.yaml`` (the one
    way a city overrides a dictionary, :meth:`cim.profile.CityProfile.dictionary_path`), else
    the platform's. None (no profile) is the platform's file."""
    return dictionary_file(profile, "case_workflow", ".yaml")


@lru_cache(maxsize=8)
def load_workflow(path: Path = WORKFLOW_FILE) -> Workflow:
    """Read and check the workflow file (unknown states, roles or fields are named)."""
    raw = read_yaml_mapping(path, "the case workflow")
    states = tuple(raw.get("states") or ())
    ts = dict(raw.get("timestamps") or {})

    def state(s: Any, where: str) -> str:
        if s not in states:
            raise ConfigError(f"{where}: unknown state {s!r}; states: {', '.join(states)}",
                              path=str(path), field=where)
        return s

    for s, col in ts.items():
        state(s, "timestamps")
        if col not in TIME_COLUMNS:
            raise ConfigError(f"timestamps.{s}: {col!r} is not a time column of cases "
                              f"({', '.join(TIME_COLUMNS)})", path=str(path),
                              field=f"timestamps.{s}")
    actions: dict[str, Action] = {}
    for code, spec in (raw.get("actions") or {}).items():
        trs = []
        for i, t in enumerate(spec.get("transitions") or []):
            where = f"actions.{code}.transitions[{i}]"
            roles = _list(t.get("roles") or [])
            bad = [r for r in roles if r not in ROLES]
            if bad or not roles:
                raise ConfigError(f"{where}: roles {list(roles)} (known: {', '.join(ROLES)})",
                                  path=str(path), field=where)
            trs.append(Transition(tuple(state(s, where) for s in _list(t.get("from"))),
                                  state(t.get("to"), where), roles,
                                  {k: str(v) for k, v in (t.get("when") or {}).items()}))
        if not trs:
            raise ConfigError(f"action {code} has no transitions", path=str(path),
                              field=f"actions.{code}")
        actions[code] = Action(code, spec.get("name") or code, tuple(trs),
                               {k: dict(v or {}) for k, v in (spec.get("fields") or {}).items()})
    deadline_from = state(raw.get("deadline_from"), "deadline_from")
    if deadline_from not in ts:
        raise ConfigError(f"deadline_from {deadline_from} has no timestamp", path=str(path),
                          field="deadline_from")
    initial = state(raw.get("initial"), "initial")
    waiting = tuple(state(s, "waiting_for_handling")
                    for s in raw.get("waiting_for_handling") or ())
    return Workflow(states, tuple(state(s, "final") for s in raw.get("final") or ()), ts,
                    tuple(raw.get("unit_roles") or ()), actions, deadline_from, initial,
                    waiting)


def _fields(wf: Workflow, action: Action, values: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k, v in values.items() if v is not None and k not in action.fields]
    if unknown:
        raise InputError(f"action {action.label()} takes no {', '.join(unknown)}; it takes: "
                         f"{', '.join(action.fields) or 'nothing'}", field=unknown[0])
    out = {}
    for name, spec in action.fields.items():
        v = values.get(name)
        if v is not None and not isinstance(v, str):
            raise InputError(f"{name} is text, not {type(v).__name__}", field=name)
        v = v.strip() if isinstance(v, str) else v
        if v in (None, "") and spec.get("default") is None and spec.get("required"):
            raise InputError(f"action {action.label()} needs {name}", field=name)
        if v not in (None, "") and spec.get("choices") and v not in spec["choices"]:
            raise InputError(f"{name} {shown(v)} is not one of {', '.join(spec['choices'])}",
                             field=name)
        out[name] = v if v != "" else None
    return out


def _allowed_text(wf: Workflow, state: str) -> str:
    """The actions allowed in ``state`` and who makes them, for a refusal's message."""
    parts = []
    for a in wf.allowed(state):
        roles = sorted({r for t in a.transitions if state in t.from_states for r in t.roles})
        parts.append(f"{a.label()} by {'/'.join(roles)}")
    return ", ".join(parts) or "nothing (the case is final)"


def _alarm_cleared(conn: psycopg.Connection, code: str, action: Action, zone: str) -> None:
    """A sensor alarm's case ends (结案, 作废) only once its alarm has cleared: closed while
    the alarm is active, the danger would have no open case — the alarm escalating later (to
    一级) opens none, being the same episode. A TransitionError naming the alarm otherwise
    (a faulty sensor is taken out of service, 停用, which clears its alarm); the alarm's
    start on the city's clock ``zone``."""
    row = conn.execute(
        "SELECT code, type_name, level_name, last_value, unit, opened_at FROM alarms "
        "WHERE case_code = %s AND status = 'active' AND valid_to IS NULL "
        "ORDER BY opened_at LIMIT 1", (code,)).fetchone()
    if row is not None:
        a_code, type_name, level, value, unit, opened = row
        last = "" if value is None else f", last {value:g} {unit or ''}".rstrip()
        raise TransitionError(
            f"case {code}: its alarm {a_code} ({type_name or ''} {level}{last}), active since "
            f"{instant_text(opened, zone)}, has not cleared; {action.label()} only once it "
            "has (a faulty sensor is set to 停用, which clears it)")


def _category_of(code: str, opened_as: list, unit: str | None,
                 profile: CityProfile | None) -> Category:
    """The case's category from case_categories.csv; one the city has taken out of the file
    since the case was opened goes on as the case was opened with it (its kind, name and time
    limit; its unit as the proposal) — the case's people did not give the category, and a
    400 naming it stopped every action on the case."""
    try:
        return category(code, profile=profile)
    except InputError:
        kind, name, limit = opened_as
        if limit is None:
            path = categories_file(profile)
            raise ConfigError(f"case category {code} is not in {path.name} and the case keeps "
                              "no time limit of its own; put the category back",
                              path=str(path), field="category_code") from None
        return Category(code, kind or "", code[:2], "", name or "", float(limit),
                        unit or "", ())


def _known_unit(conn: psycopg.Connection, wf: Workflow, unit: str, proposed: str,
                profile: CityProfile | None) -> None:
    """An InputError naming ``unit`` when the unit a person named is none the platform
    knows (:func:`layers.cases.dispatch.known_units`), listing them."""
    known = known_units(conn, wf.unit_roles, profile)
    if unit not in known:
        raise InputError(f"unit {shown(unit)} is no unit the platform knows (the proposal "
                         f"is {proposed}); units: {', '.join(known)} — a new unit acts once "
                         "a 处置单位 user of it is added (cim ops user add NAME --role 处置单位 "
                         "--unit UNIT)", field="unit")


def act(conn: psycopg.Connection, code: str, action: str, user: User, *,
        at: dt.datetime | None = None, note: str | None = None, unit: str | None = None,
        result: str | None = None, profile: CityProfile | None = None) -> dict:
    """Make ``action`` on the case ``code`` as ``user`` under ``profile``'s loop and
    categories (None: the platform's files); the case after it (with its trail)."""
    wf = load_workflow(workflow_file(profile))
    if action not in wf.actions:
        raise InputError(f"unknown action {shown(action)}; actions: {', '.join(wf.actions)}",
                         field="action")
    act_ = wf.actions[action]
    values = _fields(wf, act_, {"note": note, "unit": unit, "result": result})
    row = conn.execute(
        "SELECT id, state, unit, category_code, asset_layer, asset_code, kind, category_name, "
        "time_limit_h FROM cases c "
        "WHERE code = %s AND valid_to IS NULL FOR UPDATE", (code,)).fetchone()
    if row is None:
        raise CaseNotFound(f"no case has code {shown(code)}", field="code")
    case_id, state, case_unit, cat_code, a_layer, a_code, *opened_as = row
    # the last event is read once the row is locked, in a statement of its own: read with the
    # lock (a subquery of the locking statement), it came from the snapshot taken before a
    # concurrent action committed, and an earlier time slipped in before that action's event
    last_at = conn.execute("SELECT max(at) FROM case_events WHERE case_id = %s",
                           (case_id,)).fetchone()[0]
    candidates = [t for t in act_.transitions if state in t.from_states
                  and all(values.get(k) == v for k, v in t.when.items())]
    if not candidates:
        raise TransitionError(f"case {code} is in state {state}: {act_.label()} is not "
                              f"allowed; allowed there: {_allowed_text(wf, state)}")
    tr = next((t for t in candidates if user.role in t.roles), None)
    if tr is None:
        raise RoleError(f"case {code}: {act_.label()} from {state} is for "
                        f"{'/'.join(candidates[0].roles)}, not {user.role} ({user.name})")
    if user.role in wf.unit_roles and (user.unit or "") != (case_unit or ""):
        raise RoleError(f"case {code} is dispatched to {case_unit}, not to {user.unit} "
                        f"({user.name})")
    zone = zone_of(profile)
    if tr.to in wf.final:
        _alarm_cleared(conn, code, act_, zone)
    not_in_future(conn, utc(at), "at", zone)
    # no time given: the action happens now, once it holds the row — not when its transaction
    # began (now()): a request whose transaction began before another person's action on the
    # case committed was refused as before that action's event, its person having typed none
    at = utc(at) or conn.execute("SELECT clock_timestamp()").fetchone()[0]
    if last_at is not None and at < last_at:
        raise InputError(f"case {code}: time {instant_text(at, zone)} is before its last "
                         f"event, at {instant_text(last_at, zone)}", field="at")
    # whether the case has ended, by the city's loop (the one map's open cases: not final)
    sets: dict[str, Any] = {"state": tr.to, "final": tr.to in wf.final}
    order = list(wf.timestamps)
    # back to a state the case has reached before (a return, a failed 核查): it keeps the
    # time it first reached it and its deadline, so a return does not restart the clock
    back = state in order and tr.to in order and order.index(tr.to) < order.index(state)
    if tr.to in wf.timestamps:
        if not back:
            sets[wf.timestamps[tr.to]] = at
        for later in order[order.index(tr.to) + 1:]:
            sets[wf.timestamps[later]] = None
    cat = _category_of(cat_code, opened_as, case_unit, profile)
    if tr.to == wf.deadline_from and not back:
        sets["deadline"] = at + dt.timedelta(hours=cat.time_limit_h)
        # the limit the deadline counts with is the case's own (the city may have changed
        # its category's limit since the report): the case read "4 h" beside a deadline 8 h
        # after its 立案
        sets["time_limit_h"] = cat.time_limit_h
    elif tr.to in order and order.index(tr.to) < order.index(wf.deadline_from):
        sets["deadline"] = None
    detail: dict[str, Any] = {}
    if "unit" in act_.fields:
        proposed, basis = propose(conn, cat, a_layer, a_code)
        chosen = values.get("unit") or proposed
        if chosen not in (proposed, case_unit):
            _known_unit(conn, wf, chosen, proposed, profile)
        sets["unit"], sets["unit_basis"] = chosen, basis if chosen == proposed else "指定"
        detail = {"unit": chosen, "unit_basis": sets["unit_basis"], "proposed": proposed}
    if values.get("result"):
        detail["result"] = values["result"]
    cols = list(sets)
    # a case no longer waiting to be handled is not overdue (dispatch.flag_overdue)
    unflag = (sql.SQL("") if tr.to in wf.waiting
              else sql.SQL(", flags = array_remove(flags, {})").format(
                  sql.Literal(OVERDUE_FLAG)))
    conn.execute(sql.SQL("UPDATE cases SET {}{} WHERE id = %s").format(
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols),
        unflag), [*(sets[c] for c in cols), case_id])
    record_event(conn, case_id, at=at, actor=user.name, role=user.role, action=action,
                 from_state=state, to_state=tr.to, note=values.get("note"), detail=detail)
    return get_case(conn, code, events=True)


def follow_category(conn: psycopg.Connection, code: str, category_code: str, *,
                    at: dt.datetime, actor: str, role: str = "system",
                    note: str | None = None,
                    profile: CityProfile | None = None,
                    known_at: dt.datetime | None = None) -> dict | None:
    """The case ``code`` takes the category ``category_code``: what a sensor alarm's case does
    when its alarm escalates to a level whose band names another category
    (``sensor_thresholds.csv`` ``case_category``: a gas reading past 一级 may be 燃气泄漏, 1 h,
    where 四级 was 燃气设施异常, 4 h). The category is what the case is handled and evaluated
    as (GB/T 30428: time limits per category), so it follows the escalation:

    - ``category_code``, ``category_name``, ``kind`` and ``time_limit_h`` are the new one's;
    - a registered case's deadline becomes the new time limit counted from the escalation
      (``at``, not after the platform's clock), never later than the deadline it had: the
      more urgent problem is due sooner, an escalation never grants more time, and a unit is
      not late for time that passed before the problem became urgent — nor before the
      platform knew of it (``known_at``: a late reading's receipt, when it came after the
      escalation's own time: the limit counts from then);
    - a case not dispatched yet (before 派遣) whose unit was proposed, not named by the
      派遣员 (``指定``), takes the new category's proposal; a dispatched case keeps its unit
      (the event's detail names the proposal for the 派遣员);
    - one ``case_events`` row (action ``recategorize``, the state unchanged; detail: the
      categories and deadlines before and after).

    The case row is locked as :func:`act` locks it. The case as it is after (with its trail),
    or None when nothing changed (the same category, or a final case). ``profile``: whose
    loop and categories (None: the platform's files)."""
    wf = load_workflow(workflow_file(profile))
    new = category(category_code, field="case_category", profile=profile)
    row = conn.execute(
        "SELECT id, state, category_code, deadline, unit, unit_basis, asset_layer, asset_code "
        "FROM cases WHERE code = %s AND valid_to IS NULL FOR UPDATE", (code,)).fetchone()
    if row is None:
        raise CaseNotFound(f"no case has code {shown(code)}", field="code")
    case_id, state, old_code, deadline, unit, basis, a_layer, a_code = row
    if old_code == new.code or state in wf.final:
        return None
    now = conn.execute("SELECT now()").fetchone()[0]
    at = min(utc(at), now)
    # the event is written no earlier than the case's last one (a reading imported late
    # escalates at its own time, which may lie before an action taken meanwhile: the trail,
    # in time order, would show the recategorizing before it, from a state it had left); the
    # escalation's own time, which the deadline counts from, is kept in the detail
    last_at = conn.execute("SELECT max(at) FROM case_events WHERE case_id = %s",
                           (case_id,)).fetchone()[0]
    event_at = max(at, last_at) if last_at is not None else at
    sets: dict[str, Any] = {"category_code": new.code, "category_name": new.name,
                            "kind": new.kind, "time_limit_h": new.time_limit_h}
    if deadline is not None:
        since = max(at, min(utc(known_at), now)) if known_at is not None else at
        sets["deadline"] = min(deadline, since + dt.timedelta(hours=new.time_limit_h))
    proposed, p_basis = propose(conn, new, a_layer, a_code)
    # not dispatched yet: the case is in a state of the loop before the one dispatch reaches
    order = list(wf.timestamps)
    dispatch = wf.actions.get("dispatch")
    sent = dispatch.transitions[0].to if dispatch else None
    if (state in order and sent in order and order.index(state) < order.index(sent)
            and basis != "指定"):
        sets["unit"], sets["unit_basis"] = proposed, p_basis
    cols = list(sets)
    conn.execute(sql.SQL("UPDATE cases SET {} WHERE id = %s").format(
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols)),
        [*(sets[c] for c in cols), case_id])
    record_event(conn, case_id, at=event_at, actor=actor, role=role, action="recategorize",
                 from_state=state, to_state=state, note=note,
                 detail={"category_from": old_code, "category": new.code,
                         "escalated_at": rfc3339(at),
                         "deadline_from": rfc3339(deadline) if deadline else None,
                         "deadline": rfc3339(sets.get("deadline") or deadline)
                         if deadline else None,
                         "unit": sets.get("unit", unit), "proposed": proposed})
    return get_case(conn, code, events=True)
