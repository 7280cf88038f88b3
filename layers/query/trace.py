"""Flow traces of gravity drainage on the in-memory pipe graph (:mod:`layers.query.graph`).

**Trace** (排水 上下游追踪): everything downstream (or upstream) of a point or segment of a
gravity class, following flow: a segment flows from its higher to its lower invert elevation
(``start_elevation``/``end_elevation``, else the Z of its 3D line at the ends, as the section
and clearances read it: a GIS LineStringZ network), and in its digitised direction start → end
where the two are equal or unknown. A lateral drawn onto a sewer's interior (the sewer not
split there: :mod:`layers.query.graph`'s taps) flows into it there: downstream of the lateral
is the sewer's rest, not all of it (``length_m`` counts the pieces).

    trace(conninfo, "370811830200000001", "down")
    → {"segments": ["3708…", …], "points": ["3708…", …], "length_m": 412.5}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cim.errors import InputError
from cim.profile import CityProfile
from layers.query.common import ConnOrInfo, connection
from layers.query.graph import Network, network
from layers.query.network_locate import _along, _locate, _r, _r6, gravity_classes
from layers.query.pipes import resolve_profile


def trace(conninfo: ConnOrInfo, code: str, direction: str = "down",
          profile: CityProfile | None = None) -> dict[str, Any]:
    """Segments and points downstream (``"down"``) or upstream (``"up"``) of ``code``.

    A segment includes itself; a point its own node; a point along a segment (a gully, an
    outlet on a GIS sewer) its segment from its position on, downstream (up to it, upstream).
    ``points`` are the nodes of the traced segments and the appurtenances along them.
    """
    if direction not in ("up", "down"):
        raise InputError(f"direction {direction!r}: up or down")
    code = code.strip()  # pasted from a table: " 3708…"
    profile = resolve_profile(profile)  # the configured city's (an OGC process passes none)
    with connection(conninfo) as conn:
        kind, cls, on_seg = _locate(conn, code, profile)
        if cls not in gravity_classes(profile):
            raise InputError(f"{code} is of pipe class {cls}: traces follow gravity drainage "
                             f"(classes {', '.join(sorted(gravity_classes(profile)))})")
        net = network(conn, cls, profile)
        pcs = net.pieces
        frm, to = net.flow
        seen_piece = np.zeros(len(pcs.seg), dtype=bool)
        seen_vertex = np.zeros(net.n_vertices, dtype=bool)
        seg = code if kind == "segment" else on_seg if code not in net.node_index else None
        # a point along a segment: the piece it lies on, from (down) or up to (up) its place
        # — the whole segment was traced from it, the stretch above a gully listed below it
        first: tuple[int, float, float] | None = None
        loc = _along(conn, cls, [code]) if kind == "point" and seg is not None \
            and seg in net.seg_index else {}
        if code in loc:
            s = net.seg_index[seg]
            at = loc[code][1]
            p0 = pcs.piece_at(s, at)
            lo, hi = float(pcs.lo[p0]), float(pcs.hi[p0])
            at = min(max(at, lo), hi)
            # the stretch of the piece on the traced side: flow runs lo → hi where the
            # segment flows start → end
            after = bool(net.seg_down[s]) == (direction == "down")
            first = (p0, *((at, hi) if after else (lo, at)))
            seen_piece[p0] = True
            starts = [int(to[p0] if direction == "down" else frm[p0])]
        elif seg is not None:
            s = net.seg_index.get(seg)
            if s is None:
                raise InputError(f"segment {seg} is abandoned (status 废弃): it carries nothing")
            # the whole segment, and on from each of its pieces: a branch tapped into it
            # flows in (up) or out (down) at its piece's end
            own = np.arange(pcs.seg_ptr[s], pcs.seg_ptr[s + 1])
            seen_piece[own] = True
            starts = np.unique(to[own] if direction == "down" else frm[own]).tolist()
        elif code in net.node_index:
            starts = [net.node_index[code]]
        else:  # a manhole no segment names as an end, or one only abandoned segments reach
            raise InputError(f"point {code} is on no current segment of the {cls} network "
                             "(abandoned segments, status 废弃, carry nothing): nothing to "
                             "trace from it")
        _walk(net, starts, direction, seen_piece, seen_vertex)
        traced = np.flatnonzero(seen_piece)
        whole = traced if first is None else traced[traced != first[0]]
        ends = np.concatenate([pcs.u[whole], pcs.v[whole], starts]).astype(np.int64)
        ends = ends[ends < len(net.node_codes)]  # nodes, not valves along a pipe
        segs = np.unique(pcs.seg[traced])
        seg_codes = net.seg_codes[segs].tolist()
        # the appurtenances along the traced pieces: all those of a segment traced whole; on
        # one traced in part (from a tap on) only those on its traced pieces, located on it
        part = np.bincount(pcs.seg[traced], minlength=len(net.seg_codes))[segs] \
            < np.diff(pcs.seg_ptr)[segs]
        if first is not None:
            part |= segs == pcs.seg[first[0]]
        attached = [c for (c,) in conn.execute(_ALONG_WHOLE,
                                               (net.seg_codes[segs[~part]].tolist(),))]
        spans: dict[str, list[tuple[float, float]]] = {}
        if part.any():
            for p in traced[np.isin(pcs.seg[traced], segs[part])].tolist():
                spans.setdefault(str(net.seg_codes[pcs.seg[p]]), []).append(
                    first[1:] if first is not None and p == first[0] else (pcs.lo[p], pcs.hi[p]))
            attached += [c for c, sc, at in conn.execute(
                _ALONG_TRACED, (cls, net.seg_codes[segs[part]].tolist()))
                if at is None or any(a - 1e-9 <= at <= b + 1e-9 for a, b in spans[sc])]
    points = sorted(set(net.node_codes[np.unique(ends)].tolist()) | set(attached))
    length = pcs.length[whole].sum()
    if first is not None:
        length += net.seg_len[pcs.seg[first[0]]] * (first[2] - first[1])
    return {"segments": sorted(seg_codes), "points": points, "length_m": _r(length),
            "parts": {"segment": _merged(spans)}}


def _merged(spans: dict[str, list[tuple[float, float]]]) -> dict[str, list[list[float]]]:
    """The stretches traced of each segment traced in part, joined where they meet (the
    GeoJSON draws them, not the whole pipe); a segment covered whole is left out."""
    out: dict[str, list[list[float]]] = {}
    for code, got in sorted(spans.items()):
        joined: list[list[float]] = []
        for a, b in sorted(got):
            if joined and a <= joined[-1][1] + 1e-9:
                joined[-1][1] = max(joined[-1][1], _r6(b))
            elif b - a > 1e-9:
                joined.append([_r6(a), _r6(b)])
        if joined and joined != [[0.0, 1.0]]:
            out[code] = joined
    return out


_ALONG_WHOLE = """
SELECT code FROM pipe_points WHERE valid_to IS NULL AND segment_code = ANY(%s)"""
_ALONG_TRACED = """
SELECT p.code, s.code, ST_LineLocatePoint(ST_Force2D(s.geom), ST_Force2D(p.geom))
FROM pipe_points p
JOIN pipe_segments s ON s.code = p.segment_code AND s.valid_to IS NULL AND s.pipe_class = %s
WHERE p.valid_to IS NULL AND p.segment_code = ANY(%s)"""


def _walk(net: Network, starts: list[int], direction: str, seen_piece: np.ndarray,
          seen_vertex: np.ndarray) -> None:
    """Depth-first walk along flow (or against it) over the pieces from the vertices
    ``starts``, marking in place."""
    indptr, order = net.out_edges if direction == "down" else net.in_edges
    nxt = net.flow[1] if direction == "down" else net.flow[0]
    indptr, order, nxt = indptr.tolist(), order.tolist(), nxt.tolist()
    stack = []
    for w in starts:
        if not seen_vertex[w]:
            seen_vertex[w] = True
            stack.append(w)
    while stack:
        w = stack.pop()
        for e in order[indptr[w]:indptr[w + 1]]:
            if not seen_piece[e]:
                seen_piece[e] = True
                x = nxt[e]
                if not seen_vertex[x]:
                    seen_vertex[x] = True
                    stack.append(x)
