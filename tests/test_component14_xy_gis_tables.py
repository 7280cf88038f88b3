"""A component census delivered as a GIS attribute table with X/Y columns — a lone .dbf in GBK
(exported from a desktop GIS or FoxPro), or a GeoPackage holding attribute tables only — was
refused "has no geometry column": only CSV and workbooks were read as points from X/Y. They
are now, as the CSV is; a GeoPackage that has a point layer keeps its points (the X/Y
beside them are attributes). Expected points by construction: X (northing) and Y (easting)
written from the grid cell's corner asked of PostGIS."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from loaders.components import load_components


def _points(d, batch_id) -> dict[str, tuple[float, float]]:
    return {k.split(":", 1)[1]: (x, y) for k, x, y in d.rows(
        "SELECT source_key, ST_X(geom), ST_Y(geom) FROM components WHERE batch_id = %s",
        (batch_id,))}


def _mm(v: float):
    return pytest.approx(v, abs=1e-3)


def _census(d) -> pd.DataFrame:
    _code, e, n = d.big_cell()
    return pd.DataFrame({"部件编码": ["T1", "T2", "T3"], "部件小类": ["0101"] * 3,
                         "X坐标": [n, n + 5.0, None], "Y坐标": [e, e + 3.0, e]})


def test_a_lone_gbk_dbf_with_x_y_loads_each_row_at_its_point(fresh_db, tmp_path):
    df = _census(fresh_db)
    path = tmp_path / "部件普查.dbf"
    pyogrio.write_dataframe(df, path, driver="ESRI Shapefile", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # as delivered: no .cpg
    assert not path.with_suffix(".shp").exists()
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1), r.text()
    got = _points(fresh_db, r.batch_id)
    _c, e, n = fresh_db.big_cell()
    assert got["T1"] == (_mm(e), _mm(n)) and got["T2"] == (_mm(e + 3), _mm(n + 5))
    assert fresh_db.rows("SELECT row_number, reason FROM load_rejects WHERE batch_id = %s",
                         (r.batch_id,)) == [(3, "empty_geometry")]  # as a CSV's blank X


def test_a_geopackage_of_attribute_tables_loads_from_x_y(fresh_db, tmp_path):
    df = _census(fresh_db).iloc[:2]
    path = tmp_path / "普查.gpkg"
    pyogrio.write_dataframe(df, path, layer="部件表")  # no geometry column
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded) == (2, 2), r.text()
    _c, e, n = fresh_db.big_cell()
    assert _points(fresh_db, r.batch_id)["T2"] == (_mm(e + 3), _mm(n + 5))


def test_a_point_layer_beside_an_attribute_table_keeps_its_points(fresh_db, tmp_path):
    _c, e, n = fresh_db.big_cell()
    path = tmp_path / "混合.gpkg"
    gpd.GeoDataFrame({"部件编码": ["P1"], "部件小类": ["0101"], "X坐标": [n + 50.0],
                      "Y坐标": [e + 50.0]}, geometry=[Point(e + 1, n + 2)],
                     crs="EPSG:4527").to_file(path, layer="部件")
    pyogrio.write_dataframe(_census(fresh_db), path, layer="登记表")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded) == (1, 1), r.text()
    assert _points(fresh_db, r.batch_id)["P1"] == (_mm(e + 1), _mm(n + 2))
