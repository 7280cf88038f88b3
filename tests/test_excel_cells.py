"""Excel cells read as the sheet shows them: a number in Chinese Excel's built-in date formats
is its date, an error cell of an old .xls its error text as a .xlsx's is, and a formula
whose value the workbook does not hold is refused naming its cell — one whose value is the
empty text is blank. Expected values by construction (the workbooks written here)."""

from __future__ import annotations

import datetime as dt
import re
import zipfile

import openpyxl
import pytest

from cim.errors import InputError
from loaders.sources.tables import read_tables

KNOWN = {"物探点号"}


def _sheet(path, rows, formats=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "给水管线点"
    for r in rows:
        ws.append(r)
    for cell, fmt in (formats or {}).items():
        ws[cell].number_format = fmt
    wb.save(path)
    return path


def _with_builtin_format(path, cell_format_id: int):
    """The workbook with its date cell's style pointing at a built-in format id (as Chinese
    Excel writes yyyy年m月d日: no <numFmt> of its own)."""
    raw = zipfile.ZipFile(path)
    files = {n: raw.read(n) for n in raw.namelist()}
    raw.close()
    styles = files["xl/styles.xml"].decode()
    # openpyxl writes a date with a format of its own (164, yyyy-mm-dd): point the cell's
    # style at the built-in id instead, and drop the custom format
    styles = re.sub(r"<numFmts.*?</numFmts>", "", styles)
    files["xl/styles.xml"] = re.sub(r'numFmtId="164"', f'numFmtId="{cell_format_id}"',
                                    styles).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    return path


@pytest.mark.parametrize("fid", [31, 57, 58])
def test_a_chinese_builtin_date_format_is_a_date(tmp_path, fid):
    # the serial 44319 came through as a number: 'not a date', '44319 is not a year'
    p = _sheet(tmp_path / "d.xlsx", [["物探点号", "安装日期"], ["J1", dt.date(2021, 5, 3)]])
    _with_builtin_format(p, fid)
    (t,) = read_tables(p, KNOWN, None)
    assert t.rows[0][1] in (dt.datetime(2021, 5, 3), dt.date(2021, 5, 3)), t.rows


def test_a_formula_without_its_value_is_refused_naming_the_cell(tmp_path):
    p = _sheet(tmp_path / "f.xlsx", [["物探点号", "管径"], ["J1", '="DN"&(100*3)']])
    with pytest.raises(InputError) as e:
        read_tables(p, KNOWN, None)
    assert (e.value.row, e.value.field) == (2, "B") and "without its value" in str(e.value)
    assert "sheet '给水管线点'" in str(e.value)


def test_an_xls_error_cell_is_its_error_text(tmp_path):
    """An error cell of an old .xls read as blank: a #N/A 管径 loaded as no size, one in
    地面高程 was reported 'empty'. Now its text, as a .xlsx's is read."""
    xlwt = pytest.importorskip("xlwt", reason="xlwt (test-only writer of .xls) not installed")
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("给水管线点")
    for j, h in enumerate(["物探点号", "地面高程", "备注"]):
        sh.write(0, j, h)
    sh.write(1, 0, "J1")
    sh.row(1).set_cell_error(1, 42)  # #N/A, as a lookup that found nothing leaves it
    sh.row(1).set_cell_error(2, "#DIV/0!")
    p = tmp_path / "e.xls"
    book.save(str(p))
    (t,) = read_tables(p, KNOWN, None)
    assert t.rows == [["J1", "#N/A", "#DIV/0!"]]
    # the same cells in a .xlsx: what openpyxl gives
    x = _sheet(tmp_path / "e.xlsx", [["物探点号", "地面高程", "备注"], ["J1", "#N/A", "#DIV/0!"]])
    assert read_tables(x, KNOWN, None)[0].rows == t.rows


def test_a_formula_whose_value_is_empty_text_is_blank(tmp_path):
    """=IF(A2="","",…) as Excel saves it (t="str", an empty <v/>): a value, blank — the whole
    workbook was refused as holding a formula without its value."""
    p = _sheet(tmp_path / "s.xlsx", [["物探点号", "备注"], ["J1", '=IF(1,"","x")'],
                                     ["J2", "检修井"]])
    raw = zipfile.ZipFile(p)
    files = {n: raw.read(n) for n in raw.namelist()}
    raw.close()
    sheet = files["xl/worksheets/sheet1.xml"].decode()
    sheet = sheet.replace('<c r="B2">', '<c r="B2" t="str">')  # as Excel writes it
    assert '<c r="B2" t="str">' in sheet
    files["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(p, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    (t,) = read_tables(p, KNOWN, None)
    assert t.rows == [["J1", None], ["J2", "检修井"]]


def test_rich_text_is_no_formula(tmp_path):
    """A rich-text cell (<rPr><family …/>) was taken for a formula without its value: the
    whole workbook refused."""
    p = _sheet(tmp_path / "r.xlsx", [["物探点号", "备注"], ["J1", "P"]])
    raw = zipfile.ZipFile(p)
    files = {n: raw.read(n) for n in raw.namelist()}
    raw.close()
    sheet = files["xl/worksheets/sheet1.xml"].decode()
    rich = '<is><r><rPr><family val="2"/></rPr><t>P</t></r></is>'
    sheet = sheet.replace("<is><t>P</t></is>", rich)
    assert rich in sheet
    files["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(p, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    (t,) = read_tables(p, KNOWN, None)
    assert t.rows == [["J1", "P"]]
