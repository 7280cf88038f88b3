"""Excel workbooks (.xlsx, old .xls) as grids of cell values, each cell as its sheet shows it
(:func:`_xlsx_value`): what :func:`loaders.sources.tables.read_tables` finds tables in."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from cim.errors import InputError
from loaders.sources.precheck import workbook_errors

# (sheet title, rows of cell values, merged ranges (row0, col0, row1, col1), 0-based inclusive)
Sheet = tuple[str, list[list[Any]], list[tuple[int, int, int, int]]]

# Excel's built-in number formats whose text depends on the locale: in Chinese Excel 27–31,
# 36 and 50–58 are dates (yyyy年m月d日 …), 32–35 times. openpyxl knows them not, and gave a
# date cell as its serial number (44319 for 2021-05-03); xlrd reads them as dates
_LOCALE_DATE_FORMATS = frozenset((*range(27, 32), 36, *range(50, 59)))
# a number format of an identifier: zeros after an optional literal prefix of letters (000:
# 7 shown as 007; "JS"000 or \J000: JS007, J007)
_ID_FORMAT = re.compile(r'((?:"[A-Za-z][A-Za-z0-9_-]*"|(?:\\[A-Za-z0-9_-])+)?)(0+)')
# a worksheet cell: its attributes and content (a self-closing <c …/> holds nothing)
# (tags with or without a namespace prefix, <x:c> as some writers give them)
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>/]*)>(.*?)</(?:\w+:)?c>", re.S)
_REF = re.compile(rb'\br="([A-Z]+)([0-9]+)"')
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s/>]")  # not <family> of rich text
_VALUE = re.compile(rb"<(?:\w+:)?v[\s/>]")
_EMPTY_V = re.compile(rb"<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>")


def _id_format(fmt: str | None) -> tuple[str, int] | None:
    """(literal prefix, width) of a number format that shows a whole number as an identifier
    with a literal prefix of letters ("JS"000: JS007, \\J0: J12), else None (0, General,
    0.00, a unit after the number …).

    Zeros alone (000: 7 shown as 007) are no such format: the number stays the number, as
    this platform has always read it — read as its text, every point and code of a workbook
    loaded before would be a new feature with a new code on its next reload (a sensor 7
    retired, 007 added). A segment sheet that names such a point 007 as text then misses it,
    said by the survey QA (``missing_point`` naming the number). The prefix is another
    matter: read as the number alone, JS007 lost its letters."""
    m = _ID_FORMAT.fullmatch(fmt or "")
    if m is None:
        return None
    prefix = m.group(1).replace('"', "").replace("\\", "")
    return (prefix, len(m.group(2))) if prefix else None


def _padded_text(v: Any, fmt: tuple[str, int] | None) -> Any:
    """A whole non-negative number in a prefixed identifier's format (:func:`_id_format`) is
    the text the sheet shows (JS007): the point number as the surveyor typed and sees it, which
    the segment sheet or a CSV names so; any other value is itself."""
    if fmt is None or not float(v).is_integer() or v < 0:
        return v
    prefix, width = fmt
    return prefix + str(int(v)).zfill(width)


def _xlsx_value(cell, wb, formats: dict[int, tuple[str, int] | None]) -> Any:
    """A cell's value as the sheet shows it, where openpyxl's value is not: a number in a
    locale date format is its date, a whole number in a prefixed identifier's format
    ("JS"000) its text (:func:`_padded_text`: JS007, not 7). ``formats``: the identifier format of each
    cell style, found once a style."""
    v = cell.value
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return v
    sid = cell.style_id
    if sid not in formats:
        formats[sid] = _id_format(cell.number_format)
    if formats[sid] is not None:
        return _padded_text(v, formats[sid])
    if wb._cell_styles[sid].numFmtId in _LOCALE_DATE_FORMATS:
        from openpyxl.utils.datetime import from_excel

        try:
            return from_excel(v, wb.epoch)
        except (ValueError, OverflowError):
            return v
    return v


def _uncached_formulas(path: Path) -> None:
    """A formula whose value the workbook does not hold (written by a program that computes
    no formulas: no <v>, or an empty one as openpyxl writes it) is refused, naming its cell —
    openpyxl gives such a cell as empty, and its value was lost without a word (管径
    ="DN"&300 loaded as no size). A formula whose value is the empty text (=IF(A2="","",…):
    Excel saves t="str" and an empty <v/>) is that value: blank."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")
                  and n.endswith(".xml")]
        for name in sheets:
            xml = z.read(name)
            if not _FORMULA.search(xml):
                continue  # the common case: no formula at all
            for m in _CELL.finditer(xml):
                inner = m.group(2)
                if _FORMULA.search(inner) and (not _VALUE.search(inner) or (
                        _EMPTY_V.search(inner) and b't="str"' not in m.group(1))):
                    ref = _REF.search(m.group(1))
                    col, row = (ref.group(1).decode(), int(ref.group(2))) if ref else (None,
                                                                                       None)
                    cell = f"cell {col}{row}" if ref else "a cell"
                    raise InputError(
                        f"sheet {_sheet_title(z, name)!r}: {cell} holds a formula without its "
                        "value (the program that wrote the workbook computes no formulas): "
                        "open and save it in Excel or WPS, or paste the values",
                        path=str(path), row=row, field=col)


