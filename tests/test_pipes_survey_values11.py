"""Values of a survey table that were read as something else than the surveyor's, silently.

- A coordinate saved from Excel as it shows it in a narrow column (``3.91526E+06`` for
  3915263.42): read as 3915260, the point was placed metres (with the zone prefix, tens of
  metres) away from where it was surveyed. Now the row is rejected naming the file, its row
  as Excel shows it and the column; a coordinate in E notation that keeps its whole metres
  (``3.9464215E+07``) is read.
- A 管径 in metres under a header without its unit (0.3, 0.8×0.6) was stored as 0.3 mm — a
  pipe a thousand times too thin for the clearance checks and cross-sections. Now the row is
  rejected naming the column; 15 (DN15) and Φ108×4.5 (a wall of 4.5 mm) are sizes.

Expected values are the coordinates and rows as written into the files here."""

from __future__ import annotations

import datetime

import pytest

from cim.errors import InputError
from cim.numbers import ValueProblem
from loaders.pipes.dictionaries import parse_size
from loaders.pipes.fields import id_text
from loaders.pipes.load import load_pipes_files
from tests.conftest import scratch_db

E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527)


@pytest.fixture(scope="module")
def pdb(jining_profile):
    with scratch_db("pipes11", jining_profile) as d:
        yield d


def _tables(tmp_path, x3: str, y4: str, sizes: tuple[str, ...] = ("DN200",) * 4):
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
        f"JS{i:03d},JS{i + 1:03d},1.20,1.20,{sizes[i - 1]}\n" for i in range(1, 5)),
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


@pytest.mark.parametrize("typed", ["0.3", 0.3, "1.2", "0.8×0.6", "Φ0.3", 2])
def test_a_size_in_metres_is_refused(typed):
    with pytest.raises(ValueProblem, match="millimetres"):
        parse_size(typed)


def test_small_sizes_in_millimetres_are_read():
    assert parse_size("15") == (15.0, None, None, "15")
    assert parse_size("φ108×4.5") == (108.0, None, None, "φ108×4.5")  # the wall is 4.5 mm
    assert parse_size(25.0) == (25.0, None, None, "25")


def test_a_size_in_metres_rejects_its_row_naming_the_column(pdb, tmp_path):
    files = _tables(tmp_path, f"{N0 + 90.42:.2f}", f"{E0 + 20:.3f}",
                    ("DN200", "0.3", "0.8×0.6", "200"))
    r, _qa = load_pipes_files(pdb.conninfo, pdb.profile, files, dataset="m11")
    assert r.read == 9 and (r.loaded, r.rejected) == (7, 2)
    got = pdb.rows("SELECT row_number, reason, field FROM load_rejects WHERE batch_id = %s "
                   "ORDER BY row_number", (r.batch_id,))
    assert got == [(3, "bad_value", "管径"), (4, "bad_value", "管径")]
    assert pdb.rows("SELECT start_point_no, diameter_mm FROM pipe_segments WHERE valid_to IS "
                    "NULL AND source_key LIKE 'm11:%%' ORDER BY 1") == [
        ("JS001", 200.0), ("JS004", 200.0)]


def _with_units(tmp_path, units: str):
    """The tables of :func:`_tables`, the segment table with a row of units below its header."""
    files = _tables(tmp_path, f"{N0 + 90.42:.2f}", f"{E0 + 20:.3f}")
    text = files[1].read_text(encoding="utf-8-sig").split("\n", 1)
    files[1].write_text(text[0] + "\n" + units + "\n" + text[1], encoding="utf-8-sig")
    return files


def test_a_row_of_units_in_cm_below_the_header_refuses_the_table(pdb, tmp_path):
    """起点埋深 over cm: 120 cm was read as 120 m (90 cm as 90 m, loaded with a warning)."""
    files = _with_units(tmp_path, ",,cm,cm,mm")
    before = pdb.scalar("SELECT count(*) FROM load_batches")
    with pytest.raises(InputError) as e:
        load_pipes_files(pdb.conninfo, pdb.profile, files, dataset="u11")
    err = e.value
    assert (err.path, err.row, err.field) == ("给水_管线段成果表.csv", 2, "起点埋深"), err
    assert "cm" in err.message
    assert pdb.scalar("SELECT count(*) FROM pipe_points WHERE source_key LIKE 'u11:%%'") == 0
    assert pdb.scalar("SELECT count(*) FROM load_batches") == before
    # a size's column over m: metres, not millimetres
    files = _with_units(tmp_path, ",,m,m,m")
    with pytest.raises(InputError) as e:
        load_pipes_files(pdb.conninfo, pdb.profile, files, dataset="u11")
    assert e.value.field == "管径", e.value


