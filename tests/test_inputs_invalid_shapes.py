"""Invalid survey shapes, as a GIS engineer meets them in buildings and a component census:
each is repaired to the area shapely's make_valid gives and flagged, or rejected with its reason
naming the row and field — nothing silently lost or invented. A hole lying (wholly or partly)
outside its outline is bad survey data: repaired, make_valid kept it as a new part of the
building (a 25 m² part beside a 75 m² one), so it is rejected. Expected values by construction
(the shapes written here) and from shapely on the source shapes. So are holes whose area
the repair cannot tell: one on the outline's edge (make_valid dropped the courtyard, the
building gained its area), holes overlapping or nested."""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from loaders.buildings import load_buildings
from loaders.components import load_components


def _shapes(x: float, y: float) -> dict[str, Polygon]:
    def sq(k: int, size: float = 10.0) -> list[tuple[float, float]]:
        x0 = x + 40 * k
        return [(x0, y), (x0 + size, y), (x0 + size, y + size), (x0, y + size)]

    def at(k: int, pts) -> list[tuple[float, float]]:
        return [(x + 40 * k + a, y + b) for a, b in pts]

    return {
        "OUT": Polygon(sq(0), [at(0, [(20, 20), (25, 20), (25, 25), (20, 25)])]),
        "CROSS": Polygon(sq(1), [at(1, [(5, 5), (15, 5), (15, 8), (5, 8)])]),
        "MULTI_OUT": MultiPolygon([Polygon(sq(2), [at(2, [(12, 2), (14, 2), (14, 4)])]),
                                   Polygon(at(2, [(0, 20), (5, 20), (5, 25), (0, 25)]))]),
        "BOWTIE": Polygon(at(3, [(0, 0), (10, 10), (10, 0), (0, 10)])),
        "TOUCH": Polygon(at(4, [(0, 0), (10, 0), (10, 10), (5, 0), (0, 10)])),
        "DUPS": Polygon(at(5, [(0, 0), (10, 0), (10, 0), (10, 10), (0, 10)])),
        "FLAT": Polygon(at(6, [(0, 0), (10, 0), (20, 0)])),
        "COURT": Polygon(sq(7), [at(7, [(2, 2), (8, 2), (8, 8), (2, 8)])]),
        # a courtyard drawn as a hole on the outline's edge: repaired, it was dropped (the
        # building 100 m², not the 80 drawn); two overlapping holes: an island in between
        "EDGE": Polygon(sq(8), [at(8, [(0, 2), (5, 2), (5, 6), (0, 6)])]),
        "OVERLAP": Polygon(sq(9), [at(9, [(2, 2), (6, 2), (6, 6), (2, 6)]),
                                   at(9, [(4, 4), (8, 4), (8, 8), (4, 8)])]),
    }


def _check(db, r, table, shapes, names):
    # a reject is named by its row (the feature number); its id stays in its attrs
    rejects = {names[row - 1]: (reason, field, row, msg) for reason, field, row, msg in
               db.rows("SELECT reason, field, row_number, message FROM load_rejects"
                       " WHERE batch_id = %s", (r.batch_id,))}
    # a hole outside its outline: rejected naming its row, the field and the ring
    for name, how in (("OUT", "wholly"), ("CROSS", "partly"), ("MULTI_OUT", "wholly")):
        reason, field, row, msg = rejects[name]
        assert (reason, field, row) == ("invalid_geometry", "geometry", names.index(name) + 1)
        assert f"lies {how} outside its outer ring" in msg, msg
    assert "inner ring 1 of part 1" in rejects["MULTI_OUT"][3]
    assert rejects["FLAT"][:3] == ("invalid_geometry", "geometry", names.index("FLAT") + 1)
    assert "it encloses no area" in rejects["FLAT"][3], rejects["FLAT"]
    for name in ("EDGE", "OVERLAP"):
        reason, field, row, msg = rejects[name]
        assert (reason, field, row) == ("invalid_geometry", "geometry", names.index(name) + 1)
        assert "cannot be told from the outline" in msg, msg
    outline_less_holes = shapes["EDGE"].exterior.convex_hull.area - 5 * 4
    assert f"{outline_less_holes:.6g} m² as the outline less its holes" in rejects["EDGE"][3]
    assert set(rejects) == {"OUT", "CROSS", "MULTI_OUT", "FLAT", "EDGE", "OVERLAP"}, rejects
    got = {k.rsplit(":", 1)[1]: (round(a, 6), f) for k, a, f in db.rows(
        f"SELECT source_key, ST_Area(geom), flags FROM {table} WHERE batch_id = %s",
        (r.batch_id,))}
    assert got == {
        "BOWTIE": (round(shapely.make_valid(shapes["BOWTIE"]).area, 6), ["geometry_repaired"]),
        "TOUCH": (round(shapely.make_valid(shapes["TOUCH"]).area, 6), ["geometry_repaired"]),
        "DUPS": (100.0, []),
        "COURT": (64.0, []),
    }, got
    assert r.read == r.loaded + r.rejected == len(names)


def test_buildings_reject_a_hole_outside_its_outline_and_flag_repairs(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    shapes = _shapes(x, y)
    names = list(shapes)
    path = tmp_path / "bad.gpkg"
    gpd.GeoDataFrame({"编号": names, "建筑用途": ["住宅"] * len(names)},
                     geometry=list(shapes.values()),
                     crs="EPSG:4527").to_file(path, engine="pyogrio")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    _check(fresh_db, r, "buildings", shapes, names)


def test_components_reject_a_hole_outside_its_outline_and_flag_repairs(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    shapes = _shapes(x, y)
    names = list(shapes)
    path = tmp_path / "bad_components.gpkg"
    gpd.GeoDataFrame({"部件编码": names, "部件小类": ["停车场"] * len(names)},
                     geometry=list(shapes.values()),
                     crs="EPSG:4527").to_file(path, engine="pyogrio")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    _check(fresh_db, r, "components", shapes, names)


def test_a_collections_polygon_with_a_stray_hole_is_rejected(fresh_db, tmp_path):
    from shapely.geometry import GeometryCollection

    _code, x, y = fresh_db.big_cell()
    hole_out = Polygon([(x, y), (x + 10, y), (x + 10, y + 10), (x, y + 10)],
                       [[(x + 20, y + 20), (x + 25, y + 20), (x + 25, y + 25)]])
    path = tmp_path / "gc.gpkg"
    gpd.GeoDataFrame({"编号": ["G1", "G2"]},
                     geometry=[GeometryCollection([hole_out, box(x + 50, y, x + 60, y + 10)]),
                               GeometryCollection([box(x + 80, y, x + 90, y + 10)])],
                     crs="EPSG:4527").to_file(path, engine="pyogrio")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.loaded, r.rejected) == (1, 1), r.text()
    (msg,) = fresh_db.rows("SELECT message FROM load_rejects WHERE batch_id = %s",
                           (r.batch_id,))[0]
    assert "inner ring 1 of part 1 lies wholly outside its outer ring" in msg, msg
