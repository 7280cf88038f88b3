"""A fixed rejects export reloads into the dataset its rows came from.

The export was reloaded under its own file name as dataset: a corrected parcel became
``rej:A-01`` beside ``parcels:A-01`` (two features, two codes), which a later ``--mode replace``
of the original delivery never retired. The export now carries the batch's dataset
(``cim_dataset``) and every loader's default takes it (``--dataset`` still wins). Expected values
by construction: the source keys are the original file's name and the feature's id; a replace
by a delivery lacking the corrected feature leaves the delivery's own features current.

Also: the load report's ``flagged_by_reason`` counts the stored rows' flags only (a duplicate
the merge rejects was counted), and a header in another unit names its file."""

from __future__ import annotations

import csv
import json
import shutil

import pyogrio
import pytest

from cim.errors import InputError
from loaders.field_names import delivery_dataset, export_fields
from tests.conftest import SAMPLE_BUILDINGS, SAMPLES, run_cli

PLANNING = SAMPLES / "planning" / "planning.gpkg"
PLATFORM = ["cim_row", "cim_reason", "cim_field", "cim_message", "cim_dataset"]


def _load(env, *args) -> dict:
    return json.loads(run_cli(["load", *map(str, args), "--json", "--quiet"], env,
                              check=True).stdout)


def _current(db, table: str) -> list[str]:
    return sorted(k for (k,) in db.rows(f"SELECT source_key FROM {table} "
                                         "WHERE valid_to IS NULL"))


