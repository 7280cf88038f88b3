"""The surveyors' point and segment tables of every class (地下管线普查成果表).

Numbers the points in survey order, gives them ground elevations, depths, characteristic
points (特征) and appurtenances (附属物), adds the storm inlets, seeds the survey errors and
lays the tables out as surveyors deliver them (X = northing, Y = zone-prefixed easting).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_samples.generate.frame import rotation
from data_samples.generate.pipes.classes import (
    DRAIN_FALL,
    GROUND_FALL,
    PIPE_CLASSES,
    PIPE_U_RANGE,
    PIPE_V_RANGE,
    POINT_COLUMNS,
    SEGMENT_COLUMNS,
)
from data_samples.generate.pipes.errors import seed_survey_errors
from data_samples.generate.pipes.network import build_network, ground_level


def make_pipe_survey(streets, rng):
    """The pipe survey of the sample area: per class a point table and a segment table.

    Returns (tables, seeded, pipe_points) where ``tables`` maps class letters to
    (points DataFrame, segments DataFrame) in the surveyors' column layout (X = northing,
    Y = zone-prefixed easting), ``seeded`` lists the deliberate survey errors as
    (rule, class, ids) and ``pipe_points`` holds (letters, 特征, 附属物, x, y) of every point
    (the component census puts manhole covers on the wells).
    """
    R, cx, cy = rotation(streets["theta"]), streets["cx"], streets["cy"]
    u_all = [(p, w) for p, w in streets["ul"] if PIPE_U_RANGE[0] < p < PIPE_U_RANGE[1]]
    v_all = [(p, w) for p, w in streets["vl"] if PIPE_V_RANGE[0] < p < PIPE_V_RANGE[1]]
    assert len(u_all) == 5 and len(v_all) == 6, (u_all, v_all)
    us, wu = [p for p, _ in u_all], [w for _, w in u_all]
    vs, wv = [p for p, _ in v_all], [w for _, w in v_all]

    def world(u, v):
        x, y = np.array([u, v]) @ R.T + [cx, cy]
        return round(float(x), 3), round(float(y), 3)

    tables, seeded, pipe_points = {}, [], []
    for letters, spec in PIPE_CLASSES.items():
        drop = {("u", 1, 2, 4)} if letters == "TX" else None  # a 90 m segment (length_over_max)
        nodes, order, edges = build_network(letters, spec, us, vs, wu, wv, rng, drop)
        drainage = "d0" in spec
        # numbering, ground, depth and features
        for n_, key in enumerate(order, start=1):
            nd = nodes[key]
            nd["no"] = f"{letters}{n_:04d}"
            nd["map"] = f"{spec['map']}{n_}"
            nd["g"] = round(ground_level(nd["u"], nd["v"], rng), 3)
            nd["feature"], nd["appurt"] = None, None
            if drainage:
                nd["appurt"] = "窨井"
                f = nd["u"] + 0.8 * nd["v"]
                nd["invert"] = 36.2 - spec["d0"] - GROUND_FALL * f - (DRAIN_FALL - GROUND_FALL) * (
                    f - (min(us) + 0.8 * min(vs) - 60))
            else:
                base, sd = spec["depth"]
                nd["d"] = round(max(0.5, float(rng.normal(base, sd))), 2)
        counter = [len(order)]

        def new_no(counter=counter, letters=letters, spec=spec):
            counter[0] += 1
            return f"{letters}{counter[0]:04d}", f"{spec['map']}{counter[0]}"

        for key in order:
            nd = nodes[key]
            if drainage:
                continue
            if nd["kind"] == "cross":
                if letters in ("DL", "TX"):
                    nd["appurt"] = "窨井"
                else:
                    nd["feature"] = "四通"
            elif nd["kind"] == "end":
                nd["feature"] = "预留口"
            else:
                k = key[4]
                if letters == "JS" and k % 4 == 1:
                    nd["appurt"] = "阀门"
                elif letters == "JS" and k % 7 == 3:
                    nd["appurt"] = "消防栓"
                elif letters == "RQ" and k % 5 == 2:
                    nd["appurt"] = "阀门"
                elif letters == "RQ" and k % 9 == 4:
                    nd["appurt"] = "凝水缸"
                elif letters == "RL" and k % 3 == 1:
                    nd["appurt"] = "检修井"
                elif letters == "DL" and k % 2 == 0:
                    nd["appurt"] = "窨井"
                elif letters == "TX" and k % 2 == 1:
                    nd["appurt"] = "手孔"
                else:
                    nd["feature"] = "直线点"

        def mid_points(direction, li, feature=None, appurt=None, nodes=nodes, order=order):
            return [nodes[k] for k in order if k[0] == "m" and k[1] == direction and k[2] == li
                    and (feature is None or nodes[k]["feature"] == feature)
                    and (appurt is None or nodes[k]["appurt"] == appurt)]

        # segments: sewers fall from lower to higher f = u + 0.8 v; others follow the street
        segs = []
        for e in edges:
            a, b = nodes[e["a"]], nodes[e["b"]]
            if drainage and (b["u"] + 0.8 * b["v"]) < (a["u"] + 0.8 * a["v"]):
                a, b = b, a
            segs.append({**e, "a": a, "b": b})
        extra_points = []
        if letters == "YS":  # storm inlets (雨水箅) on laterals to every third well
            for key in order:
                nd = nodes[key]
                if nd["kind"] != "mid" or key[4] % 3 != 2:
                    continue
                du, dv = (-7.0, 0.0) if key[1] == "u" else (0.0, -7.0)
                inlet = {"u": nd["u"] + du, "v": nd["v"] + dv, "kind": "inlet",
                         "road": nd["road"], "feature": None, "appurt": "雨水箅"}
                inlet["no"], inlet["map"] = new_no()
                inlet["g"] = round(ground_level(inlet["u"], inlet["v"], rng), 3)
                inlet["invert"] = inlet["g"] - 0.9
                extra_points.append(inlet)
                segs.append({"a": inlet, "b": nd, "road": nd["road"], "year": 2010,
                             "attrs": ("PVC", 300, "直埋", None, None, None),
                             "z_b": inlet["invert"] - 0.02 * 7.0, "run": ("lat", 0)})
        # ---- deliberate survey errors (listed in data_samples/README.md) -----------------
        # extra_rows: segment rows the surveyor appended at the end of the table
        err_points, extra_rows, err_seeded = seed_survey_errors(letters, segs, mid_points,
                                                                new_no, rng)
        extra_points.extend(err_points)
        seeded.extend(err_seeded)
        # ---- tables ----------------------------------------------------------------------
        prow = []
        for nd in [nodes[k] for k in order] + extra_points:
            x, y = world(nd["u"], nd["v"])
            prow.append({"图上点号": nd.get("map"), "物探点号": nd["no"],
                         "特征": nd.get("feature"), "附属物": nd.get("appurt"),
                         "X": y, "Y": x, "地面高程": nd["g"], "道路名称": nd["road"],
                         "备注": None})
            pipe_points.append((letters, nd.get("feature"), nd.get("appurt"), x, y))
        srow = []
        for s in segs + extra_rows:
            a, b = s["a"], s["b"]
            if drainage:
                za, zb = a["invert"], s.get("z_b", b.get("invert"))
                da, db = round(a["g"] - za, 2), round(b["g"] - zb, 2)
            else:
                da, db = a["d"], b["d"]
            da, db = s.get("d_a", da), s.get("d_b", db)
            ea, eb = round(a["g"] - da, 3), round(b["g"] - db, 3)
            ea = round(ea + s.get("dz_a", 0.0), 3)
            mat, size, burial, pressure, voltage, cables = s["attrs"]
            srow.append({"起始点号": a["no"], "终止点号": b["no"], "起点埋深": da, "终点埋深": db,
                         "起点高程": ea, "终点高程": eb, "埋设方式": burial, "材质": mat,
                         "管径": size, "压力": pressure, "电压": voltage, "电缆条数": cables,
                         "权属单位": spec["owner"], "建设年代": s["year"],
                         "道路名称": s["road"], "备注": None})
        tables[letters] = (pd.DataFrame(prow, columns=POINT_COLUMNS),
                           pd.DataFrame(srow, columns=SEGMENT_COLUMNS))
    return tables, seeded, pipe_points
