"""A point number repeated across two point tables of one class (a survey delivered in parts)
was reported "rows 5, 2": the second table has no row 5. The rows are named with their tables
when they are of more than one. Expected rows as the files are written here."""

from __future__ import annotations

from loaders.pipes.load import qa_pipes

E0, N0 = 39_464_200.0, 3_915_200.0


def _points(path, numbers):
    path.write_text("物探点号,特征,X,Y,地面高程\n" + "".join(
        f"JS{i:03d},直线点,{N0 + 30 * i:.3f},{E0:.3f},36.00\n" for i in numbers),
        encoding="gbk")


def test_a_point_repeated_across_tables_names_both(jining_profile, tmp_path):
    _points(tmp_path / "给水管线点_1.csv", range(1, 5))  # JS004 on row 5
    _points(tmp_path / "给水管线点_2.csv", range(4, 7))  # JS004 again on row 2
    (tmp_path / "给水管线段.csv").write_text("起始点号,终止点号,起点埋深,终点埋深,管径\n" + "".join(
        f"JS{i:03d},JS{i + 1:03d},1.2,1.2,200\n" for i in range(1, 6)), encoding="gbk")
    qa = qa_pipes(jining_profile, [tmp_path])
    dup = [f for f in qa.findings if f.rule == "duplicate_point"]
    assert [(f.table, f.row) for f in dup] == [("给水管线点_2.csv", 2)]
    assert "(rows 给水管线点_1.csv 5, 给水管线点_2.csv 2)" in dup[0].message_en, dup[0]


def test_a_point_repeated_within_one_table_names_its_rows(jining_profile, tmp_path):
    _points(tmp_path / "给水管线点.csv", [1, 2, 3, 2])
    (tmp_path / "给水管线段.csv").write_text(
        "起始点号,终止点号,起点埋深,终点埋深,管径\nJS001,JS002,1.2,1.2,200\n"
        "JS002,JS003,1.2,1.2,200\n", encoding="gbk")
    qa = qa_pipes(jining_profile, [tmp_path])
    dup = [f for f in qa.findings if f.rule == "duplicate_point"]
    assert [(f.table, f.row) for f in dup] == [("给水管线点.csv", 5)]
    assert "(rows 3, 5)" in dup[0].message_en, dup[0]
