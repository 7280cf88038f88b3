#!/usr/bin/env python
"""Deterministic generator of the committed Jining (济宁) sample data set.

Writes a small, realistic sample area around 太白湖新区 (Jining, Shandong), in the
city's storage CRS EPSG:4527 (CGCS2000 / 3-degree Gauss-Kruger zone 39, zone-prefixed
eastings):

* ``profile.yaml``                 city profile (districts, storage CRS, file locations)
* ``boundaries.gpkg``              layer ``districts``: two SYNTHETIC district polygons
* ``grid_cells.gpkg``              layer ``grid_cells``: ~500 m unit grid cells (15-digit codes)
* ``buildings/buildings_survey.*`` a building survey shapefile with a GBK ``.dbf``, Chinese
                                   field names and no ``.cpg`` (as surveyors deliver it)

Usage::

    python data_samples/generate.py [--out DIR]                 # sample set (default data_samples/jining)
    python data_samples/generate.py buildings --count N --out FILE.gpkg [--seed S] [--chunk C]
    python data_samples/generate.py verify [--out DIR]          # re-check an existing sample set

Everything is generated from seeded ``numpy.random.default_rng`` generators, and the DBF
"last update" date and the GeoPackage timestamps are pinned, so running the generator
twice gives byte-identical files.

The module has no import-time side effects; benchmarks can load it by path and call
:func:`write_buildings_gpkg`.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

__all__ = [
    "BUILDING_FIELDS",
    "BUILDING_USES",
    "STRUCTURES",
    "STORAGE_CRS",
    "generate_sample_set",
    "verify_sample_set",
    "write_buildings_gpkg",
    "make_buildings_chunk",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

STORAGE_CRS = "EPSG:4527"  # CGCS2000 / 3-degree GK zone 39 (false easting 39 500 000)
CENTER_LONLAT = (116.605, 35.355)  # near 太白湖新区, Jining
AREA_WIDTH = 8000.0  # metres, east-west
AREA_HEIGHT = 9000.0  # metres, north-south
CELL_SIZE = 500.0  # unit grid cell size, metres
SAMPLE_SEED = 20240630
N_SAMPLE_BUILDINGS = 1500
PINNED_DATE = "2024-06-30"  # DBF header date / GeoPackage timestamps (determinism)
GRID_SNAP = 0.001  # metres; precision grid for overlay operations

DISTRICTS = (
    ("370811", "任城区"),  # northern part
    ("370826", "微山县"),  # southern part
)

BUILDING_USES = ("住宅", "商业", "办公", "工业", "教育", "医疗", "仓储", "商住混合", "其他")
STRUCTURES = ("钢混", "砖混", "钢结构", "砖木", "其他")

# Field name -> kind ("str", "int", "float"); order is the on-disk order.
BUILDING_FIELDS = {
    "编号": "str",
    "建筑名称": "str",
    "建筑用途": "str",
    "结构": "str",
    "地上层数": "int",
    "地下层数": "int",
    "建筑高度": "float",
    "建成年代": "int",
}

PROFILE_YAML = """\
# City profile: the city, its storage CRS, its districts and where boundaries/grid/dictionaries live.
city:
  name: 济宁市
  admin_code: "370800"
storage_crs: EPSG:4527        # CGCS2000 / 3-degree Gauss-Kruger zone 39 (zone-prefixed eastings)
districts:
  - {code: "370811", name: 任城区}
  - {code: "370826", name: 微山县}