def test_buildings_fixed_csv_export_reloads_into_its_dataset(fresh_db, tmp_path):
    env = fresh_db.env()
    gdf = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=4)
    ids = list(gdf["编号"])
    gdf["地上层数"] = gdf["地上层数"].astype(object)
    gdf.loc[1, "地上层数"] = "十二层"  # rejected: no number
    pyogrio.write_dataframe(gdf, tmp_path / "楼栋.gpkg")
    first = _load(env, "buildings", tmp_path / "楼栋.gpkg")
    assert (first["loaded"], first["rejected"]) == (3, 1)
    run_cli(["rejects", str(first["batch_id"]), "--export", str(tmp_path / "rej.csv")], env,
            check=True)
    with open(tmp_path / "rej.csv", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    assert header[:5] == PLATFORM and [r["cim_dataset"] for r in rows] == ["楼栋"]
    rows[0]["地上层数"] = "12"  # the fix
    with open(tmp_path / "rej.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, header)
        w.writeheader()
        w.writerows(rows)
    assert delivery_dataset(tmp_path / "rej.csv", None) == "楼栋"  # the early key read's rule
    # replacing the dataset with its export would retire the three loaded buildings: refused,
    # nothing written
    refused = run_cli(["load", "buildings", str(tmp_path / "rej.csv"), "--mode", "replace"],
                      env)
    assert refused.returncode == 3 and "--mode replace" in refused.stderr, refused.stderr
    assert "rej.csv" in refused.stderr
    assert _current(fresh_db, "buildings") == sorted(f"楼栋:{i}" for i in ids if i != ids[1])
    fixed = _load(env, "buildings", tmp_path / "rej.csv")
    assert (fixed["loaded"], fixed["inserted"]) == (1, 1), fixed
    assert _current(fresh_db, "buildings") == sorted(f"楼栋:{i}" for i in ids)
    assert fresh_db.scalar("SELECT floors_above FROM buildings WHERE source_key = %s",
                           (f"楼栋:{ids[1]}",)) == 12
    assert fresh_db.rows("SELECT 1 FROM buildings WHERE attrs ?| %s", (PLATFORM,)) == []
    # the original delivery again without that building, replacing: it is retired
    pyogrio.write_dataframe(gdf.drop(index=1), tmp_path / "楼栋.gpkg")
    again = _load(env, "buildings", tmp_path / "楼栋.gpkg", "--mode", "replace")
    assert again["retired"] == 1, again
    assert _current(fresh_db, "buildings") == sorted(f"楼栋:{i}" for i in ids if i != ids[1])
    # --dataset still wins over the export's
    other = _load(env, "buildings", tmp_path / "rej.csv", "--dataset", "修正")
    assert other["inserted"] == 1
    assert f"修正:{ids[1]}" in _current(fresh_db, "buildings")


def test_planning_parcels_fixed_gpkg_export_reloads_into_its_dataset(fresh_db, tmp_path):
    env = fresh_db.env()
    gdf = pyogrio.read_dataframe(PLANNING, layer="parcels", max_features=3)
    codes = list(gdf["地块编码"])
    gdf["容积率"] = gdf["容积率"].astype(object)
    gdf.loc[0, "容积率"] = "二点五"  # rejected: no number
    pyogrio.write_dataframe(gdf, tmp_path / "控规地块.gpkg", layer="parcels")
    first = _load(env, "planning", tmp_path / "控规地块.gpkg")
    assert (first["loaded"], first["rejected"]) == (2, 1), first
    run_cli(["rejects", str(first["batch_id"]), "--export", str(tmp_path / "rej.gpkg")], env,
            check=True)
    rej = pyogrio.read_dataframe(tmp_path / "rej.gpkg")
    assert list(rej.columns[:5]) == PLATFORM and list(rej["cim_dataset"]) == ["控规地块"]
    rej["容积率"] = "2.5"
    fixed_path = tmp_path / "rej_fixed.gpkg"
    pyogrio.write_dataframe(rej, fixed_path)
    fixed = _load(env, "planning", fixed_path)
    assert (fixed["loaded"], fixed["inserted"]) == (1, 1), fixed
    assert _current(fresh_db, "planning_parcels") == sorted(f"控规地块:{c}" for c in codes)
    assert fresh_db.rows("SELECT 1 FROM planning_parcels WHERE attrs ?| %s", (PLATFORM,)) == []
    pyogrio.write_dataframe(gdf.drop(index=0), tmp_path / "控规地块.gpkg", layer="parcels")
    again = _load(env, "planning", tmp_path / "控规地块.gpkg", "--mode", "replace")
    assert again["retired"] == 1, again
    assert _current(fresh_db, "planning_parcels") == sorted(f"控规地块:{c}" for c in codes[1:])


def test_pipe_survey_fixed_export_reloads_into_its_dataset(fresh_db, tmp_path):
    env = fresh_db.env()
    names = ("热力_管线点成果表.csv", "热力_管线段成果表.csv")
    for n in names:
        text = (SAMPLES / "pipes" / n).read_text(encoding="gbk")
        if "点" in n:
            assert text.count("3913819.86") == 1
            text = text.replace("3913819.86", "39138x19.86")  # RL0003's X: no number
        (tmp_path / n).write_text(text, encoding="gbk")
    first = _load(env, "pipes", *(tmp_path / n for n in names))
    assert first["rejected"] >= 1
    assert [k for k in _current(fresh_db, "pipe_points") if k.endswith("RL0003")] == []
    run_cli(["rejects", str(first["batch_id"]), "--export", str(tmp_path / "rej.gpkg")], env,
            check=True)
    layer = names[0]  # the point table's layer
    pts = pyogrio.read_dataframe(tmp_path / "rej.gpkg", layer=layer)
    assert set(pts["cim_dataset"]) == {"热力"}  # the delivery's: the names' common part
    pts = pts[pts["cim_reason"] == "bad_value"].copy()
    pts["X坐标"] = "3913819.86"
    pyogrio.write_dataframe(pts, tmp_path / "修正.gpkg", layer=layer)
    before = _current(fresh_db, "pipe_points")
    refused = run_cli(["load", "pipes", str(tmp_path / "修正.gpkg"), "--mode", "replace"], env)
    assert refused.returncode == 3 and "--mode replace" in refused.stderr, refused.stderr
    assert _current(fresh_db, "pipe_points") == before
    fixed = _load(env, "pipes", tmp_path / "修正.gpkg")
    assert fixed["loaded"] == 1, fixed
    assert [k for k in _current(fresh_db, "pipe_points") if k.endswith("RL0003")] == [
        "热力:RL:RL0003"]
    # the export's own columns are no attributes of the reloaded point (its attrs kept
    # cim_row … before)
    attrs = fresh_db.scalar("SELECT attrs FROM pipe_points WHERE valid_to IS NULL "
                            "AND source_key = '热力:RL:RL0003'")
    assert not set(attrs) & set(PLATFORM), attrs
    assert attrs.get("X坐标") is None or attrs["X坐标"] == "3913819.86"


def test_export_columns_old_and_new():
    old = ["cim_row", "cim_reason", "cim_field", "cim_message", "名称"]
    assert export_fields(old) == tuple(old[:4])  # an export of before the dataset column
    assert export_fields(PLATFORM + ["名称"]) == tuple(PLATFORM)
    assert export_fields(["cim_dataset", "名称"]) == ()  # a delivery's own column
    # a delivery with its own cim_dataset was exported under _cim_ (placed after it)
    own = ["cim_dataset", *("_" + n for n in PLATFORM)]
    assert export_fields(own) == tuple(own[1:])


def test_an_export_of_two_datasets_is_refused_naming_the_file(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text("cim_row,cim_reason,cim_field,cim_message,cim_dataset,编号,wkt\n"
                 "1,bad_value,x,m,甲,1,POINT (1 2)\n2,bad_value,x,m,乙,2,POINT (1 2)\n",
                 encoding="utf-8")
    with pytest.raises(InputError) as e:
        delivery_dataset(p, None)
    assert "two.csv" in str(e.value) and "甲" in str(e.value) and "乙" in str(e.value)
    assert delivery_dataset(p, "丙") == "丙"
    # a blank dataset cell (a row added by hand) or an old export: the file's name
    p.write_text("cim_row,cim_reason,cim_field,cim_message,cim_dataset,编号,wkt\n"
                 "1,bad_value,x,m,甲,1,POINT (1 2)\n,,,,,2,POINT (1 2)\n", encoding="utf-8")
    assert delivery_dataset(p, None) == "甲"
    p.write_text("cim_row,cim_reason,cim_field,cim_message,编号,wkt\n"
                 "1,bad_value,x,m,1,POINT (1 2)\n", encoding="utf-8")
    assert delivery_dataset(p, None) == "two"


def test_the_same_plan_as_shapefile_then_geopackage_is_one_dataset(fresh_db, tmp_path):
    """Re-delivered as a GeoPackage (its layer named otherwise) under the same name: the same
    dataset, nothing doubled (a different file name needs --dataset, as documented)."""
    env = fresh_db.env()
    gdf = pyogrio.read_dataframe(PLANNING, layer="parcels", max_features=5)
    (tmp_path / "shp").mkdir()
    pyogrio.write_dataframe(gdf, tmp_path / "shp" / "地块.shp", encoding="GBK")
    pyogrio.write_dataframe(gdf, tmp_path / "地块.gpkg", layer="控规地块")
    assert _load(env, "planning", tmp_path / "shp" / "地块.shp")["inserted"] == 5
    again = _load(env, "planning", tmp_path / "地块.gpkg")
    assert (again["inserted"], again["unchanged"]) == (0, 5), again
    assert len(_current(fresh_db, "planning_parcels")) == 5


def test_flags_are_counted_for_stored_rows_only(fresh_db, tmp_path):
    """Two overlapping parcels of one id: both flagged parcel_overlap when converted, the
    second rejected by the merge as a duplicate; one stored row carries the flag."""
    env = fresh_db.env()
    gdf = pyogrio.read_dataframe(PLANNING, layer="parcels", max_features=3)
    gdf = gdf.iloc[[0, 0, 1, 2]].reset_index(drop=True)  # row 2 repeats row 1
    pyogrio.write_dataframe(gdf, tmp_path / "dup.gpkg", layer="parcels")
    r = _load(env, "planning", tmp_path / "dup.gpkg")
    assert (r["loaded"], r["rejected_by_reason"]) == (3, {"duplicate_source_id": 1}), r
    stored = fresh_db.scalar("SELECT count(*) FROM planning_parcels WHERE valid_to IS NULL "
                             "AND flags @> ARRAY['parcel_overlap']")
    assert stored == 1
    assert r["flagged_by_reason"].get("parcel_overlap") == stored, r


def test_a_header_in_another_unit_names_the_file(fresh_db, tmp_path):
    gdf = pyogrio.read_dataframe(PLANNING, layer="parcels", max_features=2)
    path = tmp_path / "限高厘米.gpkg"
    pyogrio.write_dataframe(gdf.rename(columns={"限高": "限高(cm)"}), path)
    for extra in ([], ["--kind", "parcels"]):
        proc = run_cli(["load", "planning", str(path), *extra], fresh_db.env())
        assert proc.returncode == 3, proc.stderr
        assert "限高厘米.gpkg" in proc.stderr and "限高(cm)" in proc.stderr, proc.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_base_layers_header_in_another_unit_names_the_file(fresh_db, tmp_path):
    """As the planning layers' (above): the roads' 红线宽度(cm) refused naming the file."""
    gdf = pyogrio.read_dataframe(SAMPLES / "base" / "roads.gpkg", max_features=2)
    path = tmp_path / "道路厘米.gpkg"
    pyogrio.write_dataframe(gdf.rename(columns={"红线宽度": "红线宽度(cm)"}), path)
    proc = run_cli(["load", "roads", str(path)], fresh_db.env())
    assert proc.returncode == 3, proc.stderr
    assert "道路厘米.gpkg" in proc.stderr and "红线宽度(cm)" in proc.stderr, proc.stderr
