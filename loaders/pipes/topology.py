"""Node–edge topology of a pipe network: built from GIS line ends, measured after a load.

Survey tables name both ends of every segment; GIS layers often do not, so their nodes are
made here, from node ids on the lines or by snapping line ends together. After a load the
dataset's stored network is measured (components, dangling ends, isolated points) so that a
broken delivery shows in the load report, not only in the map.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely

from cim.graphs import components
from loaders.pipes.dictionaries import PipeClass, PipeDictionaries
from loaders.pipes.fields import resolve_features
from loaders.pipes.records import FIELD_ZH, LINE_ENDS, PointRec, SegRec


# -- nodes of GIS layers ---------------------------------------------------------------------
def _class_of_nodes(segs: list[SegRec]) -> dict[str, PipeClass]:
    out: dict[str, PipeClass] = {}
    for s in segs:
        if s.cls is None:
            continue
        for no in (s.start_no, s.end_no):
            if no:
                out.setdefault(no, s.cls)
    return out


def derived_feature(dicts: PipeDictionaries, pc: PipeClass, degree: int) -> tuple[str, Any]:
    """A made node's feature by how many line ends meet there (起讫点, 直线点, 三通 …)."""
    name = {1: "起讫点", 2: "直线点", 3: "三通", 4: "四通"}.get(degree, "多通")
    return name, dicts.feature(pc, "特征", name)


def nodes_from_ids(segs: list[SegRec], pts: list[PointRec], dicts, seq0: int,
                   snap: float) -> int:
    """Nodes named by the lines' node ids: classes for the point layer's nodes, the lines
    drawn from their end node turned (:func:`_orient`), a node at the line end for every id
    the point layer lacks, and how far each line end lies from its node (:func:`_off_node`)."""
    cls_of = _class_of_nodes(segs)
    have = set()
    delivered = [p for p in pts if p.role == "node" and p.point_no and p.e is not None]
    for p in pts:
        if p.point_no and p.point_no in cls_of and p.cls is None:
            p.cls = cls_of[p.point_no]
        if p.cls is not None:
            resolve_features(p, dicts)
        have.add(p.point_no)
    _orient(segs, _node_places(pts))
    degree: dict[str, int] = defaultdict(int)
    where: dict[str, tuple[tuple, SegRec]] = {}
    grounds: dict[str, tuple[tuple, float]] = {}  # the least end giving the node's ground
    for s in segs:
        if s.line is None or s.problems:
            continue
        c = shapely.get_coordinates(s.line, include_z=True)
        for no, xyz, ground in zip((s.start_no, s.end_no), c[[0, -1]], end_grounds(s, c)):
            degree[no] += 1
            rank = _end_rank(xyz, s)
            if no not in where or rank < where[no][0]:
                where[no] = (rank, s)
            if ground is not None and (no not in grounds or rank < grounds[no][0]):
                grounds[no] = (rank, ground)
    made = 0
    for no in sorted(where, key=lambda k: where[k][0]):
        if no in have:
            continue
        (x, y, *_), s = where[no]
        made += 1
        p = _derived_node(no, s, x, y, grounds[no][1] if no in grounds else None, degree[no],
                          dicts, seq0 + made)
        pts.append(p)
    if pts and made < len(pts):  # a point layer was delivered: the ids it lacks are told
        _absent_ends(segs, have, delivered, pts[0].table, snap)
    _off_node(segs, _node_places(pts), snap)
    if not pts:
        return made
    for p in pts:  # points of no line keep a class only when one is given
        if p.cls is None and not any(r[1] == FIELD_ZH["class"] for r in p.problems):
            p.problems.append(("missing_value", FIELD_ZH["class"], None,
                               "the point is on no line and no --class is given"))
    return made