boundaries: boundaries.gpkg   # layer "districts": code, name, geometry (relative to this file)
grid: grid_cells.gpkg         # layer "grid_cells": code (15 digits), name, district_code, geometry
dictionaries: {}              # per-city overrides of cim/dictionaries/*.csv, by dictionary name
"""

# Fictitious names used for the survey attributes (any resemblance is coincidental).
ESTATES_NEW = (
    "太白湖小区", "湖畔花园", "荷花苑", "康桥华府", "翰林苑", "圣贤家园", "东方名苑",
    "明珠花园", "锦绣华城", "北湖嘉园", "湖景湾", "蓝湖国际", "运河新城", "书香门第",
    "杏坛花园", "御湖山庄",
)
ESTATES_OLD = (
    "洸河新村", "济安小区", "建设路宿舍", "化肥厂家属院", "红星新村", "电业局宿舍",
    "粮食局家属院", "南池小区", "古槐新村", "供销社宿舍",
)
VILLAGES = ("王庄村", "李营村", "南张村", "刘庄村", "后营村", "周庄村", "许庄村", "陈庄村",
            "石佛村", "马营村")
SCHOOLS = ("济宁市第一中学", "太白湖新区实验小学", "济宁市第十五中学", "任城区第二实验小学",
           "微山县第二中学", "济宁学院附属中学")
HOSPITALS = ("济宁市太白湖医院", "任城区人民医院", "济宁市中医院东院区")
PLAZAS = ("太白湖商业中心", "湖东商业街", "圣地商业广场", "运河城购物中心", "荷花路商业街")
OFFICES = ("太白湖新区政务服务中心", "济宁高新科技大厦", "太白湖金融中心", "济宁市民中心",
           "创业大厦", "太白湖新区管委会", "太白湖科技园")
COMPANIES = ("济宁鲁科机械有限公司", "济宁华力纺织有限公司", "济宁金泰食品有限公司",
             "济宁恒瑞建材有限公司", "济宁宏达包装有限公司", "济宁运通汽车配件有限公司")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LOGISTICS = ("太白湖物流园", "鲁南商贸物流园", "济宁南站货运中心")


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _pinned_gdal_date():
    """Pin the timestamps GDAL writes into GeoPackages (byte-identical reruns)."""
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_DATE + "T00:00:00.000Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def _remove_dataset(path: Path) -> None:
    """Remove a file (and, for a shapefile, its sidecars) if present."""
    path = Path(path)
    if path.suffix.lower() == ".shp":
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml"):
            p = path.with_suffix(ext)
            if p.exists():
                p.unlink()
    else:
        for p in (path, Path(str(path) + "-journal"), Path(str(path) + "-wal"),
                  Path(str(path) + "-shm")):
            if p.exists():
                p.unlink()


def _area_frame():
    """Return (x0, y0, x1, y1) of the sample area in EPSG:4527 (500 m aligned)."""
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", STORAGE_CRS, always_xy=True)
    e, n = tr.transform(*CENTER_LONLAT)
    x0 = round((e - AREA_WIDTH / 2) / CELL_SIZE) * CELL_SIZE
    y0 = round((n - AREA_HEIGHT / 2) / CELL_SIZE) * CELL_SIZE
    return float(x0), float(y0), float(x0 + AREA_WIDTH), float(y0 + AREA_HEIGHT)


def _rot(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def _footprint_local(w: float, h: float, notch=None) -> np.ndarray:
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


# --------------------------------------------------------------------------------------
# Districts and grid
# --------------------------------------------------------------------------------------


def _with_grid_nodes(line, x0, y0):
    """Insert the crossings of ``line`` with the 500 m grid lines as vertices.

    The crossing is rounded to 1 mm on the free axis, so clipping the grid cells with
    the districts only ever meets existing vertices and the cells tile each district
    exactly (no computed intersection points that differ between neighbours).
    """
    out = [tuple(line[0])]
    for (px, py), (qx, qy) in zip(line[:-1], line[1:]):
        nodes = []
        for lo, hi, origin, axis in ((px, qx, x0, 0), (py, qy, y0, 1)):
            a, b = min(lo, hi), max(lo, hi)
            k = math.floor((a - origin) / CELL_SIZE) + 1
            while origin + k * CELL_SIZE < b:
                g = origin + k * CELL_SIZE
                t = (g - lo) / (hi - lo)
                if axis == 0:
                    nodes.append((t, (g, round(py + t * (qy - py), 3))))
                else:
                    nodes.append((t, (round(px + t * (qx - px), 3), g)))
                k += 1
        for _, p in sorted(nodes):
            if p != out[-1]:
                out.append(p)
        if (qx, qy) != out[-1]:
            out.append((float(qx), float(qy)))
    return np.array(out)


def make_districts(frame, rng):
    """Two non-overlapping district polygons sharing an irregular boundary.

    Returns (north_polygon, south_polygon, divide_coords).
    """
    x0, y0, x1, y1 = frame
    n = 41  # vertices along the divide (about 200 m apart)
    xs = np.linspace(x0, x1, n)
    xs[1:-1] += rng.uniform(-60.0, 60.0, n - 2)
    t = (xs - x0) / (x1 - x0)
    base = y0 + 4100.0
    wave = (
        260.0 * np.sin(2 * math.pi * (1.3 * t + 0.15))
        + 120.0 * np.sin(2 * math.pi * (3.7 * t + 0.6))
    )
    noise = np.convolve(rng.normal(0.0, 45.0, n + 4), np.ones(5) / 5.0, mode="valid")
    ys = base + wave + noise
    line = np.round(np.column_stack([xs, ys]), 2)
    line[0, 0], line[-1, 0] = x0, x1
    line = _with_grid_nodes(line, x0, y0)

    north = Polygon([(x0, y1)] + [tuple(p) for p in line] + [(x1, y1)])
    south = Polygon([(x0, y0), (x1, y0)] + [tuple(p) for p in line[::-1]])
    north, south = orient(north), orient(south)
    assert north.is_valid and south.is_valid
    return north, south, line


def make_grid_cells(districts):
    """Clip a 500 m lattice to each district; merge slivers; assign 15-digit codes.

    ``districts`` is a list of (code, name, polygon). Returns a list of dict rows.
    """
    rows = []
    minx = min(p.bounds[0] for _, _, p in districts)
    maxy = max(p.bounds[3] for _, _, p in districts)
    sliver = 0.1 * CELL_SIZE * CELL_SIZE
    n_streets = {"370811": 3, "370826": 2}
    for code, name, poly in districts:
        bx0, by0, bx1, by1 = poly.bounds
        c0 = int(math.floor((bx0 - minx) / CELL_SIZE + 1e-9))
        c1 = int(math.ceil((bx1 - minx) / CELL_SIZE - 1e-9))
        r0 = int(math.floor((maxy - by1) / CELL_SIZE + 1e-9))
        r1 = int(math.ceil((maxy - by0) / CELL_SIZE - 1e-9))
        pieces = []  # [geometry, col, row]
        for r in range(r0, r1):
            for c in range(c0, c1):
                cx0 = minx + c * CELL_SIZE
                cy1 = maxy - r * CELL_SIZE
                cell = shapely.box(cx0, cy1 - CELL_SIZE, cx0 + CELL_SIZE, cy1)
                inter = shapely.intersection(cell, poly, grid_size=GRID_SNAP)
                for part in shapely.get_parts(inter):
                    if part.geom_type == "Polygon" and part.area > 0:
                        pieces.append([part, c, r])
        # merge slivers into the neighbour with the longest shared border
        while True:
            small = [i for i, p in enumerate(pieces) if p[0].area < sliver]
            if not small:
                break
            i = min(small, key=lambda k: (pieces[k][0].area, pieces[k][2], pieces[k][1]))
            g = pieces[i][0]
            best, best_len = None, 0.0
            for j, q in enumerate(pieces):
                if j == i or not g.intersects(q[0]):
                    continue
                shared = shapely.intersection(g.boundary, q[0].boundary, grid_size=GRID_SNAP).length
                if shared > best_len + 1e-9:
                    best, best_len = j, shared
            if best is None:  # isolated sliver: keep it as its own cell
                sliver_keep = pieces.pop(i)
                sliver_keep[0] = shapely.set_precision(sliver_keep[0], GRID_SNAP)
                pieces.append(sliver_keep)
                sliver = min(sliver, sliver_keep[0].area)  # avoid infinite loop
                continue
            merged = shapely.union(pieces[best][0], g, grid_size=GRID_SNAP)
            pieces[best][0] = merged
            pieces.pop(i)

        # streets: bands of columns (west -> east); communities: bands of rows (north -> south)
        cols = sorted({p[1] for p in pieces})
        street_of_col = {}
        for s, band in enumerate(np.array_split(np.array(cols), n_streets[code]), start=1):
            for c in band:
                street_of_col[int(c)] = s
        rws = sorted({p[2] for p in pieces})
        comm_of_row = {}
        for k, band in enumerate(np.array_split(np.array(rws), 3), start=1):
            for r in band:
                comm_of_row[int(r)] = k
        pieces.sort(key=lambda p: (street_of_col[p[1]], comm_of_row[p[2]], p[2], p[1]))
        serial = {}
        for geom, c, r in pieces:
            s, k = street_of_col[c], comm_of_row[r]
            serial[(s, k)] = serial.get((s, k), 0) + 1
            n = serial[(s, k)]
            rows.append(
                {
                    "code": f"{code}{s:03d}{k:03d}{n:03d}",
                    "name": f"{name}第{s:03d}街道第{k:03d}社区网格{n:03d}",
                    "district_code": code,
                    "geometry": geom,
                }
            )
    return rows


# --------------------------------------------------------------------------------------
# Building survey (sample set)
# --------------------------------------------------------------------------------------


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


def _layout_block(rng, btype, hw, hh):
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


def _attributes(rng, kind, ctx):
    """(name, use, structure, floors_above, floors_below, year) for one building."""
    ri = lambda a, b: int(rng.integers(a, b + 1))  # noqa: E731
    ch = lambda seq, p=None: seq[int(rng.choice(len(seq), p=p))]  # noqa: E731
    ctx["n"] = ctx.get("n", 0) + 1
    n = ctx["n"]
    place = ctx.get("place", "")
    if kind == "res_hi":
        fl = ch([11, 17, 18, 24, 26, 33], [0.25, 0.15, 0.25, 0.1, 0.15, 0.1])
        return f"{place}{n}号楼", "住宅", "钢混", fl, ri(1, 2), ri(2006, 2024)
    if kind == "res_old":
        fl = ch([4, 5, 6, 7], [0.1, 0.25, 0.55, 0.1])
        st = ch(["砖混", "钢混"], [0.85, 0.15])
        return f"{place}{n}号楼", "住宅", st, fl, ch([0, 1], [0.8, 0.2]), ri(1985, 2005)
    if kind == "mixed":
        if rng.random() < 0.7:
            return f"{place}{n}号楼", "商住混合", "钢混", ri(12, 30), ri(1, 2), ri(2008, 2024)
        return f"{place}{n}号楼", "商业", "钢混", ri(2, 4), ri(0, 1), ri(2008, 2024)
    if kind == "com":
        st = ch(["钢混", "钢结构"], [0.75, 0.25])
        return f"{place}{_LETTERS[(n - 1) % len(_LETTERS)]}座", "商业", st, ri(2, 6), ri(0, 2), ri(2000, 2024)
    if kind == "office":
        return f"{place}{_LETTERS[(n - 1) % len(_LETTERS)]}座", "办公", "钢混", ri(6, 26), ri(1, 3), ri(2005, 2024)
    if kind == "house":
        st = ch(["砖混", "砖木", "其他"], [0.6, 0.32, 0.08])
        fl = ch([1, 2, 3], [0.45, 0.4, 0.15])
        return f"{place}{n}号", "住宅", st, fl, 0, ri(1985, 2020)
    if kind == "shop":
        st = ch(["砖混", "砖木"], [0.8, 0.2])
        use = ch(["商业", "商住混合"], [0.6, 0.4])
        return f"{place}沿街商铺{n}号", use, st, ch([1, 2, 3], [0.3, 0.5, 0.2]), 0, ri(1990, 2022)
    if kind == "shed":
        st = ch(["砖木", "其他", "钢结构"], [0.5, 0.3, 0.2])
        return "", "其他", st, 1, 0, ri(1985, 2024)
    if kind == "guard":
        return f"{place}门卫室", "其他", "砖混", 1, 0, ri(1995, 2020)
    if kind == "boiler":
        return f"{place}锅炉房", "其他", "砖混", 1, 0, ri(1990, 2015)
    if kind.startswith("sch_"):
        y = ctx.setdefault("year", ri(1995, 2018))
        if kind == "sch_teach":
            ctx["teach"] = ctx.get("teach", 0) + 1
            return f"{place}教学楼{'ABCD'[ctx['teach'] - 1]}", "教育", "钢混", ri(4, 5), 0, y
        if kind == "sch_lab":
            return f"{place}实验楼", "教育", "钢混", 4, 0, y + ri(0, 5)
        if kind == "sch_admin":
            return f"{place}综合楼", "教育", "钢混", 5, ri(0, 1), y
        if kind == "sch_dorm":
            ctx["dorm"] = ctx.get("dorm", 0) + 1
            return f"{place}学生宿舍{ctx['dorm']}号楼", "教育", "钢混", 6, 0, y + ri(0, 6)
        if kind == "sch_canteen":
            return f"{place}食堂", "教育", "钢混", 2, 0, y + ri(0, 4)
        if kind == "sch_gym":
            return f"{place}体育馆", "教育", "钢结构", ri(1, 2), 0, min(2024, y + ri(2, 8))
    if kind.startswith("hos_"):
        y = ctx.setdefault("year", ri(1998, 2016))
        table = {
            "hos_out": ("门诊楼", 5, 1),
            "hos_in": ("住院楼", ri(12, 18), 2),
            "hos_tech": ("医技楼", 6, 1),
            "hos_er": ("急诊楼", 3, 0),
            "hos_admin": ("行政楼", 5, 0),
            "hos_ward": ("康复楼", 4, 0),
        }
        label, fl, ub = table[kind]
        if kind == "hos_in":
            ctx["ward"] = ctx.get("ward", 0) + 1
            label = f"{label}{ctx['ward']}号"
        return f"{place}{label}", "医疗", "钢混", fl, ub, min(2024, y + ri(0, 8))
    if kind == "ind_shed":
        ctx["shed"] = ctx.get("shed", 0) + 1
        return f"{place}{ctx['shed']}号厂房", "工业", ch(["钢结构", "钢混"], [0.8, 0.2]), ri(1, 2), 0, ri(1998, 2022)
    if kind == "ind_store":
        ctx["store"] = ctx.get("store", 0) + 1
        return f"{place}{ctx['store']}号仓库", "仓储", ch(["钢结构", "砖混"], [0.7, 0.3]), 1, 0, ri(1998, 2022)
    if kind == "ind_office":
        return f"{place}办公楼", "办公", ch(["钢混", "砖混"], [0.7, 0.3]), ri(3, 5), 0, ri(1998, 2020)
    if kind == "wh":
        ctx["store"] = ctx.get("store", 0) + 1
        return f"{place}{ctx['store']}号仓库", "仓储", "钢结构", ri(1, 2), 0, ri(2005, 2023)
    raise ValueError(kind)


def _height(rng, floors):
    return round(floors * rng.uniform(3.0, 3.3) + rng.normal(0.0, 0.25), 1)


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


def make_buildings(frame, districts, rng, count=N_SAMPLE_BUILDINGS):
    """The building survey GeoDataFrame (EPSG:4527) plus a dict of imperfections."""
    import geopandas as gpd

    x0, y0, x1, y1 = frame
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    theta = -3.5  # street grid rotation, degrees
    R = _rot(theta)
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
            for s in _layout_block(rng, btype, b["hw"], b["hh"]):
                ring = _footprint_local(s["w"], s["h"], s.get("notch"))
                ring = ring @ _rot(s["rot"]).T + [s["u"], s["v"]] + b["centre_local"]
                g = Polygon(np.round(ring @ R.T + [cx, cy], 3))
                if not g.is_valid or divide_zone.intersects(g):
                    continue
                if block_geoms and shapely.intersects(g, block_geoms).any():
                    continue
                name, use, struct, fl, ub, year = _attributes(rng, s["kind"], ctx)
                block_geoms.append(g)
                recs.append({
                    "建筑名称": name, "建筑用途": use, "结构": struct, "地上层数": fl,
                    "地下层数": ub, "建筑高度": _height(rng, fl), "建成年代": year,
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


# --------------------------------------------------------------------------------------
# Sample set
# --------------------------------------------------------------------------------------


def write_survey_shapefile(gdf, path):
    """Write the survey as surveyors deliver it: GBK .dbf, no .cpg."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_dataset(path)
    pyogrio.write_dataframe(
        gdf, path, driver="ESRI Shapefile", encoding="GBK", geometry_type="Polygon",
        layer_options={"DBF_DATE_LAST_UPDATE": PINNED_DATE, "RESIZE": "YES"},
    )
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        cpg.unlink()


