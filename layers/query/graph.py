"""The pipe network of one class as an in-memory graph, loaded once per network version.

Why in memory and not pgRouting (measured with ``bench/network.py``, docs/benchmarks.md): every
pgRouting call reads its edge set through an SQL string and builds a Boost graph before it
searches (55-60 ms per call at 100,000 segments), and valve isolation is not one of its
algorithms: valves along pipes would have to become split edges in SQL and the search be
stopped at them, with a second call for the supply check. Here the current segments and
valves of a class are read with one query each, turned into numpy arrays and cached per
network version (the newest succeeded load batch and the newest row ids of the pipe tables):
the first call on a 100,800-segment network pays about 1.4 s, every later isolation answers
in about 8 ms (p95 13 ms, connection included). No system package, extension or migration.

The graph:

- **nodes** are the point codes segments name as their ends (``start_point_code`` /
  ``end_point_code``); abandoned segments (status 废弃, code 1) carry nothing and are left out;
- **valves** (附属物 阀门 / 阀门井 of the class) either are a node (survey networks: the valve is
  a pipe point between two segments) or lie along a segment (GIS networks: ``segment_code`` and
  their position on it), and then split the segment into **pieces** at their positions;
- **taps**: a segment end lying on another segment of the class and subclass away from its
  ends (within 1 mm: a branch of a GIS network tapped into a main that is not split at the
  tee; a storm pipe drawn onto a foul sewer is another network, not a tee) cuts that
  segment there too, and the branch's end node joins the pieces on either side (a valve
  along the segment at the very same place comes first along it);
- **zones**: the pieces joined through every vertex that is not a working valve. A zone is
  what one burst inside it empties when the valves around it are closed, so isolation is a
  look-up (the zones of the burst piece, the valves around them) and the supply check after
  closing is a connected-components pass over the small zone graph (zones joined by the
  valves that stay open), vectorised in numpy.

Valve states (open, closed already, broken: passed through) are read from the valves' fields
and notes by :mod:`layers.query.valves`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import psycopg
import shapely
from psycopg import sql

from cim.graphs import components
from cim.profile import CityProfile
from layers.query.pipes import NO_JIT, TAP_TOLERANCE_M, apart_subclasses, elevation_sql
from layers.query.valves import (
    BROKEN,
    isolating_appurtenances,
    valve_state,
    valve_states,
)

ABANDONED_STATUS = "1"  # pipe_status.csv: 1 废弃


def csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, order): the positions of ``keys`` grouped by key 0..n-1."""
    order = np.argsort(keys, kind="stable")
    indptr = np.searchsorted(keys[order], np.arange(n + 1))
    return indptr, order


@dataclass
class Network:
    """The current segments and isolation valves of one pipe class, as arrays."""

    pipe_class: str
    version: tuple
    seg_codes: np.ndarray  # object: code of segment i
    seg_start: np.ndarray  # node index of the start point
    seg_end: np.ndarray
    seg_len: np.ndarray  # horizontal length (m)
    seg_down: np.ndarray  # bool: flows start → end (end elevations, else digitised)
    node_codes: np.ndarray
    valve_codes: np.ndarray
    valve_state: np.ndarray  # OPEN / CLOSED / BROKEN
    valve_node: np.ndarray  # node index of a valve that is a node, else -1
    valve_seg: np.ndarray  # segment of a valve along a pipe, else -1
    valve_at: np.ndarray  # its position on the segment (0..1)
    # taps: a segment end (node tap_node) lying on another segment's interior (tap_seg, at
    # tap_at): a branch a GIS network does not split its main for, joined to it there
    tap_node: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    tap_seg: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    tap_at: np.ndarray = field(default_factory=lambda: np.empty(0))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def node_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.node_codes.tolist())}

    @cached_property
    def seg_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.seg_codes.tolist())}

    # -- directed graph for traces ---------------------------------------------------------
    @cached_property
    def flow(self) -> tuple[np.ndarray, np.ndarray]:
        """(from vertex, to vertex) of each piece (:attr:`pieces`: segments cut at their
        valves and taps) in its segment's flow direction."""
        pcs = self.pieces
        down = self.seg_down[pcs.seg]
        return np.where(down, pcs.u, pcs.v), np.where(down, pcs.v, pcs.u)

    @property
    def n_vertices(self) -> int:
        """Nodes, then the valves along segments."""
        return len(self.node_codes) + int(np.count_nonzero(self.valve_seg >= 0))

    @cached_property
    def out_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """csr: the pieces flowing out of each vertex."""
        return csr(self.flow[0], self.n_vertices)

    @cached_property
    def in_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """csr: the pieces flowing into each vertex."""
        return csr(self.flow[1], self.n_vertices)

    # -- pieces and zones for isolation ----------------------------------------------------
    @cached_property
    def pieces(self) -> Pieces:
        with self._lock:
            return _build_pieces(self)


