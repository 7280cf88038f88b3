"""A large synthetic pipe network (benchmarks): GIS layers of lines, nodes and valves, in 3D.

The network lies in the streets between the blocks of :mod:`large_buildings` (same lattice,
same count), on a central square of streets sized so the segments number about ``segments``:
six classes, each at its own offset from the street centreline and on its own share of the
streets (给水 on every street, 雨水/污水/燃气 on every other one, 电力/通信 on every fourth),
with a node where two streets of the class cross and ``PER_EDGE - 1`` nodes between (65 m
apart, under the survey's 75 m limit). Every class is the street lattice shifted by its offset,
so nodes, segment ends and their ids agree by construction.

Heights are survey-consistent: ground = a plane falling east and north + a ±0.3 m undulation;
drainage inverts lie on the plane 2.0 m (雨水) / 2.6 m (污水) below it, so gravity pipes
(digitised south → north and west → east) always fall along flow; pressure pipes and ducts lie
their class depth below the ground at each node. Each segment carries depth and elevation at
both ends (ground = depth + elevation to 1 mm) and is a LineStringZ at the pipe elevation;
nodes are PointZ at the ground.

Water pipes have valves 3 m from the crossings (three branches in four), 1 % marked closed
(备注 关闭) and 2 % broken (损坏), each naming its pipe (所在管段); every other mid-block water
node is a hydrant, every drainage node a manhole. Field names are the surveyors' Chinese ones
that ``cim load pipes --lines … --points … --valves …`` recognises without a mapping file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from data_samples.generate.files import pinned_gdal_date, remove_dataset
from data_samples.generate.frame import STORAGE_CRS, area_frame
from data_samples.generate.large_buildings import _BLOCK_SLOTS, _LATTICE, _ROAD
from data_samples.generate.pipes.classes import PIPE_CLASSES
from data_samples.generate.pipes.network import pipe_line_attrs

# letters -> (streets: modulus, remainder), height rule: ("invert", depth below the plane) for
# gravity classes, ("depth", depth of the pipe below the ground) for the others
NETWORK_CLASSES = {
    "JS": ((1, 0), ("depth", 1.25)),
    "YS": ((2, 0), ("invert", 2.0)),
    "WS": ((2, 1), ("invert", 2.6)),
    "RQ": ((2, 1), ("depth", 1.0)),
    "DL": ((4, 1), ("depth", 0.8)),
    "TX": ((4, 3), ("depth", 0.7)),
}
PER_EDGE = 6  # segments per street between two crossings (390 m / 6 = 65 m)
VALVE_FROM_NODE = 3.0  # metres from the crossing
SLOPE_X, SLOPE_Y = 0.0003, 0.0002  # ground plane fall per metre east, north
LAYERS = ("pipes", "nodes", "valves")


def _pitch() -> float:
    return _BLOCK_SLOTS * _LATTICE + _ROAD


def building_streets(buildings: int) -> tuple[float, float, int]:
    """(x, y) of the south-west street crossing and the number of blocks per side of the
    :func:`large_buildings.make_buildings_chunk` lattice of ``buildings`` footprints."""
    per_block = _BLOCK_SLOTS * _BLOCK_SLOTS
    ncols = max(1, math.ceil(math.sqrt(-(-buildings // per_block))))
    x0, y0, x1, y1 = area_frame()
    pitch = _pitch()
    ox = (x0 + x1) / 2.0 - ncols * pitch / 2.0
    oy = (y0 + y1) / 2.0 - ncols * pitch / 2.0
    return ox - _ROAD / 2.0, oy - _ROAD / 2.0, ncols


def _on(road: int, rule: tuple[int, int]) -> bool:
    return road % rule[0] == rule[1]


def network_size(n: int) -> int:
    """Segments of the network on ``n`` × ``n`` blocks (streets 0..n each way)."""
    total = 0
    for rule, _h in NETWORK_CLASSES.values():
        roads = sum(_on(i, rule) for i in range(n + 1))
        total += 2 * roads * n * PER_EDGE
    return total


def blocks_for(segments: int, limit: int) -> int:
    """The side (in blocks, ≤ ``limit``) whose network is closest to ``segments``."""
    sizes = {n: network_size(n) for n in range(1, limit + 1)}
    return min(sizes, key=lambda n: (abs(sizes[n] - segments), n))


def network_frame(segments: int, buildings: int) -> tuple[float, float, int, int, float]:
    """(x, y) of the network's south-west street crossing, its side in blocks, the index of
    its first street in the building lattice and the street pitch (m): where
    :func:`make_pipe_network` lays the streets it fills (benchmarks place queries there)."""
    sx, sy, ncols = building_streets(buildings)
    n = blocks_for(segments, ncols)
    first = (ncols - n) // 2
    pitch = _pitch()
    return sx + first * pitch, sy + first * pitch, n, first, pitch


def _ground_plane(x, y, x0, y0):
    return 36.0 - SLOPE_X * (x - x0) - SLOPE_Y * (y - y0)


def _ground(x, y, x0, y0):
    return _ground_plane(x, y, x0, y0) + 0.3 * np.sin(x / 700.0) * np.cos(y / 900.0)


def make_pipe_network(segments: int, buildings: int, seed: int = 0) -> dict:
    """The network as three GeoDataFrames (EPSG:4527): ``pipes``, ``nodes``, ``valves``.

    ``segments`` is a target: the network is the square of whole blocks nearest to it (see
    :func:`network_size`), centred in the building lattice of ``buildings`` footprints.
    """
    import geopandas as gpd

    rng = np.random.default_rng([int(seed), 82, 83])
    gx0, gy0, n, first, pitch = network_frame(segments, buildings)
    step = pitch / PER_EDGE
    nodes: dict[tuple, dict] = {}
    pipes: list[dict] = []
    for letters, (rule, (how, depth)) in NETWORK_CLASSES.items():
        spec = PIPE_CLASSES[letters]
        off = spec["offset"]
        roads = [i for i in range(n + 1) if _on(i, rule)]
        for direction in ("V", "H"):  # V: along a south–north street, H: west–east
            for r in roads:
                wide = r % 4 == 0
                material, size, burial, pressure, voltage, cables = pipe_line_attrs(
                    letters, wide, rng)
                year = int(rng.integers(1995, 2024))
                road = f"{'经' if direction == 'V' else '纬'}{first + r}路"
                keys = []
                for q in range(n * PER_EDGE + 1):
                    b, k = divmod(q, PER_EDGE)
                    if k == 0:  # a crossing: shared by both directions
                        key = (letters, "X", r, b) if direction == "V" else (letters, "X", b, r)
                    else:
                        key = (letters, direction, r, q)
                    if key not in nodes:
                        t = q * step
                        x, y = (gx0 + r * pitch + off, gy0 + t + off) if direction == "V" \
                            else (gx0 + t + off, gy0 + r * pitch + off)
                        nodes[key] = {"x": x, "y": y, "deg": 0, "road": road, "mid": k,
                                      "letters": letters, "dirs": set()}
                    nodes[key]["dirs"].add(direction)
                    keys.append(key)
                for a, b in zip(keys[:-1], keys[1:]):
                    nodes[a]["deg"] += 1
                    nodes[b]["deg"] += 1
                    pipes.append({"a": a, "b": b, "letters": letters, "road": road,
                                  "material": material, "size": str(size), "burial": burial,
                                  "pressure": pressure, "voltage": voltage, "cables": cables,
                                  "year": year, "how": how, "depth": depth})
    # heights at the nodes
    keys = list(nodes)
    xs = np.array([nodes[k]["x"] for k in keys])
    ys = np.array([nodes[k]["y"] for k in keys])
    ground = np.round(_ground(xs, ys, gx0, gy0) + rng.uniform(-0.02, 0.02, len(keys)), 3)
    plane = _ground_plane(xs, ys, gx0, gy0)
    jitter = rng.uniform(0.0, 0.1, len(keys))
    number = {}
    counters: dict[str, int] = {}
    node_rows = []
    for i, k in enumerate(keys):
        nd = nodes[k]
        letters = nd["letters"]
        how, depth = NETWORK_CLASSES[letters][1]
        nd["ground"] = float(ground[i])
        nd["elev"] = round(float(plane[i]) - depth, 3) if how == "invert" \
            else round(float(ground[i]) - depth - float(jitter[i]), 3)
        counters[letters] = counters.get(letters, 0) + 1
        number[k] = f"{letters}{counters[letters]:06d}"
        feature = {4: "四通", 3: "三通", 1: "起讫点"}.get(nd["deg"], "直线点")
        if nd["deg"] == 2 and len(nd["dirs"]) == 2:
            feature = "转折点"  # a corner of the class's network
        appurt = None
        if how == "invert":
            appurt = "窨井"
        elif letters in ("DL", "TX") and k[1] == "X":
            appurt = "窨井" if letters == "DL" else "手孔"
        elif letters == "JS" and nd["mid"] == PER_EDGE // 2 and rng.random() < 0.5:
            appurt = "消防栓"
        node_rows.append({"物探点号": number[k], "管线类别": PIPE_CLASSES[letters]["name"],
                          "特征": feature, "附属物": appurt, "地面高程": nd["ground"],
                          "道路名称": nd["road"],
                          "geometry": shapely.Point(round(nd["x"], 3), round(nd["y"], 3),
                                                    nd["ground"])})
    pipe_rows = []
    valve_rows = []
    vcount = 0
    for s, p in enumerate(pipes, start=1):
        a, b = nodes[p["a"]], nodes[p["b"]]
        letters = p["letters"]
        sid = f"{letters}L{s:07d}"
        pipe_rows.append({
            "管段编号": sid, "起点点号": number[p["a"]], "终点点号": number[p["b"]],
            "管线类别": PIPE_CLASSES[letters]["name"],
            "起点埋深": round(a["ground"] - a["elev"], 3),
            "终点埋深": round(b["ground"] - b["elev"], 3),
            "起点高程": a["elev"], "终点高程": b["elev"], "埋设方式": p["burial"],
            "材质": p["material"], "管径": p["size"], "压力": p["pressure"],
            "电压": p["voltage"], "电缆条数": p["cables"],
            "权属单位": PIPE_CLASSES[letters]["owner"], "建设年代": p["year"],
            "道路名称": p["road"],
            "geometry": shapely.LineString([(round(a["x"], 3), round(a["y"], 3), a["elev"]),
                                            (round(b["x"], 3), round(b["y"], 3), b["elev"])])})
        if letters != "JS":
            continue
        for end, other in ((a, b), (b, a)):
            if end["mid"] != 0 or rng.random() >= 0.75:
                continue  # valves only near crossings, on three branches in four
            vcount += 1
            f = VALVE_FROM_NODE / step
            x = end["x"] + (other["x"] - end["x"]) * f
            y = end["y"] + (other["y"] - end["y"]) * f
            g = round(float(_ground(x, y, gx0, gy0)), 3)
            u = rng.random()
            valve_rows.append({"物探点号": f"JSF{vcount:06d}", "管线类别": "给水",
                               "附属物": "阀门", "所在管段": sid, "地面高程": g,
                               "备注": "关闭" if u < 0.01 else "损坏" if u < 0.03 else None,
                               "geometry": shapely.Point(round(x, 3), round(y, 3), g)})

    def frame(rows):
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_CRS)

    return {"pipes": frame(pipe_rows), "nodes": frame(node_rows), "valves": frame(valve_rows),
            "extent": (gx0, gy0, gx0 + n * pitch, gy0 + n * pitch), "blocks": n}


def write_pipe_network_gpkg(path: Path | str, segments: int, buildings: int,
                            seed: int = 0) -> Path:
    """Write :func:`make_pipe_network` to a GeoPackage, layers ``pipes``, ``nodes`` and
    ``valves`` (load with ``cim load pipes --lines P:pipes --points P:nodes --valves
    P:valves``). Deterministic for given arguments. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dataset(path)
    net = make_pipe_network(segments, buildings, seed)
    with pinned_gdal_date():
        for name, gtype in (("pipes", "LineString Z"), ("nodes", "Point Z"),
                            ("valves", "Point Z")):
            pyogrio.write_dataframe(net[name], path, layer=name, driver="GPKG",
                                    geometry_type=gtype)
    return path