def generate_sample_set(out_dir, seed=SAMPLE_SEED, verbose=True):
    """Write the whole Jining sample set into ``out_dir``; returns a summary dict."""
    import geopandas as gpd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng_d, rng_b = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    frame = _area_frame()

    north, south, _ = make_districts(frame, rng_d)
    districts = [(DISTRICTS[0][0], DISTRICTS[0][1], north), (DISTRICTS[1][0], DISTRICTS[1][1], south)]

    (out / "profile.yaml").write_text(PROFILE_YAML, encoding="utf-8")

    with _pinned_gdal_date():
        bnd = gpd.GeoDataFrame(
            {"code": [d[0] for d in districts], "name": [d[1] for d in districts]},
            geometry=[MultiPolygon([d[2]]) for d in districts], crs=STORAGE_CRS,
        )
        _remove_dataset(out / "boundaries.gpkg")
        pyogrio.write_dataframe(bnd, out / "boundaries.gpkg", layer="districts", driver="GPKG",
                                geometry_type="MultiPolygon")

        cells = make_grid_cells(districts)
        grid = gpd.GeoDataFrame(cells, geometry="geometry", crs=STORAGE_CRS)
        grid["geometry"] = [g if g.geom_type == "MultiPolygon" else MultiPolygon([g]) for g in grid.geometry]
        _remove_dataset(out / "grid_cells.gpkg")
        pyogrio.write_dataframe(grid, out / "grid_cells.gpkg", layer="grid_cells", driver="GPKG",
                                geometry_type="MultiPolygon")

    bld, imperfections = make_buildings(frame, districts, rng_b)
    write_survey_shapefile(bld, out / "buildings" / "buildings_survey.shp")

    summary = {"frame": frame, "n_cells": len(grid), "n_buildings": len(bld), "imperfections": imperfections}
    if verbose:
        print(f"wrote sample set to {out}")
        print(f"  area frame (EPSG:4527): {frame}")
        print(f"  grid cells: {len(grid)}  buildings: {len(bld)}")
        print(f"  bow-tie footprints: {imperfections['bowtie']}")
        print(f"  NULL 建筑高度: {imperfections['null_height']}")
    return summary


