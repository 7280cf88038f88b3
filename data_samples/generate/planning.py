"""Planning controls of the sample district (规划管控): a regulatory plan that fits it.

``planning/planning.gpkg`` holds three layers, with Chinese field names as a planning
institute delivers them:

* ``parcels`` (控规地块): one parcel per street block, between the road red lines; land use
  from the block's surveyed buildings (住宅 → 二类居住用地 R2 …), empty blocks as parks,
  protective green, utilities or 留白; the lake as water with a green ring. The northern
  district's plan writes GB 50137 codes (R2, B1 …), the southern one the 用地用海分类 codes
  (0701, 0901 …). Indices are written as plans write them (``≤2.5``, ``30%``, ``≥35%``,
  ``H≤80m``) and never below what the block's existing buildings already have, so the
  surveyed district conforms to its own plan.
* ``control_lines`` (控制线): road red lines as street centre lines with their width (the red
  line holds the carriageway, the pipes and the sidewalks: 40 m on main streets, 28 m on the
  others), green lines around the parks, the blue line of the lake, one purple line around
  the oldest residential block, yellow lines around the utility parcels.
* ``height_zones`` (限高区): an airport clearance zone over the north-east and a view corridor
  north from the lake, each at least as high as the buildings already inside it.

Everything is derived from the street grid, the lake and the building survey of the same
seed, plus a random stream of its own (:func:`make_planning`), so the other sample files
keep their bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon

from data_samples.generate.files import pinned_gdal_date, remove_dataset
from data_samples.generate.frame import STORAGE_CRS, rotation
from data_samples.generate.pipes.classes import PIPE_U_RANGE, PIPE_V_RANGE, ROADS_U, ROADS_V

PLANNING_FILE = Path("planning") / "planning.gpkg"
RED_HALF_WIDTH = {20.0: 20.0, 10.0: 14.0}  # street half-width → red-line half-width (m)
# building use → (GB 50137 code, GB 50137 name, 用地用海分类 code, its name)
USE_CLASS = {
    "住宅": ("R2", "二类居住用地", "0701", "城镇住宅用地"),
    "商住混合": ("B1", "商业用地", "0901", "商业用地"),
    "商业": ("B1", "商业用地", "0901", "商业用地"),
    "办公": ("B2", "商务用地", "0902", "商务金融用地"),
    "工业": ("M1", "一类工业用地", "1001", "工业用地"),
    "教育": ("A33", "中小学用地", "0804", "教育用地"),
    "医疗": ("A5", "医疗卫生用地", "0806", "医疗卫生用地"),
    "仓储": ("W1", "一类物流仓储用地", "1101", "物流仓储用地"),
    "其他": ("R12", "服务设施用地", "0702", "城镇社区服务设施用地"),
}
EMPTY_CLASS = {
    "park": ("G1", "公园绿地", "1401", "公园绿地"),
    "protective": ("G2", "防护绿地", "1402", "防护绿地"),
    "power": ("U12", "供电用地", "1303", "供电用地"),
    "water": ("U11", "供水用地", "1301", "供水用地"),
    "reserved": ("", "留白用地", "16", "留白用地"),
}
# default indices by GB 50137 major class: FAR, density, green ratio, height (m), setback
DEFAULTS = {"R": (2.5, 0.30, 0.35, 80, 5), "B": (3.5, 0.45, 0.20, 100, 8),
            "A": (1.5, 0.35, 0.35, 45, 8), "M": (1.2, 0.50, 0.15, 24, 5),
            "W": (1.0, 0.50, 0.15, 24, 5), "G": (0.05, 0.05, 0.70, 12, 5),
            "U": (0.8, 0.40, 0.30, 24, 5)}
AIRPORT = {"max_height": 90.0, "ground": 36.0}  # 净空: height above ground, datum ≈ 36 m
CORRIDOR = {"half_width": 80.0, "max_height": 24.0}


def _ceil(x: float, step: float) -> float:
    return round(math.ceil(x / step - 1e-9) * step, 6)


def _block(ul, vl, i, j, R, cx, cy) -> Polygon:
    hw = lambda w: RED_HALF_WIDTH[w]  # noqa: E731
    u0, u1 = ul[i][0] + hw(ul[i][1]), ul[i + 1][0] - hw(ul[i + 1][1])
    v0, v1 = vl[j][0] + hw(vl[j][1]), vl[j + 1][0] - hw(vl[j + 1][1])
    pts = np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1)]) @ R.T + [cx, cy]
    return Polygon(np.round(pts, 3))


def _street_names(ul, vl) -> dict[tuple[str, int], str]:
    """The pipe survey's street names where it names them, else 规划N号路 (fictitious)."""
    names = {}
    for axis, lines, rng_, known in (("u", ul, PIPE_U_RANGE, ROADS_U), ("v", vl, PIPE_V_RANGE,
                                                                         ROADS_V)):
        k = 0
        for idx, (p, _) in enumerate(lines):
            if rng_[0] < p < rng_[1] and k < len(known):
                names[(axis, idx)] = known[k]
                k += 1
            else:
                names[(axis, idx)] = f"规划{'经' if axis == 'u' else '纬'}{idx + 1}路"
    return names


