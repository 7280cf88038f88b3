"""Large synthetic building sets (benchmarks, load tests): any count, bounded memory.

Same attribute schema as the sample survey, but footprints on a plain lattice of blocks so a
million of them are generated vectorised, chunk by chunk, and never overlap.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from data_samples.generate.files import pinned_gdal_date, remove_dataset
from data_samples.generate.frame import STORAGE_CRS, area_frame
from data_samples.generate.vocabulary import (
    BUILDING_USES,
    COMPANIES,
    ESTATES_NEW,
    ESTATES_OLD,
    HOSPITALS,
    LOGISTICS,
    OFFICES,
    PLAZAS,
    SCHOOLS,
    STRUCTURES,
    VILLAGES,
)

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


def make_buildings_chunk(start: int, n: int, count: int, seed: int = 0):
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
    x0, y0, x1, y1 = area_frame()
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


def write_buildings_gpkg(path: Path | str, count: int, seed: int = 0,
                         chunk: int = 100_000) -> Path:
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
    remove_dataset(path)
    with pinned_gdal_date():
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
