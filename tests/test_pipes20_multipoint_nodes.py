"""A GIS network whose node layer stores MultiPoints of one point each (QGIS' and ArcGIS'
exports of a point layer as MULTIPOINT): each is read as its point — every node was rejected
("a point is expected") and every line with it; a MultiPoint of two points is still rejected
naming its row. Files written with GDAL (pyogrio) into a fresh PostGIS; coordinates by
construction."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import shapely

from loaders.pipes.load import load_pipes_files

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def test_one_point_multipoints_are_nodes(fresh_db, tmp_path):
    path = tmp_path / "net.gpkg"
    lines = gpd.GeoDataFrame(
        [{"管段编号": "P1", "起点号": "K1", "终点号": "K2"},
         {"管段编号": "P2", "起点号": "K2", "终点号": "K3"}],
        geometry=[shapely.LineString([(E, N), (E + 30, N)]),
                  shapely.LineString([(E + 30, N), (E + 60, N)])], crs="EPSG:4527")
    pyogrio.write_dataframe(lines, path, layer="pipes")
    nodes = gpd.GeoDataFrame(
        {"点号": ["K1", "K2", "K3", "K4"], "地面高程": [40.0] * 4},
        geometry=[shapely.MultiPoint([(E + 30 * k, N)]) for k in range(3)]
        + [shapely.MultiPoint([(E, N + 50), (E + 5, N + 50)])], crs="EPSG:4527")
    pyogrio.write_dataframe(nodes, path, layer="nodes", append=True)
    assert pyogrio.read_info(path, layer="nodes")["geometry_type"] == "MultiPoint"
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{path}:pipes",
                              points=f"{path}:nodes", class_opt="给水", dataset="mp")
    points = {no: (x, y) for no, x, y in fresh_db.rows(
        "SELECT point_no, ST_X(geom), ST_Y(geom) FROM pipe_points WHERE batch_id = %s",
        (r.batch_id,))}
    assert points == {"K1": (E, N), "K2": (E + 30, N), "K3": (E + 60, N)}
    assert fresh_db.rows("SELECT count(*) FROM pipe_segments WHERE batch_id = %s",
                         (r.batch_id,)) == [(2,)]
    ((row, reason, field, message),) = fresh_db.rows(
        "SELECT row_number, reason, field, message FROM load_rejects WHERE batch_id = %s",
        (r.batch_id,))
    assert (row, reason, field) == (4, "bad_value", "geometry") and "MultiPoint" in message
