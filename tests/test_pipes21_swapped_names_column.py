"""A pipe survey table whose X column holds eastings (the columns exchanged) is refused naming
the column as delivered (X坐标), not an 'X' the table does not have (session 21's CRS probe).
The sample's 热力 tables (GBK) with their X and Y values exchanged, by construction."""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from cim.errors import InputError
from loaders.pipes.load import load_pipes_files
from tests.conftest import SAMPLES


def test_exchanged_columns_name_the_delivered_column(fresh_db, tmp_path):
    src = SAMPLES / "pipes"
    pts = (src / "热力_管线点成果表.csv").read_bytes().decode("gbk")
    rows = list(csv.reader(io.StringIO(pts)))
    xi = next(i for i, h in enumerate(rows[0]) if h.startswith("X"))
    yi = next(i for i, h in enumerate(rows[0]) if h.startswith("Y"))
    assert rows[0][xi] == "X坐标"  # premise: the delivered name
    for r in rows[1:]:
        if len(r) > yi:
            r[xi], r[yi] = r[yi], r[xi]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    (tmp_path / "热力_管线点成果表.csv").write_bytes(out.getvalue().encode("gbk"))
    shutil.copy(src / "热力_管线段成果表.csv", tmp_path / "热力_管线段成果表.csv")
    with pytest.raises(InputError) as e:
        load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                         [tmp_path / "热力_管线点成果表.csv", tmp_path / "热力_管线段成果表.csv"])
    assert e.value.field == "X坐标" and "exchanged" in e.value.message
