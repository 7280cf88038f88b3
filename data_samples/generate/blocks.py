"""Block layouts: where the footprints of one street block go, by block type.

Each block type (high-rise estate, village, school, industrial …) packs its own mix of
footprint sizes, so the survey looks like a real district rather than a uniform lattice.
Coordinates are block-local; ``buildings`` rotates them onto the street grid.
"""

from __future__ import annotations

import numpy as np


def footprint_local(w: float, h: float, notch=None) -> np.ndarray:
    """Ring (without closing point) of a w x h rectangle or L-shape centred at 0,0.

    notch = (corner, nw, nh) cuts an nw x nh rectangle out of corner 0..3
    (0 = +u+v, 1 = -u+v, 2 = -u-v, 3 = +u-v).
    """
    hw, hh = w / 2.0, h / 2.0
    if notch is None:
        return np.array([(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)])
    corner, nw, nh = notch
    pts = np.array([(-hw, -hh), (hw, -hh), (hw, hh - nh), (hw - nw, hh - nh), (hw - nw, hh), (-hw, hh)])
    sx = 1.0 if corner in (0, 3) else -1.0
    sy = 1.0 if corner in (0, 1) else -1.0
    pts = pts * np.array([sx, sy])
    if sx * sy < 0:  # mirroring flipped the orientation; restore counter-clockwise
        pts = pts[::-1]
    return pts


def _pack(rng, region, items, gap_u, gap_v, jitter_deg=1.5):
    """Greedy row packing of items into region (u0, v0, u1, v1), rows from the top.

    ``items`` yields dicts with w, h (and anything else); returns the placed dicts
    with centre u, v and rotation jitter ``rot``.
    """
    u0, v0, u1, v1 = region
    placed = []
    v_top = v1
    it = iter(items)
    pending = next(it, None)
    while pending is not None:
        row, u = [], u0
        while pending is not None and u + pending["w"] <= u1:
            pending = dict(pending)
            pending["u"] = u + pending["w"] / 2.0
            row.append(pending)
            u += pending["w"] + rng.uniform(*gap_u)
            pending = next(it, None)
        if not row:  # an item wider than the region: skip it
            pending = next(it, None)
            continue
        row_h = max(b["h"] for b in row)
        if v_top - row_h < v0:
            break
        for b in row:
            b["v"] = v_top - row_h / 2.0 + rng.uniform(-1.0, 1.0) * (row_h - b["h"]) / 2.0
            b["rot"] = rng.uniform(-jitter_deg, jitter_deg)
        placed.extend(row)
        v_top -= row_h + rng.uniform(*gap_v)
    return placed


def _maybe_l(rng, w, h, p):
    if w >= 30 and h >= 30 and rng.random() < p:
        return (int(rng.integers(0, 4)), rng.uniform(10.2, w - 15.0), rng.uniform(10.2, h - 15.0))
    return None