def _absent_ends(segs: list[SegRec], have: set, delivered: list[PointRec], layer: str,
                 snap: float) -> None:
    """The ends of lines whose node id the delivered point layer lacks (``SegRec.absent``;
    QA: node_not_in_points, node_at_other_point): a node is made there, and where a
    delivered node of another id lies at that end (within ``snap``, as a line end lies at
    its node) the network breaks — two nodes at one place, the line joined to neither's
    other lines (N9 made on N4)."""
    ends = [(s, which, no) for s in segs if s.line is not None and not s.problems
            for which, no in (("start", s.start_no), ("end", s.end_no))
            if no and no not in have]
    if not ends:
        return
    at = shapely.get_point(np.array([s.line for s, _w, _n in ends], dtype=object),
                           np.array([0 if w == "start" else -1 for _s, w, _n in ends]))
    near: dict[int, tuple[PointRec, float]] = {}
    if delivered:
        tree = shapely.STRtree(shapely.points([(p.e, p.n) for p in delivered]))
        (ei, pi), dist = tree.query_nearest(at, max_distance=snap, return_distance=True)
        for e, p, d in sorted(zip(ei.tolist(), pi.tolist(), dist.tolist())):
            near.setdefault(e, (delivered[p], d))  # of equally near ones, the first delivered
    for k, (s, which, no) in enumerate(ends):
        other, d = near.get(k, (None, None))
        s.absent = (*s.absent, (which, no, layer, other, d))


def end_grounds(s: SegRec, c: np.ndarray) -> tuple[float | None, float | None]:
    """The ground elevation a line gives at its ends (``c``: its coordinates with Z): the
    pipe's elevation there (起点高程 / 终点高程, else the line's Z) + its depth (起点埋深 /
    终点埋深), as a cross-section reads it (layers/query/section.py); None where either is
    unknown. A line's Z is never a ground elevation itself; a line whose Z are all 0 has none
    (a 2D line written in 3D)."""
    zs = c[:, 2]
    has_z = bool(s.line.has_z and np.isfinite(zs).all() and (zs != 0).any())
    out = []
    for k, el, d in ((0, s.start_elevation, s.start_depth), (-1, s.end_elevation, s.end_depth)):
        z = el if el is not None else (float(zs[k]) if has_z else None)
        out.append(z + d if z is not None and d is not None else None)
    return out[0], out[1]


def _node_places(pts: list[PointRec]) -> dict[tuple[str, str], tuple[float, float]]:
    """Where each node is: the first point of its key (QA keeps the first of a number)."""
    out: dict[tuple[str, str], tuple[float, float] | None] = {}
    for p in pts:
        if p.role == "node" and p.point_no and p.cls is not None:
            out.setdefault(p.key, (p.e, p.n) if p.e is not None else None)
    return {k: v for k, v in out.items() if v is not None}


def _ends_and_nodes(segs: list[SegRec], place: dict) -> tuple[list[SegRec], np.ndarray,
                                                                np.ndarray]:
    """The lines to check, their ends' places (n × 2 × 2: first, last) and their nodes'
    (start, end; NaN where the node is not known), as whole columns."""
    ok = [s for s in segs if s.line is not None and not s.problems]
    if not ok:
        return ok, np.empty((0, 2, 2)), np.empty((0, 2, 2))
    lines = np.array([s.line for s in ok], dtype=object)
    ends = np.stack([shapely.get_coordinates(shapely.get_point(lines, k)) for k in (0, -1)], 1)
    nan = (np.nan, np.nan)
    nodes = np.array([(place.get(s.key("start"), nan), place.get(s.key("end"), nan))
                      for s in ok], dtype=float)
    return ok, ends, nodes


