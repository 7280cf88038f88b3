"""Control lines of an area type (绿线 蓝线 紫线 黄线) as the areas they enclose.

A CAD drawing gives such a line as a closed polyline; exported, it may also come in open
pieces — one feature's parts, or several features — that only together close a ring. The
pieces are joined where their ends meet, exactly or within ``tolerance`` (the rules file's
``line_join_tolerance_m``): ends that close together are one node, each piece an edge between
its two end nodes. A connected set of pieces in which every node joins exactly two piece ends
is a ring (a piece closed by itself is one); it bounds the area it encloses. Nothing else is
joined: a piece with a loose end, or a node where three or more ends meet (lines of different
areas crossing or touching), stays an open line as drawn — a network of lines would otherwise
enclose land that no line bounds alone.

The rings of one feature are built together (a ring within a ring a hole, as drawn), so are
those of one set of features; rings of different features are separate areas.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString

LINEAL = ("LineString", "MultiLineString")
AREA_TYPES = ("绿线", "蓝线", "紫线", "黄线")  # lines bounding an area (a road's lines do not)
# the rules tell a control line's type by its standard code (control_lines.csv's type_code,
# stored as line_type_code), never by its name: a city that named 道路红线 规划道路红线 in its
# copy of the dictionary had its buildings' road setbacks "not applicable"
TYPE_CODES = {"道路红线": "HX", "绿线": "LVX", "蓝线": "LX", "紫线": "ZX", "黄线": "HUX"}
AREA_CODES = tuple(TYPE_CODES[t] for t in AREA_TYPES)


def is_type(line: dict[str, Any], line_type: str) -> bool:
    """Whether the stored ``line`` is of ``line_type`` (a standard name or its code)."""
    return line.get("line_type_code") == TYPE_CODES.get(line_type, line_type)


def pieces(g: shapely.Geometry) -> list[LineString]:
    """The line parts of ``g`` (empty for an areal geometry)."""
    if g is None or g.is_empty or g.geom_type not in LINEAL:
        return []
    return [p for p in getattr(g, "geoms", [g]) if not p.is_empty and len(p.coords) >= 2]


def _nodes(ends: np.ndarray, tolerance: float) -> np.ndarray:
    """Each end's node: ends within ``tolerance`` of one another (transitively) are one."""
    n = len(ends)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = shapely.STRtree(shapely.points(ends))
    for i, j in tree.query(shapely.points(ends), predicate="dwithin", distance=tolerance).T:
        a, b = find(int(i)), find(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)])


def _chain(edges: list[tuple[int, int, LineString]]) -> LineString:
    """The edges of a ring (every node met twice) in order, as one closed line."""
    by_node: dict[int, list[int]] = defaultdict(list)
    for k, (a, b, _) in enumerate(edges):
        by_node[a].append(k)
        by_node[b].append(k)
    used = [False] * len(edges)
    a, b, line = edges[0]
    coords = list(line.coords)
    used[0], at = True, b
    for _ in range(len(edges) - 1):
        k = next(k for k in by_node[at] if not used[k])
        used[k] = True
        a, b, line = edges[k]
        cs = list(line.coords)
        if a != at:
            cs.reverse()
            a, b = b, a
        coords.extend(cs[1:])  # the shared end once (its first copy stands for both)
        at = b
    coords[-1] = coords[0]  # ends within the tolerance: closed exactly
    return LineString(coords)


def areas(lines: list[tuple[Any, list[LineString]]], tolerance: float
          ) -> tuple[list[tuple[list[Any], shapely.Geometry]], list[tuple[Any, LineString]]]:
    """(owners, area) of every ring the pieces close — its owners the features whose pieces
    make it — and (owner, piece) of every piece that closes none (see the module doc)."""
    flat = [(k, p) for k, (_, ps) in enumerate(lines) for p in ps]
    if not flat:
        return [], []
    ends = np.array([c for _, p in flat for c in (p.coords[0][:2], p.coords[-1][:2])],
                    dtype=float)
    node = _nodes(ends, tolerance)
    degree = np.bincount(node, minlength=len(ends))
    # connected sets of pieces: pieces sharing a node
    comp = list(range(len(flat)))

    def find(i: int) -> int:
        while comp[i] != i:
            comp[i] = comp[comp[i]]
            i = comp[i]
        return i

    first_at: dict[int, int] = {}
    for i in range(len(flat)):
        for n in (node[2 * i], node[2 * i + 1]):
            if n in first_at:
                a, b = find(i), find(first_at[n])
                if a != b:
                    comp[max(a, b)] = min(a, b)
            else:
                first_at[n] = i
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(flat)):
        members[find(i)].append(i)
    rings: dict[tuple[int, ...], list[tuple[LineString, list[int]]]] = defaultdict(list)
    loose: list[tuple[Any, LineString]] = []
    for idx in members.values():
        if all(degree[node[2 * i]] == 2 and degree[node[2 * i + 1]] == 2 for i in idx):
            ring = _chain([(int(node[2 * i]), int(node[2 * i + 1]), flat[i][1]) for i in idx])
            rings[tuple(sorted({flat[i][0] for i in idx}))].append((ring, idx))
        else:
            loose.extend((lines[flat[i][0]][0], flat[i][1]) for i in idx)
    out: list[tuple[list[Any], shapely.Geometry]] = []
    for owners, rs in rings.items():
        area = shapely.build_area(shapely.union_all([r for r, _ in rs]))
        if area is None or area.is_empty or area.area <= 0:  # degenerate: the pieces as drawn
            loose.extend((lines[flat[i][0]][0], flat[i][1]) for _, idx in rs for i in idx)
            continue
        out.append(([lines[k][0] for k in owners], area))
    return out, loose
