"""Service coverage by the road network, else straight-line (公园/设施服务半径覆盖).

Method (what ``method`` in an indicator's detail says):

- **network**: the current road centre lines are noded (``ST_Node``: every crossing is a
  junction) into an in-memory graph, as the pipe network is in ``layers/query/graph.py`` (no
  pgRouting: one multi-source Dijkstra per tier over a city's roads is milliseconds).
  A facility (a point) enters the network at the nearest point of each road edge within
  ``road_snap_m`` of it (an entrance per adjoining road), the straight gap added. A park (a
  polygon: a frontage, not a door) enters at every point of a road edge within ``road_snap_m``
  of it, the straight gap from that point to the park added: a home across the road from the
  middle of a long park is as near as the road's width, not as the park's nearest corner. A
  residential building enters at the point of its nearest road edge to its centroid (within
  ``road_snap_m``), the gap from the centroid added. Its distance is gap + along-road path +
  gap, and it is covered when that is within the tier's distance.
- **straight_line** (flagged): a building with no road within ``road_snap_m`` (no roads in its
  district), or a source without one, is measured in a straight line, footprint to source
  geometry (``ST_Distance``), as ``ST_DWithin`` would.

Coverage is area-weighted: covered residential footprint area over all residential footprint
area, per district (the building's ``district_code``). A building is within the distance when
its distance is at most the distance + ``TOLERANCE_M`` (1 mm), by the network and in a straight
line alike: a home exactly at the limit stays covered when decimal coordinates make the sum
300.00000000047 m.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import shapely
from shapely import STRtree
from shapely.ops import nearest_points

INF = float("inf")
_KEY_DECIMALS = 3  # road end points closer than 1 mm are one junction
TOLERANCE_M = 0.001  # a distance within 1 mm of the limit is within it


@dataclass
class RoadGraph:
    """Noded road edges: ``u``/``v`` node ids of each edge's ends, ``length`` in metres."""

    edges: list[Any]
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    adj: list[list[tuple[int, float]]]
    tree: STRtree | None = None

    @property
    def empty(self) -> bool:
        return not self.edges


def road_graph(conn: psycopg.Connection) -> RoadGraph:
    """The current roads, noded at every crossing, as a graph (empty when there are none)."""
    rows = conn.execute(
        "SELECT ST_AsBinary((ST_Dump(ST_Node(ST_Collect(g)))).geom) FROM ("
        " SELECT (ST_Dump(ST_Force2D(geom))).geom AS g FROM roads WHERE valid_to IS NULL) q"
    ).fetchall()
    edges = [shapely.from_wkb(bytes(r[0])) for r in rows if r[0] is not None]
    edges = [e for e in edges if e.length > 0]
    nodes: dict[tuple[float, float], int] = {}

    def node(xy) -> int:
        key = (round(xy[0], _KEY_DECIMALS), round(xy[1], _KEY_DECIMALS))
        return nodes.setdefault(key, len(nodes))

    u = np.array([node(e.coords[0]) for e in edges], dtype=np.int64)
    v = np.array([node(e.coords[-1]) for e in edges], dtype=np.int64)
    length = np.array([e.length for e in edges], dtype=float)
    adj: list[list[tuple[int, float]]] = [[] for _ in range(len(nodes))]
    for a, b, w in zip(u.tolist(), v.tolist(), length.tolist(), strict=True):
        adj[a].append((b, w))
        adj[b].append((a, w))
    return RoadGraph(edges, u, v, length, adj, STRtree(edges) if edges else None)


@dataclass
class Access:
    """Where a geometry enters the network: (edge, position along it, straight gap)."""

    points: list[tuple[int, float, float]] = field(default_factory=list)


def frontage(edge: Any, zone: Any) -> list[tuple[float, float]]:
    """The stretches of ``edge`` (from, to along it) inside ``zone``: a park polygon buffered
    by the snap distance (once a park, by :func:`source_access`)."""
    piece = edge.intersection(zone)
    out = []
    for part in getattr(piece, "geoms", [piece]):
        if part.is_empty or part.geom_type != "LineString":
            continue
        a, b = (float(edge.project(shapely.Point(xy))) for xy in (part.coords[0],
                                                                   part.coords[-1]))
        out.append((min(a, b), max(a, b)))
    return out


def source_access(g: RoadGraph, geom: Any, snap_m: float,
                  stretches: list[tuple[int, float, float, Any]] | None = None
                  ) -> list[tuple[int, float, float]]:
    """Where a source geometry enters each road edge within ``snap_m`` of it: a point, at the
    edge's nearest point; a park (polygon), anywhere along the edge's stretches within
    ``snap_m`` — an entrance at each stretch's ends (the best way in from either end of the
    edge, since the gap changes by at most the distance moved along the road), the stretches
    appended to ``stretches`` as (edge, from, to, geom) for homes on the same edge."""
    if g.empty or snap_m <= 0:
        return []
    out = []
    zone = geom.buffer(snap_m) if shapely.get_dimensions(geom) > 0 else None
    if zone is not None:
        shapely.prepare(zone)
    for i in g.tree.query(geom, predicate="dwithin", distance=snap_m):
        e = g.edges[int(i)]
        p = nearest_points(e, geom)[0]
        out.append((int(i), float(e.project(p)), float(e.distance(geom))))
        if zone is not None:
            for a, b in frontage(e, zone):
                out += [(int(i), pos, float(e.interpolate(pos).distance(geom))) for pos in (a, b)]
                if stretches is not None:
                    stretches.append((int(i), a, b, geom))
    return out


