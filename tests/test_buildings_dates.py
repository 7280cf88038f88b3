"""A building's 建成年代 typed as a date: its year_built is the year, and the date stays in attrs
as delivered (it was cut to the year, the month and day lost). A bare year stays out of attrs
(the column holds it). Expected values by construction."""

from __future__ import annotations

import datetime

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

from loaders.buildings import load_buildings


def test_a_construction_date_keeps_its_day(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "dates.gpkg"
    g = gpd.GeoDataFrame(
        {"编号": ["B1", "B2"], "建筑用途": ["住宅", "住宅"],
         "建成年代": pd.to_datetime(["2005-06-01", "1998-12-31"]).date},
        geometry=[box(x, y, x + 10, y + 10), box(x + 20, y, x + 30, y + 10)], crs="EPSG:4527")
    g.to_file(path, layer="dated", engine="pyogrio")
    gpd.GeoDataFrame({"编号": ["B3", "B4"], "建筑用途": ["住宅", "住宅"],
                      "建成年代": ["2010", "2011-03"]},
                     geometry=[box(x + 40, y, x + 50, y + 10), box(x + 60, y, x + 70, y + 10)],
                     crs="EPSG:4527").to_file(path, layer="texts", engine="pyogrio")
    got = {}
    for layer in ("dated", "texts"):
        r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, source_layer=layer,
                           processes=0, dataset=layer)
        assert (r.read, r.loaded) == (2, 2), r.text()
        got.update({k.rsplit(":", 1)[1]: (y_, a.get("建成年代")) for k, y_, a in fresh_db.rows(
            "SELECT source_key, year_built, attrs FROM buildings WHERE batch_id = %s",
            (r.batch_id,))})
    assert got == {"B1": (2005, str(datetime.date(2005, 6, 1))),
                   "B2": (1998, str(datetime.date(1998, 12, 31))),
                   "B3": (2010, None), "B4": (2011, "2011-03")}, got
