"""A hidden sheet of a survey workbook (an old version of the points, 旧版点) was loaded as
survey data without a word: rows the engineer cannot see in Excel. It is not read, and the
report says so. Workbook written here; expected counts by construction."""

from __future__ import annotations

import openpyxl

from loaders.pipes.load import qa_pipes

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def test_a_hidden_sheet_is_not_read_and_is_named(tmp_path, jining_profile):
    wb = openpyxl.Workbook()
    pts = wb.active
    pts.title = "热力管线点"
    pts.append(["物探点号", "特征", "附属物", "X", "Y", "地面高程"])
    for k in range(3):
        pts.append([f"RL{k}", "直线点", None, N, E + 30 * k, 40.0])
    segs = wb.create_sheet("热力管线段")
    segs.append(["起始点号", "终止点号", "起点埋深", "终点埋深", "材质", "管径"])
    for k in range(2):
        segs.append([f"RL{k}", f"RL{k + 1}", 1.2, 1.2, "钢", 300])
    old = wb.create_sheet("旧版点")
    old.append(["物探点号", "特征", "附属物", "X", "Y", "地面高程"])
    old.append(["RL99", "直线点", None, N + 50, E, 40.0])
    old.sheet_state = "hidden"
    path = tmp_path / "热力成果表.xlsx"
    wb.save(path)
    qa = qa_pipes(jining_profile, [path])
    assert (qa.points, qa.segments) == (3, 2), qa.text()
    assert any("hidden sheet 旧版点 not read" in n for n in qa.notes), qa.notes


def test_every_loader_says_so_and_nothing_visible_is_an_error(tmp_path, fresh_db):
    """The note went to the workbook's first table only, which a loader reading one table
    (sensors, population, a census) did not report; a workbook whose only table is hidden
    read as no table, its hidden sheet unnamed."""
    import json

    import pytest

    from cim.errors import InputError
    from loaders.sources.tables import read_tables
    from tests.conftest import run_cli

    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为传感器登记表"])
    reg = wb.create_sheet("登记表")
    reg.append(["设备编号", "设备名称", "监测类型", "监测对象编码", "X", "Y"])
    reg.append(["GAS-X1", "燃气探测器", "燃气浓度", None, N, E])
    old = wb.create_sheet("旧版")
    old.append(["设备编号", "设备名称", "监测类型", "监测对象编码", "X", "Y"])
    old.append(["GAS-OLD", "燃气探测器", "燃气浓度", None, N, E])
    old.sheet_state = "hidden"
    path = tmp_path / "传感器.xlsx"
    wb.save(path)
    out = run_cli(["load", "sensors", str(path), "--json"], fresh_db.env())
    assert out.returncode in (0, 3), out.stderr
    rep = json.loads(out.stdout)
    assert any("hidden sheet 旧版 not read" in n for n in rep["notes"]), rep["notes"]

    wb = openpyxl.Workbook()
    wb.active.title = "空白"
    data = wb.create_sheet("数据")
    data.append(["物探点号", "X", "Y", "地面高程"])
    data.append(["RL1", N, E, 40.0])
    data.sheet_state = "veryHidden"
    hidden_only = tmp_path / "点.xlsx"
    wb.save(hidden_only)
    with pytest.raises(InputError) as exc:
        read_tables(hidden_only, {"物探点号"})
    assert "hidden sheet 数据 not read" in exc.value.message
