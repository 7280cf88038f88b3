"""A GeoPackage whose writer stored a text in GBK bytes (SQLite keeps whatever it is given):
refused as an input error naming the file, row and field, nothing loaded — it was an internal
error (Arrow's "Wrapping … failed") wherever the text was first converted. The bytes are
written here with sqlite3, as such a writer does."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pytest
from shapely.geometry import box

from cim.errors import InputError
from loaders.buildings import load_buildings


def test_a_geopackage_text_not_utf8_is_an_input_error(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "gbk_text.gpkg"
    gpd.GeoDataFrame({"编号": ["B1", "B2"], "建筑名称": ["甲", "乙"]},
                     geometry=[box(x, y, x + 10, y + 10), box(x + 20, y, x + 30, y + 10)],
                     crs="EPSG:4527").to_file(path, layer="b", engine="pyogrio")
    con = sqlite3.connect(path)
    for f in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):  # its triggers'
        con.create_function(f, 1, lambda g: 0)
    con.execute("UPDATE b SET 建筑名称 = CAST(X'C4E3BAC3' AS TEXT) WHERE 编号 = 'B2'")  # 你好
    con.commit()
    con.close()
    with pytest.raises(InputError) as e:
        load_buildings(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (e.value.row, e.value.field) == (2, "建筑名称") and "gbk_text.gpkg" in str(e.value)
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