def _orient(segs: list[SegRec], place: dict) -> None:
    """A line drawn from its end node to its start node — each of its delivered nodes nearer
    the line's other end than its own — is turned to run from start to end, as its node ids
    and its depths (起点埋深 is its start's) say, and flagged (QA: drawn_reversed)."""
    ok, ends, nodes = _ends_and_nodes(segs, place)
    own = np.hypot(*(ends - nodes).transpose(2, 0, 1))  # start node–first end, end–last
    other = np.hypot(*(ends[:, ::-1] - nodes).transpose(2, 0, 1))
    known = np.isfinite(nodes[:, :, 0])
    turned = known.any(1) & ((other < own) | ~known).all(1)
    for k in np.flatnonzero(turned).tolist():
        s = ok[k]
        if s.start_no != s.end_no:
            s.line = shapely.reverse(s.line)
            s.drawn_reversed = True


def _off_node(segs: list[SegRec], place: dict, snap: float) -> None:
    """How far each line end lies from the node its id names, where more than ``snap``
    (``SegRec.off_node``; QA: end_off_node, end_not_at_point), kept in the loaded row's attrs
    (``_start_off_node_m``, ``_end_off_node_m``, to the millimetre)."""
    ok, ends, nodes = _ends_and_nodes(segs, place)
    d = np.hypot(*(ends - nodes).transpose(2, 0, 1))
    off = np.isfinite(d) & (d > snap + 1e-9)
    for k in np.flatnonzero(off.any(1)).tolist():
        s = ok[k]
        s.off_node = tuple(float(x) if o else None for x, o in zip(d[k], off[k]))
        s.extra = {**(s.extra or {}), **{f"_{w}_off_node_m": round(float(x), 3)
                                         for w, x, o in zip(("start", "end"), d[k], off[k])
                                         if o}}


def _end_rank(xyz, s: SegRec) -> tuple:
    """The order of line ends that picks a made node's place and line: by coordinates, then by
    the line's table and row, never by the order of the lines in the delivery (a re-sorted
    delivery makes the same nodes; docs: README, GIS networks)."""
    z = float(xyz[2]) if np.isfinite(xyz[2]) else np.inf
    return (float(xyz[0]), float(xyz[1]), z, s.table, s.source_id or "", s.row)


def _place_name(xyz, taken: set[str]) -> str:
    """A made node's number: where it is (``N@easting,northing`` in the storage CRS, to the
    millimetre), so that it stays the node's when lines are added, removed or re-sorted. Two
    nodes within a millimetre (a snap under it) are told apart by a suffix, in the order of
    their places."""
    name = f"N@{xyz[0]:.3f},{xyz[1]:.3f}"
    k = 1
    out = name
    while out in taken:
        k += 1
        out = f"{name}#{k}"
    taken.add(out)
    return out


def _derived_node(no: str, s: SegRec, x, y, ground, degree, dicts, seq) -> PointRec:
    """A node made at a line end; its ground elevation what a line ending there gives
    (:func:`end_grounds`; flagged ground_derived when loaded), else unknown (no_z)."""
    name, feat = derived_feature(dicts, s.cls, degree) if s.cls else (None, None)
    p = PointRec(seq=seq, table=LINE_ENDS, row=0,
                 attrs={"_table": LINE_ENDS, "_derived_from": s.table, "_row": s.row},
                 cls=s.cls, point_no=no, feature_raw=name, feature=feat, e=x, n=y,
                 ground=ground)
    return p


