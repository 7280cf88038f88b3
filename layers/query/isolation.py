"""Valve isolation of a burst on the in-memory pipe graph (:mod:`layers.query.graph`).

**Isolation** (关阀分析) of a burst on a water, gas, heat or industrial segment: the zone the
working valves around the burst enclose is emptied by closing them. A valve already closed
bounds it too (``closed_already``); a broken or inaccessible valve cannot be closed and is
passed through to the next (``broken_passed``). A valve along a pipe splits the pipe at its
position: only the burst side of the pipe is isolated (``length_m`` counts the pieces). With
``sources`` (point or segment codes of water plants, tanks, gas stations), every zone the
sources reached before and no longer reach without passing a closed valve loses supply too
(``unsupplied_segments``), as Giswater's mincut does; what they did not reach before is dry
whatever bursts (``dry_already_segments``); a valve whose outside is unsupplied anyway need
not be closed (``valves_not_needed``).
A source may be a node, a segment or a point along a segment (a GIS network's tank on a pipe);
one inside the emptied zone feeds the burst whatever closes, and is listed in
``sources_in_zone``: it must be shut off itself.

    isolate(conninfo, "370811830100000042", sources=["370811820100000001"])
    → {"valves": […], "closed_already": […], "isolated_segments": […],
       "unsupplied_segments": […], "length_m": 87.2, "valves_not_needed": […], …}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from cim.errors import InputError
from cim.graphs import components
from cim.profile import CityProfile
from layers.query.common import ConnOrInfo, connection
from layers.query.graph import Network, network
from layers.query.network_locate import _along, _locate, _r, _r6, gravity_classes
from layers.query.pipes import TAP_TOLERANCE_M, resolve_profile
from layers.query.valves import BROKEN, OPEN

CABLE_CLASSES = ("05", "06")  # 电力, 通信: no valves, nothing to isolate


def read_sources(value: str | list[str] | None) -> list[str]:
    """Source codes from a list, a comma/space-separated string (the Chinese ，、； too), or a
    text file of them."""
    if value is None:
        return []
    if isinstance(value, list):
        codes = [str(v).strip() for v in value if str(v).strip()]
        if not codes:  # a process's "sources": [] or ["  "]: as the CLI's --sources ","
            raise InputError(f"sources {value!r} names no code (leave it out for an "
                             "isolation without a supply check)", field="sources")
        return codes
    p = Path(value)
    is_file = len(value) < 4096 and p.is_file()
    if is_file:
        try:
            raw = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:  # a GBK file's Chinese comment: say so, not a traceback
            raise InputError(f"sources file {value} is not UTF-8 text (save it as UTF-8)"
                             ) from None
        text = "\n".join(line.split("#", 1)[0] for line in raw.splitlines())
    elif _LOOKS_LIKE_PATH.search(value.strip()):  # no code has a slash or ends in .txt
        raise InputError(f"sources: no file {value.strip()!r} (a file of source codes, or the "
                         "codes themselves, comma-separated)")
    else:
        text = value
    # staff type codes with a Chinese keyboard: its comma （，）, enumeration comma （、） and
    # semicolon （；） separate them as "," does (\s has the ideographic space U+3000)
    codes = [c for c in re.split(r"[\s,;，、；]+", text) if c]
    if not codes:  # given, yet empty: asked for a supply check that would check nothing
        raise InputError(f"sources file {value} names no code (only comments or blank lines)"
                         if is_file else f"sources {value!r} names no code")
    return codes


_LOOKS_LIKE_PATH = re.compile(r"^\S*([/\\]\S*|\.(txt|csv|lst))$", re.IGNORECASE)


def isolate(conninfo: ConnOrInfo, code: str, sources: str | list[str] | None = None,
            at: float | None = None, profile: CityProfile | None = None) -> dict[str, Any]:
    """The valves to close for a burst on segment (or at node) ``code``, and what goes dry.

    ``at`` (0..1 along the segment from its start) places the burst on one side of the valves
    along the segment; without it the whole segment is burst.
    """
    source_codes = read_sources(sources)
    code = code.strip()  # pasted from a table: " 3708…"
    profile = resolve_profile(profile)  # the configured city's (an OGC process passes none)
    with connection(conninfo) as conn:
        kind, cls, _ = _locate(conn, code, profile)
        if at is not None and kind != "segment":
            raise InputError(f"at {at}: a position along a segment, and {code} is a pipe "
                             "point: give the burst segment's code with --at")
        if cls in gravity_classes(profile) or cls in CABLE_CLASSES:
            raise InputError(f"{code} is of pipe class {cls}: valve isolation is for pressure "
                             "networks (给水, 燃气, 热力, 工业)")
        net = network(conn, cls, profile)
        along = _along(conn, cls, [c for c in source_codes if c not in net.node_index
                                   and c not in net.seg_index])
        burst, burst_kind = code, kind
        if kind == "point" and code not in net.node_index \
                and code not in set(net.valve_codes.tolist()):
            # a leak reported at an appurtenance along a pipe (a hydrant, a meter on a GIS
            # main): the burst is on that pipe, at its place (it was "not a pipe junction")
            on = _along(conn, cls, [code]).get(code)
            if on is not None and on[0] in net.seg_index:
                burst, burst_kind, at = on[0], "segment", on[1]
    pcs = net.pieces
    start = _burst_pieces(net, burst, burst_kind, at)
    in_z = np.zeros(pcs.n_zones, dtype=bool)
    in_z[pcs.zone[start]] = True
    # the working valves with a zone inside and a zone outside (vectorised over the
    # valve–zone pairs: an isolation can empty half a badly valved network)
    pv, pz = pcs.valve_zone_pairs
    inside = np.zeros(len(net.valve_codes), dtype=bool)
    inside[pv[in_z[pz]]] = True
    outside = np.zeros(len(net.valve_codes), dtype=bool)
    outside[pv[~in_z[pz]]] = True
    bound = inside & outside
    close = np.flatnonzero(bound & (net.valve_state == OPEN)).tolist()
    closed = np.flatnonzero(bound & (net.valve_state != OPEN) & (net.valve_state != BROKEN)
                            ).tolist()
    # a piece of no length (a valve at the very end of a segment: the stub between the end
    # node and the valve) names no segment: none of that one is emptied or dried
    solid = pcs.length > TAP_TOLERANCE_M
    isolated = in_z[pcs.zone]
    # the broken (or disused) valves the zone runs through: why a farther valve is closed,
    # and what the crew should report for repair
    broken = np.flatnonzero(inside & (net.valve_state == BROKEN)).tolist()
    res: dict[str, Any] = {"valves": [], "closed_already": _codes(net, closed),
                           "broken_passed": _codes(net, broken),
                           "isolated_segments": _seg_codes(net, pcs.seg[isolated & solid]),
                           "unsupplied_segments": [], "length_m": _r(pcs.length[isolated].sum())}
    res["parts"] = _parts(net, {"isolated": isolated & solid})
    if not source_codes:
        res["valves"] = _codes(net, close)
        return res
    of_source = _source_zones(net, source_codes, along)
    src_zones = np.unique(np.concatenate(list(of_source.values())))
    supplied = _supplied(net, src_zones, in_z, close)
    # what loses supply is what the sources reached before the closing and do not after: a
    # part no source reached (an island, a pressure zone behind a valve closed already, a
    # source not given) is dry whatever bursts, and listed apart, not as this burst's outage
    before = _supplied(net, src_zones, np.zeros(pcs.n_zones, dtype=bool), [])
    fed = np.zeros(len(net.valve_codes), dtype=bool)
    fed[pv[supplied[pz]]] = True  # valves with a supplied zone around them
    needed = [k for k in close if fed[k]]
    unsupplied = (before & ~supplied & ~in_z)[pcs.zone]
    dry_already = (~before & ~in_z)[pcs.zone]
    res.update(valves=_codes(net, needed),
               unsupplied_segments=_seg_codes(net, pcs.seg[unsupplied & solid]),
               unsupplied_length_m=_r(pcs.length[unsupplied].sum()),
               dry_already_segments=_seg_codes(net, pcs.seg[dry_already & solid]),
               dry_already_length_m=_r(pcs.length[dry_already].sum()),
               valves_not_needed=_codes(net, [k for k in close if not fed[k]]),
               parts=_parts(net, {"isolated": isolated & solid,
                                  "unsupplied": unsupplied & solid,
                                  "dry_already": dry_already & solid}),
               # a source in the emptied zone feeds the burst whatever valves close: it must
               # be shut off itself (its valves' outside is dry anyway: not needed)
               sources_in_zone=sorted(c for c, z in of_source.items() if in_z[z].any()))
    return res


def _codes(net: Network, valves: list[int]) -> list[str]:
    return sorted(net.valve_codes[valves].tolist()) if valves else []


def _seg_codes(net: Network, segs: np.ndarray) -> list[str]:
    return sorted(net.seg_codes[np.unique(segs)].tolist())


def _parts(net: Network, roles: dict[str, np.ndarray]) -> dict[str, dict[str, list]]:
    """For each role, the segments it has only in part (cut by a valve along them or a
    tee): code → [[from, to], …] along the segment (0..1, start → end). Drawn whole, a pipe
    emptied up to the valve on it showed emptied beyond it too, and dry there as well."""
    pcs = net.pieces
    solid = pcs.length > TAP_TOLERANCE_M
    of_seg = np.bincount(pcs.seg[solid], minlength=len(net.seg_codes))
    out: dict[str, dict[str, list]] = {}
    for role, mask in roles.items():
        have = np.bincount(pcs.seg[mask], minlength=len(net.seg_codes))
        part = (have > 0) & (have < of_seg)
        spans: dict[str, list] = {}
        for p in np.flatnonzero(mask & part[pcs.seg]).tolist():  # by segment, start → end
            got = spans.setdefault(str(net.seg_codes[pcs.seg[p]]), [])
            if got and abs(got[-1][1] - pcs.lo[p]) < 1e-6:
                got[-1][1] = _r6(pcs.hi[p])  # the next piece on: one span
            else:
                got.append([_r6(pcs.lo[p]), _r6(pcs.hi[p])])
        out[role] = dict(sorted(spans.items()))
    return out


def _solid_pieces(pcs: Any, lo: int, hi: int) -> np.ndarray:
    """The pieces lo..hi-1 of one segment that have a length: a valve at the segment's very
    end (468 of QWAT's 2,312 valves) leaves a stub of none between the end node and the valve,
    in the node's zone. Burst (or fed) whole, the segment took that zone in, past its own
    valve: 498 of QWAT's pipes isolated up to the farther valves, the one at the pipe's end
    left open."""
    ps = np.arange(lo, hi)
    solid = ps[pcs.length[ps] > TAP_TOLERANCE_M]
    return solid if len(solid) else ps


def _burst_pieces(net: Network, code: str, kind: str, at: float | None) -> np.ndarray:
    pcs = net.pieces
    if kind == "segment":
        s = net.seg_index.get(code)
        if s is None:
            raise InputError(f"segment {code} is abandoned (status 废弃): it carries nothing")
        lo, hi = int(pcs.seg_ptr[s]), int(pcs.seg_ptr[s + 1])
        if at is None:
            return _solid_pieces(pcs, lo, hi)
        if not 0.0 <= at <= 1.0:
            raise InputError(f"at {at}: a position along the segment, 0 (start) to 1 (end)")
        return np.array([pcs.piece_at(s, at)])
    w = net.node_index.get(code)
    if w is None or (net.valve_node == w).any():
        raise InputError(f"{code} is not a pipe junction of the network: give the burst "
                         "segment's code (a valve, or a point on no current segment of the "
                         "network, is not a burst; give the pipe beside the valve)")
    vptr, vpieces = pcs.vertex_pieces
    return vpieces[vptr[w]:vptr[w + 1]]


def _source_zones(net: Network, codes: list[str], along: dict[str, tuple[str, float]]
                  ) -> dict[str, np.ndarray]:
    """The zones each source code is in: a node's (every zone around it), a segment's (all its
    pieces'), a point along a segment's (the piece it lies on; a valve along one: both
    sides)."""
    pcs = net.pieces
    vptr, vpieces = pcs.vertex_pieces
    out: dict[str, np.ndarray] = {}
    unknown = []
    valve_of = {c: k for k, c in enumerate(net.valve_codes.tolist()) if c in along}
    for c in codes:
        if c in net.node_index:
            w = net.node_index[c]
            out[c] = pcs.zone[vpieces[vptr[w]:vptr[w + 1]]]
        elif c in net.seg_index:
            s = net.seg_index[c]
            out[c] = pcs.zone[_solid_pieces(pcs, int(pcs.seg_ptr[s]), int(pcs.seg_ptr[s + 1]))]
        elif c in along and along[c][0] in net.seg_index:
            if c in valve_of:
                w = int(pcs.valve_vertex[valve_of[c]])
                out[c] = pcs.zone[vpieces[vptr[w]:vptr[w + 1]]]
            else:
                out[c] = pcs.zone[[pcs.piece_at(net.seg_index[along[c][0]], along[c][1])]]
        else:
            unknown.append(c)
    if unknown:
        raise InputError(f"sources not in the {net.pipe_class} network (no current pipe point "
                         f"of it or on a current segment of it, and no current segment of it, "
                         f"has the code): {', '.join(unknown)}")
    return out


def _supplied(net: Network, source_zones: np.ndarray, in_z: np.ndarray,
              close: list[int]) -> np.ndarray:
    """Zones still joined to a source zone through open valves once ``close`` are shut."""
    pcs = net.pieces
    shut = np.zeros(len(net.valve_codes), dtype=bool)
    shut[close] = True
    k, a, b = pcs.valve_edges
    passes = (net.valve_state[k] == OPEN) & ~shut[k]
    a, b = a[passes], b[passes]
    keep = ~in_z[a] & ~in_z[b]
    labels = components(pcs.n_zones, a[keep], b[keep])
    fed = np.unique(labels[source_zones[~in_z[source_zones]]])
    return np.isin(labels, fed) & ~in_z
