"""Values of a survey table that were read as something else than the surveyor's, silently.

- A coordinate saved from Excel as it shows it in a narrow column (``3.91526E+06`` for
  3915263.42): read as 3915260, the point was placed metres (with the zone prefix, tens of
  metres) away from where it was surveyed. Now the row is rejected naming the file, its row
  as Excel shows it and the column; a coordinate in E notation that keeps its whole metres
  (``3.9464215E+07``) is read.

Expected values are the coordinates and rows as written into the files here."""

from __future__ import annotations

import pytest

from loaders.pipes.load import load_pipes_files
from tests.conftest import scratch_db

E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527)


@pytest.fixture(scope="module")
def pdb(jining_profile):
    with scratch_db("pipes11", jining_profile) as d:
        yield d


def _tables(tmp_path, x3: str, y4: str):
    """Five 给水 points 30 m apart northwards (JS003's X, JS004's Y as given), four
    segments between them; points in GBK as Excel saves them, segments in UTF-8 with BOM."""
    lines = ["物探点号,特征,X坐标,Y坐标,地面高程"]
    for i in range(1, 6):
        x = f"{N0 + 30 * i + 0.42:.2f}" if i != 3 else x3
        y = f"{E0 + 5 * i:.3f}" if i != 4 else y4
        lines.append(f"JS{i:03d},直线点,{x},{y},36.00")
    pts = tmp_path / "给水_管线点成果表.csv"
    pts.write_text("\r\n".join(lines) + "\r\n", encoding="gbk")
    segs = tmp_path / "给水_管线段成果表.csv"
    segs.write_text("起始点号,终止点号,起点埋深,终点埋深,管径\n" + "".join(
        f"JS{i:03d},JS{i + 1:03d},1.20,1.20,DN200\n" for i in range(1, 5)),
        encoding="utf-8-sig")
    return [pts, segs]


def test_a_coordinate_excel_rounded_is_rejected_naming_row_and_column(pdb, tmp_path):
    files = _tables(tmp_path, "3.91529E+06", "3.9464220E+07")  # JS003: 3915290.42 written so
    r, _qa = load_pipes_files(pdb.conninfo, pdb.profile, files, dataset="e11")
    assert r.read == 9 and r.read == r.loaded + r.rejected
    got = pdb.rows("SELECT row_number, reason, field, message FROM load_rejects "
                   "WHERE batch_id = %s ORDER BY row_number, reason", (r.batch_id,))
    # JS003 is row 4 of the point table (the header is row 1); its two segments go with it
    assert [(g[0], g[1], g[2]) for g in got] == [
        (3, "end_point_rejected", "终止点号"), (4, "bad_value", "X坐标"),
        (4, "end_point_rejected", "起始点号")], got
    bad = next(g for g in got if g[1] == "bad_value")
    assert "给水_管线点成果表.csv row 4" in bad[3] and "3.91529E+06" in bad[3], bad
    stored = dict(pdb.rows(
        "SELECT split_part(source_key, ':', 3), ARRAY[ST_X(geom), ST_Y(geom)] FROM pipe_points "
        "WHERE valid_to IS NULL AND source_key LIKE 'e11:%%'"))
    assert sorted(stored) == ["JS001", "JS002", "JS004", "JS005"]
    # JS004's easting in E notation with its whole metres: read as written
    assert stored["JS004"] == pytest.approx([E0 + 20, N0 + 120.42], abs=1e-6)