def nodes_by_snapping(segs: list[SegRec], pts: list[PointRec], dicts, snap: float,
                       seq0: int) -> int:
    """Cluster line ends closer than ``snap``; each cluster is one node (a point of the point
    layer within ``snap`` names it), line ends are moved onto their node."""
    ok = [s for s in segs if s.line is not None and not s.problems]
    if not ok:
        return 0
    ends = np.array([shapely.get_coordinates(s.line, include_z=True)[k]
                     for s in ok for k in (0, -1)], dtype=float)
    pgeom = shapely.points(ends[:, :2])
    tree = shapely.STRtree(pgeom)
    a, b = tree.query(pgeom, predicate="dwithin", distance=snap)
    parent = np.arange(len(ends))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(a, b):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(len(ends))])
    # each cluster's place: its least end by (x, y, z, line), whatever the lines' order
    rank = [_end_rank(ends[i], ok[i // 2]) for i in range(len(ends))]
    ground = [g for s in ok for g in end_grounds(s, shapely.get_coordinates(s.line,
                                                                              include_z=True))]
    rep: dict[int, int] = {}
    grounded: dict[int, int] = {}  # the least end of the cluster that gives a ground
    for i, r in enumerate(roots.tolist()):
        if r not in rep or rank[i] < rank[rep[r]]:
            rep[r] = i
        if ground[i] is not None and (r not in grounded or rank[i] < rank[grounded[r]]):
            grounded[r] = i
    named: dict[int, PointRec] = {}
    if pts:
        ptree_geoms = shapely.points([[p.e, p.n] if p.e is not None else [np.nan, np.nan]
                                      for p in pts])
        ptree = shapely.STRtree(ptree_geoms)
        for r, i in rep.items():
            qi, dist = ptree.query_nearest(pgeom[i], max_distance=snap, return_distance=True)
            if len(qi):  # the nearest point; of equally near ones the first in the delivery
                named[r] = pts[int(min(qi[dist == dist.min()]))]
    made = 0
    node_no: dict[int, str] = {}
    degree = np.bincount(roots, minlength=len(ends))
    taken: set[str] = {p.point_no for p in pts if p.point_no}
    for r in sorted(rep, key=lambda r: rank[rep[r]]):
        if r in named and named[r].point_no:
            node_no[r] = named[r].point_no
            continue
        made += 1
        i = rep[r]
        node_no[r] = _place_name(ends[i], taken)
        s = ok[i // 2]
        x, y, _z = ends[i]
        p = _derived_node(node_no[r], s, x, y, ground[grounded[r]] if r in grounded else None,
                          int(degree[r]), dicts, seq0 + made)
        pts.append(p)
    node_pos = {r: (ends[rep[r], 0], ends[rep[r], 1]) for r in node_no}
    for r, p in named.items():
        if p.e is not None:
            node_pos[r] = (p.e, p.n)
    for k, s in enumerate(ok):
        ra, rb = roots[2 * k], roots[2 * k + 1]
        s.start_no, s.end_no = node_no[ra], node_no[rb]
        c = shapely.get_coordinates(s.line, include_z=True)
        # an end's vertices at its place (a drop there: two heights) move together
        first = np.cumprod((c[:, :2] == c[0, :2]).all(1)).astype(bool)
        last = np.cumprod((c[::-1, :2] == c[-1, :2]).all(1))[::-1].astype(bool)
        c[first, :2] = node_pos[ra]
        c[last & ~first, :2] = node_pos[rb]
        c[-1, :2] = node_pos[rb]
        s.line = shapely.linestrings(c) if s.line.has_z else shapely.linestrings(c[:, :2])
    cls_of = _class_of_nodes(ok)
    for p in pts:
        if p.cls is None and p.point_no in cls_of:
            p.cls = cls_of[p.point_no]
            resolve_features(p, dicts)
    return made


OLD_MADE_NAME = r"^N[0-9]{6}$"  # made nodes' names before they were named by place


def keep_stored_names(conn: psycopg.Connection, points: list[PointRec], segs: list[SegRec],
                      dataset: str, snap: float | None) -> int:
    """A dataset loaded before made nodes were named by place has them named N000001… (in
    line order). A node made now where such a stored one of its class is (within the snap
    tolerance; 1 cm if not known) takes the stored name, and the lines' ends with it: it keeps its
    key and code, and so do the segments without ids keyed by their ends — the nearest pairs
    first, so that a new node beside a stored one never takes its name. Renamed in
    ``points`` and ``segs``; how many."""
    made = [p for p in points if p.table == LINE_ENDS and not p.row and p.e is not None
            and (p.point_no or "").startswith("N@")]
    if not made:
        return 0
    prefix = dataset + ":"
    stored = conn.execute(
        "SELECT source_key, point_no, ST_X(geom), ST_Y(geom) FROM pipe_points "
        "WHERE valid_to IS NULL AND left(source_key, %s) = %s AND attrs->>'_table' = %s "
        "AND point_no ~ %s", (len(prefix), prefix, LINE_ENDS, OLD_MADE_NAME)).fetchall()
    if not stored:
        return 0
    taken = {p.point_no for p in points if p.point_no}
    tree = shapely.STRtree(shapely.points([(x, y) for *_, x, y in stored]))
    cls_of = [key[len(prefix):].rsplit(":", 1)[0] for key, *_ in stored]
    # every (made, stored) pair of one class within the tolerance, nearest first: a node
    # takes the name of the stored one it is nearest to, which no nearer node took
    here = shapely.points([(p.e, p.n) for p in made])
    mi, si = tree.query(here, predicate="dwithin", distance=snap or 0.01)
    pairs = sorted((float(shapely.distance(here[a], tree.geometries[b])), made[a].e,
                    made[a].n, stored[b][1], a) for a, b in zip(mi.tolist(), si.tolist())
                   if cls_of[b] == (made[a].cls.key if made[a].cls else "XX"))
    names: dict[str, str] = {}
    for _d, _e, _n, old, a in pairs:
        if made[a].point_no not in names and old not in taken:
            names[made[a].point_no] = old
            taken.add(old)
    for p in made:
        p.point_no = names.get(p.point_no, p.point_no)
    for s in segs:
        s.start_no, s.end_no = names.get(s.start_no, s.start_no), names.get(s.end_no, s.end_no)
    return len(names)


# -- the stored network -------------------------------------------------------------------
def topology(conn: psycopg.Connection, dataset: str) -> dict[str, Any]:
    """Connected components and dangling ends of the dataset's current network (with NumPy on
    whole columns: a survey of 100,000 segments took a second in a Python union-find)."""
    prefix = dataset + ":"
    segs = conn.execute(
        "SELECT pipe_class, start_point_code, end_point_code FROM pipe_segments "
        "WHERE valid_to IS NULL AND left(source_key, %s) = %s",
        (len(prefix), prefix)).fetchall()
    pts = conn.execute(
        "SELECT code FROM pipe_points WHERE valid_to IS NULL AND segment_code IS NULL "
        "AND left(source_key, %s) = %s", (len(prefix), prefix)).fetchall()
    ends = np.empty(2 * len(segs), dtype=object)
    ends[:] = [c for _, a, b in segs for c in (a, b)]
    node, names = pd.factorize(ends, use_na_sentinel=False)  # node numbers of the codes
    a, b = node[0::2], node[1::2]
    out = _components(a, b, len(names))
    used = set(ends.tolist())
    out["isolated_points"] = sum(1 for (c,) in pts if c not in used)
    cls = np.empty(len(segs), dtype=object)
    cls[:] = [c for c, _, _ in segs]
    out["by_class"] = {c: _components(a[cls == c], b[cls == c], len(names))
                       for c in sorted(set(cls.tolist()))}
    return out


def _components(a: np.ndarray, b: np.ndarray, n: int) -> dict[str, Any]:
    """Segments, nodes, connected components, the largest one's segments and dangling ends
    (nodes of degree 1) of the edges ``a[i]``–``b[i]`` between nodes numbered below ``n``."""
    degree = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    present = degree > 0
    label = components(n, a, b)
    size = np.bincount(label[a], minlength=n) if len(a) else np.zeros(1, dtype=np.int64)
    return {"segments": int(len(a)), "nodes": int(present.sum()),
            "connected_components": int(len(np.unique(label[present]))),
            "largest_component_segments": int(size.max()),
            "dangling_ends": int((degree == 1).sum())}
