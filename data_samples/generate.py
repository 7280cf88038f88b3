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
* ``pipes/``                       an underground pipe survey (管线点/管线段成果表) of seven
                                   classes as an Excel workbook and GBK / UTF-8-BOM CSVs, with
                                   15 deliberate survey errors
* ``components/components_*.shp``  a city-management component census (城市部件普查): points,
                                   lines, polygons, GBK ``.dbf`` without ``.cpg``

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
import shapely.ops
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


def make_buildings(frame, districts, rng, count=N_SAMPLE_BUILDINGS, streets=None):
    """The building survey GeoDataFrame (EPSG:4527) plus a dict of imperfections.

    ``streets``, if a dict, receives the street grid the blocks are laid out on (the pipe
    survey follows it); filling it draws nothing from ``rng``.
    """
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
# Pipe survey (地下管线普查成果表) and component census (城市部件普查)
# --------------------------------------------------------------------------------------

# class letters -> survey class (sheet / file name), offset from the street centreline (m),
# which of the survey area's N–S (u) and E–W (v) streets it runs along, burial depth
PIPE_CLASSES = {
    "JS": {"name": "给水", "offset": 6.0, "u": (0, 1, 2, 3, 4), "v": (0, 1, 2, 3, 4, 5),
           "depth": (1.25, 0.12), "map": "J", "owner": "太白湖水务有限公司（示例）"},
    "YS": {"name": "雨水", "offset": -3.0, "u": (0, 1, 2, 3, 4), "v": (0, 1, 2, 3, 4, 5),
           "d0": 1.5, "map": "Y", "owner": "太白湖新区排水管理处（示例）"},
    "WS": {"name": "污水", "offset": 2.0, "u": (0, 1, 2, 3), "v": (0, 1, 2, 3, 4),
           "d0": 2.0, "map": "W", "owner": "太白湖新区排水管理处（示例）"},
    "RQ": {"name": "燃气", "offset": 9.0, "u": (1, 2, 3, 4), "v": (1, 2, 3, 4, 5),
           "depth": (1.05, 0.08), "map": "R", "owner": "太白湖燃气有限公司（示例）"},
    "RL": {"name": "热力", "offset": -7.0, "u": (1, 2, 3), "v": (2, 3, 4, 5),
           "depth": (1.55, 0.12), "map": "L", "owner": "太白湖热力有限公司（示例）"},
    "DL": {"name": "电力", "offset": 12.0, "u": (0, 1, 2, 3, 4), "v": (0, 2, 4, 5),
           "depth": (0.85, 0.08), "map": "D", "owner": "太白湖供电公司（示例）"},
    "TX": {"name": "通信", "offset": -11.0, "u": (0, 2, 4), "v": (0, 1, 2, 3, 4, 5),
           "depth": (0.75, 0.08), "map": "T", "owner": "太白湖通信管道公司（示例）"},
}
PIPE_U_RANGE = (-400.0, 1200.0)  # survey area in street-grid coordinates (m from the centre)
PIPE_V_RANGE = (-900.0, 950.0)
PIPE_SPACING = 45.0  # survey points at most this far apart along a pipe
DRAIN_FALL = 0.0017  # invert fall of storm and foul sewers per metre of f = u + 0.8 v
GROUND_FALL = 0.0006  # ground fall per metre of f
ROADS_U = ("湖滨东路", "明德路", "崇文路", "同济路", "致远路")  # fictitious street names
ROADS_V = ("荷风街", "怡和街", "兴学街", "仁和街", "景明街", "惠民街")
POINT_COLUMNS = ["图上点号", "物探点号", "特征", "附属物", "X", "Y", "地面高程", "道路名称", "备注"]
SEGMENT_COLUMNS = ["起始点号", "终止点号", "起点埋深", "终点埋深", "起点高程", "终点高程",
                   "埋设方式", "材质", "管径", "压力", "电压", "电缆条数", "权属单位", "建设年代",
                   "道路名称", "备注"]
