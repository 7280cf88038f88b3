"""A buried pipe placed above the ground by its pipe elevations alone (QA: above_ground).

A segment end given only its 管线高程 (no 埋深) is stored at that elevation; nothing compared it
with the ground there, so a typo (40.60 for 38.60) or elevations on another datum than the
points' put a 直埋 main above the street, in every cross-section and clearance, unflagged —
where a depth is given with it, ``elevation_mismatch`` / ``heights_disagree`` say so, and a
depth alone cannot put a pipe above ground. Pipes laid above ground (架空: the burial codes of
the rule's ``above_ground_burial``, ``pipe_burial.csv``) are not held to it.

:data:`ADDED_RULES` are rules added after cities may have copied ``pipe_qa_rules.yaml``: a
copy without one takes it from here (:meth:`loaders.pipes.qa_rules.Rules.load`), so that no check is
silently off; a city changes it by giving the entry in its own file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loaders.pipes.records import PointRec, SegRec, column_name
from loaders.pipes.rejects import where

ADDED_RULES: list[dict[str, Any]] = [
    {"id": "above_ground", "severity": "warning", "applies_to": ["segments"],
     "above_ground_burial": ["JK"],  # 架空: pipes laid above ground, not checked
     "message_zh": "管段 {segment}（埋设方式 {burial}）只给了管线高程，管线高于地面：{detail}",
     "message_en": "segment {segment} (burial {burial}) has only its pipe elevation, which lies "
                   "above the ground: {detail_en}"},
]

_ELEVATION = {"start": ("start_elevation", "起点高程"), "end": ("end_elevation", "终点高程")}


def aerial_burials(rules) -> frozenset[str]:
    """The burial codes of pipes laid above ground, as the rule lists them (one code or a
    list: ``JK`` read as a list was J and K, and every 架空 pipe flagged)."""
    codes = rules.get("above_ground", "above_ground_burial") or []
    return frozenset(str(c).strip() for c in ([codes] if isinstance(codes, str) else codes))


def above_ground(s: SegRec, i: int, ends: list[tuple[str, PointRec]], tol: float,
                 aerial: frozenset[str], add: Callable,
                 columns: dict[str, dict[str, str]]) -> None:
    """One finding for a segment not laid above ground (its burial code not in ``aerial``,
    :func:`aerial_burials`) whose ends given a pipe elevation and no depth (``ends``:
    (start|end, its point)) lie more than ``tol`` above their point's 地面高程, naming those
    ends' elevation columns."""
    if s.start_depth is not None and s.end_depth is not None:
        return  # a depth cannot put a pipe above ground; with an elevation: elevation_mismatch
    if s.burial is not None and s.burial[0] in aerial:
        return
    over = []
    for which, p in ends:
        depth = s.start_depth if which == "start" else s.end_depth
        el = s.start_elevation if which == "start" else s.end_elevation
        if depth is None and el is not None and p.ground is not None \
                and el - p.ground > tol + 1e-9:
            over.append((which, p, el))
    if not over:
        return
    cols = columns.get(s.table) or {}
    fields = "/".join(cols.get(_ELEVATION[w][0]) or _ELEVATION[w][1] for w, _p, _e in over)
    ground = lambda p: column_name(columns, p, "ground_elevation")  # noqa: E731
    add("above_ground", "segments", s, i, s.ids, fields, segment=s.label,
        burial=s.burial_raw or "未填 / blank",
        detail="；".join(f"{'起' if w == 'start' else '终'}点 {p.label} "
                        f"{cols.get(_ELEVATION[w][0]) or _ELEVATION[w][1]} {el:g} 高于"
                        f"{ground(p)} {p.ground:g}（{where(p)}）{el - p.ground:.3f} m"
                        for w, p, el in over),
        detail_en="; ".join(f"{w} point {p.label}: "
                            f"{cols.get(_ELEVATION[w][0]) or _ELEVATION[w][1]} {el:g} is "
                            f"{el - p.ground:.3f} m above {ground(p)} {p.ground:g} ({where(p)})"
                            for w, p, el in over))
