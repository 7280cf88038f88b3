"""A land-use code that lost its leading zero (Excel shows 0701 as 701; a CSV or a join kept
it as the text 701) is the code, as the number 701 already was — 用地用海 codes have 2, 4 or
6 digits; a code written out as a float (0701.0) is its digits. Expected values by
construction (the codes of land_use.csv)."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from loaders.planning import load_planning


def test_a_land_use_code_typed_without_its_leading_zero_is_the_code(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    codes = ["701", "0701.0", "0701", "901", "7", " 701 ", "R2", "0705"]
    df = gpd.GeoDataFrame({"地块编码": [f"P{i}" for i in range(len(codes))], "用地代码": codes,
                           "容积率": ["2.0"] * len(codes)},
                          geometry=[box(x + 30 * i, y, x + 30 * i + 20, y + 20)
                                    for i in range(len(codes))], crs="EPSG:4527")
    path = tmp_path / "plan.gpkg"
    df.to_file(path, engine="pyogrio")
    r = load_planning(fresh_db.conninfo, fresh_db.profile, path, kind="parcels")
    got = dict(fresh_db.rows("SELECT split_part(source_key, ':', 2), land_use_code "
                             "FROM planning_parcels WHERE batch_id = %s", (r.batch_id,)))
    assert got == {"P0": "0701", "P1": "0701", "P2": "0701", "P3": "0901", "P4": "07",
                   "P5": "0701", "P6": "0701"}, r.text()
    # 0705 is no code of the dictionary: still rejected naming it
    assert fresh_db.rows("SELECT row_number, reason, field FROM load_rejects "
                         "WHERE batch_id = %s", (r.batch_id,)) == [(8, "unknown_class", "用地代码")]