def _planned_use(r: float, is_north: bool, utilities: int) -> str:
    """The planned use of an unbuilt block (a building use or an EMPTY_CLASS key)."""
    if r < 0.04 and utilities < 3:
        return "power" if utilities % 2 == 0 else "water"
    for share, use in ((0.38, "住宅"), (0.50, "商业"), (0.56, "教育"),
                       (0.66 if is_north else 0.76, "办公" if is_north else "工业"),
                       (0.80, "park"), (0.88, "protective")):
        if r < share:
            return use
    return "reserved"


def _indices(major: str, blds, area: float) -> dict:
    far, dens, green, height, setback = DEFAULTS[major]
    if len(blds):
        foot = blds.geometry.area.to_numpy()
        floors = blds["地上层数"].to_numpy(dtype=float)
        far = max(far, _ceil(float((foot * floors).sum()) / area * 1.05, 0.1))
        dens = min(0.9, max(dens, _ceil(float(foot.sum()) / area * 1.05, 0.05)))
        h = blds["建筑高度"].to_numpy(dtype=float)
        if np.isfinite(h).any():
            height = max(height, _ceil(float(np.nanmax(h)) + 1.0, 3.0))
    return {"far": far, "density": dens, "green": green, "height": height, "setback": setback}


def _corridor(ul, R, cx, cy, area, lake, buildings, sidx) -> Polygon:
    """A view corridor north from the lake shore along the street whose strip holds the
    lowest existing buildings (a corridor is drawn where the view is still open)."""
    lx, ly = np.array(lake.centroid.coords[0]) - [cx, cy]
    lake_u, lake_v = np.array([lx, ly]) @ R  # the lake centre in street-grid coordinates
    best = None
    for u, _ in ul:
        if abs(u - lake_u) > 900.0:
            continue
        axis = LineString(np.array([(u, lake_v), (u, lake_v + 4000.0)]) @ R.T + [cx, cy])
        strip = axis.buffer(CORRIDOR["half_width"], cap_style="flat").intersection(area) \
            .difference(lake.buffer(60.0))
        h = buildings.iloc[sidx.query(strip, predicate="intersects")]["建筑高度"]
        top = float(np.nanmax(h.to_numpy(dtype=float))) if h.notna().any() else 0.0
        if best is None or top < best[0]:
            best = (top, strip)
    return best[1]