@dataclass
class Pieces:
    """Segments cut at the valves along them, and the zones the working valves enclose."""

    seg: np.ndarray  # segment of piece p
    u: np.ndarray  # vertex at its start side (nodes 0..N-1, valves along pipes N..)
    v: np.ndarray
    length: np.ndarray
    seg_ptr: np.ndarray  # pieces of segment s: seg_ptr[s]:seg_ptr[s + 1] (start → end)
    zone: np.ndarray  # zone of piece p
    n_zones: int
    valve_vertex: np.ndarray  # vertex of valve k
    valve_zones: list[np.ndarray]  # zones around valve k (sorted, unique)
    vertex_pieces: tuple[np.ndarray, np.ndarray]  # csr: pieces at vertex w
    valve_edges: tuple[np.ndarray, np.ndarray, np.ndarray]  # (valve, zone, zone) it joins
    valve_zone_pairs: tuple[np.ndarray, np.ndarray]  # (valve, zone) for each zone around it
    lo: np.ndarray  # piece p spans lo[p]..hi[p] of its segment (0..1)
    hi: np.ndarray
    cut_seg: np.ndarray  # where segments are cut (valves along them, taps), by segment
    cut_at: np.ndarray  # … and position on it (sorted within a segment)

    def piece_at(self, s: int, at: float) -> int:
        """The piece of segment ``s`` at position ``at`` (0..1; a cut exactly there: the
        piece before it)."""
        lo, hi = np.searchsorted(self.cut_seg, [s, s + 1])
        return int(self.seg_ptr[s]) + int(np.searchsorted(self.cut_at[lo:hi], at))


# a tap this close along its main to a valve on it is at the valve (the very same place: two
# engines' positions of one point differ by ~1e-9 m; points a surveyor tells apart, by mm)
SAME_PLACE_M = 1e-6


def _at_valves(v_seg: np.ndarray, v_at: np.ndarray, t_seg: np.ndarray, t_at: np.ndarray,
               seg_len: np.ndarray) -> np.ndarray:
    """The taps' positions along their mains, a tap within :data:`SAME_PLACE_M` of a valve on
    the same main put at the valve's: a valve and a branch's end at the very same point
    (QWAT's valves share their node's id and place) are one place, where the valve comes
    first along the main. Their positions come from PostGIS (the valve's) and shapely (the
    tap's), whose last digits differ: the branch joined the main on either side of the
    valve by that noise, and a burst there closed other valves."""
    at = np.asarray(t_at, dtype=float).copy()
    if not len(v_seg) or not len(at):
        return at
    key = v_seg.astype(float) * 4.0 + v_at  # positions 0..1 of a segment: apart by segment
    o = np.argsort(key, kind="stable")
    skey, sat, sseg = key[o], v_at[o], v_seg[o]
    tkey = t_seg.astype(float) * 4.0 + at
    i = np.searchsorted(skey, tkey)
    for j in (np.clip(i - 1, 0, len(skey) - 1), np.clip(i, 0, len(skey) - 1)):
        near = (sseg[j] == t_seg) & (np.abs(sat[j] - at) * seg_len[t_seg] <= SAME_PLACE_M)
        at[near] = sat[j][near]
    return at


