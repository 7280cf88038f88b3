"""The QA checks of GIS pipe layers that survey tables have no use for, and their rules.

A GIS line is drawn, and its node ids name the points it joins: where the drawing and the ids
disagree — a line drawn from its end node to its start node, an end beside its node or far
from it — the row says so (:func:`line_ends`; measured when the topology is read,
:mod:`loaders.pipes.topology`), and so does an id the point layer lacks, the more where a
delivered point of another id lies at that end (:func:`absent_nodes`). A GIS point has a Z and maybe a 地面高程 too: where they differ
the point is stored at its 地面高程 and says so (:func:`point_z`).

:data:`GIS_RULES` are these checks' rules, in the shape of ``pipe_qa_rules.yaml``'s entries:
a rules file that lacks one (the platform's, or a city's copy made before the rule was added)
takes it from here, so that no check is silently off; a city changes a rule's threshold,
severity or messages — or turns it off with ``enabled: false`` — by giving the entry in its own
file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loaders.pipes.records import PointRec, SegRec, column_name
from loaders.pipes.rejects import end_field, ends_field

GIS_RULES: list[dict[str, Any]] = [
    {"id": "heights_disagree", "severity": "warning", "applies_to": ["segments"],
     "message_zh": "管段 {segment} {end}点 {point}：地面高程 {ground} ≠ 埋深 {depth} + 管线高程 "
                   "{elevation}（差 {value} m，限差 {limit} m）",
     "message_en": "segment {segment}, {end_en} point {point}: ground elevation {ground} ≠ "
                   "depth {depth} + pipe elevation {elevation} (off by {value} m, tolerance "
                   "{limit} m)"},
    {"id": "drawn_reversed", "severity": "warning", "applies_to": ["segments"],
     "message_zh": "管段 {segment} 自终点 {end_point} 画向起点 {start_point}（与其起止点号相反），"
                   "已按起点→终点存储",
     "message_en": "segment {segment} is drawn from its end point {end_point} to its start "
                   "point {start_point}; it is stored from start to end"},
    {"id": "end_off_node", "severity": "warning", "applies_to": ["segments"],
     "message_zh": "管段 {segment} 的线端偏离其点号所指的管线点：{detail}，超过吸附限差 {limit} m"
                   "（线按原样存储）",
     "message_en": "segment {segment}: its ends are off the points its ids name: {detail_en}, "
                   "over the snapping tolerance {limit} m (the line is stored as drawn)"},
    {"id": "end_not_at_point", "severity": "error", "applies_to": ["segments"],
     "max_distance": 1.0,  # m: farther from the point its id names, a line end is no end of it
     "message_zh": "管段 {segment} 的线端不在其点号所指的管线点上：{detail}，超过 {limit} m",
     "message_en": "segment {segment}: its ends are not at the points its ids name: "
                   "{detail_en}, over {limit} m"},
    {"id": "node_not_in_points", "severity": "warning", "applies_to": ["segments"],
     "message_zh": "管段 {segment} 的{end}点号 {point} 不在管线点图层 {points} 中：已在线端生成节点",
     "message_en": "segment {segment}: its {end_en} point id {point} is not in the point layer "
                   "{points}; a node is made at the line's end"},
    {"id": "node_at_other_point", "severity": "error", "applies_to": ["segments"],
     "message_zh": "管段 {segment} 的{end}点号 {point} 不在管线点图层 {points} 中，其线端却位于管线点 "
                   "{other}（{other_table} 第 {other_row} 行，相距 {distance} m）：网络在此断开，"
                   "点号应为 {other}？",
     "message_en": "segment {segment}: its {end_en} point id {point} is not in the point layer "
                   "{points}, and its end lies on point {other} ({other_table} row "
                   "{other_row}, {distance} m away): the network would break there — is the id "
                   "{other}?"},
    {"id": "z_differs_from_ground", "severity": "warning", "applies_to": ["points"],
     "max_difference": 0.05,  # m
     "message_zh": "管线点 {point} 的 Z 值 {value} 与地面高程 {ground} 相差 {difference} m"
                   "（超过 {limit} m；Z 或为管线高程）：按地面高程存储，Z 值存于 attrs 的 _geometry_z",
     "message_en": "point {point}: its Z {value} differs from its ground elevation {ground} by "
                   "{difference} m (over {limit} m; the Z may be the pipe's elevation): stored "
                   "at the ground elevation, the Z kept in attrs as _geometry_z"},
]


def line_ends(s: SegRec, i: int, snap: float | None, rules, add: Callable,
              columns: dict[str, dict[str, str]]) -> bool:
    """Findings of a GIS line whose drawing disagrees with its node ids; whether it is
    rejected (an end farther than ``end_not_at_point``'s ``max_distance`` from its point)."""
    if s.drawn_reversed:
        add("drawn_reversed", "segments", s, i, s.ids, ends_field(s, columns), segment=s.label,
            start_point=s.start_no, end_point=s.end_no)
    off = [(w, zh, no, d) for w, zh, no, d in (("start", "起点", s.start_no, s.off_node[0]),
                                               ("end", "终点", s.end_no, s.off_node[1]))
           if d is not None]
    if not off:
        return False
    far = float(rules.get("end_not_at_point", "max_distance", 1.0))
    rejected = False
    for rule, ends, limit in (("end_not_at_point", [e for e in off if e[3] > far + 1e-9], far),
                              ("end_off_node", [e for e in off if e[3] <= far + 1e-9], snap)):
        if not ends:
            continue
        fieldname = (end_field(s, ends[0][0], columns) if len(ends) == 1
                     else ends_field(s, columns))
        add(rule, "segments", s, i, s.ids, fieldname, segment=s.label, limit=limit,
            detail="；".join(f"{zh} {no} 相距 {d:.3f} m" for _w, zh, no, d in ends),
            detail_en="; ".join(f"{w} point {no} {d:.3f} m away" for w, _zh, no, d in ends))
        rejected |= rule == "end_not_at_point" and rules.enabled(rule)
    return rejected


def absent_nodes(s: SegRec, i: int, rules, add: Callable,
                 columns: dict[str, dict[str, str]]) -> bool:
    """Findings of a GIS line whose node id names no point of the delivered point layer
    (``SegRec.absent``, :func:`loaders.pipes.topology._absent_ends`): a node is made at its
    end — told; where a delivered point of another id lies there, the id is wrong and the
    network breaks at that point (node_at_other_point). Whether the line is rejected."""
    rejected = False
    for which, no, layer, other, d in s.absent:
        rule = "node_at_other_point" if other is not None else "node_not_in_points"
        extra = {"other": other.point_no, "other_table": other.table, "other_row": other.row,
                 "distance": round(d, 3)} if other is not None else {}
        add(rule, "segments", s, i, s.ids, end_field(s, which, columns), segment=s.label,
            end="起" if which == "start" else "终", end_en=which, point=no, points=layer,
            **extra)
        rejected |= rules.enabled(rule) and rules.get(rule, "severity") == "error"
    return rejected


def too_short(s: SegRec, i: int, rules, add: Callable,
              columns: dict[str, dict[str, str]]) -> bool:
    """A GIS line without node ids whose ends snapped onto one node, shorter than
    ``length_under_min`` allows, is too short (length_under_min), not a loop (self_loop) — as
    the same line between two nodes is (node ids that name one node twice are a loop);
    whether it is."""
    limit = rules.get("length_under_min", "min_length")
    if s.line is None or limit is None or not rules.enabled("length_under_min") \
            or s.line.length >= limit or ends_field(s, columns) != "geometry":
        return False
    s.length = float(s.line.length)
    add("length_under_min", "segments", s, i, s.ids, "geometry", segment=s.label,
        value=s.length, limit=limit)
    return True


def point_z(p: PointRec, i: int, rules, add: Callable,
            columns: dict[str, dict[str, str]]) -> None:
    """A GIS point whose Z differs from its 地面高程 beyond the rule's ``max_difference``."""
    if p.z is None or p.ground is None:
        return
    limit = float(rules.get("z_differs_from_ground", "max_difference", 0.05))
    if abs(p.z - p.ground) > limit + 1e-9:
        add("z_differs_from_ground", "points", p, i, [p.label],
            column_name(columns, p, "ground_elevation"), point=p.label, value=p.z,
            ground=p.ground, difference=abs(p.z - p.ground), limit=limit)