PIPE_WORKBOOK = "管线普查成果表.xlsx"  # 给水, 雨水, 污水, 燃气 (one sheet pair per class)
PIPE_CSV_GBK = ("热力_管线点成果表.csv", "热力_管线段成果表.csv")  # GBK, class from the file name
PIPE_CSV_UTF8 = ("电力通信_管线点成果表.csv", "电力通信_管线段成果表.csv")  # UTF-8 BOM + 管线类别


def _ground(u, v, rng):
    f = u + 0.8 * v
    return 36.2 - GROUND_FALL * f + 0.15 * math.sin(u / 300.0) * math.cos(v / 400.0) \
        + rng.uniform(-0.02, 0.02)


def _pipe_line_attrs(letters, wide, rng):
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


def _build_network(letters, spec, us, vs, widths_u, widths_v, rng, drop=None):
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
        attrs = _pipe_line_attrs(letters, wide, rng)
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


def make_pipe_survey(streets, rng):
    """The pipe survey of the sample area: per class a point table and a segment table.

    Returns (tables, seeded, pipe_points) where ``tables`` maps class letters to
    (points DataFrame, segments DataFrame) in the surveyors' column layout (X = northing,
    Y = zone-prefixed easting), ``seeded`` lists the deliberate survey errors as
    (rule, class, ids) and ``pipe_points`` holds (letters, 特征, 附属物, x, y) of every point
    (the component census puts manhole covers on the wells).
    """
    R, cx, cy = _rot(streets["theta"]), streets["cx"], streets["cy"]
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
        nodes, order, edges = _build_network(letters, spec, us, vs, wu, wv, rng, drop)
        drainage = "d0" in spec
        # numbering, ground, depth and features
        for n_, key in enumerate(order, start=1):
            nd = nodes[key]
            nd["no"] = f"{letters}{n_:04d}"
            nd["map"] = f"{spec['map']}{n_}"
            nd["g"] = round(_ground(nd["u"], nd["v"], rng), 3)
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
                inlet["g"] = round(_ground(inlet["u"], inlet["v"], rng), 3)
                inlet["invert"] = inlet["g"] - 0.9
                extra_points.append(inlet)
                segs.append({"a": inlet, "b": nd, "road": nd["road"], "year": 2010,
                             "attrs": ("PVC", 300, "直埋", None, None, None),
                             "z_b": inlet["invert"] - 0.02 * 7.0, "run": ("lat", 0)})
        # ---- deliberate survey errors (listed in data_samples/README.md) -----------------
        extra_rows = []  # segment rows the surveyor appended at the end of the table
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
            riser["g"] = round(_ground(riser["u"], riser["v"], rng), 3)
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
            orphan["g"] = round(_ground(orphan["u"], orphan["v"], rng), 3)
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
                               "attrs": _pipe_line_attrs("DL", False, rng)})
            seeded.append(("self_loop", letters, [p["no"], p["no"]]))
        if letters == "TX":
            s = [s for s in segs if s["run"] == ("v", 3)][5]
            extra_rows.append(dict(s))
            seeded.append(("duplicate_segment", letters, [s["a"]["no"], s["b"]["no"]]))
            long = [s for s in segs if s["run"] == ("u", 1)
                    and math.dist((s["a"]["u"], s["a"]["v"]), (s["b"]["u"], s["b"]["v"])) > 75]
            assert len(long) == 1, "the dropped TX point must leave one long segment"
            seeded.append(("length_over_max", letters, [long[0]["a"]["no"], long[0]["b"]["no"]]))
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


