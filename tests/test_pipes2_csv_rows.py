"""A CSV row is named as a spreadsheet shows it — by its record, not by the line it starts on:
after a quoted cell over two lines (a 备注 typed with Alt+Enter in Excel) every reject was
named one row past the row Excel shows, in the pipe, component and sensor loaders alike (one
table reader, ``loaders.sources.tables``). Files written here, each with a quoted two-line
cell in row 2 and a bad value in row 3; the rows expected are those Excel shows (by
construction: the header is row 1, each record one row)."""

from __future__ import annotations

from loaders.components import load_components
from loaders.pipes.load import load_pipes_files
from loaders.sensors import load_sensors

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)
TWO_LINES = '"第一行\n第二行"'


def _rejects(d, batch_id: int) -> list[tuple]:
    return d.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s "
                  "ORDER BY row_number", (batch_id,))


def test_pipe_survey_rows_after_a_two_line_cell(fresh_db, tmp_path):
    pts = tmp_path / "给水管线点.csv"
    pts.write_text("物探点号,特征,X,Y,地面高程,备注\n"
                   f"JS1,直线点,{N},{E},40.00,{TWO_LINES}\n"   # row 2 (lines 2–3)
                   f"JS2,直线点,{N},{E + 30},abc,\n"           # row 3 (line 4)
                   f"JS3,直线点,{N},{E + 60},40.00,\n", encoding="utf-8")
    segs = tmp_path / "给水管线段.csv"
    segs.write_text("起始点号,终止点号,起点埋深,终点埋深,材质,管径,备注\n"
                    f"JS1,JS3,1.2,1.2,PE,200,{TWO_LINES}\n"      # row 2
                    "JS3,JS1,1.2,1.2,PE,200,\n", encoding="utf-8")  # row 3: JS1-JS3 reversed
    r, qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [pts, segs], dataset="rows")
    assert {(f.rule, f.table, f.row) for f in qa.findings if f.severity == "error"} == {
        ("bad_value", "给水管线点.csv", 3), ("reversed_segment", "给水管线段.csv", 3)}, qa.text()
    assert [row for row, *_ in _rejects(fresh_db, r.batch_id)] == [3, 3]


def test_component_rows_after_a_two_line_cell(fresh_db, tmp_path):
    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "部件普查.csv"
    path.write_text("部件编码,部件小类,X坐标,Y坐标,备注\n"
                    f"B1,0101,{n},{e},{TWO_LINES}\n"        # row 2
                    f"B2,0101,{n}abc,{e},\n"               # row 3: X no number
                    f"B3,9999,{n},{e},\n", encoding="utf-8")  # row 4: unknown class
    r = load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0)
    assert _rejects(fresh_db, r.batch_id) == [(3, "bad_value", "X坐标"),
                                               (4, "unknown_class", "部件小类")], r.text()


def test_sensor_rows_after_a_two_line_cell(fresh_db, tmp_path):
    reg = tmp_path / "sensors.csv"
    reg.write_text("设备编号,设备名称,监测类型,计量单位,监测对象编码,安装日期,状态,上报周期(秒),"
                   "数据来源,X,Y\n"
                   f"S-1,{TWO_LINES},燃气浓度,%LEL,,2024-11-06,运行,300,平台,{N},{E}\n"  # row 2
                   f"S-2,探测器,不存在的类型,%LEL,,2024-11-06,运行,300,平台,{N},{E}\n",  # row 3
                   encoding="utf-8")
    r = load_sensors(fresh_db.conninfo, fresh_db.profile, reg, mode="append")
    assert (r.loaded, r.rejected) == (1, 1), r.text()
    assert [(row, field) for row, _reason, field in _rejects(fresh_db, r.batch_id)] == [
        (3, "监测类型")]