def test_a_row_of_units_of_the_columns_own_units_loads(pdb, tmp_path):
    files = _with_units(tmp_path, ",,m,米,mm")
    r, _qa = load_pipes_files(pdb.conninfo, pdb.profile, files, dataset="v11")
    assert (r.read, r.loaded, r.rejected) == (9, 9, 0)
    assert pdb.rows("SELECT DISTINCT start_depth, diameter_mm FROM pipe_segments WHERE "
                    "valid_to IS NULL AND source_key LIKE 'v11:%%'") == [(1.2, 200.0)]


def test_a_point_number_excel_made_a_date_is_rejected(pdb, tmp_path):
    """1-2 typed into a General cell is 2 January: it loaded as the point
    "2026-01-02 00:00:00", and the segments naming the same cell matched it."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "给水管线点"
    ws.append(["物探点号", "特征", "X", "Y", "地面高程"])
    ids = ["1-1", datetime.datetime(2026, 1, 2), "1-3", "1-4"]
    for i, pid in enumerate(ids, start=1):
        ws.append([pid, "直线点", N0 + 30 * i, E0, 36.0])
    ws.cell(row=3, column=1).number_format = "m-d"
    segs = wb.create_sheet("给水管线段")
    segs.append(["起始点号", "终止点号", "起点埋深", "终点埋深", "管径"])
    for a, b in zip(ids, ids[1:]):
        segs.append([a, b, 1.2, 1.2, 200])
    wb.save(tmp_path / "给水.xlsx")
    r, _qa = load_pipes_files(pdb.conninfo, pdb.profile, [tmp_path / "给水.xlsx"],
                              dataset="d11")
    assert (r.read, r.loaded, r.rejected) == (7, 4, 3)
    got = pdb.rows("SELECT row_number, reason, field, message LIKE '给水.xlsx:给水管线%%' "
                   "FROM load_rejects WHERE batch_id = %s ORDER BY message", (r.batch_id,))
    assert [g[:3] for g in got] == [(2, "bad_value", "终止点号"), (3, "bad_value", "起始点号"),
                                   (3, "bad_value", "物探点号")], got
    assert all(g[3] for g in got)
    assert sorted(k for (k,) in pdb.rows(
        "SELECT split_part(source_key, ':', 3) FROM pipe_points WHERE valid_to IS NULL AND "
        "source_key LIKE 'd11:%%'")) == ["1-1", "1-3", "1-4"]


def test_ids_dates_and_times_refused():
    with pytest.raises(ValueProblem, match="date or time"):
        id_text(datetime.date(2026, 3, 4))
    with pytest.raises(ValueProblem, match="date or time"):
        id_text(datetime.time(3, 15))
    assert id_text(1001.0) == "1001"


def test_a_row_of_another_zone_is_named(pdb, tmp_path):
    """One easting with its zone prefix mistyped (38 for 39): the delivery was refused with
    "correct the rows of the other zone", naming no file, row or column."""
    files = _tables(tmp_path, f"{N0 + 90.42:.2f}", f"{E0 + 20 - 1_000_000:.3f}")  # JS004
    before = pdb.scalar("SELECT count(*) FROM load_batches")
    with pytest.raises(InputError) as e:
        load_pipes_files(pdb.conninfo, pdb.profile, files, dataset="z11")
    err = e.value
    assert (err.path, err.row, err.field) == ("给水_管线点成果表.csv", 5, "Y坐标"), err
    assert "给水_管线点成果表.csv row 5 (zone 38)" in err.message, err.message
    assert pdb.scalar("SELECT count(*) FROM load_batches") == before