def _csv_value(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


def _drop_empty(df):
    keep = [c for c in df.columns if c in ("备注", "特征", "附属物") or df[c].notna().any()]
    return df[keep]


def _stable_zip(path):
    """Rewrite a zip (xlsx) with fixed entry timestamps, so reruns give identical bytes."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":  # openpyxl stamps the save time here
                import re

                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + PINNED_DATE.encode()
                              + b"T00:00:00Z", data)
            info = zipfile.ZipInfo(name, date_time=(2024, 6, 30, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def _write_sheet(wb, title, df, heading, two_row=None):
    """One 成果表 sheet: a merged title row, the header (one row or two with merged groups),
    the data and the surveyors' signature line."""
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(title)
    cols = list(df.columns)
    ws.append([heading] + [None] * (len(cols) - 1))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(cols))
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    if two_row:  # {group: (first column, second column, sub1, sub2)}
        top, sub = list(cols), [None] * len(cols)
        grouped = set()
        for group, (c1, _c2, s1, s2) in two_row.items():
            j = cols.index(c1)
            top[j], top[j + 1] = group, None
            sub[j], sub[j + 1] = s1, s2
            grouped |= {j, j + 1}
        ws.append(top)
        ws.append(sub)
        for j in range(len(cols)):
            if j not in grouped:
                ws.merge_cells(start_row=2, start_column=j + 1, end_row=3, end_column=j + 1)
        for c1, *_rest in two_row.values():
            j = cols.index(c1)
            ws.merge_cells(start_row=2, start_column=j + 1, end_row=2, end_column=j + 2)
    else:
        ws.append(cols)
    for rec in df.itertuples(index=False, name=None):
        ws.append([None if (isinstance(v, float) and math.isnan(v)) else v for v in rec])
    ws.append([])
    ws.append(["制表：王测绘    检查：李质检    日期：2024年6月30日"])


def write_pipe_survey(tables, out_dir):
    """Write the survey as delivered: an Excel workbook (给水, 雨水, 污水, 燃气), a GBK CSV
    pair (热力) and a UTF-8-with-BOM CSV pair with a class column (电力, 通信)."""
    import datetime as dt

    import openpyxl

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "data_samples/generate.py"
    wb.properties.created = wb.properties.modified = dt.datetime(2024, 6, 30)
    for letters in ("JS", "YS", "WS", "RQ"):
        name = PIPE_CLASSES[letters]["name"]
        pts, segs = tables[letters]
        pts, segs = _drop_empty(pts), _drop_empty(segs)
        head = "济宁市太白湖新区地下管线普查（示例数据）"
        if letters == "YS":  # a two-row header: 坐标 over X and Y
            pts = pts.rename(columns={"地面高程": "地面高程(m)"})
            _write_sheet(wb, f"{name}管线点", pts, f"{head}  {name}管线点成果表",
                         {"坐标(m)": ("X", "Y", "X", "Y")})
        else:
            _write_sheet(wb, f"{name}管线点", pts, f"{head}  {name}管线点成果表")
        if letters == "WS":  # 埋深 and 管线高程 over 起点 / 终点
            segs = segs.rename(columns={"管径": "管径(mm)"})
            _write_sheet(wb, f"{name}管线段", segs, f"{head}  {name}管线段成果表",
                         {"埋深(m)": ("起点埋深", "终点埋深", "起点", "终点"),
                          "管线高程(m)": ("起点高程", "终点高程", "起点", "终点")})
        else:
            _write_sheet(wb, f"{name}管线段", segs, f"{head}  {name}管线段成果表")
    path = out / PIPE_WORKBOOK
    wb.save(path)
    _stable_zip(path)

    def write_csv(path, df, encoding):
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(list(df.columns))
        for rec in df.itertuples(index=False, name=None):
            w.writerow([_csv_value(v) for v in rec])
        Path(path).write_bytes(buf.getvalue().encode(encoding))

    # 热力: GBK (as Excel on a Chinese Windows saves CSV), the header variants surveyors use
    pts, segs = (_drop_empty(t) for t in tables["RL"])
    write_csv(out / PIPE_CSV_GBK[0], pts.rename(columns={
        "物探点号": "点号", "X": "X坐标", "Y": "Y坐标", "地面高程": "地面高程(m)"}), "gbk")
    write_csv(out / PIPE_CSV_GBK[1], segs.rename(columns={
        "起始点号": "起点号", "终止点号": "终点号", "起点埋深": "起点埋深(m)",
        "终点埋深": "终点埋深(m)", "起点高程": "起点管线高程(m)", "终点高程": "终点管线高程(m)",
        "管径": "管径(mm)", "建设年代": "埋设年代", "道路名称": "所在道路"}), "gbk")
    # 电力 + 通信: one pair with a class column, UTF-8 with BOM
    both_p, both_s = [], []
    for letters in ("DL", "TX"):
        pts, segs = tables[letters]
        both_p.append(pts.assign(管线类别=PIPE_CLASSES[letters]["name"]))
        both_s.append(segs.assign(管线类别=PIPE_CLASSES[letters]["name"]))
    pts = _drop_empty(pd.concat(both_p, ignore_index=True))
    segs = _drop_empty(pd.concat(both_s, ignore_index=True)).rename(columns={"电缆条数": "电缆条数/孔数"})
    pts = pts[["管线类别"] + [c for c in pts.columns if c != "管线类别"]]
    segs = segs[["管线类别"] + [c for c in segs.columns if c != "管线类别"]]
    write_csv(out / PIPE_CSV_UTF8[0], pts, "utf-8-sig")
    write_csv(out / PIPE_CSV_UTF8[1], segs, "utf-8-sig")


