"""Survey tables' headers: a column with no header and no value (a trailing separator of a
CSV's lines, a formatted empty cell beside an Excel table) was kept as ``column_N: null`` in
every feature's attrs, so the same survey saved with or without it gave every feature a new
version; a title merged across the header was read as a group over it, and named the columns
it did not know after itself (2026年 网格人口统计表备注). Tables written here; expected by
construction."""

from __future__ import annotations

import openpyxl
from openpyxl.styles import Font

from loaders.pipes.load import load_pipes_files
from loaders.sources.tables import read_tables

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)
KNOWN = {"网格编码", "常住人口", "年份"}


def _survey(folder, trailing: str):
    folder.mkdir()
    (folder / "热力_管线点.csv").write_text(
        f"物探点号,特征,附属物,X,Y,地面高程{trailing}\n" + "".join(
            f"RL{k},直线点,,{N},{E + 30 * k},40.00{trailing}\n" for k in range(4)),
        encoding="utf-8")
    (folder / "热力_管线段.csv").write_text(
        f"起始点号,终止点号,起点埋深,终点埋深,材质,管径{trailing}\n" + "".join(
            f"RL{k},RL{k + 1},1.2,1.2,钢,300{trailing}\n" for k in range(3)), encoding="utf-8")
    return folder


def test_a_trailing_separator_is_no_column_and_changes_nothing(fresh_db, tmp_path):
    plain = _survey(tmp_path / "plain", "")
    trailing = _survey(tmp_path / "trailing", ",,")
    (t,) = [t for t in read_tables(trailing / "热力_管线点.csv", {"物探点号"})]
    assert t.headers == ["物探点号", "特征", "附属物", "X", "Y", "地面高程"], t.headers
    first, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [plain], dataset="P")
    assert (first.loaded, first.rejected) == (7, 0), first.text()
    again, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [trailing], dataset="P")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 7), again.text()
    assert fresh_db.scalar("SELECT count(*) FROM pipe_points WHERE attrs ?| "
                           "array['column_7', 'column_8']") == 0


def test_a_column_with_a_value_and_no_header_stays(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("网格编码,常住人口,年份,\n370811001001001,12,2026,见附件\n"
                    "370811001001002,13,2026,\n", encoding="utf-8")
    (t,) = read_tables(path, KNOWN)
    assert t.headers == ["网格编码", "常住人口", "年份", "column_4"], t.headers
    assert [r[3] for r in t.rows] == ["见附件", None]


def test_a_merged_title_and_an_empty_formatted_cell(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "2026人口"
    ws["A1"] = "2026年 网格人口统计表"
    ws.merge_cells("A1:E1")  # one column wider than the table
    ws.append(["网格编码", "常住人口（人）", "年份", "备注"])
    ws.append(["370811001001001", 1234, 2026, "新建小区"])
    ws.append(["370811001001002", 1235, 2026, None])
    ws["F4"].font = Font(bold=True)  # formatted, empty
    path = tmp_path / "人口.xlsx"
    wb.save(path)
    (t,) = read_tables(path, KNOWN)
    assert t.headers == ["网格编码", "常住人口（人）", "年份", "备注"], t.headers
    assert t.row_numbers == [3, 4] and t.rows[0][3] == "新建小区", t.rows


def test_a_group_over_its_columns_is_still_read_as_one_header(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["物探点号", "坐标(m)", None, "埋深(m)", None, "备注"])
    ws.append([None, "X", "Y", "起点", "终点", None])
    ws.merge_cells("B1:C1")
    ws.merge_cells("D1:E1")
    ws.append(["RL1", N, E, 1.2, 1.3, "过路"])
    path = tmp_path / "s.xlsx"
    wb.save(path)
    (t,) = read_tables(path, {"物探点号", "X", "Y", "起点埋深", "终点埋深"})
    assert t.headers == ["物探点号", "坐标(m)X", "坐标(m)Y", "起点埋深(m)", "终点埋深(m)", "备注"], \
        t.headers  # a group over each pair, a name alone over the others


def _buildings_csv(path, trailing: str, note: str = ""):
    rows = [f"编号,建筑名称,地上层数,WKT{trailing}"]
    for k in range(3):
        x = E + 40 * k
        rows.append(f'JZ{k},楼{k},3,"POLYGON(({x} {N},{x + 20} {N},{x + 20} {N + 20},'
                    f'{x} {N + 20},{x} {N}))"{trailing if k else trailing + note}')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_gdal_read_table_with_a_trailing_separator(fresh_db, tmp_path):
    """The loaders reading a CSV through GDAL (buildings, components …): GDAL names the blank
    header's column field_N; its empty cells are no attribute."""
    import json

    from tests.conftest import run_cli

    env = fresh_db.env()
    src = tmp_path / "b"
    src.mkdir()
    first = json.loads(run_cli(["load", "buildings", str(_buildings_csv(src / "楼.csv", ",")),
                                "--crs", "EPSG:4527", "--json"], env, check=True).stdout)
    assert first["loaded"] == 3, first
    assert {a for (a,) in fresh_db.rows("SELECT attrs::text FROM buildings")} == {"{}"}
    again = json.loads(run_cli(["load", "buildings", str(_buildings_csv(src / "楼.csv", "")),
                                "--crs", "EPSG:4527", "--json"], env, check=True).stdout)
    assert (again["updated"], again["unchanged"]) == (0, 3), again
    noted = json.loads(run_cli(["load", "buildings", str(_buildings_csv(
        src / "楼.csv", ",", note="待核")), "--crs", "EPSG:4527", "--json"], env,
        check=True).stdout)
    assert noted["updated"] == 1, noted  # a value in the unnamed column is kept: its row's
    assert fresh_db.rows("SELECT attrs->>'field_5' FROM buildings WHERE valid_to IS NULL "
                         "AND attrs->>'field_5' IS NOT NULL") == [("待核",)]


def test_a_pipe_batch_records_the_paths_it_was_given(fresh_db, tmp_path):
    """`cim batches` named a survey's first table only: the batch records the folder, or
    every table given."""
    folder = _survey(tmp_path / "热力普查", "")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [folder])
    assert fresh_db.scalar("SELECT source_path FROM load_batches WHERE id = %s",
                           (r.batch_id,)) == str(folder.resolve())
    files = sorted(folder.iterdir())
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, dataset="热力普查")
    assert fresh_db.scalar("SELECT source_path FROM load_batches WHERE id = %s",
                           (r.batch_id,)) == ", ".join(str(f.resolve()) for f in files)


