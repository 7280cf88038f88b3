"""The city-management component census (城市部件普查) of the sample set.

Manhole covers, inlets and hydrants stand on a share of the surveyed pipe points; street
furniture stands along the streets; a few guard rails and car parks are lines and polygons.
The deliberate imperfections (classes not in the dictionary, points on grid-cell boundaries,
a point outside the area) are what the component loader must reject or resolve. One bridge
(跨河桥 0208, issue 14: the bridge sensors watch it) stands where a street crosses the lake by
the shortest span; it is drawn last and numbered after the lines and polygons, so every other
record keeps its number and its attributes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import shapely.ops

from data_samples.generate.files import write_gbk_shapefile
from data_samples.generate.frame import STORAGE_CRS, rotation

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
    "跨河桥": ("0208", []), "交通护栏": ("0211", []), "路名牌": ("0213", []), "公共厕所": ("0301", ["公厕"]),
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
    """Attributes of one census object of subclass ``name``, the class as a census writes it."""
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


def _bridge_point(streets, world) -> tuple[shapely.Point, str]:
    """Where a street centreline crosses the lake's water (the building-free zone less its 80 m
    shore) by the shortest chord: the middle of that chord, and the street's direction."""
    water = streets["lake"].buffer(-80.0)
    best = None
    for key, road, span in (("ul", "南北向道路", 5300.0), ("vl", "东西向道路", 4900.0)):
        for p, _w in streets[key]:
            ends = [(p, -span), (p, span)] if key == "ul" else [(-span, p), (span, p)]
            chord = shapely.LineString([world(*e) for e in ends]).intersection(water)
            if not chord.is_empty and (best is None or chord.length < best[0].length):
                best = (chord, road)
    mid = best[0].interpolate(0.5, normalized=True)
    return shapely.Point(round(mid.x, 3), round(mid.y, 3)), best[1]


def make_component_census(frame, districts, streets, pipe_points, rng):
    """Census points, lines and polygons (EPSG:4527) plus the deliberate imperfections."""
    import geopandas as gpd

    x0, y0, x1, y1 = frame
    R, cx, cy = rotation(streets["theta"]), streets["cx"], streets["cy"]
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
    # the bridge, last: its draws and its number come after every other record's
    bridge, road = _bridge_point(streets, world)
    rec = _census_record(rng, "跨河桥", f"{road}跨太白湖水面", class_value="跨河桥")
    rec.update({"状态": "完好", "编号": f"BJ{n0 + len(lrecs) + len(precs) + 1:06d}"})
    recs.append(rec)
    geoms.append(bridge)
    points = gpd.GeoDataFrame(pd.DataFrame(recs, columns=COMPONENT_FIELDS), geometry=geoms,
                              crs=STORAGE_CRS)
    lines = gpd.GeoDataFrame(pd.DataFrame(lrecs, columns=COMPONENT_FIELDS), geometry=lgeoms,
                             crs=STORAGE_CRS)
    polys = gpd.GeoDataFrame(pd.DataFrame(precs, columns=COMPONENT_FIELDS), geometry=pgeoms,
                             crs=STORAGE_CRS)
    return points, lines, polys, notes


def write_component_census(points, lines, polys, out_dir: Path) -> None:
    """Write the census as three GBK shapefiles without ``.cpg`` (points, lines, polygons)."""
    out = Path(out_dir)
    for gdf, name, gtype in ((points, "components_points", "Point"),
                             (lines, "components_lines", "LineString"),
                             (polys, "components_polygons", "Polygon")):
        write_gbk_shapefile(gdf, out / f"{name}.shp", gtype)
