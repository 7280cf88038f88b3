"""A 2D layer keeps no Z: a geometry whose Z carries elevations is flagged ``z_dropped``; one
whose every Z is 0 (many PolygonZ Shapefile exports) loses nothing and is not. Expected
values by construction: the rings written here."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from loaders.buildings import load_buildings
from loaders.geometry import prepare


def _ring(x: float, y: float, z: list[float]) -> Polygon:
    return Polygon([(x, y, z[0]), (x + 10, y, z[1]), (x + 10, y + 10, z[2]), (x, y + 10, z[3])])


def test_prepare_flags_elevations_it_drops():
    geoms = np.array([Point(1, 2, 36.3), Point(1, 2, 0.0), Point(1, 2),
                      Point(1, 2, float("nan"))], dtype=object)
    p = prepare(geoms, None, "point")
    assert p.flags == [["z_dropped"], [], [], []]
    assert not shapely.has_z(p.geoms).any()
    assert prepare(geoms, None, "point", keep_z=True).flags == [[], [], ["no_z"], []]


def test_a_building_with_elevations_is_flagged(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    geoms = [_ring(x, y, [0, 0, 0, 0]),                        # Z written as 0: nothing lost
             _ring(x + 20, y, [36.3, 36.3, 36.4, 36.3]),       # the ground's elevation
             Polygon([(x + 40, y), (x + 50, y), (x + 50, y + 10), (x + 40, y + 10)])]
    path = tmp_path / "z.gpkg"
    gpd.GeoDataFrame({"编号": ["Z0", "Z1", "P2"], "建筑用途": ["住宅"] * 3}, geometry=geoms,
                     crs="EPSG:4527").to_file(path, engine="pyogrio")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (3, 3, 0), r.text()
    got = {k.rsplit(":", 1)[1]: (round(a, 6), z, f) for k, a, z, f in fresh_db.rows(
        "SELECT source_key, ST_Area(geom), ST_NDims(geom), flags FROM buildings "
        "WHERE valid_to IS NULL")}
    assert got == {"Z0": (100.0, 2, []), "Z1": (100.0, 2, ["z_dropped"]),
                   "P2": (100.0, 2, [])}, got