def _sheet_title(z, part: str) -> str:
    """The title of the sheet stored as ``part`` (xl/worksheets/sheetN.xml)."""
    try:
        rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
        book = z.read("xl/workbook.xml").decode("utf-8", "replace")
    except KeyError:
        return part
    target = part.removeprefix("xl/")
    rid = None
    for rel in re.findall(r"<Relationship\b[^>]*>", rels):  # attributes in any order
        t = re.search(r'\bTarget="/?(?:xl/)?([^"]+)"', rel)
        i = re.search(r'\bId="([^"]+)"', rel)
        if t and i and t.group(1) == target:
            rid = i.group(1)
    m = re.search(r'<sheet\b[^>]*\bname="([^"]*)"[^>]*\br:id="' + re.escape(rid or "?") + '"',
                  book)
    return html.unescape(m.group(1)) if m else part


def xlsx_grids(path: Path, hidden: list[str] | None = None) -> list[Sheet]:
    """Each sheet of a workbook as (title, rows of cell values, merged ranges (row0, col0,
    row1, col1), 0-based inclusive) — but a hidden one (Excel does not show it: an old
    version of the table, a lookup list), whose title is put in ``hidden`` instead: its rows
    loaded as survey data the engineer could not see in the file."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except workbook_errors() as exc:
        raise InputError(f"not a readable Excel workbook: {exc}", path=str(path)) from exc
    out = []
    try:
        _uncached_formulas(path)
        formats: dict[int, tuple[str, int] | None] = {}
        for ws in wb.worksheets:
            if ws.sheet_state != "visible":
                if hidden is not None:
                    hidden.append(ws.title)
                continue
            grid = [[_xlsx_value(c, wb, formats) for c in r] for r in ws.iter_rows()]
            merged = [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1)
                      for m in ws.merged_cells.ranges]
            out.append((ws.title, grid, merged))
    finally:
        wb.close()
    return out


def _xls_format(book, xf_index: int | None) -> tuple[str, int] | None:
    """The identifier format of an .xls cell (:func:`_id_format`)."""
    try:
        fmt = book.format_map[book.xf_list[xf_index].format_key].format_str
    except (IndexError, KeyError, TypeError, AttributeError):
        return None
    return _id_format(fmt)


def xls_grids(path: Path, hidden: list[str] | None = None) -> list[Sheet]:
    """Each sheet of an old .xls workbook, as :func:`xlsx_grids` gives them (a hidden one's
    title in ``hidden``)."""
    import struct

    import xlrd
    import xlrd.compdoc

    try:
        book = xlrd.open_workbook(path, formatting_info=True)
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, struct.error, ValueError, IndexError,
            AssertionError, OSError) as exc:  # xlrd's ways of failing on a damaged BIFF file
        raise InputError(f"not a readable .xls workbook: {exc}", path=str(path)) from exc
    out = []
    for sh in book.sheets():
        if sh.visibility:  # 1 hidden, 2 very hidden
            if hidden is not None:
                hidden.append(sh.name)
            continue
        grid = []
        for r in range(sh.nrows):
            row = []
            for c in range(sh.ncols):
                cell = sh.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        row.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
                    except (xlrd.xldate.XLDateError, ValueError, OverflowError) as exc:
                        raise InputError(f"sheet {sh.name!r}: the date {cell.value!r} cannot "
                                         f"be read ({exc})", path=str(path), row=r + 1,
                                         field=xlrd.colname(c)) from exc
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    row.append(None)
                elif cell.ctype == xlrd.XL_CELL_ERROR:
                    # as the sheet shows it (#N/A), as a .xlsx's is read: a blank instead
                    # lost it (a #N/A 管径 loaded as no size, one in 地面高程 was "empty")
                    row.append(xlrd.error_text_from_code.get(cell.value, "#ERROR"))
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    row.append(bool(cell.value))
                elif cell.ctype == xlrd.XL_CELL_NUMBER:
                    row.append(_padded_text(cell.value, _xls_format(book, cell.xf_index)))
                else:
                    row.append(cell.value)
            grid.append(row)
        merged = [(r0, c0, r1 - 1, c1 - 1) for r0, r1, c0, c1 in sh.merged_cells]
        out.append((sh.name, grid, merged))
    return out
