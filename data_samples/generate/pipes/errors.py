"""The 15 deliberate survey errors of the pipe survey (listed in data_samples/README.md).

Each class gets its own errors, seeded into the network after it is numbered: what
``cim qa pipes`` must find, and nothing else. Kept apart from the layout so the list of
errors reads in one place.
"""

from __future__ import annotations

import math

from data_samples.generate.pipes.network import ground_level, pipe_line_attrs


def seed_survey_errors(letters, segs, mid_points, new_no, rng):
    """Seed the errors of class ``letters`` into its segments (``segs`` is changed in place).

    Returns (extra_points, extra_rows, seeded): points and segment rows the surveyor appended
    at the end of the tables, and the errors as (rule, class, ids).
    """
    extra_points, extra_rows, seeded = [], [], []
    if letters == "JS":
        p = mid_points("u", 2)[3]
        extra_points.append({**p, "u": p["u"] + 0.35})  # the same number twice
        seeded.append(("duplicate_point", letters, [p["no"]]))
        q = mid_points("v", 1)[5]  # material changes here without a 变材 point
        on = False
        for s in segs:
            if s["run"] != ("v", 1):
                continue
            if s["a"] is q:
                on = True
            elif on and s["a"]["kind"] == "cross":
                break
            if on:
                s["attrs"] = ("钢",) + s["attrs"][1:]
        seeded.append(("point_inconsistent", letters, [q["no"]]))
        pa = mid_points("u", 4, feature="直线点")[2]  # surveyed twice, 3 cm apart
        i = next(i for i, s in enumerate(segs) if s["a"] is pa)
        pb = {**pa, "v": pa["v"] + 0.03}
        pb["no"], pb["map"] = new_no()
        extra_points.append(pb)
        segs.insert(i, {**segs[i], "a": pa, "b": pb})
        segs[i + 1]["a"] = pb
        seeded.append(("length_under_min", letters, [pa["no"], pb["no"]]))
    if letters == "YS":
        mains = [s for s in segs if s["run"][0] in ("u", "v") and s["a"]["kind"] == "mid"
                 and s["b"]["kind"] == "mid"]
        mains[10]["dz_a"] = 0.35  # 起点高程 mistyped
        seeded.append(("elevation_mismatch", letters,
                       [mains[10]["a"]["no"], mains[10]["b"]["no"]]))
        rev = mains[40]  # rises 0.15 m in flow direction
        rev["z_b"] = rev["a"]["invert"] + 0.15
        seeded.append(("reverse_slope", letters, [rev["a"]["no"], rev["b"]["no"]]))
    if letters == "WS":
        well = mid_points("v", 2)[2]
        extra_rows.append({"a": {"no": "WS9001", "g": well["g"],
                                 "invert": well["invert"] + 0.25},
                           "b": well, "road": well["road"], "year": 2016,
                           "attrs": ("PVC", 300, "直埋", None, None, None)})
        seeded.append(("missing_point", letters, ["WS9001", well["no"]]))
        deep = [s for s in segs if s["run"] == ("u", 1) and s["a"]["kind"] == "mid"][6]
        deep["d_a"], deep["d_b"] = 8.40, 8.50  # an inverted siphon under a culvert
        seeded.append(("depth_over_max", letters, [deep["a"]["no"], deep["b"]["no"]]))
    if letters == "RQ":
        tee = mid_points("v", 3, feature="直线点")[3]
        tee["feature"] = "三通"
        riser = {"u": tee["u"], "v": tee["v"] + 4.0, "kind": "riser", "road": tee["road"],
                 "feature": "出地", "appurt": None, "d": 0.20}
        riser["no"], riser["map"] = new_no()
        riser["g"] = round(ground_level(riser["u"], riser["v"], rng), 3)
        extra_points.append(riser)
        segs.append({"a": tee, "b": riser, "road": tee["road"], "year": 2015,
                     "attrs": ("钢", "DN50", "直埋", "中压", None, None), "run": ("lat", 0)})
        slope = ((tee["g"] - tee["d"]) - (riser["g"] - riser["d"])) / 4.0
        assert abs(slope) > 0.11, slope
        seeded.append(("steep_slope", letters, [tee["no"], riser["no"]]))
        valve = mid_points("u", 1, appurt="阀门")[1]
        valve["feature"] = "直线点"
        seeded.append(("feature_and_appurtenance", letters, [valve["no"]]))
        ref = mid_points("u", 2)[6]
        orphan = {"u": ref["u"] + 2.5, "v": ref["v"], "kind": "orphan",
                  "road": ref["road"], "feature": None, "appurt": "凝水缸"}
        orphan["no"], orphan["map"] = new_no()
        orphan["g"] = round(ground_level(orphan["u"], orphan["v"], rng), 3)
        extra_points.append(orphan)
        seeded.append(("orphan_point", letters, [orphan["no"]]))
    if letters == "RL":
        s = [s for s in segs if s["run"] == ("v", 1)][4]
        extra_rows.append({**s, "a": s["b"], "b": s["a"]})
        seeded.append(("reversed_segment", letters, [s["b"]["no"], s["a"]["no"]]))
        j = mid_points("u", 1, feature="直线点")[2]
        j["feature"] = "三通"
        seeded.append(("junction_degree", letters, [j["no"]]))
    if letters == "DL":
        p = mid_points("v", 2)[1]
        extra_rows.append({"a": p, "b": p, "road": p["road"], "year": 2012,
                           "attrs": pipe_line_attrs("DL", False, rng)})
        seeded.append(("self_loop", letters, [p["no"], p["no"]]))
    if letters == "TX":
        s = [s for s in segs if s["run"] == ("v", 3)][5]
        extra_rows.append(dict(s))
        seeded.append(("duplicate_segment", letters, [s["a"]["no"], s["b"]["no"]]))
        long = [s for s in segs if s["run"] == ("u", 1)
                and math.dist((s["a"]["u"], s["a"]["v"]), (s["b"]["u"], s["b"]["v"])) > 75]
        assert len(long) == 1, "the dropped TX point must leave one long segment"
        seeded.append(("length_over_max", letters, [long[0]["a"]["no"], long[0]["b"]["no"]]))
    return extra_points, extra_rows, seeded
