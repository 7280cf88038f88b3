"""The building survey of the sample set: 1500 footprints along a rotated street grid.

Blocks are handed out nearest each district's development core first (offices and estates
in the north, industry and villages in the south), then two footprints are made
self-intersecting and three heights NULL: the imperfections a loader must cope with. The
street grid is returned too, because the pipe survey and the component census follow it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from data_samples.generate.attributes import building_attributes, building_height
from data_samples.generate.blocks import footprint_local, layout_block
from data_samples.generate.files import write_gbk_shapefile
from data_samples.generate.frame import N_SAMPLE_BUILDINGS, STORAGE_CRS, rotation
from data_samples.generate.vocabulary import (
    COMPANIES,
    ESTATES_NEW,
    ESTATES_OLD,
    HOSPITALS,
    LOGISTICS,
    OFFICES,
    PLAZAS,
    SCHOOLS,
    VILLAGES,
)

# Order in which block types are handed out, nearest to each development core first:
# an urban core in the northern district and a township core in the southern one.
_PROGRAM_NORTH = (
    "office", "commercial", "highrise", "mixed", "highrise", "office", "commercial",
    "highrise", "school", "mixed", "highrise", "hospital", "old_res", "highrise",
    "old_res", "commercial", "school", "old_res", "highrise", "old_res", "village",
    "highrise", "old_res", "village", "highrise", "village", "old_res", "village",
)
_PROGRAM_SOUTH = (
    "industrial", "village", "school", "old_res", "warehouse", "industrial", "commercial",
    "village", "highrise", "industrial", "warehouse", "village", "industrial", "village",
    "old_res", "village", "industrial", "village", "village", "village",
)
_SOUTH_SHARE = 0.3  # share of the survey's buildings in the southern district


def make_buildings(frame, districts, rng, count=N_SAMPLE_BUILDINGS, streets=None):
    """The building survey GeoDataFrame (EPSG:4527) plus a dict of imperfections.

    ``streets``, if a dict, receives the street grid the blocks are laid out on (the pipe
    survey follows it); filling it draws nothing from ``rng``.
    """
    import geopandas as gpd

    x0, y0, x1, y1 = frame
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    theta = -3.5  # street grid rotation, degrees
    R = rotation(theta)
    area = shapely.box(x0 + 25, y0 + 25, x1 - 25, y1 - 25)
    # a building-free oval standing in for the 太白湖 water surface (not exported)
    lake = shapely.affinity.scale(shapely.Point(x0 + 2500, y0 + 2700).buffer(1.0, 64), 1350, 900)
    lake_zone = lake.buffer(80)
    divide = shapely.LineString(list(districts[0][2].exterior.coords)).intersection(
        districts[1][2].exterior
    )
    divide_zone = divide.buffer(6.0)
    shapely.prepare(divide_zone)
    north_poly = districts[0][2]
    cores = {"north": np.array([x0 + 5000.0, y0 + 5300.0]), "south": np.array([x0 + 5400.0, y0 + 2900.0])}

    def lines(extent):
        vals, i, pos = [], 0, -extent
        while pos <= extent:
            vals.append((pos, 20.0 if i % 3 == 0 else 10.0))
            pos += rng.uniform(280.0, 420.0)
            i += 1
        return vals

    ul, vl = lines(4900.0), lines(5300.0)
    if streets is not None:
        streets.update(ul=list(ul), vl=list(vl), theta=theta, cx=cx, cy=cy, lake=lake_zone)
    blocks = {"north": [], "south": []}
    for i in range(len(ul) - 1):
        for j in range(len(vl) - 1):
            setback = 8.0
            bu0 = ul[i][0] + ul[i][1] + setback
            bu1 = ul[i + 1][0] - ul[i + 1][1] - setback
            bv0 = vl[j][0] + vl[j][1] + setback
            bv1 = vl[j + 1][0] - vl[j + 1][1] - setback
            centre_local = np.array([(bu0 + bu1) / 2, (bv0 + bv1) / 2])
            corners = np.array([(bu0, bv0), (bu1, bv0), (bu1, bv1), (bu0, bv1)]) @ R.T + [cx, cy]
            poly = Polygon(corners)
            if not area.contains(poly) or poly.intersects(lake_zone):
                continue
            c_world = centre_local @ R.T + [cx, cy]
            side = "north" if north_poly.contains(shapely.Point(c_world)) else "south"
            blocks[side].append({
                "centre_local": centre_local, "hw": (bu1 - bu0) / 2, "hh": (bv1 - bv0) / 2,
                "dist": float(np.hypot(*(c_world - cores[side]))),
            })

    name_pools = {
        "highrise": list(ESTATES_NEW), "old_res": list(ESTATES_OLD), "village": list(VILLAGES),
        "school": list(SCHOOLS), "hospital": list(HOSPITALS), "commercial": list(PLAZAS),
        "mixed": list(PLAZAS[::-1]), "industrial": list(COMPANIES), "warehouse": list(LOGISTICS),
        "office": list(OFFICES),
    }
    for pool in name_pools.values():
        rng.shuffle(pool)
    used = {k: 0 for k in name_pools}

    def survey(side, program, target):
        """Buildings of the blocks nearest the side's core, until ``target`` are placed."""
        bl = blocks[side]
        keys = [b["dist"] + rng.normal(0.0, 500.0) for b in bl]
        recs, gs, prog_i = [], [], 0
        for bi in np.argsort(keys, kind="stable"):
            if len(recs) >= target or prog_i >= len(program):
                break
            b = bl[bi]
            if rng.random() < 0.3:  # vacant / green block
                continue
            btype = program[prog_i]
            prog_i += 1
            ctx = {}
            if btype == "mixed":
                pool = name_pools["mixed"]
                ctx["place"] = pool[used["mixed"] % len(pool)].replace("商业街", "") + "公寓"
                used["mixed"] += 1
            else:
                pool = name_pools[btype]
                ctx["place"] = pool[used[btype] % len(pool)]
                used[btype] += 1
            block_geoms = []
            for s in layout_block(rng, btype, b["hw"], b["hh"]):
                ring = footprint_local(s["w"], s["h"], s.get("notch"))
                ring = ring @ rotation(s["rot"]).T + [s["u"], s["v"]] + b["centre_local"]
                g = Polygon(np.round(ring @ R.T + [cx, cy], 3))
                if not g.is_valid or divide_zone.intersects(g):
                    continue
                if block_geoms and shapely.intersects(g, block_geoms).any():
                    continue
                name, use, struct, fl, ub, year = building_attributes(rng, s["kind"], ctx)
                block_geoms.append(g)
                recs.append({
                    "建筑名称": name, "建筑用途": use, "结构": struct, "地上层数": fl,
                    "地下层数": ub, "建筑高度": building_height(rng, fl), "建成年代": year,
                    "_rect": s.get("notch") is None,
                })
            gs.extend(block_geoms)
        if len(recs) < target:
            raise RuntimeError(f"only {len(recs)} buildings fit in the {side}; extend the program")
        return recs[:target], gs[:target]

    n_south = int(round(count * _SOUTH_SHARE))
    rn, gn = survey("north", _PROGRAM_NORTH, count - n_south)
    rs, gsouth = survey("south", _PROGRAM_SOUTH, n_south)
    records, geoms = rn + rs, gn + gsouth

    df = pd.DataFrame(records)
    df.insert(0, "编号", [f"JZ{i:06d}" for i in range(1, count + 1)])

    # ---- deliberate imperfections -------------------------------------------------
    rect_idx = np.flatnonzero(df["_rect"].to_numpy())
    picks = rng.choice(rect_idx, size=5, replace=False)
    bowtie_idx = sorted(int(i) for i in picks[:2])
    null_idx = sorted(int(i) for i in picks[2:])
    for i in bowtie_idx:
        a, b_, c, d = list(geoms[i].exterior.coords)[:4]
        geoms[i] = Polygon([a, c, b_, d])  # digitising slip: two corners swapped
    df.loc[null_idx, "建筑高度"] = np.nan

    df = df.drop(columns="_rect")
    for col in ("地上层数", "地下层数", "建成年代"):
        df[col] = df[col].astype("int32")
    df["建筑高度"] = df["建筑高度"].astype("float64")
    gdf = gpd.GeoDataFrame(df, geometry=geoms, crs=STORAGE_CRS)
    imperfections = {
        "bowtie": [df.at[i, "编号"] for i in bowtie_idx],
        "null_height": [df.at[i, "编号"] for i in null_idx],
    }
    return gdf, imperfections


def write_survey_shapefile(gdf, path: Path) -> None:
    """Write the survey as surveyors deliver it: GBK .dbf, no .cpg."""
    write_gbk_shapefile(gdf, path, "Polygon")
