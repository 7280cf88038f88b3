"""A class code whose leading zero a spreadsheet or a numeric field dropped (道路等级 02 → 2,
an integer column; '3' typed as text) is the class it abbreviates, in every loader that looks
classes up by name, alias or code; a number that pads to no code is still rejected."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from loaders.city_base import load_base
from tests.conftest import scratch_db


@pytest.fixture(scope="module")
def cdb(jining_profile):
    with scratch_db("unpadded", jining_profile) as d:
        yield d


def test_road_class_without_its_leading_zero(cdb, tmp_path):
    x, y = cdb.x0, cdb.y0
    geoms = [LineString([(x - 200, y + 10 * k), (x + 200, y + 10 * k)]) for k in range(3)]
    ints = tmp_path / "ints.gpkg"
    gpd.GeoDataFrame({"编号": ["A1", "A2", "A3"], "道路等级": [2, 4, 7]}, geometry=geoms,
                     crs="EPSG:4527").to_file(ints, driver="GPKG")
    r = load_base(cdb.conninfo, cdb.profile, "roads", ints)
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1)
    texts = tmp_path / "texts.gpkg"
    gpd.GeoDataFrame({"编号": ["B1", "B2"], "道路等级": ["3", "01"]}, geometry=geoms[:2],
                     crs="EPSG:4527").to_file(texts, driver="GPKG")
    t = load_base(cdb.conninfo, cdb.profile, "roads", texts)
    assert (t.read, t.loaded, t.rejected) == (2, 2, 0)
    got = dict(cdb.rows("SELECT source_key, road_class_code || ' ' || road_class FROM roads "
                        "WHERE valid_to IS NULL"))
    # road_classes.csv: 01 快速路, 02 主干路, 03 次干路, 04 支路
    assert got == {"ints:A1": "02 主干路", "ints:A2": "04 支路", "texts:B1": "03 次干路",
                   "texts:B2": "01 快速路"}
    assert cdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s",
                    (r.batch_id,)) == [(3, "unknown_class", "道路等级")]
