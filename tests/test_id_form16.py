"""Ids are matched in one form (session 16, a probe's finding): full-width ASCII as ASCII and
without invisible characters (``cim.text.id_form``). A segment naming its end RL0001 was
rejected as ``missing_point`` beside the point table's ``ＲＬ0001`` (typed in an IME's
full-width mode), and beside ``RL0101`` + U+200B the message named a point visibly in the
table; ``Q1`` and ``Ｑ1`` of one file loaded as two buildings with two codes. Expected values by
construction (the files written here); migration 0017 puts stored keys in the same form."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import psycopg
from shapely.geometry import box

from cim.db.migrate import downgrade, upgrade
from loaders.buildings import load_buildings
from loaders.pipes.load import load_pipes_files
from tests.conftest import scratch_db
from tests.test_pipes import E0, N0

ZWSP = "\u200b"
PTS = "热力_管线点成果表.csv"
SEGS = "热力_管线段成果表.csv"


def _write(p: Path, rows) -> None:
    with open(p, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)


def test_a_full_width_or_pasted_point_number_is_the_point_its_segment_names(fresh_db,
                                                                            tmp_path):
    _write(tmp_path / SEGS, [
        ["起点号", "终点号", "起点埋深(m)", "终点埋深(m)", "材质", "管径(mm)"],
        ["RL0001", "RL0002", "1.5", "1.5", "钢", "DN300"],
        ["RL0002", "RL0101", "1.5", "1.5", "钢", "DN300"]])
    _write(tmp_path / PTS, [
        ["点号", "特征", "X坐标", "Y坐标", "地面高程(m)"],
        ["ＲＬ0001", "直线点", f"{N0:.3f}", f"{E0:.3f}", "36.3"],         # full-width letters
        ["RL0002", "直线点", f"{N0 + 20:.3f}", f"{E0:.3f}", "36.3"],
        [f"RL0101{ZWSP}", "直线点", f"{N0 + 40:.3f}", f"{E0:.3f}", "36.3"]])  # a pasted U+200B
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path])
    assert (r.read, r.loaded, r.rejected) == (5, 5, 0), r.text()
    assert not [f for f in qa.findings if f.rule in ("missing_point", "orphan_point")]
    got = {n for n, in fresh_db.rows(
        "SELECT point_no FROM pipe_points WHERE valid_to IS NULL AND batch_id = %s",
        (r.batch_id,))}
    assert got == {"RL0001", "RL0002", "RL0101"}
    keys = {k for k, in fresh_db.rows(
        "SELECT source_key FROM pipe_points WHERE batch_id = %s", (r.batch_id,))}
    assert all(k.isascii() for k in keys), keys


def _buildings(path: Path, ids: list[str], x: float, y: float) -> None:
    gpd.GeoDataFrame({"编号": ids, "建筑用途": ["住宅"] * len(ids)},
                     geometry=[box(x + 20 * i, y, x + 20 * i + 10, y + 10)
                               for i in range(len(ids))],
                     crs="EPSG:4527").to_file(path, engine="pyogrio")


def test_q1_and_its_full_width_twin_are_one_building(jining_profile, tmp_path):
    with scratch_db("idform", jining_profile) as d:
        _code, x, y = d.big_cell()
        path = tmp_path / "fw.gpkg"
        _buildings(path, ["Q1", "Ｑ1", f"Q2{ZWSP}", "教学楼１"], x, y)
        for processes in (0, None):  # in process, and as the converters read it (Arrow)
            with psycopg.connect(d.conninfo) as conn:
                conn.execute("TRUNCATE buildings, code_registry, load_rejects CASCADE")
            r = load_buildings(d.conninfo, d.profile, path, processes=processes,
                               dataset="fw")
            assert (r.read, r.loaded, r.rejected) == (4, 3, 1), r.text()
            rej = d.rows("SELECT row_number, reason, field, message FROM load_rejects "
                         "WHERE batch_id = %s", (r.batch_id,))
            assert [(n, why, f) for n, why, f, _m in rej] == [(2, "duplicate_source_id",
                                                               "编号")], rej
            keys = {k for k, in d.rows("SELECT source_key FROM buildings WHERE "
                                       "valid_to IS NULL")}
            assert keys == {"fw:Q1", "fw:Q2", "fw:教学楼1"}


def test_stored_keys_take_the_form_and_the_next_load_finds_them(jining_profile, tmp_path):
    """As an older loader stored them: Q1 full-width, Q2 with a U+200B; Q3's full-width twin
    is the key Q3 some row holds already (left as it is). After 0017 the delivery loads again
    onto the same codes."""
    with scratch_db("idformkeys", jining_profile) as d:
        _code, x, y = d.big_cell()
        path = tmp_path / "old.gpkg"
        _buildings(path, ["Q1", "Q2", "Q3", "Q3x"], x, y)
        r = load_buildings(d.conninfo, d.profile, path, processes=0, dataset="old")
        assert r.loaded == 4
        codes = dict(d.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
        for plain, stored in (("old:Q1", "old:Ｑ1"), ("old:Q2", f"old:Q2{ZWSP}"),
                              ("old:Q3x", "old:Ｑ3")):
            for t in ("buildings", "code_registry"):
                d.rows(f"UPDATE {t} SET source_key = %s WHERE source_key = %s RETURNING 1",
                       (stored, plain))
        downgrade(d.url, d.profile.srid, "0016_cases_opened_order")
        upgrade(d.url, d.profile.srid)
        for t in ("buildings", "code_registry"):
            keys = {k for k, in d.rows(f"SELECT source_key FROM {t} "
                                       "WHERE source_key LIKE 'old:%%'")}
            assert keys == {"old:Q1", "old:Q2", "old:Q3", "old:Ｑ3"}, (t, keys)
        r2 = load_buildings(d.conninfo, d.profile, path, processes=0, dataset="old")
        got = dict(d.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL "
                          "AND source_key IN ('old:Q1', 'old:Q2', 'old:Q3')"))
        assert got == {k: codes[k] for k in ("old:Q1", "old:Q2", "old:Q3")}
        assert r2.unchanged >= 3, r2.text()


def test_the_dataset_and_field_names_of_a_key_are_kept(jining_profile):
    """0017 changes a key's id only: a dataset named 管线（一期） (full-width brackets, as
    its file was named) keeps its name, as the loaders key it; and only the keys of layers
    the loaders key so (a sensor's is its device id as delivered)."""
    with scratch_db("idformhead", jining_profile) as d:
        d.rows("INSERT INTO code_registry (code, layer, source_key) VALUES "
               "('T1', 'buildings', '管线（一期）:ＡＢ1'), "
               "('T2', 'buildings', '管线（一期）:备用编号（旧）=Ｃ 2 '), "
               "('T3', 'sensors', 'sensors:ＳＮ-1')  RETURNING 1")
        downgrade(d.url, d.profile.srid, "0016_cases_opened_order")
        upgrade(d.url, d.profile.srid)
        keys = {k for k, in d.rows("SELECT source_key FROM code_registry WHERE code "
                                   "IN ('T1', 'T2', 'T3')")}
        # a sensor is keyed by its device id as delivered (loaders.sensors): left as it is
        assert keys == {"管线（一期）:AB1", "管线（一期）:备用编号（旧）=C 2", "sensors:ＳＮ-1"}, keys
