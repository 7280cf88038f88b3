"""A text table that ends inside a quoted value is refused, naming the row, not loaded short.

A CSV cut off (a copy broken off, a file still being written) inside its last row's quoted
WKT loaded the rows before it, "succeeded", and the last row was nowhere — not loaded, not
rejected: read = loaded + rejected held only because the row was never counted.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SAMPLES, run_cli

_HEADER = "编号,建筑名称,建筑用途,结构,地上层数,地下层数,建筑高度,建成年代,WKT\n"


def _row(i: int) -> str:
    x = 39463930 + 20 * i
    ring = f"{x} 3913934,{x} 3913946,{x + 10} 3913946,{x + 10} 3913934,{x} 3913934"
    return f'JZ{i:04d},楼{i},住宅,砖混,3,0,9.4,2008,"POLYGON (({ring}))"\n'


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_a_csv_cut_inside_a_quoted_wkt_is_refused(fresh_db, tmp_path, encoding):
    text = _HEADER + "".join(_row(i) for i in range(1, 4))
    cut = text[: text.rindex(" 3913946,")]  # row 4 (the third building) ends mid-WKT
    path = tmp_path / "cut.csv"
    path.write_bytes(cut.encode(encoding))
    before = fresh_db.scalar("SELECT count(*) FROM buildings")
    args = ["load", "buildings", str(path), "--crs", "EPSG:4527", "--encoding", encoding]
    proc = run_cli(args, fresh_db.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cut.csv, row 4" in proc.stderr and "never closes" in proc.stderr, proc.stderr
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == before
    # whole, it loads every row
    path.write_bytes(text.encode(encoding))
    proc = run_cli(args, fresh_db.env())
    assert proc.returncode == 0, proc.stderr
    assert fresh_db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL") == 3


def test_quotes_inside_unquoted_values_and_doubled_quotes_are_no_cut(fresh_db, tmp_path):
    rows = [_row(1), _row(2).replace("楼2", '楼2 5"管'), _row(3).replace('楼3', '"楼""3"""')]
    path = tmp_path / "quotes.csv"
    path.write_text(_HEADER + "".join(rows), encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path), "--crs", "EPSG:4527"], fresh_db.env())
    assert proc.returncode == 0, proc.stderr
    names = [r[0] for r in fresh_db.rows("SELECT name FROM buildings WHERE valid_to IS NULL "
                                         "ORDER BY source_key")]
    assert names == ["楼1", '楼2 5"管', '楼"3"']


def test_a_pipe_survey_table_cut_inside_a_quoted_note_is_refused(fresh_db, tmp_path):
    folder = tmp_path / "pipes"
    folder.mkdir()
    for name in ("热力_管线点成果表.csv", "热力_管线段成果表.csv"):
        shutil.copy(SAMPLES / "pipes" / name, folder / name)
    seg = folder / "热力_管线段成果表.csv"
    lines = seg.read_bytes().decode("gbk").splitlines(keepends=True)
    last = lines[-1].rstrip("\r\n")
    seg.write_bytes(("".join(lines[:-1]) + last + '"未写完的备注\n').encode("gbk"))
    proc = run_cli(["load", "pipes", str(folder)], fresh_db.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"热力_管线段成果表.csv, row {len(lines)}" in proc.stderr, proc.stderr
    assert "never closes" in proc.stderr
    assert fresh_db.scalar("SELECT count(*) FROM pipe_segments") == 0


@pytest.mark.parametrize("text,row", [
    ('a,b\n\n1,"x\ny"\n2,"open', 4),     # an empty line and a value over two lines: one row each
    ('a;b\r\n1;"x""\r\n', 2),            # "" inside an open value is a quote
    ('a,b\n1,"x"y\n2,"open', 3),         # a character after a closing quote (csv's strict
                                         # mode refuses it; the rule is walked by hand)
    ('a,b\n1,5"p\n2,"x"\n', None),       # a quote inside an unquoted value is a character
    ('a,b\n1,"x\n2,y\n3,"z', None),      # closed by the quote before z
])
def test_the_row_of_an_unclosed_quote(text, row):
    from loaders.sources.table_checks import _unclosed_quote_row

    assert _unclosed_quote_row(text, ";" if ";" in text else ",") == row