def target_access(g: RoadGraph, point: Any, snap_m: float) -> tuple[int, float, float] | None:
    """The point of the nearest road edge within ``snap_m`` (None: no road near)."""
    if g.empty or snap_m <= 0:
        return None
    hit = g.tree.query_nearest(point, max_distance=snap_m)
    if len(hit) == 0:
        return None
    i = int(min(hit))  # ties: the lowest edge id, so a rerun answers the same
    e = g.edges[i]
    return i, float(e.project(point)), float(e.distance(point))


def dijkstra(g: RoadGraph, entrances: list[tuple[int, float, float]], cutoff: float
             ) -> np.ndarray:
    """Shortest distance from any entrance to every junction (inf beyond ``cutoff``)."""
    dist = np.full(len(g.adj), INF)
    heap: list[tuple[float, int]] = []
    for e, pos, gap in entrances:
        for n, d in ((int(g.u[e]), gap + pos), (int(g.v[e]), gap + g.length[e] - pos)):
            if d < dist[n] and d <= cutoff:
                dist[n] = d
                heapq.heappush(heap, (d, n))
    while heap:
        d, n = heapq.heappop(heap)
        if d > dist[n]:
            continue
        for m, w in g.adj[n]:
            nd = d + w
            if nd < dist[m] and nd <= cutoff:
                dist[m] = nd
                heapq.heappush(heap, (nd, m))
    return dist


def network_distance(g: RoadGraph, dist: np.ndarray, on_edge: dict[int, list[tuple[float, float]]],
                     at: tuple[int, float, float],
                     fronts: dict[int, list[tuple[float, float, Any]]] | None = None) -> float:
    """Distance from the nearest entrance to a building entering the network at ``at``."""
    e, t, gap = at
    best = min(dist[g.u[e]] + t, dist[g.v[e]] + g.length[e] - t)
    for pos, sgap in on_edge.get(e, ()):  # an entrance on the building's own edge
        best = min(best, sgap + abs(pos - t))
    for a, b, geom in (fronts or {}).get(e, ()):  # on a park's stretch: straight across
        if a <= t <= b:
            best = min(best, float(g.edges[e].interpolate(t).distance(geom)))
    return gap + best


@dataclass
class Target:
    district: str | None
    area: float
    geom: Any
    centroid: Any


def residential_targets(conn: psycopg.Connection, uses: list[str]) -> list[Target]:
    """Current residential buildings (``uses``: building_use.csv's residential uses, building_use
    codes): footprint, area, centroid."""
    from layers.health.parts import district_of

    # the district it lies in now (a boundary changed since its load moves it)
    rows = conn.execute(
        "SELECT " + district_of("b") + ", ST_Area(geom), ST_AsBinary(geom),"
        " ST_AsBinary(ST_Centroid(geom))"
        " FROM buildings b WHERE valid_to IS NULL AND use_code = ANY(%s) ORDER BY id",
        (list(uses),)).fetchall()
    return [Target(r[0], float(r[1]), shapely.from_wkb(bytes(r[2])),
                   shapely.from_wkb(bytes(r[3]))) for r in rows]


def coverage(g: RoadGraph, targets: list[Target], tiers: list[tuple[list[Any], float]],
             snap_m: float) -> dict[str | None, dict[str, float]]:
    """Per district: ``covered`` and ``total`` residential area, buildings measured by
    ``network`` and by ``straight_line``. ``tiers``: (source geometries, distance) — a
    building is covered when any tier covers it."""
    prepared = []
    for sources, dmax in tiers:
        entrances, off_net, stretches = [], [], []
        for s in sources:
            acc = source_access(g, s, snap_m, stretches)
            entrances += acc
            if not acc:
                off_net.append(s)
        on_edge: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for e, pos, gap in entrances:
            on_edge[e].append((pos, gap))
        fronts: dict[int, list[tuple[float, float, Any]]] = defaultdict(list)
        for e, a, b, s in stretches:
            fronts[e].append((a, b, s))
        dist = dijkstra(g, entrances, dmax + TOLERANCE_M) if entrances else None
        prepared.append((sources, off_net, dist, on_edge, fronts, dmax))
    out: dict[str | None, dict[str, float]] = defaultdict(
        lambda: {"covered": 0.0, "total": 0.0, "network": 0, "straight_line": 0})
    for t in targets:
        acc = target_access(g, t.centroid, snap_m)
        row = out[t.district]
        row["total"] += t.area
        row["network" if acc else "straight_line"] += 1
        covered = False
        for sources, off_net, dist, on_edge, fronts, dmax in prepared:
            limit = dmax + TOLERANCE_M
            if acc is not None and dist is not None and \
                    network_distance(g, dist, on_edge, acc, fronts) <= limit:
                covered = True
            else:  # straight-line: the building off the roads, or sources off the roads
                pool = sources if acc is None else off_net
                covered = any(shapely.distance(t.geom, s) <= limit for s in pool)
            if covered:
                break
        if covered:
            row["covered"] += t.area
    return dict(out)