def _build_pieces(net: Network) -> Pieces:
    n_nodes, n_seg = len(net.node_codes), len(net.seg_codes)
    along = np.flatnonzero(net.valve_seg >= 0)
    valve_vertex = net.valve_node.copy()
    valve_vertex[along] = n_nodes + np.arange(len(along))
    n_vertices = n_nodes + len(along)
    # cut each segment at its valves and taps, in order along it: a tap's vertex is the
    # branch's end node, so the branch joins the main's pieces on either side of it
    c_seg = np.concatenate([net.valve_seg[along], net.tap_seg]).astype(np.int64)
    c_at = np.concatenate([net.valve_at[along], _at_valves(
        net.valve_seg[along], net.valve_at[along], net.tap_seg, net.tap_at,
        net.seg_len)]).astype(float)
    c_vertex = np.concatenate([valve_vertex[along], net.tap_node]).astype(np.int64)
    c_tap = np.concatenate([np.zeros(len(along), dtype=bool),
                            np.ones(len(net.tap_node), dtype=bool)])
    order = np.lexsort((c_tap, c_at, c_seg))  # at one place: the valve first
    c_seg, c_at, c_vertex, c_tap = c_seg[order], c_at[order], c_vertex[order], c_tap[order]
    cuts = np.bincount(c_seg, minlength=n_seg) if len(c_seg) else \
        np.zeros(n_seg, dtype=np.int64)
    n_pieces = cuts + 1
    seg_ptr = np.concatenate([[0], np.cumsum(n_pieces)])
    seg = np.repeat(np.arange(n_seg), n_pieces)
    total = int(seg_ptr[-1])
    # the vertex sequence of a segment: start, its valves and taps in order, end
    first = seg_ptr[:-1]
    u = np.empty(total, dtype=np.int64)
    v = np.empty(total, dtype=np.int64)
    lo = np.zeros(total)
    hi = np.ones(total)
    u[first] = net.seg_start
    v[seg_ptr[1:] - 1] = net.seg_end
    if len(c_seg):
        # rank of each cut among the cuts of its segment
        rank = np.arange(len(c_seg)) - np.searchsorted(c_seg, c_seg)
        piece_before = seg_ptr[c_seg] + rank
        v[piece_before] = c_vertex
        u[piece_before + 1] = c_vertex
        hi[piece_before] = c_at
        lo[piece_before + 1] = c_at
    length = net.seg_len[seg] * np.clip(hi - lo, 0.0, 1.0)
    # zones: pieces joined through every vertex that is not a working (open or closed) valve
    cut = np.zeros(n_vertices, dtype=bool)
    working = valve_vertex[net.valve_state != BROKEN]
    cut[working[working >= 0]] = True
    ends_piece = np.concatenate([np.arange(total), np.arange(total)])
    ends_vertex = np.concatenate([u, v])
    vertex_pieces = csr(ends_vertex, n_vertices)
    keep = ~cut[ends_vertex]
    ep, ev = ends_piece[keep], ends_vertex[keep]
    o = np.argsort(ev, kind="stable")
    ep, ev = ep[o], ev[o]
    same = ev[1:] == ev[:-1]
    ja, jb = ep[:-1][same], ep[1:][same]
    if len(c_seg):
        # a branch whose end node is a working valve, tapped into a main's interior: the valve
        # shuts the branch off, not the main, which runs on through the tee (cut at the valve's
        # vertex like any tap, its two pieces there would be two zones: a burst on one side
        # "isolated" by closing the branch's valve while the main kept feeding it)
        # (on the interior only: a valve node at the very end of a segment, another node of
        # the same place its start, is no tee: the valve stands between the two)
        tol = TAP_TOLERANCE_M / np.maximum(net.seg_len[c_seg], TAP_TOLERANCE_M)
        through = c_tap & cut[c_vertex] & (c_at > tol) & (c_at < 1.0 - tol)
        ja = np.concatenate([ja, piece_before[through]])
        jb = np.concatenate([jb, piece_before[through] + 1])
    labels = components(total, ja, jb)
    _, zone = np.unique(labels, return_inverse=True)
    n_zones = int(zone.max()) + 1 if total else 0
    # the zones around each valve
    vptr, vorder = vertex_pieces
    # (valve, zone) pairs, each once, by valve then zone: vectorised (a np.unique per valve
    # cost 0.35 s of a 67,000-valve network's first call)
    n_valves = len(valve_vertex)
    w = np.maximum(valve_vertex, 0)
    count = np.where(valve_vertex >= 0, vptr[w + 1] - vptr[w], 0)
    vk = np.repeat(np.arange(n_valves), count)
    start = np.repeat(vptr[w] - np.concatenate([[0], np.cumsum(count)[:-1]]), count)
    vz = zone[ends_piece[vorder[start + np.arange(len(vk))]]] if len(vk) else \
        np.empty(0, dtype=np.int64)
    key = np.unique(vk.astype(np.int64) * max(n_zones, 1) + vz)
    vz_valve, vz_zone = key // max(n_zones, 1), key % max(n_zones, 1)
    bounds = np.searchsorted(vz_valve, np.arange(n_valves + 1))
    valve_zones = np.split(vz_zone, bounds[1:-1]) if n_valves else []
    # the zone pairs each valve joins while open (the first zone around it with each other)
    first = bounds[:-1]
    n_around = np.diff(bounds)
    rest = np.ones(len(vz_valve), dtype=bool)
    rest[first[n_around > 0]] = False
    ek = vz_valve[rest]
    ea = vz_zone[np.repeat(first, np.maximum(n_around - 1, 0))]
    eb = vz_zone[rest]
    return Pieces(seg=seg, u=u, v=v, length=length, seg_ptr=seg_ptr, zone=zone,
                  n_zones=n_zones, valve_vertex=valve_vertex, valve_zones=valve_zones,
                  vertex_pieces=(vptr, ends_piece[vorder]), valve_edges=(ek, ea, eb),
                  valve_zone_pairs=(vz_valve, vz_zone), lo=lo, hi=hi, cut_seg=c_seg,
                  cut_at=c_at)


