"""A text table with empty lines numbered every row after one a row too early: GDAL's CSV
driver skips an empty line (LF, CRLF or CR; not one of spaces, nor one of separators only,
which it reads as a feature of blank values), while a spreadsheet — and the surveyor opening
the file in Excel or WPS — shows it as a row, so a reject named the line above the bad
value. A quoted value over two lines is one record, one row in Excel, and stays one row.
Expected rows by construction: the lines written, counted as a spreadsheet shows them."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("src14blank", jining_profile) as db:
        yield db


def _poly(d, i: int, dy: int = 0) -> str:
    a, y = d.x0 + 30 * i, d.y0 + dy
    return f'"POLYGON(({a} {y},{a + 20} {y},{a + 20} {y + 20},{a} {y + 20},{a} {y}))"'


def _rejects(d, path) -> list[tuple]:
    return d.rows("SELECT r.row_number, r.reason, r.field FROM load_rejects r "
                  "JOIN load_batches b ON b.id = r.batch_id WHERE b.source_path = %s "
                  "ORDER BY r.row_number", (str(path),))


def test_rows_after_empty_lines_are_numbered_as_a_spreadsheet_shows(d, tmp_path):
    path = tmp_path / "楼.csv"
    lines = ["编号,名称,地上层数,WKT",              # row 1
             f"B1,甲,3,{_poly(d, 0)}",               # row 2
             "",                                     # row 3 (GDAL skips it)
             'B2,乙,4,"POLYGON((1 2,3"',             # row 4: unreadable WKT
             "",                                     # row 5
             "",                                     # row 6
             f'B3,"两行\n的名称",4,{_poly(d, 1)}',   # row 7 (two lines, one row)
             "",                                     # row 8
             "B4,丁,5,",                             # row 9: no geometry
             "   ",                                  # row 10: a feature to GDAL (no WKT)
             f"B5,戊,6,{_poly(d, 2)}",               # row 11
             "",                                     # (after the last row: no shift)
             ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path), "--dataset", "blank", "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    got = _rejects(d, path)
    assert [(r, f) for r, _why, f in got] == [(4, "WKT"), (9, "WKT"), (10, "WKT")], got
    assert got[0][1] == "invalid_geometry" and got[1][1] == "empty_geometry", got
    assert d.rows("SELECT source_key FROM buildings WHERE source_key LIKE 'blank:%%' "
                  "ORDER BY 1") == [("blank:B1",), ("blank:B3",), ("blank:B5",)]


def test_a_gbk_crlf_table_with_empty_lines_given_its_encoding(d, tmp_path):
    path = tmp_path / "gbk.csv"
    lines = ["编号,建筑名称,地上层数,WKT",          # row 1
             "",                                     # row 2: before the first feature
             f"G1,甲楼,3,{_poly(d, 0, 40)}",         # row 3
             "",                                     # row 4
             'G2,乙楼,4,"POLYGON((1 2,3"']            # row 5
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    proc = run_cli(["load", "buildings", str(path), "--encoding", "GBK", "--dataset", "gbk",
                    "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert _rejects(d, path) == [(5, "invalid_geometry", "WKT")]


def test_extra_cells_after_an_empty_line_name_their_row(d, tmp_path):
    path = tmp_path / "cells.csv"
    lines = ["编号,名称,地上层数,WKT",                 # row 1
             f"C1,甲楼,3,{_poly(d, 0, 80)}",            # row 2
             "",                                        # row 3
             f"C2,济宁水务集团,二分公司,5,{_poly(d, 1, 80)}"]  # row 4: 5 cells
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path), "--dataset", "cells"], d.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cells.csv, row 4:" in proc.stderr, proc.stderr
    assert "5 cells where the header has 4" in proc.stderr, proc.stderr


def test_without_empty_lines_rows_stay_consecutive(d, tmp_path):
    # an empty line inside a quoted value is the value's (GDAL skips nothing), and empty
    # lines after the last row shift none
    path = tmp_path / "q.csv"
    lines = ["编号,名称,WKT",                          # row 1
             f'Q1,"甲\n\n楼",{_poly(d, 0, 120)}',      # row 2 (three lines)
             'Q2,乙,"POLYGON((1 2,3"',                  # row 3
             "Q3,丙,",                                  # row 4
             "", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path), "--dataset", "q", "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    assert _rejects(d, path) == [(3, "invalid_geometry", "WKT"), (4, "empty_geometry", "WKT")]


def test_batches_number_each_row_whichever_process_reads_them(tmp_path):
    # a converter process reads every other batch (keep): each row keeps its own number, a
    # batch of rows over empty lines its non-consecutive ones
    from loaders.sources.read import iter_batches, open_source

    lines, expected = ["编号,WKT"], {}
    for i in range(9):
        lines += [""] * (i % 3)  # 0, 1 or 2 empty lines before each row
        lines.append(f'N{i},"POINT ({i} {i})"')
        expected[f"N{i}"] = len(lines)  # the row a spreadsheet shows it on
    path = tmp_path / "n.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    src = open_source(path)
    got = {}
    for keep in (lambda j: j % 2 == 0, lambda j: j % 2 == 1):
        for b in iter_batches(src, batch_size=2, keep=keep):
            if b is not None:
                got.update({str(k): b.row(i) for i, k in enumerate(b.columns["编号"])})
    assert got == expected


@pytest.mark.parametrize("bad, given", [(b"\x00", None), (b"\xff\xfe", None),
                                        (b"\x80", "GBK")])
def test_a_refusal_of_bytes_names_the_row_a_spreadsheet_shows(d, tmp_path, bad, given):
    # the refusals of a NUL byte or of text not in the file's encoding name the line a text
    # editor shows and, as every other refusal, the row a spreadsheet shows: a quoted value
    # over two lines is one row
    path = tmp_path / "bytes.csv"
    text = ("编号,名称,WKT\n"                    # row 1, line 1
            f'B1,"两行\n的名称",{_poly(d, 0, 160)}\n'  # row 2, lines 2-3
            "\n"                                  # row 3, line 4
            "B2,乙")                              # row 4, line 5: the bad bytes
    path.write_bytes(text.encode(given or "utf-8") + bad + b",\n")
    proc = run_cli(["load", "buildings", str(path), "--dataset", "bytes"]
                   + (["--encoding", given] if given else []), d.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "bytes.csv, row 4:" in proc.stderr and "line 5" in proc.stderr, proc.stderr


def test_an_empty_first_line_is_refused_saying_where_the_header_goes(tmp_path):
    """GDAL reads no header from a CSV whose first line is empty: its rows were refused as
    rows of more cells than the header (review 14). Refused for what it is."""
    from cim.errors import InputError
    from loaders.sources.read import open_source

    for i, text in enumerate(["\nid,WKT\n1,POINT (1 2)\n", "\ufeff\r\nid,WKT\r\n1,POINT (1 2)\r\n"]):
        path = tmp_path / f"blank_first{i}.csv"
        path.write_text(text, encoding="utf-8", newline="")
        with pytest.raises(InputError, match="line 1 is empty") as refused:
            open_source(path)
        assert refused.value.row == 1
