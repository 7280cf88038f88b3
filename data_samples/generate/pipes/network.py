"""The pipe network of one class on the street grid: survey points and pipe segments.

Each class runs as a grid at its own offset from the street centrelines, continuing past the
outermost crossing, with survey points at most ``PIPE_SPACING`` apart; all in street-grid
coordinates (u, v), which ``survey`` turns into EPSG:4527.
"""

from __future__ import annotations

import math

from data_samples.generate.pipes.classes import GROUND_FALL, PIPE_SPACING, ROADS_U, ROADS_V


def ground_level(u, v, rng):
    """Ground elevation (1985 datum, m): a gentle slope, ±0.15 m undulation, ±2 cm noise."""
    f = u + 0.8 * v
    return 36.2 - GROUND_FALL * f + 0.15 * math.sin(u / 300.0) * math.cos(v / 400.0) \
        + rng.uniform(-0.02, 0.02)


def pipe_line_attrs(letters, wide, rng):
    """(material, size, burial, pressure, voltage, cables) of one pipe run."""
    if letters == "JS":
        return (("球墨铸铁", 400, "直埋", "0.4MPa", None, None) if wide
                else ("PE", 160, "直埋", "0.3MPa", None, None))
    if letters == "YS":
        return ("混凝土", 1000 if wide else 800, "直埋", None, None, None)
    if letters == "WS":
        return ("混凝土", 600, "直埋", None, None, None) if wide else \
            ("PVC", 500, "直埋", None, None, None)
    if letters == "RQ":
        return (("钢", "DN200", "直埋", "中压", None, None) if wide
                else ("PE", "DN110", "直埋", "中压", None, None))
    if letters == "RL":
        return ("钢", "DN400" if wide else "DN300", "直埋", None, None, None)
    if letters == "DL":
        return ("铜", "600×400", "管块", None, "10kV", int(rng.choice([6, 9, 12])))
    if letters == "TX":
        return ("光纤", "400×300", "管块", None, None, int(rng.choice([6, 12, 24])))
    raise ValueError(letters)


def build_network(letters, spec, us, vs, widths_u, widths_v, rng, drop=None):
    """Survey points and pipe segments of one class on the street grid (local u, v)."""
    off = spec["offset"]
    uu = [us[i] + off for i in spec["u"]]
    vv = [vs[j] + off for j in spec["v"]]
    nodes, order, edges = {}, [], []

    def node(key, u, v, kind, road):
        if key not in nodes:
            nodes[key] = {"u": u, "v": v, "kind": kind, "road": road, "k": 0}
            order.append(key)
        return key

    runs = []
    for li, U in enumerate(uu):  # N–S runs along u = const
        runs.append(("u", li, U, vv, spec["u"][li], ROADS_U[spec["u"][li]],
                     widths_u[spec["u"][li]] >= 20))
    for lj, V in enumerate(vv):  # E–W runs along v = const
        runs.append(("v", lj, V, uu, spec["v"][lj], ROADS_V[spec["v"][lj]],
                     widths_v[spec["v"][lj]] >= 20))
    for direction, li, pos, cross, _, road, wide in runs:
        lo = cross[0] - rng.uniform(20.0, 35.0)
        hi = cross[-1] + rng.uniform(20.0, 35.0)
        stops = [lo, *cross, hi]
        attrs = pipe_line_attrs(letters, wide, rng)
        year = int(rng.integers(1998, 2023))

        def key_at(idx, direction=direction, li=li, stops=stops):
            if idx == 0 or idx == len(stops) - 1:
                return ("e", direction, li, idx)
            c = idx - 1
            return ("x", li, c) if direction == "u" else ("x", c, li)

        def uv(t, direction=direction, pos=pos):
            return (pos, t) if direction == "u" else (t, pos)

        seq = []
        for idx in range(len(stops) - 1):
            a, b = stops[idx], stops[idx + 1]
            ka = key_at(idx)
            kind = "end" if ka[0] == "e" else "cross"
            seq.append(node(ka, *uv(a), kind, road))
            n = max(1, math.ceil((b - a) / PIPE_SPACING))
            for k in range(1, n):
                if drop and (direction, li, idx, k) in drop:
                    continue
                t = a + (b - a) * k / n + rng.uniform(-1.5, 1.5)
                seq.append(node(("m", direction, li, idx, k), *uv(t), "mid", road))
        kz = key_at(len(stops) - 1)
        seq.append(node(kz, *uv(stops[-1]), "end", road))
        for a, b in zip(seq[:-1], seq[1:]):
            edges.append({"a": a, "b": b, "run": (direction, li), "road": road, "attrs": attrs,
                          "year": year})
    return nodes, order, edges