# -- loading and the per-version cache ---------------------------------------------------
# the ends' pipe elevations as the section and clearances read them
# (layers.query.pipes.elevation_sql: the 3D line's Z, the columns for a no_z line), the
# columns first (a survey's 起点/终点高程; a GIS line's Z where they are empty)
_SEGMENTS = sql.SQL("""
SELECT code, start_point_code, end_point_code,
       coalesce(length_m, ST_Length(geom)) AS length_m,
       coalesce(start_elevation, {z0}), coalesce(end_elevation, {z1}),
       ST_AsBinary(ST_Force2D(geom)), subclass_code
FROM pipe_segments s
WHERE valid_to IS NULL AND pipe_class = %s AND status_code IS DISTINCT FROM %s
ORDER BY code""").format(z0=elevation_sql("s", sql.SQL("0")),
                         z1=elevation_sql("s", sql.SQL("1")))

_VALVES = """
SELECT p.code, s.code AS seg,
       CASE WHEN s.code IS NOT NULL
            THEN ST_LineLocatePoint(ST_Force2D(s.geom), ST_Force2D(p.geom)) END AS at,
       p.note, p.attrs::text
FROM pipe_points p
LEFT JOIN pipe_segments s ON s.code = p.segment_code AND s.valid_to IS NULL
     AND s.status_code IS DISTINCT FROM %s
WHERE p.valid_to IS NULL AND p.pipe_class = %s AND p.appurtenance = ANY(%s)
ORDER BY p.code"""

# the network changes only with a load (a new succeeded batch) or new rows
VERSION_SQL = """
SELECT (SELECT max(id) FROM load_batches WHERE status = 'succeeded'),
       (SELECT max(id) FROM pipe_segments), (SELECT max(id) FROM pipe_points)"""

_CACHE: dict[tuple[str, str], Network] = {}
_CACHE_LOCK = threading.Lock()


