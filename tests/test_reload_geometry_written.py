"""A footprint written otherwise by another program — rings the other way round (a
GeoPackage re-exported to Shapefile), a ring started at another vertex, coordinates through
15 significant digits (CSV or GeoJSON) — is the same footprint: a reload gives it no new
version and leaves its stored geometry and hash as they were (loaders/engine/samegeom.py).
A vertex moved by more than the tolerance (0.1 mm) is a change."""

from __future__ import annotations

import numpy as np
import psycopg
import pyogrio
import pytest
import shapely
from psycopg import sql

from loaders import buildings
from loaders.buildings import load_buildings
from loaders.engine import samegeom
from loaders.engine.samegeom import TOLERANCE_M, same_geometries
from loaders.hashing import stored_hashes
from tests.conftest import SAMPLE_BUILDINGS


def _load(db, path, processes=0, **kw):
    return load_buildings(db.conninfo, db.profile, path, batch_size=100, processes=processes,
                          dataset="b", **kw)


def _sample(n=200):
    return pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=n)


def _stored(db):
    return db.rows("SELECT code, ST_AsEWKB(geom) FROM buildings "
                   "WHERE valid_to IS NULL ORDER BY code")


def _hash_is_the_stored_rows(db):
    ids = [r[0] for r in db.rows("SELECT id FROM buildings WHERE valid_to IS NULL "
                                 "AND row_hash IS NOT NULL")]
    with psycopg.connect(db.conninfo) as conn:
        again = stored_hashes(conn, "buildings", buildings.HASHED, ids)
    have = dict(db.rows("SELECT id, row_hash FROM buildings WHERE id = ANY(%s)", (ids,)))
    return again == have


def _first_outer_ring(p):
    return p if p.geom_type == "Polygon" else p.geoms[0]


@pytest.mark.parametrize("processes", [0, 2])
def test_counter_clockwise_rings_reexported_to_shapefile(fresh_db, tmp_path, processes):
    gdf = _sample()
    gdf["geometry"] = shapely.orient_polygons(gdf.geometry.values)  # counter-clockwise
    gpkg = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gdf, gpkg)
    assert _load(fresh_db, gpkg).loaded == 200
    before = _stored(fresh_db)
    shp = tmp_path / "b.shp"
    pyogrio.write_dataframe(gdf, shp, encoding="GBK")
    back = pyogrio.read_dataframe(shp)
    assert not shapely.is_ccw(_first_outer_ring(back.geometry.iloc[0]).exterior)  # premise
    r = _load(fresh_db, shp, processes)
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 200)
    assert _stored(fresh_db) == before  # codes and geometries kept as they were
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 200
    assert _hash_is_the_stored_rows(fresh_db)
    r = _load(fresh_db, gpkg)  # and back: still nothing
    assert (r.updated, r.unchanged) == (0, 200)


def test_rings_started_at_another_vertex(fresh_db, tmp_path):
    gdf = _sample()
    gpkg = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gdf, gpkg)
    assert _load(fresh_db, gpkg).loaded == 200

    def rotated(g):
        p = _first_outer_ring(g)
        c = list(p.exterior.coords)[:-1]
        c = c[1:] + c[:1]
        return shapely.Polygon(c + c[:1], [list(i.coords) for i in p.interiors])

    gdf["geometry"] = [rotated(g) for g in gdf.geometry]
    pyogrio.write_dataframe(gdf, gpkg)
    r = _load(fresh_db, gpkg)
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 200)


def test_full_precision_through_csv_and_a_real_move(fresh_db, tmp_path):
    """Coordinates of full double precision (as any CRS transformation leaves them) through
    a CSV's WKT (15 significant digits: up to 1e-7 m off): unchanged. Then one footprint
    moved by 1 mm and one by 0.02 mm: the first is one new version, the second none."""
    gdf = _sample()
    gdf["geometry"] = gdf.geometry.translate(0.000123456789, 0.000987654321)
    gpkg = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gdf, gpkg)
    assert _load(fresh_db, gpkg).loaded == 200
    csv = tmp_path / "b.csv"
    pyogrio.write_dataframe(gdf, csv, layer_options={"GEOMETRY": "AS_WKT"})
    moved = max(abs(a - b) for a, b in zip(
        shapely.get_coordinates(pyogrio.read_dataframe(csv).geometry.values).ravel(),
        shapely.get_coordinates(gdf.geometry.values).ravel()))
    assert 0 < moved < 1e-6  # premise: the CSV's digits moved the coordinates, a little
    r = _load(fresh_db, csv, crs="EPSG:4527")
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 200)
    gdf.loc[7, "geometry"] = shapely.affinity.translate(gdf.geometry[7], 0.001, 0)
    gdf.loc[8, "geometry"] = shapely.affinity.translate(gdf.geometry[8], 0.2 * TOLERANCE_M, 0)
    pyogrio.write_dataframe(gdf, gpkg)
    r = _load(fresh_db, gpkg)
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 199)
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE source_key = %s",
                           (f"b:{gdf.loc[7, '编号']}",)) == 2  # the moved one: two versions


def _wkb(g):
    return shapely.to_wkb(g, flavor="iso", byte_order=1, output_dimension=3)


