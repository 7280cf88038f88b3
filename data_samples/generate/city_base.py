"""City base layers of the sample district (issue 13): roads, green spaces, facilities and
population that make the health-check indicators meaningful.

``base/`` holds four GeoPackages with Chinese field names as a surveying or statistics office
delivers them:

* ``roads.gpkg`` (道路中心线): the street centre lines of the planning red lines with their
  class by red-line width (40 m 主干路, 6 lanes; 28 m 次干路, 4 lanes), plus 支路 (12 m, 2 lanes)
  through two in five residential blocks where a lane clears every building.
* ``green_spaces.gpkg`` (绿地与公园): what is *built* of the plan's green — in the northern
  district (任城区) every planned park, in the southern one (微山县) only about a third of them
  (the rest is still only a plan) — typed by size (≥ 10 ha 综合公园, ≥ 1 ha 社区公园, else
  游园), the plan's protective green, the lake ring park, and 游园 in the north: 2,000 m² on
  a free corner or edge of built residential blocks, 3,000 m² on reserved land (留白用地).
  So the north is well served by parks and the south is not.
* ``facilities.gpkg`` (公共服务设施): schools in the surveyed 教育 buildings (by footprint: 幼儿园,
  小学, 中学), hospitals and health centres in the 医疗 buildings, emergency shelters in the
  larger parks, and per built residential block a 社区卫生服务站 / 菜市场 / 社区服务站 / 幼儿园 /
  老年人日间照料中心 each with a probability that is high in the north and low in the south.
* ``population.gpkg`` (人口): residents per grid cell (网格编码) for 2026 from the residential
  floor area of the surveyed buildings whose centroid lies in the cell (住宅 fully, 商住混合
  half; :data:`M2_PER_RESIDENT` m² of floor per resident).

Everything is derived from the planning layers, the building survey and the grid of the same
seed plus a random stream of its own (the sixth), so the other sample files keep their bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, box

from data_samples.generate.files import pinned_gdal_date, remove_dataset
from data_samples.generate.frame import STORAGE_CRS

BASE_DIR = Path("base")
FILES = ("roads", "green_spaces", "facilities", "population")
YEAR = 2026  # the year `make demo` computes the health check for
M2_PER_RESIDENT = 40.0
OCCUPANCY = 0.9
# share of planned parks built, and the chance a residential block has each small facility
BUILT_PARKS = {"370811": 1.0, "370826": 0.35}
SERVED = {"370811": 0.75, "370826": 0.2}
ROAD_CLASS = {40.0: ("主干路", 6), 28.0: ("次干路", 4)}
RESIDENTIAL = ("二类居住用地", "城镇住宅用地")
POCKET = (60.0, 50.0)  # a 游园 (m; on a block corner it is inset by 5 m)


def _district_of(g, districts) -> str:
    c = g.representative_point()
    return next((code for code, _n, poly in districts if poly.contains(c)), districts[-1][0])


def _green_type(area: float) -> str:
    return "综合公园" if area >= 100_000 else "社区公园" if area >= 10_000 else "游园"


def _roads(planning, parcels, sidx, rng) -> list[tuple[dict, object]]:
    out = []
    lines = planning["control_lines"]
    for _, r in lines[lines["控制线类型"] == "道路红线"].iterrows():
        cls, lanes = ROAD_CLASS[float(r["红线宽度"])]
        out.append(({"道路名称": r["名称"], "道路等级": cls, "红线宽度": f"{r['红线宽度']:g}m",
                     "车道数": lanes}, r.geometry))
    for _, p in parcels.iterrows():  # 支路: a lane across a residential block, clear of buildings
        if p["用地性质"] not in RESIDENTIAL or rng.random() >= 0.4:
            continue
        g = p.geometry.geoms[0] if p.geometry.geom_type == "MultiPolygon" else p.geometry
        rect = shapely.minimum_rotated_rectangle(g)
        xy = np.asarray(rect.exterior.coords)[:4]
        e0, e1 = xy[1] - xy[0], xy[2] - xy[1]
        a, b = (xy[0] + e0 / 2, xy[2] - e0 / 2) if np.hypot(*e0) < np.hypot(*e1) else \
            (xy[1] + e1 / 2, xy[3] - e1 / 2)
        lane = LineString(np.round([a, b], 3)).intersection(g)
        if lane.is_empty or lane.length < 100 or \
                len(sidx.query(lane.buffer(6.0), predicate="intersects")):
            continue
        out.append(({"道路名称": f"{p['地块编码']}支路", "道路等级": "支路", "红线宽度": "12m",
                     "车道数": 2}, lane))
    return out


def _greens(parcels, districts, buildings, sidx, rng) -> list[tuple[dict, object]]:
    out = []
    for _, p in parcels.iterrows():
        g, use = p.geometry, p["用地性质"]
        if use == "公园绿地":
            built = p["地块编码"] == "WS-LAKE-G" or \
                rng.random() < BUILT_PARKS[_district_of(g, districts)]
            if not built:
                continue
            name = "环湖公园（示例）" if p["地块编码"] == "WS-LAKE-G" else f"{p['地块编码']}公园"
            kind = "综合公园" if p["地块编码"] == "WS-LAKE-G" else _green_type(g.area)
            out.append(({"名称": name, "绿地类型": kind}, g))
        elif use == "防护绿地":
            out.append(({"名称": f"{p['地块编码']}防护绿地", "绿地类型": "防护绿地"}, g))
        elif use == "留白用地" and _district_of(g, districts) == "370811" and rng.random() < 0.6:
            c = g.representative_point()  # a 游园 laid out on reserved land for now
            w, h = POCKET
            spot = box(round(c.x - w / 2, 3), round(c.y - h / 2, 3), round(c.x + w / 2, 3),
                       round(c.y + h / 2, 3))
            if g.contains(spot):
                out.append(({"名称": f"{p['地块编码']}游园", "绿地类型": "游园"}, spot))
        elif use in RESIDENTIAL and _district_of(g, districts) == "370811" \
                and len(sidx.query(g, predicate="intersects")) and rng.random() < 0.5:
            x0, y0, x1, y1 = g.bounds
            w, h = POCKET
            xm, ym = (x0 + x1 - w) / 2, (y0 + y1 - h) / 2
            for cx, cy in ((x0, y0), (x1 - w, y0), (x0, y1 - h), (x1 - w, y1 - h), (xm, y0),
                           (xm, y1 - h), (x0, ym), (x1 - w, ym)):
                spot = box(cx, cy, cx + w, cy + h).buffer(-5.0, join_style="mitre")
                spot = box(*np.round(spot.bounds, 3))
                if g.contains(spot) and not len(sidx.query(spot, predicate="intersects")):
                    out.append(({"名称": f"{p['地块编码']}游园", "绿地类型": "游园"}, spot))
                    break
    for rec, g in out:
        rec["面积"] = round(g.area, 1)
    return out


def _facilities(parcels, greens, districts, buildings, sidx, rng) -> list[tuple[dict, object]]:
    out = []
    edu = buildings[buildings["建筑用途"] == "教育"]
    for _, b in edu.iterrows():
        a = b.geometry.area
        kind, cap = (("幼儿园", 270) if a < 750 else ("小学", 1620) if a < 1300
                     else ("中学", 2400))
        out.append(({"设施名称": f"{b['建筑名称'] or '学校'}{kind}（示例）", "设施类型": kind,
                     "规模": cap}, shapely.make_valid(b.geometry).representative_point()))
    med = buildings[buildings["建筑用途"] == "医疗"].copy()
    med["_a"] = med.geometry.area
    for k, (_, b) in enumerate(med.sort_values(["_a", "编号"], ascending=[False, True])
                               .iterrows()):
        kind, cap = ("医院", 600) if k == 0 else ("社区卫生服务中心", 40)
        out.append(({"设施名称": f"{b['建筑名称'] or '医疗'}{kind}（示例）", "设施类型": kind,
                     "规模": cap}, shapely.make_valid(b.geometry).representative_point()))
    for rec, g in greens:
        if rec["绿地类型"] in ("综合公园", "社区公园") and g.area >= 20_000:
            out.append(({"设施名称": f"{rec['名称']}应急避难场所", "设施类型": "应急避难场所",
                         "规模": int(g.area * 0.5)}, g.representative_point()))
    offsets = {"社区卫生服务站": (-30, -30), "菜市场": (30, -30), "社区服务站": (-30, 30),
               "幼儿园": (30, 30), "老年人日间照料中心": (0, 45)}
    caps = {"社区卫生服务站": 0, "菜市场": 120, "社区服务站": 0, "幼儿园": 180,
            "老年人日间照料中心": 30}
    for _, p in parcels.iterrows():  # blocks with people in them
        if p["用地性质"] not in RESIDENTIAL or not len(sidx.query(p.geometry,
                                                                predicate="intersects")):
            continue
        d = _district_of(p.geometry, districts)
        c = p.geometry.representative_point()
        for kind, (dx, dy) in offsets.items():
            if rng.random() >= SERVED[d]:
                continue
            pt = Point(round(c.x + dx, 3), round(c.y + dy, 3))
            if not p.geometry.contains(pt):
                pt = c
            out.append(({"设施名称": f"{p['地块编码']}{kind}（示例）", "设施类型": kind,
                         "规模": caps[kind] or None}, pt))
    for _code, name, poly in districts:  # one 养老院 and one 社区服务中心 per district
        c = poly.representative_point()
        out.append(({"设施名称": f"{name}养老院（示例）", "设施类型": "养老院", "规模": 200},
                    Point(round(c.x - 40, 3), round(c.y, 3))))
        out.append(({"设施名称": f"{name}社区服务中心（示例）", "设施类型": "社区服务中心",
                     "规模": None}, Point(round(c.x + 40, 3), round(c.y, 3))))
    return out


def _population(cells, buildings) -> list[tuple[dict, object]]:
    share = buildings["建筑用途"].map({"住宅": 1.0, "商住混合": 0.5}).fillna(0.0).to_numpy()
    floors = buildings["地上层数"].fillna(1).to_numpy(dtype=float)
    floor_area = buildings.geometry.area.to_numpy() * floors * share
    centroids = buildings.geometry.centroid.to_numpy()
    tree = shapely.STRtree(centroids)
    out = []
    for cell in cells:
        hit = tree.query(cell["geometry"], predicate="contains")
        residents = int(round(float(floor_area[hit].sum()) * OCCUPANCY / M2_PER_RESIDENT))
        if residents > 0:
            g = cell["geometry"]
            out.append(({"网格编码": cell["code"], "网格名称": cell["name"],
                         "常住人口": residents, "年份": YEAR},
                        g if g.geom_type == "MultiPolygon" else MultiPolygon([g])))
    return out


def make_city_base(districts, cells, buildings, planning, rng) -> dict:
    """The four base layers as GeoDataFrames (EPSG:4527), keyed by file name."""
    import geopandas as gpd

    parcels = planning["parcels"]
    sidx = shapely.STRtree(buildings.geometry.to_numpy())
    roads = _roads(planning, parcels, sidx, rng)
    greens = _greens(parcels, districts, buildings, sidx, rng)
    facilities = _facilities(parcels, greens, districts, buildings, sidx, rng)
    population = _population(cells, buildings)

    def frame_of(items, id_field, prefix, multi=None):
        recs = [{id_field: f"{prefix}{k:04d}", **r} for k, (r, _) in enumerate(items, start=1)]
        geoms = [shapely.set_precision(g, 0.001) for _, g in items]
        if multi == "polygon":
            geoms = [g if g.geom_type == "MultiPolygon" else MultiPolygon([g]) for g in geoms]
        elif multi == "line":
            geoms = [g if g.geom_type == "MultiLineString" else MultiLineString([g])
                     for g in geoms]
        return gpd.GeoDataFrame(recs, geometry=geoms, crs=STORAGE_CRS)

    return {"roads": frame_of(roads, "道路编号", "DL", "line"),
            "green_spaces": frame_of(greens, "绿地编号", "LD", "polygon"),
            "facilities": frame_of(facilities, "设施编号", "SS"),
            "population": frame_of(population, "编号", "RK", "polygon")}


def write_city_base(layers: dict, out_dir: Path) -> list[Path]:
    """Write one GeoPackage per layer (pinned dates: byte-identical reruns)."""
    import pyogrio

    gtypes = {"roads": "MultiLineString", "green_spaces": "MultiPolygon", "facilities": "Point",
              "population": "MultiPolygon"}
    paths = []
    with pinned_gdal_date():
        for name, gdf in layers.items():
            path = Path(out_dir) / BASE_DIR / f"{name}.gpkg"
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_dataset(path)
            pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG",
                                    geometry_type=gtypes[name])
            paths.append(path)
    return paths
