"""A sensor registry delivered as a GIS point layer (监测点.shp in GBK, a GeoPackage of points)
has its devices' positions in the geometry, not in X/Y columns. The registry reader reads a
layer's attributes only: every row was rejected for "X/Y are empty" (a device with a watched
asset stood at the asset, its delivered point dropped). The points are the positions now,
in the layer's CRS. Expected positions by construction (the points written; a lon/lat layer
through pyproj)."""

from __future__ import annotations

import geopandas as gpd
import pyproj
import pytest
import shapely

from cim.errors import InputError
from loaders.sensors import load_sensors
from tests.conftest import scratch_db

ATTRS = {"设备编号": ["P-1", "P-2", "P-3"], "设备名称": ["压力计一", "压力计二", "压力计三"],
         "监测类型": ["管网压力"] * 3, "计量单位": ["MPa"] * 3}


def _stored(d) -> dict[str, shapely.Point]:
    return {dev: shapely.from_wkt(w) for dev, w in d.rows(
        "SELECT device_id, ST_AsText(geom) FROM sensors WHERE valid_to IS NULL")}


def test_a_gbk_shapefile_of_points_places_each_sensor_at_its_point(jining_profile, tmp_path):
    with scratch_db("ls13spts", jining_profile) as d:
        pts = [shapely.Point(d.x0 + 10 * i, d.y0 - 5 * i) for i in range(3)]
        path = tmp_path / "监测点.shp"
        gpd.GeoDataFrame(ATTRS, geometry=[pts[0], pts[1], None], crs="EPSG:4527").to_file(
            path, encoding="gbk")
        (tmp_path / "监测点.cpg").unlink(missing_ok=True)  # as surveyors deliver it
        report = load_sensors(d.conninfo, d.profile, path)
        assert (report.loaded, report.rejected) == (2, 1), report.text()
        stored = _stored(d)
        assert stored["P-1"].distance(pts[0]) < 1e-3 and stored["P-2"].distance(pts[1]) < 1e-3
        assert d.rows("SELECT row_number, reason FROM load_rejects WHERE batch_id = %s",
                      (report.batch_id,)) == [(3, "missing_position")]
        assert d.scalar("SELECT count(*) FROM sensors WHERE 'position_from_asset' = "
                        "ANY(flags)") == 0
        assert d.scalar("SELECT name FROM sensors WHERE device_id = 'P-2'") == "压力计二"
        again = load_sensors(d.conninfo, d.profile, path)  # the same layer: nothing new
        assert (again.unchanged, again.updated, again.inserted) == (2, 0, 0), again.text()


def test_a_lonlat_geopackage_of_points_is_read_in_its_own_crs(jining_profile, tmp_path):
    with scratch_db("ls13sll", jining_profile) as d:
        to_ll = pyproj.Transformer.from_crs(4527, 4490, always_xy=True)
        want = [shapely.Point(d.x0 + 20 * i, d.y0 + 20 * i) for i in range(3)]
        ll = [shapely.Point(*to_ll.transform(p.x, p.y)) for p in want]
        path = tmp_path / "sensors.gpkg"
        gpd.GeoDataFrame(ATTRS, geometry=ll, crs="EPSG:4490").to_file(path, layer="监测点")
        report = load_sensors(d.conninfo, d.profile, path)
        assert (report.loaded, report.rejected) == (3, 0), report.text()
        stored = _stored(d)
        for dev, p in zip(ATTRS["设备编号"], want):
            assert stored[dev].distance(p) < 0.01, (dev, stored[dev], p)


def test_a_layer_of_lines_is_refused_naming_its_first_row(jining_profile, tmp_path):
    path = tmp_path / "lines.gpkg"
    lines = [shapely.LineString([(39464000 + i, 3914000), (39464100 + i, 3914000)])
             for i in range(3)]
    gpd.GeoDataFrame(ATTRS, geometry=lines, crs="EPSG:4527").to_file(path, layer="监测线")
    with pytest.raises(InputError, match="a LineString, not a point") as exc:
        load_sensors("postgresql:///nowhere", jining_profile, path)  # refused before a load
    assert exc.value.path == f"{path.name}:监测线" and exc.value.row == 1, exc.value


def test_crs_given_over_the_layers_own_is_said(jining_profile, tmp_path):
    """--crs over a point layer declaring another CRS is said in the report, as every load
    says it (loaders.engine.area.resolve_source_crs): it was taken without a word. The same
    CRS given is no note."""
    with scratch_db("ls13scrs", jining_profile) as d:
        pts = [shapely.Point(d.x0 + 20 * i, d.y0 + 20 * i) for i in range(3)]
        path = tmp_path / "sensors.gpkg"
        # the file says EPSG:4547 (zone 38 without prefix); the survey knows it is 4527's
        gpd.GeoDataFrame(ATTRS, geometry=pts, crs="EPSG:4547").to_file(path, layer="监测点")
        report = load_sensors(d.conninfo, d.profile, path, crs="EPSG:4527")
        assert (report.loaded, report.rejected) == (3, 0), report.text()
        assert any(n.startswith("--crs EPSG:4527 overrides the file's CRS (CGCS2000")
                   for n in report.notes), report.notes
        assert all(_stored(d)[dev].distance(p) < 0.01 for dev, p in zip(ATTRS["设备编号"], pts))
    with scratch_db("ls13scrs2", jining_profile) as d:
        path2 = tmp_path / "same.gpkg"
        gpd.GeoDataFrame(ATTRS, geometry=[shapely.Point(d.x0, d.y0 + 20 * i) for i in range(3)],
                         crs="EPSG:4527").to_file(path2, layer="监测点")
        report = load_sensors(d.conninfo, d.profile, path2, crs="EPSG:4527")
        assert not any("overrides" in n for n in report.notes), report.notes


def test_a_layer_of_one_point_multipoints_places_each_sensor(jining_profile, tmp_path):
    """A registry layer stored as MultiPoints of one point each (QGIS' and ArcGIS' exports of
    a point layer): each is its point — the layer was refused ("a MultiPoint, not a point");
    a MultiPoint of two points still is, naming its row."""
    with scratch_db("ls20smp", jining_profile) as d:
        pts = [shapely.Point(d.x0 + 15 * i, d.y0 + 5 * i) for i in range(3)]
        path = tmp_path / "mp.gpkg"
        gpd.GeoDataFrame(ATTRS, geometry=[shapely.MultiPoint([p]) for p in pts],
                         crs="EPSG:4527").to_file(path, layer="监测点")
        report = load_sensors(d.conninfo, d.profile, path)
        assert (report.loaded, report.rejected) == (3, 0), report.text()
        stored = _stored(d)
        for dev, p in zip(ATTRS["设备编号"], pts):
            assert stored[dev].distance(p) < 1e-3
    two = tmp_path / "mp2.gpkg"
    gpd.GeoDataFrame(ATTRS, geometry=[shapely.MultiPoint([pts[0]]),
                                      shapely.MultiPoint([pts[1], pts[2]]),
                                      shapely.MultiPoint([pts[2]])],
                     crs="EPSG:4527").to_file(two, layer="监测点")
    with pytest.raises(InputError, match="a MultiPoint, not a point") as exc:
        load_sensors("postgresql:///nowhere", jining_profile, two)
    assert exc.value.row == 2
