"""A valve's state read from the data: open, closed already, or broken (passed through).

Apart from the graph (:mod:`layers.query.graph`) because it is a reading of text, not of
topology: the words a survey or a GIS uses for a valve's condition are a city's
(``valve_states.csv``, overridable in its profile), and a wrong reading decides which valves a
crew is told to close: it is read and tested on its own, without a network.

Valve state (:func:`valve_state`) comes from the data, fields first: a ``closed`` attribute
(QWAT's ``closed`` boolean), a broken/operable one, a status/state attribute whose whole value
is a state of ``valve_states.csv`` (关闭/closed: a boundary already; 损坏/无法操作/broken/
inaccessible…: passed through, it cannot be closed; 开启/open). The note (备注) decides only
what the fields leave unsaid: a whole clause of it (阀门损坏，无法关闭) that is such a value,
or damage said inside a clause and not negated (阀门已损坏, broken valve; not 无损坏): see
:func:`_said`. 阀门开关正常, 未关闭, 无损坏 or "valve close to hydrant" say nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, CityProfile, read_csv_dictionary
from cim.text import norm_key

OPEN, CLOSED, BROKEN = 0, 1, 2
STATE_NAMES = {OPEN: "open", CLOSED: "closed", BROKEN: "broken"}

# attributes that may state a valve's condition (compared through cim.text.norm_key)
_CLOSED_KEYS = {norm_key(k) for k in ("closed", "is_closed", "关闭", "是否关闭")}
_BROKEN_KEYS = {norm_key(k) for k in ("broken", "inaccessible", "inoperable", "defective",
                                      "损坏", "是否损坏")}
_OPERABLE_KEYS = {norm_key(k) for k in ("operable", "usable", "accessible", "可操作")}
_STATE_KEYS = {norm_key(k) for k in ("status", "state", "condition", "valve_status",
                                     "状态", "阀门状态", "开关状态", "启闭状态", "现状")}
_STATE_OF = {"open": OPEN, "closed": CLOSED, "broken": BROKEN}
# what separates the clauses of a note (Chinese and Latin punctuation; not spaces: "shut off")
_CLAUSE = re.compile(r"[，,；;。.、/|！!？?()（）\n]+")
# what, just before a term, says the opposite (spaces are gone: "not broken" → "notbroken")
_NEGATIONS = ("没有", "未", "无", "不", "非", "没", "否", "not", "no", "non", "un", "never")
_TRUE = {"true", "1", "yes", "y", "t", "是", "有"}
_FALSE = {"false", "0", "no", "n", "f", "否", "无"}


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    k = norm_key(value)
    return True if k in _TRUE else False if k in _FALSE else None


# the appurtenances that shut a pipe off when pipe_features.csv has no ``isolates`` column (a
# city's copy made before it): the platform's 阀门 and 阀门井 — not air, drain or check valves
ISOLATING_BY_NAME = ("阀门", "阀门井")


def isolating_appurtenances(profile: CityProfile | None, pipe_class: str) -> tuple[str, ...]:
    """The appurtenance names of ``pipe_class`` that isolate (pipe_features.csv rows of kind
    附属物 with ``isolates`` 1, of the class or of every class ``*``): a city that named its
    valves 闸阀 in its copy got no valve to close and the whole network cut off by a burst,
    the names being written in code."""
    path = profile.dictionary_path("pipe_features", ".csv") if profile is not None \
        else DICTIONARY_DIR / "pipe_features.csv"
    rows = read_csv_dictionary(path)
    if rows and all(r.get("isolates") is None for r in rows):
        return ISOLATING_BY_NAME
    return tuple(sorted({(r.get("name") or "").strip() for r in rows
                         if (r.get("kind") or "").strip() == "附属物"
                         and (r.get("class") or "").strip() in (pipe_class, "*")
                         and (r.get("isolates") or "").strip() == "1"}))


def valve_states(source: CityProfile | Path | None = None) -> dict[str, int]:
    """Normalised value → OPEN / CLOSED / BROKEN from ``valve_states.csv`` (a city's override
    in its ``profile``, a file, else the platform's): each row's ``name`` and ``aliases``."""
    path = source.dictionary_path("valve_states", ".csv") if isinstance(source, CityProfile) \
        else Path(source) if source else DICTIONARY_DIR / "valve_states.csv"
    rows = read_csv_dictionary(path)
    out: dict[str, int] = {}
    for i, row in enumerate(rows, start=2):  # row 1: the header
        state = _STATE_OF.get((row.get("state") or "").strip().lower())
        if state is None:  # a mistyped state would leave its valves read as open
            raise ConfigError(f"state {row.get('state')!r} is none of open, closed, broken",
                              path=str(path), row=i, field="state")
        for k in [row.get("name") or "", *(row.get("aliases") or "").split("|")]:
            if norm_key(k):
                out.setdefault(norm_key(k), state)
    return out


def valve_state(note: str | None, attrs: dict[str, Any] | None,
                states: dict[str, int] | None = None) -> int:
    """OPEN, CLOSED or BROKEN from a valve's source attributes, then its note.

    ``valve_state(None, {"closed": True})`` → CLOSED; ``valve_state("阀门损坏", {})`` → BROKEN;
    ``valve_state(None, {"status": "inaccessible"})`` → BROKEN; ``valve_state("阀门开关正常",
    {})`` → OPEN (not a state of ``states``, :func:`valve_states`); nothing said → OPEN. The
    note only answers what the fields leave open (closed? broken?). A valve said to be both
    (stuck shut) is CLOSED: water does not pass it either way.
    """
    if states is None:
        states = valve_states()
    closed: bool | None = None
    broken: bool | None = None
    for key, value in (attrs or {}).items():
        k = norm_key(key)
        if k in _CLOSED_KEYS:
            t = _truth(value)
            closed = closed or t if t is not None else closed
        elif k in _BROKEN_KEYS:
            t = _truth(value)
            broken = broken or t if t is not None else broken
        elif k in _OPERABLE_KEYS:
            t = _truth(value)
            broken = broken or not t if t is not None else broken
        elif k in _STATE_KEYS and value is not None:
            st = _said(str(value), states)
            if CLOSED in st:
                closed = True
            if BROKEN in st:
                broken = True
            if OPEN in st and not st & {CLOSED, BROKEN}:
                closed = bool(closed)
    said = _said(note, states) if note else set()
    if CLOSED in said and closed is None:
        closed = True
    if BROKEN in said and broken is None:
        broken = True
    return CLOSED if closed else BROKEN if broken else OPEN


def _said(text: str, states: dict[str, int]) -> set[int]:
    """The states a note or status text says, clause by clause (阀门损坏，无法关闭; 关闭(常闭)).

    A clause that is a state of ``states`` whole says it. Damage may also be said inside a
    clause (阀门已损坏, 井被压占, broken valve): a broken term of two characters or more, not
    after a negation (无损坏, 未损坏, not broken) — read broken, a valve is passed over and the
    isolation closes the next one, the safe side. Closed is said only by a whole clause: read
    closed by mistake, a valve that is open would be left open with the burst behind it
    (关闭阀门后无水, 阀门开关正常, 未关闭 say nothing)."""
    out: set[int] = set()
    broken_terms = [k for k, v in states.items() if v == BROKEN and len(k) >= 2]
    for clause in _CLAUSE.split(text):
        k = norm_key(clause)
        if not k:
            continue
        st = states.get(k)
        if st is not None:
            out.add(st)
            continue
        for term in broken_terms:
            i = k.find(term)
            while i >= 0 and k[:i].endswith(_NEGATIONS):
                i = k.find(term, i + 1)
            if i >= 0:
                out.add(BROKEN)
                break
    return out
