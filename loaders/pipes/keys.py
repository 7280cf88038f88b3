"""A pipe delivery's source keys, decided before anything is written.

A point is keyed by its class and number, a segment by its class and id, or by its ends
(``start-end``) where it has none; the dataset's name prefixes both. What a delivery writes is
known in part before the write — segments that repeat an earlier one's key, the nodes the
segments that may be written use — and a segment delivered with its ends exchanged keeps the
key it is stored under (:func:`keep_stored_orientation`)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import shapely

from loaders.engine.known import Known
from loaders.engine.places import AreaIndex
from loaders.pipes.dictionaries import PipeClass
from loaders.pipes.records import Delivery, PointRec, SegRec


def errors(findings) -> list:
    """The errors among a record's QA findings (warnings only flag)."""
    if not findings:
        return []
    return [f for f in findings if f.severity == "error"]


def source_key(dataset: str, pc: PipeClass | None, ident: str) -> str:
    return f"{dataset}:{pc.key if pc else 'XX'}:{ident}"


def point_key(dataset: str, p: PointRec) -> str:
    ident = p.point_no if p.role == "node" else f"{p.role}/{p.point_no}"
    return source_key(dataset, p.cls, ident or f"row{p.seq}")


def seg_key(dataset: str, s: SegRec) -> str:
    ident = s.source_id or f"{s.start_no}-{s.end_no}"
    return source_key(dataset, s.cls, ident)


def segments_to_write(d: Delivery, pf, sf, dataset: str,
                      outside: set[tuple[str, str]] | frozenset = frozenset()
                      ) -> tuple[set[int], Counter[tuple[str, str]]]:
    """What is known of the segments a delivery writes before anything is written: the
    segments (indexes) that repeat the source key of an earlier one that may be written —
    rejected as ``duplicate_source_id``, as the direct writer would (the first row of a key
    wins) — and the node keys the segments that may be written use, each with how many of
    their ends it is (a node the loader made is a 直线点, 三通 … by that count, not by the
    lines delivered: :func:`loaders.pipes.topology.derived_feature`).

    A segment may be written unless QA found an error in it or in one of its end points, or
    one of its end points lies ``outside`` every district (:func:`outside_nodes`: the writer
    rejects it, and the segment goes as ``end_point_rejected``). Such an end stays among the
    nodes used (its own reject tells why the segment went); the segment's other ends do not:
    a node the loader made there only for it is neither loaded nor read. Like a segment QA
    rejects, it takes no source key from a later one. (A segment between two placed nodes
    touches their districts: it is never outside itself.)"""
    first = _first_nodes(d)

    def loadable(k: tuple[str, str]) -> bool:
        i = first.get(k)
        if i is None:
            return False
        p = d.points[i]
        return not errors(pf.get(i)) and p.cls is not None and p.e is not None

    seen: set[str] = set()
    dup: set[int] = set()
    used: Counter[tuple[str, str]] = Counter()
    for i, s in enumerate(d.segments):
        a, b = s.key("start"), s.key("end")
        if errors(sf.get(i)) or not (loadable(a) and loadable(b)):
            continue
        if outside and (a in outside or b in outside):
            used.update(k for k in (a, b) if k in outside)
            continue
        key = seg_key(dataset, s)
        if key in seen:
            dup.add(i)
            continue
        seen.add(key)
        used.update((a, b))
    return dup, used


def _first_nodes(d: Delivery) -> dict[tuple[str, str], int]:
    """Each node key's first point (the one a segment's end names; QA rejects the others)."""
    first: dict[tuple[str, str], int] = {}
    for i, p in enumerate(d.points):
        if p.role == "node" and p.point_no:
            first.setdefault(p.key, i)
    return first


def outside_nodes(d: Delivery, areas: AreaIndex) -> tuple[set[tuple[str, str]], int]:
    """The keys of the nodes (each key's first) that lie outside every district, by the rule
    the writer places them by, and how many nodes have a place at all."""
    first = _first_nodes(d)
    keys = [k for k, i in first.items() if d.points[i].e is not None]
    if not keys:
        return set(), 0
    pts = [d.points[first[k]] for k in keys]
    dist, _ = areas.place(shapely.points([(p.e, p.n) for p in pts]), True, False)
    return {k for k, di in zip(keys, dist.tolist()) if di < 0}, len(keys)


def keep_stored_orientation(known: Known, keys: list[str], segs: list[SegRec],
                             dataset: str, taken: set[str] | frozenset = frozenset()) -> int:
    """A segment without an id is keyed by its ends (``start-end``): one delivered the other
    way round (the same pipe surveyed from its other end) keeps the key — and code — it is
    stored under, ``end-start``, where its own key is no current key of the dataset, the
    reversed one is, and no other segment of the delivery has it (``keys`` changed in place;
    how many). No stored segment is keyed anew. QA rejects a reversed duplicate within one
    delivery (``reversed_segment``). ``taken``: keys other segments of the delivery hold
    (the loaded ones', when ``keys`` are the rejected ones')."""
    if not known.current:
        return 0
    idless = [j for j, s in enumerate(segs) if not s.source_id]
    if not idless:
        return 0
    # the converter looks the same keys up again: answered from Known's cache of the load
    at = known.positions(np.array([keys[j] for j in idless], dtype=object))
    unknown = [j for j, a in zip(idless, at.tolist()) if a < 0]
    if not unknown:
        return 0
    turned = [source_key(dataset, segs[j].cls, f"{segs[j].end_no}-{segs[j].start_no}")
              for j in unknown]
    delivered = set(keys) | set(taken)
    n = 0
    for j, k, a in zip(unknown, turned,
                       known.positions(np.array(turned, dtype=object)).tolist()):
        if a >= 0 and k not in delivered:
            keys[j] = k
            delivered.add(k)
            n += 1
    return n
