"""A building delivered as a GeometryCollection: its polygons are the footprint — the parts of
another kind are flagged as left out, overlapping polygons are the area they cover together
(GEOS holds such a collection valid, the MultiPolygon of it is not). Expected values by
construction: the squares written here."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import GeometryCollection, LineString, Polygon, box

from loaders.buildings import load_buildings


def test_a_collection_loads_as_its_polygons(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()

    def sq(k: int, d: float = 0.0):
        return box(x + 30 * k + d, y + d, x + 30 * k + d + 10, y + d + 10)

    geoms = [GeometryCollection([sq(0), LineString([(x, y - 20), (x + 20, y - 20)])]),
             GeometryCollection([sq(1), sq(1, 5)]),        # two 10 m squares overlapping 5 × 5
             GeometryCollection([sq(2), sq(3)]),           # two apart: a MultiPolygon as it is
             GeometryCollection([LineString([(x, y - 40), (x + 20, y - 40)])]),
             # a bowtie (two triangles of 25 m², apex at x + 125) and a square over its right
             # one: 25 + 100 m² (the union failed on the bowtie: the load crashed)
             GeometryCollection([Polygon([(x + 120, y), (x + 130, y + 10), (x + 130, y),
                                          (x + 120, y + 10)]),
                                 box(x + 125, y, x + 135, y + 10)]),
             # nested, as a CAD export writes them: a square inside a collection inside one
             GeometryCollection([GeometryCollection([sq(6)]),
                                 LineString([(x, y - 60), (x + 20, y - 60)])])]
    path = tmp_path / "gc.gpkg"
    gpd.GeoDataFrame({"编号": ["B1", "B2", "B3", "B4", "B5", "B6"], "建筑用途": ["住宅"] * 6},
                     geometry=geoms,
                     crs="EPSG:4527").to_file(path, engine="pyogrio")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (6, 5, 1), r.text()
    got = {k.rsplit(":", 1)[1]: (round(a, 6), v, sorted(f)) for k, a, v, f in fresh_db.rows(
        "SELECT source_key, ST_Area(geom), ST_IsValid(geom), flags FROM buildings "
        "WHERE valid_to IS NULL")}
    assert got == {"B1": (100.0, True, ["collection_parts_dropped"]),
                   "B2": (175.0, True, ["geometry_repaired"]),
                   "B3": (200.0, True, []),
                   "B5": (125.0, True, ["geometry_repaired"]),
                   "B6": (100.0, True, ["collection_parts_dropped"])}, got
    # a geometry's problem names the field "geometry" (a building's reject named none)
    assert fresh_db.rows("SELECT reason, field FROM load_rejects WHERE batch_id = %s",
                         (r.batch_id,)) == [("wrong_geometry_type", "geometry")]


def test_components_collections_load_as_their_family(fresh_db, tmp_path):
    """A census from CAD: a 停车场 (a polygon subclass) as a collection of its area and a
    label point, a 交通护栏 (a line subclass) as a collection of two lines — they load as the
    polygon and the lines, the point flagged as left out (both were rejected as "where a point
    is expected")."""
    from shapely.geometry import MultiLineString, Point

    from loaders.components import load_components

    _code, x, y = fresh_db.big_cell()
    lines = [LineString([(x, y + 50), (x + 20, y + 50)]),
             LineString([(x + 30, y + 50), (x + 50, y + 50)])]
    geoms = [GeometryCollection([box(x, y, x + 20, y + 20), Point(x + 10, y + 10)]),
             GeometryCollection(lines)]
    path = tmp_path / "gc_components.gpkg"
    gpd.GeoDataFrame({"部件编码": ["P1", "G1"], "部件小类": ["停车场", "交通护栏"]},
                     geometry=geoms, crs="EPSG:4527").to_file(path, engine="pyogrio")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (2, 2, 0), r.text()
    got = {k.rsplit(":", 1)[1]: (t, round(a, 6), round(n, 6), f) for k, t, a, n, f in fresh_db.rows(
        "SELECT source_key, GeometryType(geom), ST_Area(geom), ST_Length(geom), flags "
        "FROM components WHERE valid_to IS NULL")}
    assert got == {"P1": ("POLYGON", 400.0, 0.0, ["collection_parts_dropped"]),
                   "G1": ("MULTILINESTRING", 0.0, MultiLineString(lines).length, [])}, got


def test_a_multipolygon_of_overlapping_parts_is_the_area_they_cover(fresh_db, tmp_path):
    """The same parts as a MultiPolygon: make_valid's linework cut the overlap out (175 m² of
    two 10 m squares overlapping 5 × 5 came out 150 m²); the union, as for a collection."""
    from shapely.geometry import MultiPolygon

    _code, x, y = fresh_db.big_cell()
    a, b = box(x, y, x + 10, y + 10), box(x + 5, y + 5, x + 15, y + 15)
    far = box(x + 40, y, x + 50, y + 10)
    # a courtyard drawn as a part inside the building (a Shapefile's inner ring drawn
    # clockwise reads so): its hole, as the linework had it — the union filled it
    court_out, court_in = box(x + 60, y, x + 90, y + 30), box(x + 70, y + 10, x + 80, y + 20)
    geoms = [MultiPolygon([a, b]), MultiPolygon([a.buffer(-1), far]),
             MultiPolygon([court_out, court_in])]
    path = tmp_path / "mp.gpkg"
    gpd.GeoDataFrame({"编号": ["M1", "M2", "M3"]}, geometry=geoms,
                     crs="EPSG:4527").to_file(path, engine="pyogrio")
    for processes in (0, 2):  # in process, and through the converter processes
        r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=processes,
                           mode="replace", dataset=f"mp{processes}")
        assert (r.read, r.loaded) == (3, 3), r.text()
        got = dict(fresh_db.rows(
            "SELECT split_part(source_key, ':', 2), round(ST_Area(geom)::numeric, 6) "
            "FROM buildings WHERE batch_id = %s", (r.batch_id,)))
        want = {"M1": round(a.union(b).area, 6), "M2": round(a.buffer(-1).area + far.area, 6),
                "M3": round(court_out.difference(court_in).area, 6)}
        assert {k: float(v) for k, v in got.items()} == want


def test_nested_repeated_and_overlapping_parts_by_their_own_containment():
    """A part is a hole only inside another single part (odd depth); a repeated part counts
    once; overlapping parts and a part sharing an edge add up. Areas by construction."""
    import numpy as np
    from shapely.geometry import MultiPolygon

    from loaders.geometry import prepare

    a = box(0, 0, 100, 100)
    court, island = box(20, 20, 80, 80), box(40, 40, 60, 60)
    three = [box(0, 0, 20, 20), box(10, 0, 30, 20), box(5, 5, 25, 15)]
    cases = [(MultiPolygon([a, a]), a.area),                      # a ring written twice
             (MultiPolygon(three), 600.0),                        # no part inside one part
             (MultiPolygon([box(0, 0, 20, 20), box(0, 0, 10, 20)]), 400.0),  # edge shared
             (MultiPolygon([a, court, island]), a.area - court.area + island.area)]
    got = prepare(np.array([g for g, _ in cases], dtype=object), None, "polygon")
    assert [None if g is None else round(g.area, 6) for g in got.geoms] == \
        [round(w, 6) for _, w in cases], got.reject