def verify_sample_set(out_dir):
    """Read the sample set back and check it; raises AssertionError on a problem."""
    import yaml
    from pyproj import Transformer

    out = Path(out_dir)
    prof = yaml.safe_load((out / "profile.yaml").read_text(encoding="utf-8"))
    assert prof["storage_crs"] == STORAGE_CRS and prof["city"]["admin_code"] == "370800"
    assert [d["code"] for d in prof["districts"]] == ["370811", "370826"]

    bnd = pyogrio.read_dataframe(out / prof["boundaries"], layer="districts")
    info = pyogrio.read_info(out / prof["boundaries"], layer="districts")
    assert info["crs"] == STORAGE_CRS and info["geometry_type"] == "MultiPolygon", info
    assert list(bnd["code"]) == ["370811", "370826"] and bnd.is_valid.all()
    a, b = bnd.geometry.iloc[0], bnd.geometry.iloc[1]
    assert a.intersection(b).area < 1e-6, "districts overlap"
    union = shapely.union_all(bnd.geometry.values)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0, "district union has gaps"
    assert abs(union.area - shapely.box(*union.bounds).area) < 1e-3
    print(f"districts: {len(bnd)} valid, union {union.area / 1e6:.2f} km², "
          f"bounds {tuple(round(v, 2) for v in union.bounds)}")

    grid = pyogrio.read_dataframe(out / prof["grid"], layer="grid_cells")
    ginfo = pyogrio.read_info(out / prof["grid"], layer="grid_cells")
    assert ginfo["crs"] == STORAGE_CRS, ginfo
    assert grid.is_valid.all() and grid["code"].str.fullmatch(r"\d{15}").all()
    assert grid["code"].is_unique
    assert (grid["code"].str[:6] == grid["district_code"]).all()
    for code, dist in zip(bnd["code"], bnd.geometry):
        cells = grid[grid["district_code"] == code]
        cu = shapely.union_all(cells.geometry.values)
        assert cu.symmetric_difference(dist).area < 1e-2, f"cells of {code} do not tile it"
        assert abs(cells.area.sum() - dist.area) < 1e-2, f"cells of {code} overlap"
        print(f"grid {code}: {len(cells)} cells, {cells['code'].str[6:9].nunique()} streets, "
              f"{cells['code'].str[6:12].nunique()} communities, "
              f"areas {cells.area.min():.0f}–{cells.area.max():.0f} m²")

    shp = out / "buildings" / "buildings_survey.shp"
    for ext in (".shp", ".shx", ".dbf", ".prj"):
        assert shp.with_suffix(ext).exists(), ext
    assert not shp.with_suffix(".cpg").exists(), ".cpg must not be delivered"
    sinfo = pyogrio.read_info(shp)
    assert sinfo["crs"] == STORAGE_CRS, sinfo["crs"]
    # DBF: field names and records are GBK and NOT valid UTF-8
    raw = shp.with_suffix(".dbf").read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    body = raw[32:header_len - 1] + raw[header_len:]
    body.decode("gbk")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError(".dbf decodes as UTF-8")
    bld = pyogrio.read_dataframe(shp, encoding="GBK")
    assert list(bld.columns[:-1]) == list(BUILDING_FIELDS), list(bld.columns)
    assert bld["编号"].is_unique
    assert set(bld["建筑用途"]) <= set(BUILDING_USES) and set(bld["结构"]) <= set(STRUCTURES)
    assert bld["建成年代"].between(1985, 2024).all()
    invalid = bld.loc[~bld.is_valid, "编号"].tolist()
    null_h = bld.loc[bld["建筑高度"].isna(), "编号"].tolist()
    assert len(invalid) == 2 and len(null_h) == 3, (invalid, null_h)
    geoms = shapely.make_valid(bld.geometry.values)
    inside = np.zeros(len(bld), bool)
    for dist in bnd.geometry:
        inside |= shapely.within(geoms, dist)
    assert inside.all(), f"{(~inside).sum()} buildings outside a single district"
    tree = shapely.STRtree(geoms)
    pairs = tree.query(geoms, predicate="intersects")
    pairs = pairs[:, pairs[0] < pairs[1]]
    assert pairs.shape[1] == 0, f"{pairs.shape[1]} overlapping footprint pairs"
    per_district = {c: int(shapely.within(geoms, d).sum()) for c, d in zip(bnd["code"], bnd.geometry)}

    tr = Transformer.from_crs(STORAGE_CRS, "EPSG:4326", always_xy=True)
    minx, miny, maxx, maxy = bld.total_bounds
    lons, lats = tr.transform(*np.array([[minx, minx, maxx, maxx], [miny, maxy, miny, maxy]]))
    print(f"buildings: {len(bld)} ({per_district}), CRS {sinfo['crs']}, "
          f"projected bounds {tuple(round(float(v), 1) for v in bld.total_bounds)}")
    print(f"  lon/lat bbox: {min(lons):.5f}, {min(lats):.5f} – {max(lons):.5f}, {max(lats):.5f}")
    print(f"  bow-tie (invalid): {invalid}; NULL 建筑高度: {null_h}")
    print("  用途:", bld["建筑用途"].value_counts().to_dict())
    print("  结构:", bld["结构"].value_counts().to_dict())
    print("  sample names:", bld["建筑名称"].dropna().drop_duplicates().sample(8, random_state=1).tolist())
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    for p in sorted(out.rglob("*")):
        if p.is_file():
            print(f"  {p.relative_to(out)}: {p.stat().st_size:,} bytes")
    print(f"total: {total:,} bytes")
    assert total < 10_000_000
    return True


