"""Write the sample approval projects (run from the repository root):

    python -m data_samples.projects.make_projects

- ``passes.gpkg``: on parcel RC-1317 of the sample planning data (layers by convention:
  用地红线, 建筑, 绿地; Chinese field names; EPSG:4527);
- ``breaks_several.geojson``: on parcel RC-1217 (the village block), GeoJSON in CRS84 with a
  ``role`` per feature;
- ``pipe_clearance.dxf``: a DXF drawing (GBK, DXF layers 用地红线/建筑/绿地, each building's
  attributes as a TEXT inside it) on parcel RC-0324, which the old water main of
  ``data_samples/jining/pipes_gis/`` crosses.

Positions on the sample parcels are taken from ``data_samples/jining/planning/planning.gpkg``
(each parcel's south-west and south-east corners give the block's own axes u, v in metres), so
the projects follow the parcels if the planning sample is regenerated.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
import shapely.geometry
from pyproj import Transformer
from shapely.geometry import Polygon

HERE = Path(__file__).resolve().parent
PLANNING = HERE.parent / "jining" / "planning" / "planning.gpkg"
SRID = 4527


def parcel_frame(code: str):
    """(u, v) metres along the parcel's south edge and across it → storage coordinates."""
    df = pyogrio.read_dataframe(PLANNING, layer="parcels")
    geom = df.loc[df["地块编码"] == code].geometry.iloc[0]
    ring = list(shapely.get_parts(geom)[0].exterior.coords)[:-1]
    sw = min(ring, key=lambda p: p[0] + p[1])
    se = min((p for p in ring if p != sw), key=lambda p: p[1] - 0.1 * p[0])
    dx, dy = se[0] - sw[0], se[1] - sw[1]
    n = math.hypot(dx, dy)
    ux, uy = dx / n, dy / n

    def rect(u0: float, v0: float, u1: float, v1: float) -> Polygon:
        pts = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        return Polygon([(sw[0] + u * ux - v * uy, sw[1] + u * uy + v * ux) for u, v in pts])

    return rect


def passes() -> None:
    r = parcel_frame("RC-1317")
    path = HERE / "passes.gpkg"
    path.unlink(missing_ok=True)
    layers = {
        "用地红线": [(r(10, 10, 130, 110), {"名称": "汇景苑一期用地"})],
        "建筑": [(r(20, 20, 40, 60), {"名称": "1号楼", "地上层数": 18, "地下层数": 2,
                                     "建筑高度": 54.0, "用途": "住宅"}),
               (r(95, 20, 115, 60), {"名称": "2号楼", "地上层数": 18, "地下层数": 2,
                                     "建筑高度": 54.0, "用途": "住宅"})],
        "绿地": [(r(15, 70, 125, 105), {"名称": "中心绿地"}),
               (r(50, 15, 85, 65), {"名称": "宅间绿地"})],
    }
    for name, rows in layers.items():
        gpd.GeoDataFrame([a for _, a in rows], geometry=[g for g, _ in rows],
                         crs=SRID).to_file(path, layer=name, driver="GPKG")


def breaks_several() -> None:
    r = parcel_frame("RC-1217")
    t = Transformer.from_crs(SRID, "OGC:CRS84", always_xy=True)

    def feat(role: str, g: Polygon, **props) -> dict:
        g = shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
        return {"type": "Feature", "properties": {"role": role, **props},
                "geometry": shapely.geometry.mapping(shapely.set_precision(g, 1e-9))}

    fc = {"type": "FeatureCollection", "name": "breaks_several", "features": [
        feat("site", r(10, 10, 130, 110), name="旧村改造用地"),
        feat("demolish", r(10, 10, 70, 110), name="拆除范围（西半村）"),
        feat("building", r(20, 20, 45, 50), name="A座", floors_above=28, floors_below=2,
             height=85.0, use="住宅"),
        feat("building", r(75, 20, 100, 50), name="B座", floors_above=18, floors_below=2,
             height=54.0, use="住宅"),
        feat("building", r(110, 60, 128.5, 90), name="C座", floors_above=18, height=54.0,
             use="商业"),
        feat("green", r(15, 70, 65, 100), name="绿地"),
    ]}
    (HERE / "breaks_several.geojson").write_text(
        json.dumps(fc, ensure_ascii=False, indent=1), encoding="utf-8")


def _dxf(entities: list[tuple]) -> str:
    """A minimal DXF (R2007 header, code page ANSI_936 as Chinese CAD writes it)."""
    out = ["0", "SECTION", "2", "HEADER", "9", "$ACADVER", "1", "AC1021", "9", "$DWGCODEPAGE",
           "3", "ANSI_936", "9", "$INSUNITS", "70", "6", "0", "ENDSEC",
           "0", "SECTION", "2", "ENTITIES"]
    for e in entities:
        if e[0] == "poly":
            _, layer, g = e
            pts = list(g.exterior.coords)[:-1]
            out += ["0", "LWPOLYLINE", "8", layer, "90", str(len(pts)), "70", "1"]
            for x, y in pts:
                out += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
        else:
            _, layer, (x, y), text = e
            out += ["0", "TEXT", "8", layer, "10", f"{x:.3f}", "20", f"{y:.3f}", "30", "0.0",
                    "40", "2.5", "1", text]
    out += ["0", "ENDSEC", "0", "EOF"]
    return "\r\n".join(out) + "\r\n"


def pipe_clearance() -> None:
    """On block RC-0324, crossed by the old DN300 water main (``jining/pipes_gis``, centre line
    at u = 41.65 m): 1号楼's east wall (u = 40) stands 1.5 m from the pipe's wall, 3.0 m
    required; everything else is laid out as ``passes.gpkg``."""
    r = parcel_frame("RC-0324")
    text = "名称={};地上层数=18;地下层数=2;建筑高度=54;用途=住宅"
    ents = [("poly", "用地红线", r(10, 10, 130, 110))]
    for name, g in (("1号楼", r(20, 20, 40, 60)), ("2号楼", r(95, 20, 115, 60))):
        c = g.centroid
        ents += [("poly", "建筑", g), ("text", "建筑", (c.x, c.y), text.format(name))]
    ents += [("poly", "绿地", r(15, 70, 125, 105)), ("poly", "绿地", r(50, 15, 85, 65))]
    (HERE / "pipe_clearance.dxf").write_bytes(_dxf(ents).encode("gbk"))


if __name__ == "__main__":
    passes()
    breaks_several()
    pipe_clearance()
    print(f"wrote the sample projects in {HERE}")
