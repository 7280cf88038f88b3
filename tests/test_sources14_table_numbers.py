"""A survey table delivered as a GeoPackage (a sensor registry, a pipe survey's point table:
attribute tables with X/Y columns, or a point layer) is read through the table reader, which
did not check its number columns: a text in a REAL X column was read by GDAL as 0 without a
word, as a layer's reader refuses it since session 13. The value is written by GDAL's own SQL
(ogrinfo -sql); the row by construction (the fid written)."""

from __future__ import annotations

import shutil
import subprocess

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from cim.errors import InputError
from loaders.sensors import load_sensors
from loaders.sources.tables import read_tables
from tests.conftest import scratch_db

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="needs GDAL's ogrinfo")

ATTRS = {"设备编号": ["P-1", "P-2", "P-3"], "设备名称": ["压力计一", "压力计二", "压力计三"],
         "监测类型": ["管网压力"] * 3, "计量单位": ["MPa"] * 3}


def _sql(path, sql):
    subprocess.run(["ogrinfo", "-q", str(path), "-sql", sql], check=True, capture_output=True)


def test_an_attribute_table_with_a_text_x_is_refused_naming_row_and_field(tmp_path):
    path = tmp_path / "登记表.gpkg"
    df = pd.DataFrame({**ATTRS, "X坐标": [39500100.0, 39500200.0, 39500300.0],
                       "Y坐标": [3920100.0, 3920200.0, 3920300.0]})
    pyogrio.write_dataframe(df, path, layer="设备")  # no geometry: an attribute table
    assert len(read_tables(path)[0].rows) == 3  # as written: read
    _sql(path, "UPDATE 设备 SET X坐标 = 'x' WHERE fid = 2")
    with pytest.raises(InputError) as refused:
        read_tables(path)
    assert (refused.value.row, refused.value.field) == (2, "X坐标")
    assert "the text 'x'" in refused.value.message


def test_a_sensor_point_layer_with_a_text_number_refuses_the_load(jining_profile, tmp_path):
    with scratch_db("tn14", jining_profile) as d:
        pts = [shapely.Point(d.x0 + 10 * i, d.y0 + 10 * i) for i in range(3)]
        path = tmp_path / "sensors.gpkg"
        gpd.GeoDataFrame({**ATTRS, "量程上限": [1.6, 1.6, 2.5]}, geometry=pts,
                         crs="EPSG:4527").to_file(path, layer="监测点")
        _sql(path, "UPDATE 监测点 SET 量程上限 = '1.6MPa' WHERE fid = 3")
        with pytest.raises(InputError) as refused:
            load_sensors(d.conninfo, d.profile, path)
        assert (refused.value.row, refused.value.field) == (3, "量程上限")
        assert d.scalar("SELECT count(*) FROM sensors") == 0