def test_a_group_over_some_columns_is_no_title(tmp_path):
    """埋深 over 起点/终点 (which alone name the start and end points): a group, in a CSV
    (blank around it) and merged in a workbook."""
    known = {"起点点号", "终点点号", "起点", "终点", "起点埋深", "终点埋深", "材质", "管径"}
    csv_path = tmp_path / "段.csv"
    csv_path.write_text(",,埋深,,,\n起点点号,终点点号,起点,终点,材质,管径\n"
                        "RL1,RL2,1.2,1.3,钢,300\n", encoding="utf-8")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([None, None, "埋深", None, None, None])
    ws.merge_cells("C1:D1")
    ws.append(["起点点号", "终点点号", "起点", "终点", "材质", "管径"])
    ws.append(["RL1", "RL2", 1.2, 1.3, "钢", 300])
    xlsx = tmp_path / "段.xlsx"
    wb.save(xlsx)
    for path in (csv_path, xlsx):
        (t,) = read_tables(path, known)
        assert t.headers[2:4] == ["起点埋深", "终点埋深"], (path.suffix, t.headers)


def test_an_unnamed_columns_null_is_left_out_row_by_row():
    """Per row, not per batch of rows (a batch's boundaries move with the rows above): the
    attrs text of every row is the JSON of its row_attrs, which leave such a null out."""
    import json

    import numpy as np

    from loaders.common import attrs_json_arrow, row_attrs

    cols = {"field_5": np.array([None, None, "x"], dtype=object),
            "编号": np.array(["J1", "J2", "J3"], dtype=object),
            "说明说明说明": np.array(['a, "field_5": null', None, None], dtype=object),
            "field_12": np.array([None, "y", None], dtype=object)}
    texts = attrs_json_arrow(cols, 3).to_pylist()
    want = [{"编号": "J1", "说明说明说明": 'a, "field_5": null'},
            {"编号": "J2", "说明说明说明": None, "field_12": "y"},
            {"编号": "J3", "说明说明说明": None, "field_5": "x"}]
    assert [json.loads(t) for t in texts] == want
    assert [row_attrs(cols, i) for i in range(3)] == want


def test_a_title_anywhere_over_the_header_is_a_title(tmp_path):
    """A title typed in a middle cell of a CSV, or merged over some of the columns of a
    workbook, named the columns it did not know after itself."""
    csv_path = tmp_path / "人口.csv"
    csv_path.write_text(",,2026年网格人口统计表,\n网格编码,常住人口,年份,备注\n"
                        "370811001001001,12,2026,新建\n", encoding="utf-8")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B1"] = "2026年网格人口统计表"
    ws.merge_cells("B1:D1")
    ws.append(["网格编码", "常住人口", "年份", "备注"])
    ws.append(["370811001001001", 12, 2026, "新建"])
    xlsx = tmp_path / "人口.xlsx"
    wb.save(xlsx)
    for path in (csv_path, xlsx):
        (t,) = read_tables(path, KNOWN)
        assert t.headers == ["网格编码", "常住人口", "年份", "备注"], (path.suffix, t.headers)