# --------------------------------------------------------------------------------------
# Large synthetic building sets (benchmarks)
# --------------------------------------------------------------------------------------

_BENCH_USES = np.array(BUILDING_USES, dtype=object)
_BENCH_USE_P = np.array([0.52, 0.11, 0.05, 0.08, 0.03, 0.01, 0.05, 0.05, 0.10])
_BENCH_STRUCT_P = {  # per use: probabilities over STRUCTURES
    "住宅": [0.55, 0.35, 0.0, 0.08, 0.02],
    "商业": [0.65, 0.2, 0.15, 0.0, 0.0],
    "办公": [0.85, 0.1, 0.05, 0.0, 0.0],
    "工业": [0.2, 0.1, 0.7, 0.0, 0.0],
    "教育": [0.85, 0.1, 0.05, 0.0, 0.0],
    "医疗": [0.95, 0.05, 0.0, 0.0, 0.0],
    "仓储": [0.1, 0.2, 0.7, 0.0, 0.0],
    "商住混合": [0.9, 0.1, 0.0, 0.0, 0.0],
    "其他": [0.05, 0.25, 0.2, 0.3, 0.2],
}
_BENCH_FLOORS = {  # per use: (min, max) floors above ground, years (min, max)
    "住宅": (1, 33, 1985, 2024), "商业": (1, 6, 1990, 2024), "办公": (3, 28, 1995, 2024),
    "工业": (1, 2, 1990, 2023), "教育": (2, 6, 1990, 2023), "医疗": (3, 18, 1995, 2023),
    "仓储": (1, 2, 1995, 2024), "商住混合": (2, 30, 2000, 2024), "其他": (1, 2, 1985, 2024),
}
_BENCH_NAME = {
    "住宅": (ESTATES_NEW + ESTATES_OLD + VILLAGES, "{}{}号楼"),
    "商业": (PLAZAS, "{}{}号商业楼"),
    "办公": (OFFICES, "{}{}号楼"),
    "工业": (COMPANIES, "{}{}号厂房"),
    "教育": (SCHOOLS, "{}{}号教学楼"),
    "医疗": (HOSPITALS, "{}{}号楼"),
    "仓储": (LOGISTICS, "{}{}号仓库"),
    "商住混合": (ESTATES_NEW, "{}{}号楼"),
    "其他": ((), ""),
}
_LATTICE = 45.0  # metres per footprint slot
_BLOCK_SLOTS = 8  # slots per block side
_ROAD = 30.0  # metres between blocks


