"""A subclass named in a survey table keeps its subclass (standards.md, CJJ 61 pipe classes).

煤气 (燃气 RQ 3, subclass MQ 01) and 供电 (电力 DL 5, subclass GD 01) were also written as
aliases of their class in pipe_classes.csv, and the class alias won: a 供电 segment was stored
with subclass 00, feature code 55001000 for 55011000, without a word.
"""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES, run_cli

# standards.md: "燃气 RQ | 3 | 煤气 MQ 01, 液化气 YH 02, 天然气 TR 03", "电力 DL | 5 | 供电 GD 01,
# 路灯 LD 02 …", "其他 QT | 8 | 综合管沟 ZH 01, 不明管线 BM 02"; a name, its letters
STANDARD = [("煤气", "03", "01"), ("MQ", "03", "01"), ("供电", "05", "01"),
            ("GD", "05", "01"), ("天然气", "03", "03"), ("路灯", "05", "02"),
            ("不明管线", "08", "02"), ("燃气", "03", "00"), ("电力", "05", "00"),
            ("RQ", "03", "00")]


@pytest.mark.parametrize("name,cls,sub", STANDARD)
def test_a_subclass_name_resolves_to_its_subclass(jining_profile, name, cls, sub):
    from loaders.pipes.dictionaries import PipeDictionaries

    pc = PipeDictionaries(jining_profile).find_class(name)
    assert (pc.code, pc.subclass_code or "00") == (cls, sub)


def test_a_supply_power_segment_is_coded_with_its_subclass(fresh_db, tmp_path):
    folder = tmp_path / "pipes"
    folder.mkdir()
    for name in ("电力通信_管线点成果表.csv", "电力通信_管线段成果表.csv"):
        src = (SAMPLES / "pipes" / name).read_text(encoding="utf-8-sig")
        # every 电力 row of the tables written as its subclass 供电
        lines = src.splitlines(keepends=True)
        out = [lines[0]] + [("供电" + ln[2:]) if ln.startswith("电力,") else ln
                            for ln in lines[1:]]
        (folder / name).write_text("".join(out), encoding="utf-8")
    proc = run_cli(["load", "pipes", str(folder)], fresh_db.env())
    assert proc.returncode == 0, proc.stderr
    got = fresh_db.rows("SELECT DISTINCT pipe_class, subclass_code, left(feature_code, 4) "
                        "FROM pipe_segments WHERE valid_to IS NULL AND pipe_class = '05'")
    # 5 (pipe) + 5 (电力) + 01 (供电): CJJ 61's feature code of a 供电 segment
    assert got == [("05", "01", "5501")], got


# standards.md: "电力/通信 — 人孔, 手孔, 检修井, 接线箱, 变压器, 分支箱, 通信交接箱. A clean
# delivery written with these names must raise no 'unknown feature' finding" — in a table of
# both classes (the sample's 电力通信_管线点成果表), either class
@pytest.mark.parametrize("cls", ["电力", "通信"])
@pytest.mark.parametrize("name", ["人孔", "手孔", "检修井", "接线箱", "变压器", "分支箱",
                                  "通信交接箱"])
def test_power_and_telecom_point_names_are_known_to_both(jining_profile, cls, name):
    from loaders.pipes.dictionaries import PipeDictionaries

    d = PipeDictionaries(jining_profile)
    assert d.feature(d.find_class(cls), "附属物", name) is not None