@pytest.mark.parametrize(("a", "b", "same"), [
    ("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))", "POLYGON ((0 0, 0 10, 10 10, 10 0, 0 0))", True),
    ("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))", "POLYGON ((10 0, 10 10, 0 10, 0 0, 10 0))", True),
    ("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))",
     "POLYGON ((0 0, 10 0.00005, 10 10, 0 10, 0 0))", True),
    ("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))", "POLYGON ((0 0, 10 0.001, 10 10, 0 10, 0 0))",
     False),
    ("POLYGON Z ((0 0 5, 10 0 5, 10 10 5, 0 10 5, 0 0 5))",
     "POLYGON Z ((0 0 5, 10 0 5, 10 10 6, 0 10 5, 0 0 5))", False),  # a height moved
    ("POLYGON Z ((0 0 5, 10 0 5, 10 10 5, 0 10 5, 0 0 5))",
     "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))", False),  # Z dropped
    ("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))",
     "POLYGON ((0 0, 5 0, 10 0, 10 10, 0 10, 0 0))", False),  # a vertex added
    ("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
     "MULTIPOLYGON (((5 5, 6 6, 6 5, 5 5)), ((0 0, 1 1, 1 0, 0 0)))", True),  # parts in order
    ("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 3 2, 3 3, 2 2))",
     "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))", False),  # a hole gone
    ("POINT (1 2)", "POINT (1.00001 2)", True), ("POINT (1 2)", "POINT (1.001 2)", False),
    ("LINESTRING (0 0, 1 1)", "LINESTRING (1 1, 0 0)", True)])
def test_same_geometries(db, a, b, same):
    """The rule in Python (the direct writer) and in SQL (the staging writer's merge)."""
    ga, gb = shapely.from_wkt(a), shapely.from_wkt(b)
    got = same_geometries([_wkb(ga), _wkb(gb)], [_wkb(gb), _wkb(ga)], [TOLERANCE_M] * 2)
    assert got.tolist() == [same, same]
    q = sql.SQL("SELECT {}").format(samegeom.same_sql(
        sql.SQL("ST_GeomFromText(%(a)s)"), sql.SQL("ST_GeomFromText(%(b)s)"),
        sql.Placeholder("tol")))
    for x, y in ((a, b), (b, a)):
        assert db.scalar(q, {"a": x, "b": y, "tol": TOLERANCE_M}) is same


def test_staged_layers_reexported_to_shapefile_stay_unchanged(fresh_db, tmp_path):
    """Green spaces (the staging writer): counter-clockwise rings re-exported to Shapefile,
    and a declared area written as text, are the same; a space moved 1 mm is changed."""
    import geopandas as gpd

    from loaders.city_base import load_base

    _cell, x, y = fresh_db.big_cell()
    recs = [{"编号": f"G{k}", "名称": f"公园{k}", "绿地类型": "社区公园", "面积": 900}
            for k in range(4)]
    geoms = shapely.orient_polygons(np.array(
        [shapely.box(x + 40 * k + 0.000123456789, y, x + 40 * k + 30, y + 30)
         for k in range(4)]))
    gpkg, shp = tmp_path / "green.gpkg", tmp_path / "green.shp"
    gpd.GeoDataFrame(recs, geometry=geoms, crs="EPSG:4527").to_file(gpkg, driver="GPKG")
    first = load_base(fresh_db.conninfo, fresh_db.profile, "green", gpkg, dataset="g")
    assert first.loaded == 4, first.text()
    before = fresh_db.rows("SELECT code, ST_AsEWKB(geom) FROM green_spaces "
                           "WHERE valid_to IS NULL ORDER BY code")
    frame = gpd.GeoDataFrame(recs, geometry=geoms, crs="EPSG:4527")
    frame["面积"] = frame["面积"].astype(str)  # the attrs' number as text
    frame.to_file(shp, encoding="GBK")
    assert not shapely.is_ccw(pyogrio.read_dataframe(shp).geometry[0].exterior)  # premise
    r = load_base(fresh_db.conninfo, fresh_db.profile, "green", shp, dataset="g")
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 4), r.text()
    assert fresh_db.rows("SELECT code, ST_AsEWKB(geom) FROM green_spaces "
                         "WHERE valid_to IS NULL ORDER BY code") == before
    frame.loc[2, "geometry"] = shapely.affinity.translate(frame.geometry[2], 0.001, 0)
    frame.to_file(shp, encoding="GBK")
    r = load_base(fresh_db.conninfo, fresh_db.profile, "green", shp, dataset="g")
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 3), r.text()


@pytest.mark.parametrize("processes", [0, 2])
def test_rings_reversed_and_a_remark_changed_is_a_version_with_its_own_hash(
        fresh_db, tmp_path, processes):
    """The geometry only written otherwise but an attribute without a column changed: a new
    version, whose hash is the recipe over the new stored row (not the old row's)."""
    gdf = _sample(50)
    gdf["备注X"] = "原"
    gdf["geometry"] = shapely.orient_polygons(gdf.geometry.values)
    gpkg = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gdf, gpkg)
    assert _load(fresh_db, gpkg).loaded == 50
    gdf["geometry"] = shapely.orient_polygons(gdf.geometry.values, exterior_cw=True)
    gdf.loc[3, "备注X"] = "改"
    pyogrio.write_dataframe(gdf, gpkg)
    r = _load(fresh_db, gpkg, processes)
    assert (r.updated, r.unchanged) == (1, 49), r.text()
    assert _hash_is_the_stored_rows(fresh_db)
    r = _load(fresh_db, gpkg, processes)
    assert (r.updated, r.unchanged) == (0, 50), r.text()