def network(conn: psycopg.Connection, pipe_class: str,
            profile: CityProfile | None = None) -> Network:
    """The network of ``pipe_class`` (e.g. "01" 给水), from the cache while it is current.
    Valve states are read through ``profile``'s ``valve_states.csv`` (None: the platform's,
    as :func:`layers.query.network_locate.gravity_classes` reads its classes).

    ``network(conn, "01").seg_codes`` → the codes of the current water segments.
    """
    states = valve_states(profile)
    apart = apart_subclasses(profile)
    isolating = isolating_appurtenances(profile, pipe_class)
    version = (*conn.execute(VERSION_SQL).fetchone(), tuple(sorted(states.items())),
               tuple(sorted(apart)), isolating)
    key = (conn.info.dsn, pipe_class)
    net = _CACHE.get(key)
    if net is not None and net.version == version:
        return net
    net = load_network(conn, pipe_class, version, states, apart, isolating)
    with _CACHE_LOCK:
        _CACHE[key] = net
    return net


def load_network(conn: psycopg.Connection, pipe_class: str, version: tuple = (),
                 states: dict[str, int] | None = None,
                 apart: frozenset[tuple[str, str, str]] | None = None,
                 isolating: tuple[str, ...] | None = None) -> Network:
    """Read the current segments and valves of ``pipe_class`` into a :class:`Network`
    (``states``: :func:`valve_states`, ``apart``: :func:`apart_subclasses`, ``isolating``:
    :func:`isolating_appurtenances`, the platform's if None)."""
    states = valve_states() if states is None else states
    apart = apart_subclasses(None) if apart is None else apart
    if isolating is None:
        isolating = isolating_appurtenances(None, pipe_class)
    conn.execute(NO_JIT)  # the reads pass the JIT threshold: compiling costs more than it saves
    # binary: the lines' WKB as bytes, not hex text to decode (a tenth of the read)
    segs = conn.cursor(binary=True).execute(_SEGMENTS, (pipe_class, ABANDONED_STATUS)
                                            ).fetchall()
    codes = np.array([r[0] for r in segs], dtype=object)
    ends = np.array([r[1] for r in segs] + [r[2] for r in segs], dtype=object)
    node_codes, inverse = np.unique(ends, return_inverse=True) if len(ends) else \
        (np.array([], dtype=object), np.array([], dtype=np.int64))
    n = len(segs)
    length = np.array([r[3] or 0.0 for r in segs], dtype=float)
    z0 = np.array([np.nan if r[4] is None else r[4] for r in segs], dtype=float)
    z1 = np.array([np.nan if r[5] is None else r[5] for r in segs], dtype=float)
    down = ~(z1 > z0)  # rises start → end: flows end → start; equal or unknown: digitised
    node_of = {c: i for i, c in enumerate(node_codes.tolist())}
    seg_of = {c: i for i, c in enumerate(codes.tolist())}
    vals = conn.execute(_VALVES, (ABANDONED_STATUS, pipe_class, list(isolating))
                        ).fetchall()
    vcodes, vstate, vnode, vseg, vat = [], [], [], [], []
    # the state of each (note, attributes) once: most valves of a network share a few (their
    # JSON decoded one by one was a quarter of a 67,000-valve network's first call)
    said: dict[tuple[str | None, str | None], int] = {}
    for code, seg, at, note, attrs in vals:
        nd = node_of.get(code, -1)  # a valve that is a node separates all its segments
        s = seg_of.get(seg, -1) if seg is not None and nd < 0 else -1
        if s < 0 and nd < 0:
            continue  # on no current segment of the network: it bounds nothing
        vcodes.append(code)
        st = said.get((note, attrs))
        if st is None:
            st = said[(note, attrs)] = valve_state(note, json.loads(attrs) if attrs else None,
                                                   states)
        vstate.append(st)
        vnode.append(nd)
        vseg.append(s)
        vat.append(float(at) if s >= 0 and at is not None else 0.0)
    tn, ts, ta = _taps([r[6] for r in segs], inverse[:n], inverse[n:],
                       np.array([r[7] for r in segs], dtype=object),
                       {(a, b) for c, a, b in apart if c == pipe_class})
    return Network(
        pipe_class=pipe_class, version=version, seg_codes=codes,
        seg_start=inverse[:n].astype(np.int64), seg_end=inverse[n:].astype(np.int64),
        seg_len=length, seg_down=down, node_codes=node_codes,
        valve_codes=np.array(vcodes, dtype=object), valve_state=np.array(vstate, dtype=np.int8),
        valve_node=np.array(vnode, dtype=np.int64), valve_seg=np.array(vseg, dtype=np.int64),
        valve_at=np.array(vat, dtype=float), tap_node=tn, tap_seg=ts, tap_at=ta)