def make_buildings_chunk(start, n, count, seed=0):
    """Synthetic footprints ``start .. start+n-1`` of a ``count``-building set.

    Returns a GeoDataFrame with the survey schema (EPSG:4527). Footprints are
    rotated rectangles and L-shapes (10–30 m sides) on a lattice of 8×8-slot blocks
    centred on the sample area, so they never overlap. Deterministic in
    (start, n, count, seed).
    """
    import geopandas as gpd

    rng = np.random.default_rng([int(seed), int(start), int(n)])
    idx = np.arange(start, start + n, dtype=np.int64)
    per_block = _BLOCK_SLOTS * _BLOCK_SLOTS
    n_blocks = -(-count // per_block)
    ncols = max(1, math.ceil(math.sqrt(n_blocks)))
    pitch = _BLOCK_SLOTS * _LATTICE + _ROAD
    x0, y0, x1, y1 = _area_frame()
    ox = (x0 + x1) / 2.0 - ncols * pitch / 2.0
    oy = (y0 + y1) / 2.0 - ncols * pitch / 2.0
    blk, slot = np.divmod(idx, per_block)
    by, bx = np.divmod(blk, ncols)
    sy, sx = np.divmod(slot, _BLOCK_SLOTS)
    cx = ox + bx * pitch + (sx + 0.5) * _LATTICE
    cy = oy + by * pitch + (_BLOCK_SLOTS - sy - 0.5) * _LATTICE

    w = rng.uniform(10.0, 30.0, n)
    h = rng.uniform(10.0, 30.0, n)
    ang = np.radians(rng.uniform(-10.0, 10.0, n))
    ca, sa = np.cos(ang), np.sin(ang)
    ext_x = w * np.abs(ca) + h * np.abs(sa)
    ext_y = w * np.abs(sa) + h * np.abs(ca)
    cx = cx + rng.uniform(-1, 1, n) * (_LATTICE - ext_x) / 2.0 * 0.9
    cy = cy + rng.uniform(-1, 1, n) * (_LATTICE - ext_y) / 2.0 * 0.9

    is_l = rng.random(n) < 0.15
    hw, hh = w / 2.0, h / 2.0
    nw = 10.0 + rng.random(n) * np.maximum(w - 20.0, 0.0) * 0.5
    nh = 10.0 + rng.random(n) * np.maximum(h - 20.0, 0.0) * 0.5
    is_l &= (w >= 25.0) & (h >= 25.0)
    # rectangles: 4 corners; L-shapes: 6 corners (notch in the +u+v corner)
    rect = np.stack([np.stack([-hw, -hh], 1), np.stack([hw, -hh], 1), np.stack([hw, hh], 1),
                     np.stack([-hw, hh], 1), np.stack([-hw, -hh], 1)], axis=1)
    lsh = np.stack([np.stack([-hw, -hh], 1), np.stack([hw, -hh], 1), np.stack([hw, hh - nh], 1),
                    np.stack([hw - nw, hh - nh], 1), np.stack([hw - nw, hh], 1),
                    np.stack([-hw, hh], 1), np.stack([-hw, -hh], 1)], axis=1)

    def place(local, sel):
        u, v = local[..., 0], local[..., 1]
        c, s = ca[sel, None], sa[sel, None]
        x = np.round(cx[sel, None] + u * c - v * s, 3)
        y = np.round(cy[sel, None] + u * s + v * c, 3)
        return shapely.polygons(np.stack([x, y], axis=-1))

    geoms = np.empty(n, dtype=object)
    geoms[~is_l] = place(rect[~is_l], ~is_l)
    geoms[is_l] = place(lsh[is_l], is_l)

    use_i = rng.choice(len(BUILDING_USES), size=n, p=_BENCH_USE_P)
    use = _BENCH_USES[use_i]
    struct = np.empty(n, dtype=object)
    floors = np.empty(n, dtype=np.int32)
    under = np.zeros(n, dtype=np.int32)
    year = np.empty(n, dtype=np.int32)
    name = np.full(n, "", dtype=object)
    for k, u in enumerate(BUILDING_USES):
        m = use_i == k
        cnt = int(m.sum())
        if not cnt:
            continue
        struct[m] = np.array(STRUCTURES, dtype=object)[rng.choice(5, size=cnt, p=_BENCH_STRUCT_P[u])]
        fmin, fmax, ymin, ymax = _BENCH_FLOORS[u]
        fl = rng.integers(fmin, fmax + 1, cnt).astype(np.int32)
        floors[m] = fl
        under[m] = np.where(fl >= 7, rng.integers(1, 3, cnt), rng.integers(0, 2, cnt) * (rng.random(cnt) < 0.2))
        year[m] = rng.integers(ymin, ymax + 1, cnt)
        pool, tmpl = _BENCH_NAME[u]
        if pool:
            places = np.array(pool, dtype=object)[rng.integers(0, len(pool), cnt)]
            nums = rng.integers(1, 40, cnt)
            name[m] = [tmpl.format(p, q) for p, q in zip(places, nums)]
    height = np.round(floors * rng.uniform(3.0, 3.3, n) + rng.normal(0.0, 0.25, n), 1)

    width = max(6, len(str(count)))
    data = {
        "编号": np.array([f"JZ{i + 1:0{width}d}" for i in idx], dtype=object),
        "建筑名称": name,
        "建筑用途": use,
        "结构": struct,
        "地上层数": floors,
        "地下层数": under.astype(np.int32),
        "建筑高度": height.astype(np.float64),
        "建成年代": year,
    }
    return gpd.GeoDataFrame(data, geometry=geoms, crs=STORAGE_CRS)


def write_buildings_gpkg(path, count, seed=0, chunk=100_000):
    """Write ``count`` synthetic building footprints to a GeoPackage (layer ``buildings``).

    Same attribute schema as the survey shapefile (Chinese field names, EPSG:4527).
    Rows are generated and written ``chunk`` at a time (pyogrio append), so memory
    stays bounded for millions of rows. Deterministic for a given (count, seed, chunk).
    Returns the path written.
    """
    path = Path(path)
    count, chunk = int(count), int(chunk)
    if count < 0 or chunk <= 0:
        raise ValueError("count must be >= 0 and chunk > 0")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_dataset(path)
    with _pinned_gdal_date():
        start = 0
        while True:
            n = min(chunk, count - start)
            gdf = make_buildings_chunk(start, n, count, seed)
            pyogrio.write_dataframe(gdf, path, layer="buildings", driver="GPKG",
                                    geometry_type="Polygon", append=start > 0)
            start += n
            del gdf
            if start >= count:
                break
    return path


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv=None):
    default_out = Path(__file__).resolve().parent / "jining"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help=f"sample set directory (default {default_out})")
    p.add_argument("--seed", type=int, default=SAMPLE_SEED, help="seed of the sample set")
    sub = p.add_subparsers(dest="command")
    pb = sub.add_parser("buildings", help="write N synthetic building footprints to a GeoPackage")
    pb.add_argument("--count", type=int, required=True)
    pb.add_argument("--out", type=Path, required=True, help="output .gpkg")
    pb.add_argument("--seed", type=int, default=0)
    pb.add_argument("--chunk", type=int, default=100_000)
    pv = sub.add_parser("verify", help="re-check an existing sample set")
    pv.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    if args.command == "buildings":
        out = write_buildings_gpkg(args.out, args.count, seed=args.seed, chunk=args.chunk)
        print(f"wrote {args.count:,} buildings to {out} ({out.stat().st_size:,} bytes)")
        return 0
    out_dir = args.out or default_out
    if args.command == "verify":
        verify_sample_set(out_dir)
        return 0
    generate_sample_set(out_dir, seed=args.seed)
    verify_sample_set(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