def make_planning(frame, districts, streets, buildings, rng) -> dict:
    """The three planning layers as GeoDataFrames (EPSG:4527), keyed by layer name."""
    import geopandas as gpd

    x0, y0, x1, y1 = frame
    R, cx, cy = rotation(streets["theta"]), streets["cx"], streets["cy"]
    ul, vl = streets["ul"], streets["vl"]
    area = shapely.box(x0 + 25, y0 + 25, x1 - 25, y1 - 25)
    lake = streets["lake"].buffer(-80)  # the lake itself (lake_zone is its 80 m buffer)
    blue = lake.buffer(30.0)
    ring = lake.buffer(60.0).difference(blue)
    north = districts[0][2]
    centroids = buildings.geometry.centroid
    sidx = buildings.sindex

    parcels, lines, zones = [], [], []
    utilities = 0
    for i in range(len(ul) - 1):
        for j in range(len(vl) - 1):
            g = _block(ul, vl, i, j, R, cx, cy)
            if not area.contains(g):
                continue
            if g.intersects(lake.buffer(60.0)):
                g = g.difference(lake.buffer(60.0))
                if g.area < 3000.0:
                    continue
                g = max(getattr(g, "geoms", [g]), key=lambda p: p.area)
                kind = "park"
            else:
                kind = None
            hit = sidx.query(g, predicate="intersects")
            inside = buildings.iloc[[k for k in hit if g.contains(centroids.iloc[k])]]
            is_north = north.contains(g.centroid)
            if kind is None and len(inside):
                use = inside["建筑用途"].value_counts().sort_index().idxmax()
                gb, gb_name, code, name = USE_CLASS[use]
                if use == "办公" and inside["建筑名称"].str.contains("政务|管委会|市民").any():
                    gb, gb_name, code, name = "A1", "行政办公用地", "0801", "机关团体用地"
            else:
                if kind is None:  # an unbuilt block: what the plan intends for it
                    kind = _planned_use(rng.random(), is_north, utilities)
                    utilities += kind in ("power", "water")
                gb, gb_name, code, name = EMPTY_CLASS.get(kind) or USE_CLASS[kind]
            major = gb[:1] if gb else ""
            ix = _indices(major, inside, g.area) if major in DEFAULTS else None
            pcode = f"{'RC' if is_north else 'WS'}-{i:02d}{j:02d}"
            rec = {"地块编码": pcode,
                   "用地代码": gb if is_north else code,
                   "用地性质": gb_name if is_north else name,
                   "容积率": None, "建筑密度": None, "绿地率": None, "限高": None,
                   "退道路红线": None, "退用地红线": None,
                   "退蓝线": 15.0 if g.distance(blue) < 200.0 else None,
                   "备注": None}
            if ix:
                fmt = int(rng.integers(0, 3))  # how this parcel's row writes its limits
                rec.update({
                    "容积率": [f"{ix['far']:g}", f"≤{ix['far']:g}", f"{ix['far']:g}"][fmt],
                    "建筑密度": [f"{ix['density'] * 100:g}%", f"≤{ix['density'] * 100:g}%",
                             f"{ix['density']:g}"][fmt],
                    "绿地率": [f"{ix['green'] * 100:g}%", f"≥{ix['green'] * 100:g}%",
                            f"{ix['green']:g}"][fmt],
                    "限高": [f"{ix['height']:g}", f"H≤{ix['height']:g}m", f"{ix['height']:g}米"][fmt],
                    "退道路红线": float(ix["setback"]), "退用地红线": 3.0 if major != "G" else 0.0})
            parcels.append((rec, g))
            if kind in ("park", "protective"):
                lines.append(({"控制线类型": "绿线", "名称": f"{pcode}地块绿线", "红线宽度": None}, g))
            if kind in ("power", "water"):
                what = "变电站" if kind == "power" else "供水加压站"
                lines.append(({"控制线类型": "黄线", "名称": f"{pcode}{what}黄线", "红线宽度": None},
                              g))
    # the purple line: the residential block with the oldest buildings
    old = [(float(buildings.iloc[sidx.query(g, predicate="intersects")]["建成年代"].mean()), k)
           for k, (rec, g) in enumerate(parcels) if rec["用地代码"] in ("R2", "0701")]
    rec, g = parcels[min(old)[1]]
    rec["备注"] = "古槐历史文化街区（示例）"
    lines.append(({"控制线类型": "紫线", "名称": "古槐历史文化街区紫线（示例）", "红线宽度": None},
                  g))
    # road red lines: street centre lines with the red-line width, outside the lake
    names = _street_names(ul, vl)
    no_road = lake.buffer(60.0)
    for axis, lines_ in (("u", ul), ("v", vl)):
        for idx, (p, w) in enumerate(lines_):
            ends = [(p, -6000.0), (p, 6000.0)] if axis == "u" else [(-6000.0, p), (6000.0, p)]
            cl = LineString(np.round(np.array(ends) @ R.T + [cx, cy], 3))
            cl = cl.intersection(area.buffer(-1.0)).difference(no_road)
            for part in getattr(cl, "geoms", [cl]):
                if part.length > 50.0:
                    lines.append(({"控制线类型": "道路红线", "名称": names[(axis, idx)],
                                   "红线宽度": 2 * RED_HALF_WIDTH[w]}, part))
    red = shapely.union_all([gg.buffer(r["红线宽度"] / 2, cap_style="flat") for r, gg in lines
                             if r["控制线类型"] == "道路红线"])
    ring = ring.difference(red)  # the roads that reach the lake shore cross the ring
    # the lake: water inside the blue line, a park ring around it
    parcels.append(({"地块编码": "WS-LAKE", "用地代码": "17", "用地性质": "陆地水域",
                     "容积率": None, "建筑密度": None, "绿地率": None, "限高": None,
                     "退道路红线": None, "退用地红线": None, "退蓝线": None,
                     "备注": "太白湖水面（示例）"}, blue.intersection(area)))
    parcels.append(({"地块编码": "WS-LAKE-G", "用地代码": "1401", "用地性质": "公园绿地",
                     "容积率": "0.05", "建筑密度": "5%", "绿地率": "≥70%", "限高": "12",
                     "退道路红线": 5.0, "退用地红线": 0.0, "退蓝线": 15.0,
                     "备注": "环湖绿带（示例）"}, ring.intersection(area)))
    lines.append(({"控制线类型": "蓝线", "名称": "太白湖蓝线（示例）", "红线宽度": None},
                  blue.intersection(area)))
    lines.append(({"控制线类型": "绿线", "名称": "环湖绿带绿线（示例）", "红线宽度": None},
                  ring.intersection(area)))
    # height zones
    ne = Polygon([(x0 + 4200, y1 - 25), (x1 - 25, y1 - 25), (x1 - 25, y0 + 4400)])
    corridor = _corridor(ul, R, cx, cy, area, lake, buildings, sidx)
    zone_list = [("机场净空", "济宁机场净空保护区（示例）", ne, AIRPORT["max_height"]),
                 ("视线通廊", "太白湖北望视线通廊（示例）", corridor, CORRIDOR["max_height"])]
    for n_, (ztype, zname, zg, limit) in enumerate(zone_list, start=1):
        inside = buildings.iloc[sidx.query(zg, predicate="intersects")]
        h = inside["建筑高度"].to_numpy(dtype=float)
        if np.isfinite(h).any():
            limit = max(limit, _ceil(float(np.nanmax(h)) + 1.0, 3.0))
        zones.append(({"编号": f"XG{n_:03d}", "限高类型": ztype, "名称": zname,
                       "限高": f"≤{limit:g}m",
                       "限制高程": AIRPORT["ground"] + limit if ztype == "机场净空" else None}, zg))

    def frame_of(items, multi: bool, id_field: str | None = None, prefix: str = ""):
        recs = [dict(r) for r, _ in items]
        if id_field:
            for k, r in enumerate(recs, start=1):
                r[id_field] = f"{prefix}{k:04d}"
                recs[k - 1] = {id_field: r.pop(id_field), **r}
        geoms = [shapely.set_precision(gg, 0.001) for _, gg in items]
        if multi:
            geoms = [gg if gg.geom_type == "MultiPolygon" else MultiPolygon([gg]) for gg in geoms]
        return gpd.GeoDataFrame(recs, geometry=geoms, crs=STORAGE_CRS)

    return {"parcels": frame_of(parcels, True),
            "control_lines": frame_of(lines, False, "编号", "KZX"),
            "height_zones": frame_of(zones, True)}


def write_planning(layers: dict, out_dir: Path) -> Path:
    """Write the planning GeoPackage (pinned dates: byte-identical reruns)."""
    import pyogrio

    path = Path(out_dir) / PLANNING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dataset(path)
    gtypes = {"parcels": "MultiPolygon", "control_lines": "Unknown",
              "height_zones": "MultiPolygon"}
    with pinned_gdal_date():
        for name, gdf in layers.items():
            pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG",
                                    geometry_type=gtypes[name], append=path.exists())
    return path
