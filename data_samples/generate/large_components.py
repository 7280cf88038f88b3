"""A large synthetic component census (benchmarks): any number of points, bounded memory.

Same schema as the sample census (:mod:`components`: 编号, 部件小类, 部件名称, 状态, 初始日期 …,
Chinese field names), generated vectorised chunk by chunk. The points stand in the streets of
the :mod:`large_buildings` lattice of ``buildings`` footprints (a street lamp, a manhole cover or
a bin is street furniture): on either side of a street, 3 to 14 m from its centreline, so they
never fall inside a block. Subclasses are drawn from the census's point subclasses, weighted
as a census finds them (many covers and lamps, few sculptures); the class is written as the
subclass name, its 4-digit code or an alias, as censuses do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import shapely

from data_samples.generate.components import (
    COMPONENT_CODES,
    COMPONENT_FIELDS,
    DEPARTMENTS,
    OWNERS,
)
from data_samples.generate.files import pinned_gdal_date, remove_dataset
from data_samples.generate.frame import STORAGE_CRS
from data_samples.generate.large_buildings import _BLOCK_SLOTS, _LATTICE, _ROAD
from data_samples.generate.large_pipes import building_streets

# point subclasses and their relative frequency in a census (lines and areas left out)
POINT_WEIGHTS = {
    "上水井盖": 8, "污水井盖": 8, "雨水井盖": 8, "雨水箅子": 10, "电力井盖": 5, "通讯井盖": 6,
    "热力井盖": 2, "燃气井盖": 3, "消防设施": 3, "通讯交接箱": 1, "路灯": 15, "报刊亭": 0.2,
    "邮筒": 0.3, "健身设施": 0.5, "变压器(箱)": 1, "监控电子眼": 2, "治安岗亭": 0.2,
    "停车咪表": 1, "公交站亭": 0.8, "交通标志牌": 5, "交通信号灯": 2, "路名牌": 2,
    "公共厕所": 0.3, "化粪池": 0.5, "垃圾箱": 10, "古树名木": 0.2, "雕塑": 0.1,
    "街头坐椅": 2, "宣传栏": 1, "人防工事": 0.1, "重大危险源": 0.05, "水域附属设施": 0.1,
}
_NAMES = np.array(list(POINT_WEIGHTS), dtype=object)
_P = np.array(list(POINT_WEIGHTS.values()), dtype=float) / sum(POINT_WEIGHTS.values())


def make_components_chunk(start: int, n: int, count: int, buildings: int, seed: int = 0):
    """Census points ``start .. start+n-1`` of a ``count``-point census (GeoDataFrame,
    EPSG:4527). Deterministic in (start, n, count, buildings, seed)."""
    import geopandas as gpd

    rng = np.random.default_rng([int(seed), 16, int(start), int(n)])
    sx, sy, ncols = building_streets(buildings)
    pitch = _BLOCK_SLOTS * _LATTICE + _ROAD
    along = rng.uniform(0.0, ncols * pitch, n)
    street = rng.integers(0, ncols + 1, n)
    across = rng.choice([-1.0, 1.0], n) * rng.uniform(3.0, 14.0, n)
    vertical = rng.random(n) < 0.5
    x = np.where(vertical, sx + street * pitch + across, sx + along)
    y = np.where(vertical, sy + along, sy + street * pitch + across)
    names = _NAMES[rng.choice(len(_NAMES), size=n, p=_P)]
    codes = np.array([COMPONENT_CODES[s][0] for s in names], dtype=object)
    alias = np.array([COMPONENT_CODES[s][1][0] if COMPONENT_CODES[s][1] else s for s in names],
                     dtype=object)
    r = rng.random(n)
    klass = np.where(r < 0.15, codes, np.where(r < 0.3, alias, names))
    major = np.array([c[:2] for c in codes], dtype=object)
    owner = np.array([OWNERS.get(c, DEPARTMENTS[m][1]) for c, m in zip(codes, major)], dtype=object)
    yr, mo, dy = rng.integers(2018, 2024, n), rng.integers(1, 13, n), rng.integers(1, 29, n)
    initial = np.array([f"{a}-{b:02d}-{c:02d}" for a, b, c in zip(yr, mo, dy)], dtype=object)
    changed = np.where(rng.random(n) < 0.2, np.array(
        [f"{a + 1}-{b:02d}-01" for a, b in zip(yr, rng.integers(1, 13, n))], dtype=object), None)
    state = np.array(["完好", "破损", "丢失", "占用"], dtype=object)[
        rng.choice(4, size=n, p=[0.85, 0.08, 0.02, 0.05])]
    source = np.array(["实测", "调绘", "地形图"], dtype=object)[
        rng.choice(3, size=n, p=[0.8, 0.15, 0.05])]
    width = max(7, len(str(count)))
    data = {
        "编号": np.array([f"BJ{i + 1:0{width}d}" for i in range(start, start + n)], dtype=object),
        "部件小类": klass, "部件名称": names, "状态": state, "初始日期": initial,
        "变更日期": changed,
        "主管代码": np.array([DEPARTMENTS[m][0] for m in major], dtype=object),
        "主管部门": np.array([DEPARTMENTS[m][1] for m in major], dtype=object),
        "权属代码": np.array(["QS" + c for c in codes], dtype=object), "权属单位": owner,
        "养护代码": np.array(["YH" + m for m in major], dtype=object),
        "养护单位": np.array([o if c in OWNERS else "太白湖市政养护公司（示例）"
                          for o, c in zip(owner, codes)], dtype=object),
        "数据来源": source,
        "位置描述": np.where(vertical, "南北向道路", "东西向道路").astype(object),
        "备注": np.full(n, None, dtype=object),
    }
    assert list(data) == COMPONENT_FIELDS
    geoms = shapely.points(np.round(x, 3), np.round(y, 3))
    return gpd.GeoDataFrame(data, geometry=geoms, crs=STORAGE_CRS)


def write_components_gpkg(path: Path | str, count: int, buildings: int, seed: int = 0,
                          chunk: int = 100_000) -> Path:
    """Write ``count`` census points to a GeoPackage (layer ``components``), ``chunk`` rows
    at a time so memory stays bounded. Load with ``cim load components PATH``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dataset(path)
    with pinned_gdal_date():
        start = 0
        while start < count or start == 0:
            k = min(chunk, count - start)
            gdf = make_components_chunk(start, k, count, buildings, seed)
            pyogrio.write_dataframe(gdf, path, layer="components", driver="GPKG",
                                    geometry_type="Point", append=start > 0)
            start += k
            if k == 0:
                break
    return path
