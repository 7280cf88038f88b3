"""A component census table whose X/Y Excel saved as it shows them in a narrow column
(3.91529E+06: the last digits lost) was loaded metres — the easting tens of metres — off,
without a word, as pipe survey points were until they were refused (bf7ab7a). Both loaders
now read coordinates by one rule (``loaders.excel_notation.as_coordinate``); the census rejects such
a row naming file, row as the sheet shows it, and column; one in E notation that keeps its
whole metres is read. A GBK CSV and a workbook written here; expected values by construction
(a grid cell's centre asked of PostGIS, written in and out of E notation by hand)."""

from __future__ import annotations

import openpyxl
import pytest

from loaders.components import load_components
from loaders.excel_notation import as_coordinate
from loaders.pipes import fields as pipe_fields


def _mm(v: float):
    return pytest.approx(v, abs=1e-3)


def _census(d, path):
    r = load_components(d.conninfo, d.profile, path, processes=0)
    rejects = d.rows("SELECT row_number, reason, field, message, attrs->>'部件编码' FROM "
                     "load_rejects WHERE batch_id = %s ORDER BY row_number", (r.batch_id,))
    loaded = {k.split(":", 1)[1]: (x, y) for k, x, y in d.rows(
        "SELECT source_key, ST_X(geom), ST_Y(geom) FROM components WHERE batch_id = %s",
        (r.batch_id,))}
    return r, rejects, loaded


def test_a_csv_coordinate_that_lost_its_digits_is_rejected_naming_row_and_column(fresh_db,
                                                                                tmp_path):
    _code, e, n = fresh_db.big_cell()
    n0, e0 = round(n), round(e)  # whole metres: written in E notation with every digit
    lines = ["部件编码,部件小类,X坐标,Y坐标",
             f"B1,0101,{n0 + 0.37},{e0 + 0.52}",                    # row 2
             f"B2,0101,{n0 / 1e6:.5f}E+06,{e0 + 0.52}",             # row 3: X lost digits
             f"B3,0101,{n0 + 0.37},{e0 / 1e7:.5f}E+07",             # row 4: Y lost digits
             f"B4,0101,{n0 / 1e6:.6f}E+06,{e0 / 1e7:.7f}E+07"]      # row 5: whole metres
    path = tmp_path / "部件普查.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    r, rejects, loaded = _census(fresh_db, path)
    assert (r.read, r.loaded, r.rejected) == (4, 2, 2), r.text()
    assert [(row, reason, field, code) for row, reason, field, _m, code in rejects] == [
        (3, "bad_value", "X坐标", "B2"), (4, "bad_value", "Y坐标", "B3")]
    assert "Excel" in rejects[0][3] and f"{n0 / 1e6:.5f}E+06" in rejects[0][3], rejects[0]
    assert loaded == {"B1": (_mm(e0 + 0.52), _mm(n0 + 0.37)), "B4": (_mm(e0), _mm(n0))}


def test_a_workbook_cell_holding_such_a_text_is_rejected_too(fresh_db, tmp_path):
    _code, e, n = fresh_db.big_cell()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["部件编码", "部件小类", "X坐标", "Y坐标"])
    ws.append(["C1", "0101", n, e])                                 # row 2: numbers
    ws.append(["C2", "0101", f"{round(n) / 1e6:.5f}E+06", e])        # row 3: a text cell
    path = tmp_path / "部件.xlsx"
    wb.save(path)
    r, rejects, loaded = _census(fresh_db, path)
    assert [(row, reason, field) for row, reason, field, _m, _c in rejects] == [
        (3, "bad_value", "X坐标")], rejects
    assert loaded == {"C1": (_mm(e), _mm(n))}


def test_pipes_and_components_read_coordinates_by_one_rule():
    assert all(parse is as_coordinate for src, _a, _f, parse in pipe_fields.POINT_VALUES
               if src in ("x", "y"))


def test_ids_excel_saved_as_it_shows_them_are_rejected_naming_the_field(fresh_db, tmp_path):
    """Two components' 18-digit codes saved as 3.70811E+17 were one id: the first loaded under
    a code it never had, the second rejected as its duplicate."""
    _code, e, n = fresh_db.big_cell()
    path = tmp_path / "部件普查.csv"
    path.write_text("部件编码,部件小类,X坐标,Y坐标\n"
                    f"3.70811E+17,0101,{n},{e}\n"          # row 2
                    f"3.70811E+17,0101,{n + 1},{e + 1}\n"  # row 3
                    f"370811000000000003,0101,{n + 2},{e + 2}\n", encoding="utf-8")
    r, rejects, loaded = _census(fresh_db, path)
    assert [(row, reason, field) for row, reason, field, _m, _c in rejects] == [
        (2, "bad_value", "部件编码"), (3, "bad_value", "部件编码")], rejects
    assert "Excel" in rejects[0][3]
    assert set(loaded) == {"370811000000000003"}
