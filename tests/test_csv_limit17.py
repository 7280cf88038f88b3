"""Python's csv module refuses a cell over 128 KiB. The table checks raised that limit for the
whole process (and for good), so whether a survey table with a long cell was read depended on
what the process had read before; the survey tables' own reader never raised it. Now each
reader raises it while it reads and gives it back. Expected values: the limit read before,
the cells and rows written here."""

from __future__ import annotations

import csv

from loaders.sources import table_checks
from loaders.sources.tables import _read_csv


def test_the_checks_give_the_process_its_limit_back(tmp_path):
    path = tmp_path / "wkt.csv"
    big = "POLYGON((" + ",".join(f"{i} {i}" for i in range(20000)) + ",0 0))"
    assert len(big) > 131072
    path.write_text(f'id,WKT\n1,"{big}"\n\n2,"POINT (1 1)"\n', encoding="utf-8")
    before = csv.field_size_limit()
    assert table_checks.blank_records(path, 1, ",") == [1]
    assert csv.field_size_limit() == before


def test_a_survey_table_with_a_long_cell_is_read(tmp_path):
    path = tmp_path / "points.csv"
    note = "管线" * 70000  # 140,000 characters
    path.write_text(f"物探点号,X,Y,备注\nJS1,3917200,39460300,{note}\nJS2,3917200,39460330,短\n",
                    encoding="utf-8")
    before = csv.field_size_limit()
    table = _read_csv(path, {"物探点号", "X", "Y", "备注"}, None)
    assert csv.field_size_limit() == before
    assert table.row_numbers == [2, 3], table.row_numbers
    assert table.rows[0][table.headers.index("备注")] == note
