"""A segment table with both 管顶 and 管底 columns of a level (起点管顶埋深 and 起点管底埋深, 起点管顶高程
and 起点管底高程): the aliases' order read the top for every class, so a drainage pipe — surveyed,
stored and analysed at its invert (pipe_classes.csv elevation_ref) — was stored a diameter too
high, without a word (probe of session 19: a DN600 storm drain 0.6 m high). Each row now reads
its class's level. Values by construction."""

from __future__ import annotations

import pandas as pd
import pytest

from loaders.pipes.load import load_pipes_files

N0, E0 = 3_914_000.0, 39_463_600.0


def _delivery(folder, cls: str, prefix: str, drop=(), rename=None):
    folder.mkdir()
    pd.DataFrame({"物探点号": [f"{prefix}1", f"{prefix}2"], "特征": ["", ""],
                  "附属物": ["检查井", "检查井"], "X": [N0, N0 + 30.0],
                  "Y": [E0 + (0 if prefix == "Y" else 50), E0 + (0 if prefix == "Y" else 50)],
                  "地面高程": [36.0, 35.9]}).to_csv(folder / f"{cls}管线点.csv", index=False,
                                               encoding="gbk")
    pd.DataFrame({"起点号": [f"{prefix}1"], "终点号": [f"{prefix}2"],
                  "起点管顶埋深": [1.2], "终点管顶埋深": [1.25],
                  "起点管底埋深": [1.8], "终点管底埋深": [1.85],
                  "起点管顶高程": [34.8], "终点管顶高程": [34.65],
                  "起点管底高程": [34.2], "终点管底高程": [34.05],
                  "管径": ["DN600"]}).drop(columns=list(drop)).rename(
        columns=rename or {}).to_csv(folder / f"{cls}管线段.csv", index=False, encoding="gbk")


@pytest.mark.parametrize("cls,prefix,want", [
    ("雨水", "Y", (1.8, 1.85, 34.2, 34.05)),   # drainage: at the invert (管底)
    ("给水", "J", (1.2, 1.25, 34.8, 34.65)),   # water supply: at the top (管顶)
])
def test_each_class_reads_its_own_level(fresh_db, tmp_path, cls, prefix, want):
    _delivery(tmp_path / cls, cls, prefix)
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / cls],
                             dataset=f"lv{prefix}")
    assert (r.loaded, r.rejected) == (3, 0), r.text()
    got = fresh_db.rows("SELECT start_depth, end_depth, start_elevation, end_elevation, "
                        "ST_Z(ST_StartPoint(geom)), ST_Z(ST_EndPoint(geom)), attrs "
                        "FROM pipe_segments WHERE batch_id = %s", (r.batch_id,))
    [(sd, ed, se, ee, z0, z1, attrs)] = got
    assert (sd, ed, se, ee) == pytest.approx(want)
    assert (z0, z1) == pytest.approx(want[2:])
    other = "起点管顶埋深" if prefix == "Y" else "起点管底埋深"  # the level not read: kept
    assert other in attrs, attrs
    assert any("both 管顶 and 管底" in n for n in r.notes), r.notes


@pytest.mark.parametrize("written,code", [
    ("球墨铸铁管", "QM"), ("混凝土管", "T"), ("钢筋混凝土管", "T"), ("聚乙烯管", "PE"),
    ("HDPE管", "PE"), ("UPVC管", "PVC"), ("镀锌钢管", "G"), ("陶瓷管", "TC"), ("铸铁管", "ZT"),
])
def test_a_material_written_with_its_pipe_is_that_material(jining_profile, written, code):
    """Most survey tables write 球墨铸铁管, not 球墨铸铁: the material code was NULL (risk
    scored as of unknown material), while 铸铁管 and 钢管 were aliases (probe of session 19).
    The codes are CJJ 61's (pipe_materials.csv)."""
    from loaders.pipes.dictionaries import PipeDictionaries

    assert PipeDictionaries(jining_profile).materials.find(written)[0] == code


@pytest.mark.parametrize("drop,rename", [
    # depths in both forms, elevations at the top only: every level read at the top, as
    # before (a depth at the invert beside an elevation at the top failed ground − depth =
    # elevation by the diameter: review of session 19)
    (("起点管底高程", "终点管底高程"), None),
    # the two forms in other units (m and cm): read as before, at one level
    ((), {"起点管底埋深": "起点管底埋深(cm)", "起点管顶埋深": "起点管顶埋深(m)"}),
])
def test_levels_in_one_form_only_or_in_other_units_are_read_as_before(fresh_db, tmp_path,
                                                                      drop, rename):
    _delivery(tmp_path / "雨水", "雨水", "Y", drop, rename)
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "雨水"],
                             dataset="lvone")
    assert (r.loaded, r.rejected) == (3, 0), r.text()
    [(sd, se)] = fresh_db.rows("SELECT start_depth, start_elevation FROM pipe_segments "
                               "WHERE batch_id = %s", (r.batch_id,))
    assert (sd, se) == pytest.approx((1.2, 34.8))
    assert not any("both 管顶 and 管底" in n for n in r.notes), r.notes
