"""A component census with two class fields (小类代码 beside 小类名称), as census software
writes it: a row whose code is blank takes its class from the name, flagged — it was rejected
as having no class; a row where both are blank (or the other names no subclass) is rejected
naming the field; two that disagree keep the first, flagged. Expected values by construction
(the census written here, the classes from components.csv)."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import Point

from cim.profile import read_csv_dictionary
from loaders.components import load_components


def test_a_blank_class_code_takes_the_class_its_name_gives(fresh_db, tmp_path):
    _code, x, y = fresh_db.big_cell()
    by_name = {r["name"]: r["code"] for r in read_csv_dictionary(
        fresh_db.profile.dictionary_path("components"))}
    df = gpd.GeoDataFrame({"部件编码": ["S1", "S2", "S3", "S4", "S5", "S6"],
                           "小类代码": ["0101", None, " ", "0102", None, None],
                           "小类名称": ["上水井盖", "污水井盖", "雨水井盖", "上水井盖", None, "不存在"]},
                          geometry=[Point(x + i, y) for i in range(6)], crs="EPSG:4527")
    path = tmp_path / "census.gpkg"
    df.to_file(path, engine="pyogrio")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert (r.read, r.loaded, r.rejected) == (6, 4, 2), r.text()
    got = {k.rsplit(":", 1)[1]: (c, f) for k, c, f in fresh_db.rows(
        "SELECT source_key, subclass_code, flags FROM components WHERE batch_id = %s",
        (r.batch_id,))}
    assert got == {"S1": ("0101", []),
                   "S2": (by_name["污水井盖"], ["class_from_other_field"]),
                   "S3": (by_name["雨水井盖"], ["class_from_other_field"]),
                   "S4": ("0102", ["class_conflict"])}, got
    rejects = fresh_db.rows("SELECT row_number, reason, field, message FROM load_rejects "
                            "WHERE batch_id = %s ORDER BY row_number", (r.batch_id,))
    assert [(n, reason, f) for n, reason, f, _ in rejects] == [
        (5, "missing_class", "小类代码"), (6, "missing_class", "小类代码")]
    assert all("小类代码 is empty; 小类名称 names no subclass" in m for *_, m in rejects), rejects


def test_a_class_code_written_out_as_a_float_is_its_code(fresh_db, tmp_path):
    """A census whose 部件小类 column went through pandas with a blank in it is written
    101.0, 118.0: the codes 0101 and 0118 (they were rejected as unknown classes)."""
    _code, x, y = fresh_db.big_cell()
    path = tmp_path / "census.csv"
    path.write_text("部件编码,部件小类,WKT\n"
                    f"F1,101.0,POINT ({x} {y})\nF2,118.0,POINT ({x + 1} {y})\n"
                    f"F3,101.5,POINT ({x + 2} {y})\n", encoding="utf-8")
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0,
                        crs="EPSG:4527")
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1), r.text()
    assert dict(fresh_db.rows("SELECT split_part(source_key, ':', 2), subclass_code "
                              "FROM components WHERE batch_id = %s", (r.batch_id,))) == \
        {"F1": "0101", "F2": "0118"}
    assert r.rejected_by_reason == {"unknown_class": 1}