# Component census: subclasses that stand on the pipe network's points …
COVER_OF_POINT = {
    ("YS", "窨井"): "雨水井盖", ("WS", "窨井"): "污水井盖", ("RL", "检修井"): "热力井盖",
    ("DL", "窨井"): "电力井盖", ("TX", "手孔"): "通讯井盖", ("TX", "窨井"): "通讯井盖",
    ("JS", "阀门"): "上水井盖", ("RQ", "阀门"): "燃气井盖", ("YS", "雨水箅"): "雨水箅子",
    ("JS", "消防栓"): "消防设施",
}
# … and street furniture along the streets: subclass name -> count
STREET_COMPONENTS = {
    "路灯": 120, "交通信号灯": 24, "路名牌": 20, "交通标志牌": 25, "公交站亭": 8,
    "停车咪表": 10, "垃圾箱": 40, "公共厕所": 4, "报刊亭": 5, "邮筒": 5, "监控电子眼": 12,
    "变压器(箱)": 8, "通讯交接箱": 6, "健身设施": 6, "宣传栏": 6, "人防工事": 2, "古树名木": 3,
    "雕塑": 3, "街头坐椅": 12, "重大危险源": 2, "化粪池": 5, "治安岗亭": 2,
}
COMPONENT_CODES = {  # subclass name -> (code, aliases the census may use)
    "上水井盖": ("0101", ["给水井盖"]), "污水井盖": ("0102", []), "雨水井盖": ("0103", []),
    "雨水箅子": ("0104", ["雨箅子"]), "电力井盖": ("0105", []), "通讯井盖": ("0107", ["通信井盖"]),
    "热力井盖": ("0110", []), "燃气井盖": ("0111", ["天然气井盖"]), "消防设施": ("0113", ["消火栓"]),
    "通讯交接箱": ("0115", []), "路灯": ("0118", []), "报刊亭": ("0121", []), "邮筒": ("0123", []),
    "健身设施": ("0126", []), "变压器(箱)": ("0134", ["箱变"]), "监控电子眼": ("0136", ["电子眼"]),
    "治安岗亭": ("0138", []), "停车场": ("0201", []), "停车咪表": ("0202", []),
    "公交站亭": ("0203", ["公交站"]), "交通标志牌": ("0209", []), "交通信号灯": ("0210", ["红绿灯"]),
    "交通护栏": ("0211", []), "路名牌": ("0213", []), "公共厕所": ("0301", ["公厕"]),
    "化粪池": ("0302", []), "垃圾箱": ("0305", ["垃圾桶", "果皮箱"]), "古树名木": ("0401", []),
    "绿地": ("0405", []), "雕塑": ("0406", []), "街头坐椅": ("0407", ["街头座椅"]),
    "绿地护栏": ("0408", []), "宣传栏": ("0501", []), "人防工事": ("0502", []),
    "重大危险源": ("0601", []), "工地": ("0602", []), "水域附属设施": ("0603", []),
    "水域护栏": ("0604", []),
}
DEPARTMENTS = {  # major class -> (主管代码, 主管部门), fictitious
    "01": ("ZG01", "太白湖新区住房和城乡建设局（示例）"),
    "02": ("ZG02", "太白湖新区交通运输局（示例）"),
    "03": ("ZG03", "太白湖新区城市管理局（示例）"),
    "04": ("ZG04", "太白湖新区园林绿化中心（示例）"),
    "05": ("ZG05", "太白湖新区自然资源局（示例）"),
    "06": ("ZG06", "太白湖新区应急管理局（示例）"),
}
OWNERS = {"0101": "太白湖水务有限公司（示例）", "0102": "太白湖新区排水管理处（示例）",
          "0103": "太白湖新区排水管理处（示例）", "0104": "太白湖新区排水管理处（示例）",
          "0105": "太白湖供电公司（示例）", "0107": "太白湖通信管道公司（示例）",
          "0110": "太白湖热力有限公司（示例）", "0111": "太白湖燃气有限公司（示例）",
          "0113": "太白湖水务有限公司（示例）", "0134": "太白湖供电公司（示例）",
          "0115": "太白湖通信管道公司（示例）"}