def layout_block(rng, btype, hw, hh):
    """Buildings of one block, in block-local coordinates (inner half sizes hw, hh)."""
    region = (-hw, -hh, hw, hh)
    U = rng.uniform

    def gen(fn):
        while True:
            yield fn()

    if btype == "highrise":
        depth = U(12, 16)
        return _pack(rng, region, gen(lambda: {"w": U(30, 60), "h": depth, "kind": "res_hi"}),
                     (15, 25), (32, 45))
    if btype == "old_res":
        depth = U(10, 12)
        return _pack(rng, region, gen(lambda: {"w": U(36, 60), "h": depth, "kind": "res_old"}),
                     (8, 14), (14, 20))
    if btype == "mixed":
        def f():
            w, h = U(25, 45), U(18, 28)
            return {"w": w, "h": h, "kind": "mixed", "notch": None}
        return _pack(rng, region, gen(f), (18, 30), (22, 32))
    if btype == "commercial":
        def f():
            w, h = U(40, 79.5), U(25, 60)
            return {"w": w, "h": h, "kind": "com", "notch": _maybe_l(rng, w, h, 0.35)}
        return _pack(rng, region, gen(f), (15, 25), (18, 28))
    if btype == "office":
        def f():
            w, h = U(25, 45), U(20, 35)
            return {"w": w, "h": h, "kind": "office", "notch": _maybe_l(rng, w, h, 0.2)}
        return _pack(rng, region, gen(f), (20, 35), (20, 35))
    if btype == "village":
        out = []
        su, sv = U(16.5, 19.0), U(16.5, 19.0)
        nu, nv = int(2 * hw // su), int(2 * hh // sv)
        for j in range(nv):
            for i in range(nu):
                if rng.random() > 0.86:
                    continue
                edge = i == 0 or j == 0 or i == nu - 1 or j == nv - 1
                if rng.random() < 0.12:
                    w, h, kind = U(10.2, 12), U(10.2, 12), "shed"
                else:
                    w, h = U(10.2, 14), U(10.2, 15)
                    kind = "shop" if (edge and rng.random() < 0.35) else "house"
                h = min(h, sv - 2.5)
                mu, mv = (su - w) / 2 - 1.2, (sv - h) / 2 - 1.2
                out.append({
                    "w": w, "h": h, "kind": kind,
                    "u": -hw + (i + 0.5) * su + U(-mu, mu) * 0.5,
                    "v": hh - (j + 0.5) * sv + U(-mv, mv) * 0.5,
                    "rot": U(-3.0, 3.0),
                })
        return out
    if btype == "school":
        items = [
            {"w": 70, "h": 45, "kind": "sch_teach", "notch": (int(rng.integers(0, 4)), 45, 25)},
            {"w": U(50, 60), "h": 16, "kind": "sch_teach"},
            {"w": U(40, 50), "h": 16, "kind": "sch_lab"},
            {"w": U(35, 45), "h": 15, "kind": "sch_admin"},
            {"w": U(50, 60), "h": 14, "kind": "sch_dorm"},
            {"w": U(50, 60), "h": 14, "kind": "sch_dorm"},
            {"w": U(35, 45), "h": U(25, 32), "kind": "sch_canteen"},
            {"w": U(45, 55), "h": U(30, 38), "kind": "sch_gym"},
            {"w": 12, "h": 10.5, "kind": "shed"},
        ]
        # the southern part of the block is the sports ground
        return _pack(rng, (-hw, -hh * 0.15, hw, hh), items, (15, 25), (18, 25))
    if btype == "hospital":
        items = [
            {"w": 70, "h": 50, "kind": "hos_out", "notch": (int(rng.integers(0, 4)), 35, 25)},
            {"w": U(55, 65), "h": 18, "kind": "hos_in"},
            {"w": U(55, 65), "h": 18, "kind": "hos_in"},
            {"w": U(45, 55), "h": U(28, 35), "kind": "hos_tech"},
            {"w": U(30, 40), "h": U(18, 22), "kind": "hos_er"},
            {"w": U(30, 40), "h": 15, "kind": "hos_admin"},
            {"w": U(35, 45), "h": 15, "kind": "hos_ward"},
            {"w": 15, "h": 12, "kind": "boiler"},
            {"w": 11, "h": 10.5, "kind": "shed"},
        ]
        return _pack(rng, region, items, (18, 26), (20, 28))
    if btype == "industrial":
        def f():
            r = rng.random()
            if r < 0.15:
                return {"w": U(10.2, 12), "h": U(10.2, 11), "kind": "shed"}
            if r < 0.35:
                return {"w": U(40, 70), "h": U(20, 30), "kind": "ind_store"}
            w, h = U(40, 79.5), U(20, 60)
            return {"w": w, "h": h, "kind": "ind_shed", "notch": _maybe_l(rng, w, h, 0.15)}

        def g():
            yield {"w": U(25, 35), "h": U(14, 18), "kind": "ind_office"}
            yield {"w": 10.5, "h": 10.5, "kind": "guard"}
            while True:
                yield f()
        return _pack(rng, region, g(), (12, 20), (15, 25))
    if btype == "warehouse":
        def g():
            yield {"w": U(25, 35), "h": U(14, 18), "kind": "ind_office"}
            while True:
                yield {"w": U(60, 79.5), "h": U(25, 40), "kind": "wh"}
        return _pack(rng, region, g(), (12, 18), (25, 32))
    raise ValueError(btype)
