"""Identifiers in Excel cells: a number in a prefixed identifier format ("JS"000: Excel shows 7
as JS007) is read as the text the sheet shows, in a .xlsx and an old .xls alike; a number in a
format of zeros only (000: 007) stays the number, as it was always read (its text would give
every workbook loaded before new features on reload), and a segment sheet naming it 007 as
text gets a missing_point naming 007; a text cell 007 and a CSV's 0012 stay text. Expected
values by construction (the workbooks written here)."""

from __future__ import annotations

import openpyxl
import pytest

from loaders.sources.tables import read_tables

KNOWN = {"物探点号", "起点点号", "终点点号"}


def _xlsx(path, sheets):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows, formats in sheets:
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
        for cell, fmt in formats.items():
            ws[cell].number_format = fmt
    wb.save(path)
    return path


def test_a_number_in_a_format_of_zeros_stays_the_number(tmp_path):
    # read as its text (007), a workbook loaded before would change every key on reload
    p = _xlsx(tmp_path / "z.xlsx", [
        ("给水管线点", [["物探点号", "X", "管径"], [7, 12.5, 50], [1234, 1.0, 300], ["0012", 2.0, 20]],
         {"A2": "000", "A3": "000", "C2": "000", "C3": "0"})])
    (points,) = read_tables(p, KNOWN, None)
    assert points.rows == [[7, 12.5, 50], [1234, 1.0, 300], ["0012", 2.0, 20]]


def test_a_number_in_a_prefixed_id_format_is_the_text_the_sheet_shows(tmp_path):
    # "JS"000 shows 7 as JS007: the surveyor's point number, typed as 7 — it was read as 7
    p = _xlsx(tmp_path / "j.xlsx", [
        ("给水管线点", [["物探点号", "X", "埋深"], [7, 12.5, 1.5], [12, 1.0, 2]],
         {"A2": '"JS"000', "A3": "\\J0", "B2": "0.00", "C3": '0"m"'})])
    (t,) = read_tables(p, KNOWN, None)
    assert t.rows == [["JS007", 12.5, 1.5], ["J12", 1.0, 2]]


def test_a_padded_format_leaves_fractions_and_negatives_as_numbers(tmp_path):
    p = _xlsx(tmp_path / "f.xlsx", [
        ("给水管线点", [["物探点号", "X"], [7.5, -3]], {"A2": "000", "B2": "000"})])
    (t,) = read_tables(p, KNOWN, None)
    assert t.rows == [[7.5, -3]]


def test_an_xls_prefixed_number_cell_is_its_text(tmp_path):
    xlwt = pytest.importorskip("xlwt", reason="xlwt (test-only writer of .xls) not installed")
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("给水管线点")
    padded = xlwt.easyxf(num_format_str="0000")
    sh.write(0, 0, "物探点号")
    sh.write(0, 1, "X")
    sh.write(1, 0, 12, padded)
    sh.write(1, 1, 12.5)
    sh.write(2, 0, 34567, padded)
    sh.write(2, 1, 1.0)
    sh.write(3, 0, 5, xlwt.easyxf(num_format_str='"WS"00'))
    sh.write(3, 1, 2.0)
    p = tmp_path / "z.xls"
    book.save(str(p))
    (t,) = read_tables(p, KNOWN, None)
    assert t.rows == [[12, 12.5], [34567, 1.0], ["WS05", 2.0]]


def test_csv_identifiers_keep_their_zeros(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("物探点号,X\n007,12.5\n0012,1\n", encoding="utf-8")
    (t,) = read_tables(p, KNOWN, None)
    assert [r[0] for r in t.rows] == ["007", "0012"]


def test_a_segment_naming_a_zero_padded_point_as_text_is_told_which(fresh_db, tmp_path):
    """The point sheet types 1…5 in a 000 format (Excel shows 001…005; read as 1…5), the
    segment sheet types 001…005 as text: each segment that names no point is rejected saying
    which number it named — nothing loaded silently disjoined."""
    from loaders.pipes.load import load_pipes_files
    from tests.test_pipes import E0, N0

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "给水管线点"
    ws.append(["物探点号", "特征", "X", "Y", "地面高程"])
    for i in range(5):
        ws.append([i + 1, "直线点", N0 + 20 * i, E0, 36.0])
        ws.cell(row=i + 2, column=1).number_format = "000"
    ws2 = wb.create_sheet("给水管线段")
    ws2.append(["起始点号", "终止点号", "起点埋深", "终点埋深", "管径"])
    for i in range(4):
        ws2.append([f"{i + 1:03d}", f"{i + 2:03d}", 1.2, 1.2, "DN300"])
    path = tmp_path / "普查.xlsx"
    wb.save(path)
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [path])
    assert r.rejected_by_reason.get("missing_point") == 4, r.text()
    said = " ".join(m for (m,) in fresh_db.rows(
        "SELECT message FROM load_rejects WHERE batch_id = %s AND reason = 'missing_point'",
        (r.batch_id,)))
    assert all(f"{i:03d}" in said for i in range(1, 6)), said
    assert sorted(p for (p,) in fresh_db.rows(
        "SELECT point_no FROM pipe_points WHERE valid_to IS NULL")) == ["1", "2", "3", "4", "5"]
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments") == 0