def _taps(wkb: list[bytes], start: np.ndarray, end: np.ndarray, subclass: np.ndarray,
          apart: set[tuple[str, str]] = frozenset()
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node, segment, position 0..1 on it) of each segment end lying within
    TAP_TOLERANCE_M (2D) of another segment of the class away from that segment's end
    points: the branches of a GIS network tapped into mains it does not split (a 消防 branch
    off a 配水 main, a 雨水 pipe into a 合流 sewer too). ``wkb``: the segments' 2D lines;
    ``start``/``end``: their end nodes; ``subclass``: their subclass codes; ``apart``: the
    pairs of subclasses that are other networks (:func:`apart_subclasses`): a storm pipe
    ending on a foul sewer (class 02: 01 on 02), reclaimed water on a drinking-water main
    (01: 03 on 04) are drawn across each other, not a tee — joined, a trace would flow from
    one into the other and an isolation close the other's valves (a cross-connection).

    In memory (an STR tree over the lines, one vectorised query of the ends), not in SQL: one
    GiST probe per segment end read ~8 wide rows each (the ends' own segments, the other
    classes at the same place) — 6 s for the 201,600 ends of a 100,800-segment grid, where
    this takes a small part of a second (docs/benchmarks.md, Network analysis)."""
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
    if not wkb:
        return empty
    lines = shapely.from_wkb(wkb)
    n = len(lines)
    xy = shapely.get_coordinates(lines)
    last = np.cumsum(shapely.get_num_coordinates(lines)) - 1
    first = np.concatenate([[0], last[:-1] + 1])
    # each node once at each place it is drawn and subclass it ends (a node is the end of
    # several segments)
    exy = np.concatenate([xy[first], xy[last]])
    enode = np.concatenate([start, end]).astype(np.int64)
    names, sub = np.unique(subclass.astype(str), return_inverse=True)
    # which subclass may be tapped into which (by index of ``names``)
    joins = np.array([[(a, b) not in apart for b in names.tolist()] for a in names.tolist()],
                     dtype=bool).reshape(len(names), len(names))
    esub = np.concatenate([sub, sub])
    o = np.lexsort((exy[:, 1], exy[:, 0], esub, enode))
    exy, enode, esub = exy[o], enode[o], esub[o]
    new = np.ones(len(enode), dtype=bool)
    new[1:] = (enode[1:] != enode[:-1]) | (esub[1:] != esub[:-1]) | \
        (exy[1:] != exy[:-1]).any(axis=1)
    ends, end_node, end_sub = shapely.points(exy[new]), enode[new], esub[new]
    # the lines within the tolerance of each end, not at one of the line's own end nodes (a
    # shared node joins them already) and of a subclass the end's may join
    pi, si = shapely.STRtree(lines).query(ends, predicate="dwithin", distance=TAP_TOLERANCE_M)
    keep = (end_node[pi] != start[si]) & (end_node[pi] != end[si]) & \
        joins[end_sub[pi], sub[si]]
    pi, si = pi[keep], si[keep]
    if not len(pi):
        return empty
    # one tap per (node, segment): a node's ends may lie at slightly different places
    _, once = np.unique(end_node[pi] * n + si, return_index=True)
    pi, si = pi[once], si[once]
    at = shapely.line_locate_point(lines[si], ends[pi], normalized=True)
    return end_node[pi], si.astype(np.int64), np.asarray(at, dtype=float)
