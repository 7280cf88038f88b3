"""A feature rejected for where it lies — outside every district (``outside_area``) or in no
unit grid cell (``no_grid_cell``) — names the field that placed it, as every reject must name
file, row and field: a CSV's WKT column, else the geometry. Such rejects named no field, in
the direct writer (components, buildings) and in the staged merge (base layers, planning).
Expected values by construction: the points are written here, where they lie told by the
districts and grid cells themselves (SQL), not by the loader."""

from __future__ import annotations

import geopandas as gpd
import psycopg
from shapely.geometry import Point

from loaders.city_base import load_base
from loaders.components import load_components


def _outside(d, x: float, y: float) -> tuple[float, float]:
    """A point east of (x, y) that no current district covers (asked of PostGIS)."""
    for dx in range(5_000, 200_001, 5_000):
        if not d.scalar("SELECT EXISTS (SELECT 1 FROM admin_divisions WHERE valid_to IS NULL "
                        "AND level = 3 AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), "
                        "4527)))", (x + dx, y)):
            return x + dx, y
    raise AssertionError("no point outside the districts east of the cell")


def _rejects(d, batch_id: int) -> list[tuple]:
    return d.rows("SELECT row_number, reason, field, attrs FROM load_rejects "
                  "WHERE batch_id = %s ORDER BY row_number", (batch_id,))


def test_outside_area_names_the_csv_wkt_column_and_keeps_the_row(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    ox, oy = _outside(fresh_db, x, y)
    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,备注,WKT\n"
                    f"A1,0101,里,POINT ({x} {y})\nA2,0101,外,POINT ({ox} {oy})\n",
                    encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0,
                        crs="EPSG:4527")
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1), r.text()
    assert _rejects(fresh_db, r.batch_id) == [
        (3, "outside_area", "WKT", {"部件编码": "A2", "部件小类": "0101", "备注": "外"})]


def test_outside_area_and_no_grid_cell_name_the_geometry(fresh_db, tmp_path):
    """A GeoPackage's point outside the districts, and one in a district where the grid cell
    covering it was retired: each named ``geometry``, its attributes kept."""
    cell, x, y = fresh_db.big_cell()
    ox, oy = _outside(fresh_db, x, y)
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("UPDATE grid_cells SET valid_to = now() WHERE code = %s", (cell,))
    assert not fresh_db.scalar(  # the centre of the retired cell now lies in no current cell
        "SELECT EXISTS (SELECT 1 FROM grid_cells WHERE valid_to IS NULL AND ST_Covers(geom, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4527)))", (x, y))
    _cell2, x2, y2 = fresh_db.big_cell()  # a current cell's centre: the file lies in the city
    df = gpd.GeoDataFrame({"部件编码": ["G1", "G2", "G3"], "部件小类": ["0101"] * 3},
                          geometry=[Point(ox, oy), Point(x, y), Point(x2, y2)],
                          crs="EPSG:4527")
    path = tmp_path / "census.gpkg"
    df.to_file(path, engine="pyogrio")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (3, 1, 2), r.text()
    assert _rejects(fresh_db, r.batch_id) == [
        (1, "outside_area", "geometry", {"部件编码": "G1", "部件小类": "0101"}),
        (2, "no_grid_cell", "geometry", {"部件编码": "G2", "部件小类": "0101"})]


def test_the_staged_merge_names_the_geometry_of_a_facility_outside(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    ox, oy = _outside(fresh_db, x, y)
    df = gpd.GeoDataFrame({"编号": ["F1", "F2"], "名称": ["一小", "二小"],
                           "设施类型": ["小学", "小学"]},
                          geometry=[Point(x, y), Point(ox, oy)], crs="EPSG:4527")
    path = tmp_path / "schools.gpkg"
    df.to_file(path, engine="pyogrio")
    r = load_base(fresh_db.conninfo, fresh_db.profile, "facilities", path)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1), r.text()
    [(row, reason, field, attrs)] = _rejects(fresh_db, r.batch_id)
    assert (row, reason, field) == (2, "outside_area", "geometry")
    assert {k: attrs[k] for k in ("编号", "名称", "设施类型")} == \
        {"编号": "F2", "名称": "二小", "设施类型": "小学"}


def test_the_staged_merge_names_a_csvs_wkt_column(fresh_db, tmp_path):
    """A base layer's CSV placed by its WKT column: the staged merge's outside_area names that
    column (the load's writer is told it: loaders.engine.pipeline.run_load)."""
    _code, x, y = fresh_db.big_cell()
    ox, oy = _outside(fresh_db, x, y)
    path = tmp_path / "schools.csv"
    path.write_text("编号,名称,设施类型,WKT\n"
                    f"F1,一小,小学,POINT ({x} {y})\nF2,二小,小学,POINT ({ox} {oy})\n",
                    encoding="utf-8")
    r = load_base(fresh_db.conninfo, fresh_db.profile, "facilities", path, crs="EPSG:4527")
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1), r.text()
    [(row, reason, field, _attrs)] = _rejects(fresh_db, r.batch_id)
    assert (row, reason, field) == (3, "outside_area", "WKT")  # header = row 1
