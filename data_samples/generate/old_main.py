"""A second pipe delivery of the sample district: an old water main under a redevelopment block.

A real city holds several pipe deliveries besides the street survey: here a 给水 DN300
cast-iron main built in 1985 that runs straight across block RC-0324 (二类居住用地, no existing
building on its line), from the road south of the block to the road north of it, as a water
company's GIS export (a GeoPackage with a ``pipes`` line layer and a ``nodes`` point layer,
Chinese field names). It is the pipe the approval sample ``pipe_clearance.dxf`` comes too close
to (data_samples/projects/). It draws from a random stream of its own (ground elevations and
depths only), so the files written before it keep their bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import shapely
from shapely.geometry import LineString, Point

OLD_MAIN_FILE = Path("pipes_gis") / "old_water_main.gpkg"
PARCEL = "RC-0324"
U_MAIN = 41.65  # metres along the block's south edge: the main's centre line
OVERHANG = 15.0  # metres beyond the parcel into the roads at either end
NODE_STEP = 40.0
README = """\
# 旧给水干管 (old water main), a second pipe delivery

`old_water_main.gpkg` is a water company's GIS export, separate from the street survey in
`../pipes/`: one 给水 DN300 cast-iron (铸铁) main built in 1985, laid straight across block
RC-0324 (before the block was planned) from the road south of it to the road north of it.
Layers `pipes` (管段编号, 起点号, 终点号, 管径, 材质, 建设年代, 埋设方式, 起点埋深, 终点埋深, 权属单位)
and `nodes` (物探点号, 特征, 地面高程), EPSG:4527, 3D: nodes at 地面高程, the pipe at
地面高程 − 埋深. Written by `data_samples/generate/old_main.py`.

```sh
cim load pipes --lines data_samples/jining/pipes_gis/old_water_main.gpkg:pipes \\
  --points data_samples/jining/pipes_gis/old_water_main.gpkg:nodes --class 给水 --dataset old_water_main
```
"""


def block_axes(geom) -> tuple[tuple[float, float], tuple[float, float]]:
    """The parcel's south-west corner and the unit vector along its south edge (the same axes
    as data_samples/projects/make_projects.py)."""
    ring = list(shapely.get_parts(geom)[0].exterior.coords)[:-1]
    sw = min(ring, key=lambda p: p[0] + p[1])
    se = min((p for p in ring if p != sw), key=lambda p: p[1] - 0.1 * p[0])
    dx, dy = se[0] - sw[0], se[1] - sw[1]
    n = math.hypot(dx, dy)
    return sw, (dx / n, dy / n)


def make_old_main(parcels, rng) -> dict:
    """The ``pipes`` and ``nodes`` layers (GeoDataFrames, EPSG:4527) of the old main."""
    import geopandas as gpd

    geom = parcels.loc[parcels["地块编码"] == PARCEL].geometry.iloc[0]
    (x0, y0), (ux, uy) = block_axes(geom)

    def at(u: float, v: float) -> tuple[float, float]:
        return (round(x0 + u * ux - v * uy, 3), round(y0 + u * uy + v * ux, 3))

    # the block's depth across its south edge along the main's line
    probe = LineString([at(U_MAIN, -100.0), at(U_MAIN, 1000.0)]).intersection(geom)
    depth = max(Point(at(U_MAIN, 0.0)).distance(Point(c)) for c in probe.coords)
    v0, v1 = -OVERHANG, depth + OVERHANG
    n = max(2, math.ceil((v1 - v0) / NODE_STEP))
    vs = [v0 + (v1 - v0) * i / n for i in range(n + 1)]
    ground = [round(float(g), 2) for g in 36.0 + rng.uniform(-0.3, 0.3, len(vs))]
    burial = [round(float(d), 2) for d in 1.6 + rng.uniform(-0.2, 0.2, len(vs))]
    ids = [f"JSJ{i + 1:03d}" for i in range(len(vs))]
    # 3D as the water company exports it: nodes at ground, the pipe at ground − depth
    z = [round(g - d, 2) for g, d in zip(ground, burial)]
    nodes = gpd.GeoDataFrame(
        {"物探点号": ids, "特征": ["起讫点"] + ["直线点"] * (len(vs) - 2) + ["起讫点"],
         "地面高程": ground},
        geometry=[Point(*at(U_MAIN, v), g) for v, g in zip(vs, ground)], crs="EPSG:4527")
    pipes = gpd.GeoDataFrame(
        {"管段编号": [f"JSG{i + 1:03d}" for i in range(n)], "起点号": ids[:-1], "终点号": ids[1:],
         "管径": ["DN300"] * n, "材质": ["铸铁"] * n, "建设年代": [1985] * n,
         "埋设方式": ["直埋"] * n, "起点埋深": burial[:-1], "终点埋深": burial[1:],
         "权属单位": ["济宁市供水公司"] * n},
        geometry=[LineString([(*at(U_MAIN, vs[i]), z[i]), (*at(U_MAIN, vs[i + 1]), z[i + 1])])
                  for i in range(n)],
        crs="EPSG:4527")
    return {"pipes": pipes, "nodes": nodes}


def write_old_main(layers: dict, out_dir: Path) -> Path:
    """Write the GeoPackage (pinned dates) and its README note."""
    import pyogrio

    from data_samples.generate.files import pinned_gdal_date, remove_dataset

    path = Path(out_dir) / OLD_MAIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dataset(path)
    with pinned_gdal_date():
        for name, gtype in (("pipes", "LineString Z"), ("nodes", "Point Z")):
            pyogrio.write_dataframe(layers[name], path, layer=name, driver="GPKG",
                                    geometry_type=gtype, append=path.exists())
    (path.parent / "README.md").write_text(README, encoding="utf-8")
    return path