COMPONENT_FIELDS = ["编号", "部件小类", "部件名称", "状态", "初始日期", "变更日期", "主管代码",
                    "主管部门", "权属代码", "权属单位", "养护代码", "养护单位", "数据来源",
                    "位置描述", "备注"]
UNKNOWN_COMPONENTS = ("井盖", "充电桩", "快递柜")  # not in the dictionary: rejected


def _census_record(rng, name, where, class_value=None):
    code, aliases = COMPONENT_CODES[name]
    r = rng.random()
    if class_value is None:
        if r < 0.15:
            class_value = code
        elif r < 0.30 and aliases:
            class_value = aliases[int(rng.integers(0, len(aliases)))]
        else:
            class_value = name
    major = code[:2]
    dept = DEPARTMENTS[major]
    owner = OWNERS.get(code, dept[1])
    y, m, d = int(rng.integers(2018, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    fmt = rng.random()
    initial = (f"{y}-{m:02d}-{d:02d}" if fmt < 0.7 else f"{y}/{m}/{d}" if fmt < 0.9
               else f"{y}{m:02d}{d:02d}")
    changed = None
    if rng.random() < 0.2:
        changed = f"{y + 1}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
    state = str(rng.choice(["完好", "破损", "丢失", "占用"], p=[0.85, 0.08, 0.02, 0.05]))
    source = str(rng.choice(["实测", "调绘", "地形图"], p=[0.8, 0.15, 0.05]))
    return {"部件小类": class_value, "部件名称": name, "状态": state, "初始日期": initial,
            "变更日期": changed, "主管代码": dept[0], "主管部门": dept[1],
            "权属代码": "QS" + code, "权属单位": owner, "养护代码": "YH" + code[:2],
            "养护单位": owner if code in OWNERS else "太白湖市政养护公司（示例）",
            "数据来源": source, "位置描述": where, "备注": None}


def make_component_census(frame, districts, streets, pipe_points, rng):
    """Census points, lines and polygons (EPSG:4527) plus the deliberate imperfections."""
    import geopandas as gpd

    x0, y0, x1, y1 = frame
    R, cx, cy = _rot(streets["theta"]), streets["cx"], streets["cy"]
    lake = streets["lake"]
    inner = shapely.box(x0 + 40, y0 + 40, x1 - 40, y1 - 40)

    def world(u, v):
        x, y = np.array([u, v]) @ R.T + [cx, cy]
        return round(float(x), 3), round(float(y), 3)

    recs, geoms = [], []
    # manhole covers, inlets and hydrants on a share of the surveyed pipe points
    for letters, _feat, appurt, x, y in pipe_points:
        name = COVER_OF_POINT.get((letters, appurt))
        if name is None or rng.random() > 0.3:
            continue
        recs.append(_census_record(rng, name, "管线普查点位"))
        geoms.append(shapely.Point(round(x + 0.3, 3), round(y + 0.2, 3)))

    streets_u = [(p, w) for p, w in streets["ul"]]
    streets_v = [(p, w) for p, w in streets["vl"]]

    def street_point():
        while True:
            if rng.random() < 0.5:
                p, w = streets_u[int(rng.integers(0, len(streets_u)))]
                u, v = p + rng.choice([-1, 1]) * (w + 3), rng.uniform(-5300, 5300)
                road = "南北向道路"
            else:
                p, w = streets_v[int(rng.integers(0, len(streets_v)))]
                u, v = rng.uniform(-4900, 4900), p + rng.choice([-1, 1]) * (w + 3)
                road = "东西向道路"
            pt = shapely.Point(*world(u, v))
            if inner.contains(pt) and not lake.contains(pt):
                return pt, road

    for name, n in STREET_COMPONENTS.items():
        for _ in range(n):
            pt, road = street_point()
            recs.append(_census_record(rng, name, road))
            geoms.append(pt)
    # water-side facilities on the shore of the (not exported) lake
    shore = lake.exterior
    for k in range(4):
        pt = shore.interpolate(shore.length * (0.1 + 0.2 * k))
        recs.append(_census_record(rng, "水域附属设施", "太白湖岸边"))
        geoms.append(shapely.Point(round(pt.x, 3), round(pt.y, 3)))
    # deliberate imperfections
    notes = {"unknown": [], "grid_boundary": [], "outside": []}
    for value in UNKNOWN_COMPONENTS:
        pt, road = street_point()
        rec = _census_record(rng, "路灯", road, class_value=value)
        rec["部件名称"] = value
        recs.append(rec)
        geoms.append(pt)
        notes["unknown"].append((len(recs), value))
    for gx, gy in ((x0 + 5000.0, y0 + 7250.0), (x0 + 2250.0, y0 + 8000.0),
                   (x0 + 6000.0, y0 + 1750.0), (x0 + 5500.0, y0 + 7500.0)):
        recs.append(_census_record(rng, "垃圾箱", "单元网格边界上"))
        geoms.append(shapely.Point(gx, gy))
        notes["grid_boundary"].append(len(recs))
    recs.append(_census_record(rng, "交通标志牌", "测区以外"))
    geoms.append(shapely.Point(x0 - 250.0, y0 + 4000.0))
    notes["outside"].append(len(recs))
    for i, r in enumerate(recs, start=1):
        r["编号"] = f"BJ{i:06d}"
    points = gpd.GeoDataFrame(pd.DataFrame(recs, columns=COMPONENT_FIELDS), geometry=geoms,
                              crs=STORAGE_CRS)
    notes = {k: [f"BJ{i:06d}" if isinstance(i, int) else (f"BJ{i[0]:06d}", i[1]) for i in v]
             for k, v in notes.items()}
    # lines: guard rails along street medians, fences, lake railings
    lrecs, lgeoms = [], []
    for name, n in (("交通护栏", 3), ("绿地护栏", 2)):
        for _ in range(n):
            p, w = streets_v[int(rng.integers(8, len(streets_v) - 8))]
            a = rng.uniform(-3000, 2500)
            lrecs.append(_census_record(rng, name, "道路中央" if name == "交通护栏" else "绿地边"))
            off = 0.0 if name == "交通护栏" else w + 6
            lgeoms.append(shapely.LineString([world(a, p + off), world(a + 120, p + off),
                                              world(a + 240, p + off)]))
    for k in range(2):
        seg = shapely.ops.substring(shore, shore.length * (0.55 + 0.15 * k),
                                    shore.length * (0.6 + 0.15 * k))
        lrecs.append(_census_record(rng, "水域护栏", "太白湖岸边"))
        lgeoms.append(shapely.set_precision(seg, 0.001))
    # polygons: car parks, green spaces, construction sites inside blocks
    precs, pgeoms = [], []
    for name, n in (("停车场", 3), ("绿地", 3), ("工地", 2)):
        for _ in range(n):
            while True:
                i = int(rng.integers(0, len(streets_u) - 1))
                j = int(rng.integers(0, len(streets_v) - 1))
                (pu, wu), (pv, wv) = streets_u[i], streets_v[j]
                u0, v0 = pu + wu + 12, pv + wv + 12
                du, dv = rng.uniform(40, 90), rng.uniform(30, 70)
                poly = shapely.Polygon([world(u0, v0), world(u0 + du, v0),
                                        world(u0 + du, v0 + dv), world(u0, v0 + dv)])
                if inner.contains(poly) and not lake.intersects(poly):
                    break
            precs.append(_census_record(rng, name, "街区内"))
            pgeoms.append(poly)
    n0 = len(recs)
    for i, r in enumerate(lrecs + precs, start=n0 + 1):
        r["编号"] = f"BJ{i:06d}"
    lines = gpd.GeoDataFrame(pd.DataFrame(lrecs, columns=COMPONENT_FIELDS), geometry=lgeoms,
                             crs=STORAGE_CRS)
    polys = gpd.GeoDataFrame(pd.DataFrame(precs, columns=COMPONENT_FIELDS), geometry=pgeoms,
                             crs=STORAGE_CRS)
    return points, lines, polys, notes


def write_component_census(points, lines, polys, out_dir):
    out = Path(out_dir)
    for gdf, name, gtype in ((points, "components_points", "Point"),
                             (lines, "components_lines", "LineString"),
                             (polys, "components_polygons", "Polygon")):
        path = out / f"{name}.shp"
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_dataset(path)
        pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding="GBK",
                                geometry_type=gtype,
                                layer_options={"DBF_DATE_LAST_UPDATE": PINNED_DATE,
                                               "RESIZE": "YES"})
        cpg = path.with_suffix(".cpg")
        if cpg.exists():
            cpg.unlink()


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
    # the first two streams are those of the original sample set (byte-stable outputs); the
    # pipe survey and the component census draw from streams of their own
    rng_d, rng_b, rng_p, rng_c = (np.random.default_rng(s)
                                  for s in np.random.SeedSequence(seed).spawn(4))
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

    streets = {}
    bld, imperfections = make_buildings(frame, districts, rng_b, streets=streets)
    write_survey_shapefile(bld, out / "buildings" / "buildings_survey.shp")

    tables, seeded, pipe_points = make_pipe_survey(streets, rng_p)
    write_pipe_survey(tables, out / "pipes")
    cpts, clines, cpolys, cnotes = make_component_census(frame, districts, streets, pipe_points,
                                                         rng_c)
    write_component_census(cpts, clines, cpolys, out / "components")

    summary = {"frame": frame, "n_cells": len(grid), "n_buildings": len(bld), "imperfections": imperfections,
               "pipes": {k: (len(p), len(sg)) for k, (p, sg) in tables.items()},
               "pipe_errors": seeded, "components": (len(cpts), len(clines), len(cpolys)),
               "component_imperfections": cnotes}
    if verbose:
        print(f"wrote sample set to {out}")
        print(f"  area frame (EPSG:4527): {frame}")
        print(f"  grid cells: {len(grid)}  buildings: {len(bld)}")
        print(f"  bow-tie footprints: {imperfections['bowtie']}")
        print(f"  NULL 建筑高度: {imperfections['null_height']}")
        for k, (p_, s_) in tables.items():
            print(f"  pipes {k} {PIPE_CLASSES[k]['name']}: {len(p_)} points, {len(s_)} segments")
        for rule, letters, ids in seeded:
            print(f"  seeded survey error {rule:<26} {PIPE_CLASSES[letters]['name']}  {' '.join(ids)}")
        print(f"  components: {len(cpts)} points, {len(clines)} lines, {len(cpolys)} polygons; "
              f"{cnotes}")
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
    verify_pipe_survey(out / "pipes")
    verify_component_census(out / "components")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    for p in sorted(out.rglob("*")):
        if p.is_file():
            print(f"  {p.relative_to(out)}: {p.stat().st_size:,} bytes")
    print(f"total: {total:,} bytes")
    assert total < 10_000_000
    return True


def verify_pipe_survey(pipes):
    """The survey tables read back as delivered: workbook sheets, GBK and UTF-8-BOM CSVs,
    X = northing and Y = zone-prefixed easting."""
    import csv
    import io

    import openpyxl

    wb = openpyxl.load_workbook(pipes / PIPE_WORKBOOK, read_only=True)
    names = [PIPE_CLASSES[k]["name"] for k in ("JS", "YS", "WS", "RQ")]
    assert wb.sheetnames == [f"{n}管线{t}" for n in names for t in ("点", "段")], wb.sheetnames
    wb.close()
    gbk = [(pipes / f).read_bytes() for f in PIPE_CSV_GBK]
    for raw in gbk:
        raw.decode("gbk")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError("the 热力 CSV must be GBK, not UTF-8")
    utf = [(pipes / f).read_bytes() for f in PIPE_CSV_UTF8]
    assert all(raw.startswith(b"\xef\xbb\xbf") for raw in utf)
    pts = list(csv.DictReader(io.StringIO(utf[0].decode("utf-8-sig"))))
    assert {r["管线类别"] for r in pts} == {"电力", "通信"}
    xs = np.array([float(r["X"]) for r in pts])
    ys = np.array([float(r["Y"]) for r in pts])
    assert ((xs > 3_909_500) & (xs < 3_918_500)).all(), "X is the northing"
    assert ((ys > 39_460_000) & (ys < 39_468_000)).all(), "Y is the zone-prefixed easting"
    print(f"pipes: {PIPE_WORKBOOK} ({len(names)} classes), {PIPE_CSV_GBK[0]} (GBK), "
          f"{PIPE_CSV_UTF8[0]} (UTF-8 BOM, {len(pts)} points of 电力 and 通信)")


def verify_component_census(comp):
    subclasses = set()
    for name, gtype in (("components_points", "Point"), ("components_lines", "LineString"),
                        ("components_polygons", "Polygon")):
        shp = comp / f"{name}.shp"
        assert not shp.with_suffix(".cpg").exists(), ".cpg must not be delivered"
        info = pyogrio.read_info(shp)
        assert info["crs"] == STORAGE_CRS and info["geometry_type"] == gtype, info
        raw = shp.with_suffix(".dbf").read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError(f"{name}.dbf decodes as UTF-8")
        df = pyogrio.read_dataframe(shp, encoding="GBK", read_geometry=False)
        assert list(df.columns) == COMPONENT_FIELDS and df["编号"].is_unique
        subclasses |= {COMPONENT_CODES[n][0] for n in df["部件名称"] if n in COMPONENT_CODES}
    majors = {c[:2] for c in subclasses}
    assert len(subclasses) >= 20 and majors == {"01", "02", "03", "04", "05", "06"}
    print(f"components: {len(subclasses)} subclasses of majors {sorted(majors)}")


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
