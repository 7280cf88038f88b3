"""Pipe survey workbooks as surveyors hand them over: cells merged over data rows, sizes in
their usual spellings, rows that carry data without their keys, rows that are no record.
Expected values by construction (the workbooks and tables written here)."""

from __future__ import annotations

import openpyxl
import pytest

from loaders.pipes.load import load_pipes_files
from tests.test_pipes import E0, N0

POINTS = ["物探点号", "特征", "X", "Y", "地面高程"]
SEGMENTS = ["起始点号", "终止点号", "起点埋深", "终点埋深", "材质", "管径", "道路名称"]


def _workbook(path, segment_rows, *, merge: str | None = None, point_rows=None):
    """A 给水 point sheet of JS1…JS5 (20 m apart) and a segment sheet of ``segment_rows``."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "给水管线点"
    ws.append(POINTS)
    for row in point_rows if point_rows is not None else [
            [f"JS{i + 1}", "直线点", N0 + 20 * i, E0, 36.0] for i in range(5)]:
        ws.append(row)
    ws2 = wb.create_sheet("给水管线段")
    ws2.append(SEGMENTS)
    for row in segment_rows:
        ws2.append(row)
    if merge:
        ws2.merge_cells(merge)
    wb.save(path)
    return path


def _class_sheets(path, points: dict[str, list], segments: dict[str, list]):
    """A workbook of a point sheet and a segment sheet per class (sheet name → rows)."""
    wb = openpyxl.Workbook()
    for k, (name, rows) in enumerate(points.items()):
        ws = wb.active if k == 0 else wb.create_sheet(name)
        ws.title = name
        ws.append(["物探点号", "附属物", "X", "Y", "地面高程"])
        for row in rows:
            ws.append(row)
    for name, rows in segments.items():
        ws = wb.create_sheet(name)
        ws.append(["起始点号", "终止点号", "起点埋深", "终点埋深", "管径"])
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def _segments(db) -> dict[str, tuple]:
    return {f"{r[0]}-{r[1]}": r[2:] for r in db.rows(
        "SELECT start_point_no, end_point_no, material, diameter_mm, width_mm, height_mm, "
        "size_text FROM pipe_segments WHERE valid_to IS NULL")}


def test_a_cell_merged_over_data_rows_gives_each_row_its_value(fresh_db, tmp_path):
    """材质 PE merged over the four segments (E2:E5): Excel shows PE on each, the workbook
    keeps it in E2 only. Each segment loads with PE, and the report says which cells were
    spread."""
    rows = [[f"JS{i + 1}", f"JS{i + 2}", 1.2, 1.2, "PE" if i == 0 else None, "DN300",
             "建设路" if i == 0 else None] for i in range(4)]
    path = _workbook(tmp_path / "普查.xlsx", rows, merge="E2:E5")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [path])
    assert (r.read, r.loaded, r.rejected) == (9, 9, 0), r.text()
    assert {k: v[0] for k, v in _segments(fresh_db).items()} == {
        f"JS{i + 1}-JS{i + 2}": "PE" for i in range(4)}
    assert any("merged cells spread over the rows they cover: E2:E5" in n for n in r.notes), \
        r.notes


def test_rows_that_are_no_record_are_skipped_and_named_rows_of_data_are_not(fresh_db, tmp_path):
    """Skipped, and named in the notes with their rows: a unit row below the header, a page's
    title and header repeated, a total (合计), a signature line whose date falls under X.
    Rows that carry data without their key are delivered records: rejected naming the blank
    field, counted in read (they were dropped as "titles" before)."""
    units = ["", "", "m", "m", "m"]
    pts = [units]                                                      # row 2: units
    pts += [[f"JS{i + 1}", "直线点", N0 + 20 * i, E0, 36.0] for i in range(3)]  # rows 3–5
    pts += [["给水管线点成果表"], POINTS]                                # rows 6, 7: page 2
    pts += [[f"JS{i + 1}", "直线点", N0 + 20 * i, E0, 36.0] for i in range(3, 5)]  # rows 8, 9
    pts += [[None, "阀门", None, None, 36.2]]                           # row 10: no number/X/Y
    pts += [["制表：张三", None, "审核：李四", "日期：2024-05-01"]]       # row 11: X 日期
    segs = [[f"JS{i + 1}", f"JS{i + 2}", 1.2, 1.2, "PE", "DN300", "建设路"] for i in range(4)]
    segs += [[None, None, 1.3, 1.3, "PE", "DN200", "建设路"]]            # row 6: no ends
    segs += [["合计", None, None, None, None, None, "总长 80m"]]         # row 7: a total
    path = _workbook(tmp_path / "普查.xlsx", segs, point_rows=pts)
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [path])
    # read: 5 + 1 points, 4 + 1 segments; the two rows without keys rejected
    assert (r.read, r.loaded, r.rejected) == (11, 9, 2), r.text()
    got = sorted(fresh_db.rows(
        "SELECT attrs->>'_table', row_number, reason, field FROM load_rejects "
        "WHERE batch_id = %s", (r.batch_id,)))
    assert got == [("普查.xlsx:给水管线段", 6, "missing_value", "起始点号"),
                   ("普查.xlsx:给水管线点", 10, "missing_value", "物探点号")], got
    notes = " | ".join(r.notes)
    assert "普查.xlsx:给水管线点: 4 rows that are no survey record skipped" in notes, notes
    assert "rows 2, 6, 7, 11" in notes, notes
    assert "普查.xlsx:给水管线段: 1 rows that are no survey record skipped" in notes
    assert "row 7" in notes.split("给水管线段: 1 rows")[1], notes


def test_a_segment_is_not_joined_to_a_point_of_another_subclass(fresh_db, tmp_path):
    """雨水 and 污水 sheets numbered alike (1, 2 …): their points share the 排水 class's key,
    so the 污水 points 1 and 2 repeat the 雨水 ones (duplicate_point) — and the 污水 segment
    2–3 found the 雨水 point 2, 10 m away, and was loaded across the two networks. It is
    rejected now, naming its start point's column."""
    _class_sheets(tmp_path / "排水.xlsx",
                  {"雨水管线点": [["1", "雨水井", N0, E0, 36.0], ["2", "雨水井", N0 + 30, E0, 36.0]],
                   "污水管线点": [["1", "污水井", N0, E0 + 10, 36.0],
                              ["2", "污水井", N0 + 30, E0 + 10, 36.0],
                              ["3", "污水井", N0 + 60, E0 + 10, 36.0]]},
                  {"雨水管线段": [["1", "2", 1.5, 1.6, 400]],
                   "污水管线段": [["2", "3", 2.6, 2.7, 300]]})
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "排水.xlsx"])
    assert fresh_db.rows("SELECT subclass_name, start_point_no, end_point_no FROM "
                         "pipe_segments WHERE valid_to IS NULL") == [("雨水", "1", "2")]
    got = sorted(fresh_db.rows("SELECT attrs->>'_table', row_number, reason, field FROM "
                               "load_rejects WHERE batch_id = %s", (r.batch_id,)))
    assert ("排水.xlsx:污水管线段", 2, "point_of_other_subclass", "起始点号") in got, got
    assert r.read == r.loaded + r.rejected, r.text()


SEG = [[f"JS{i + 1}", f"JS{i + 2}", 1.2, 1.2, "PE", "DN300", "建设路"] for i in range(4)]


def _rejects(db, batch_id):
    return sorted(db.rows("SELECT attrs->>'_table', row_number, reason, field FROM load_rejects "
                          "WHERE batch_id = %s", (batch_id,)))


@pytest.mark.parametrize("footer", [
    ["制表人：张三", None, None, None, "审核人：李四", None, None],   # under 起始点号: rejected
    [None, None, "制表人：张三", None, "审核人：李四", None, None]])  # keys blank: was skipped
def test_a_signature_line_of_two_cells_without_a_bare_label_is_no_record(fresh_db, tmp_path,
                                                                           footer):
    """制表人：张三, 审核人：李四 — the usual forms of a signature line — under 起始点号 or with
    the keys blank: no record, skipped (it was rejected as missing_value)."""
    path = _workbook(tmp_path / "普查.xlsx",
                     SEG + [footer])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [path])
    assert _rejects(fresh_db, r.batch_id) == [], _rejects(fresh_db, r.batch_id)
    assert (r.read, r.loaded, r.rejected) == (9, 9, 0), r.text()


def test_a_keyless_row_of_data_with_a_note_is_rejected_not_skipped(fresh_db, tmp_path):
    """A segment delivered without its ends but with depths, material, size is a record
    (missing_value), also when its 道路名称/备注 reads 注：待补测 (it was skipped)."""
    path = _workbook(tmp_path / "普查.xlsx",
                     SEG + [[None, None, 1.3, 1.3, "PE", "DN200", "注：待补测"]])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [path])
    assert ("普查.xlsx:给水管线段", 6, "missing_value", "起始点号") in \
        _rejects(fresh_db, r.batch_id), r.notes


def test_a_storm_segment_into_a_combined_manhole_is_loaded(fresh_db, tmp_path):
    """雨水 YS2 → 合流 HS1: a storm sewer discharging into a combined sewer's manhole is a
    real connection (both 排水), numbered apart: no point_of_other_subclass (it was)."""
    _class_sheets(tmp_path / "排水.xlsx",
                  {"雨水管线点": [["YS1", "雨水井", N0, E0, 36.0], ["YS2", "雨水井", N0 + 30, E0, 36.0]],
                   "合流管线点": [["HS1", "检修井", N0 + 60, E0, 36.0],
                               ["HS2", "检修井", N0 + 90, E0, 36.0]]},
                  {"雨水管线段": [["YS1", "YS2", 1.5, 1.6, 400], ["YS2", "HS1", 1.6, 1.8, 400]],
                   "合流管线段": [["HS1", "HS2", 1.8, 1.9, 600]]})
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "排水.xlsx"])
    assert _rejects(fresh_db, r.batch_id) == [], _rejects(fresh_db, r.batch_id)


def test_a_ground_elevation_typed_with_its_unit_is_kept_as_typed(fresh_db, tmp_path):
    """地面高程 "36.30 米" loads as 36.3 and the point keeps "36.30 米" in attrs, as a depth
    typed "1.5m" is kept; a point whose cell is a plain number keeps 地面高程 out of attrs (the
    column holds it), in that table too."""
    pts = [[f"JS{i + 1}", "直线点", N0 + 20 * i, E0, "36.30 米" if i == 0 else "36.3"]
           for i in range(5)]
    segs = [[f"JS{i + 1}", f"JS{i + 2}", 1.2, 1.2, "PE", "DN300", "建设路"] for i in range(4)]
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                            [_workbook(tmp_path / "普查.xlsx", segs, point_rows=pts)])
    assert r.loaded == 9, r.text()
    got = dict(fresh_db.rows("SELECT point_no, attrs->>'地面高程' FROM pipe_points "
                             "WHERE valid_to IS NULL AND point_no IN ('JS1', 'JS2')"))
    assert got == {"JS1": "36.30 米", "JS2": None}, got
    assert fresh_db.rows("SELECT ground_elevation FROM pipe_points WHERE point_no = 'JS1'") \
        == [(36.3,)]
    plain = [[f"JS{i + 1}", "直线点", N0 + 20 * i, E0, 36.3] for i in range(5)]
    r2, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                             [_workbook(tmp_path / "普查2.xlsx", segs, point_rows=plain)],
                             dataset="plain")
    assert fresh_db.rows("SELECT count(*) FROM pipe_points WHERE batch_id = %s AND "
                         "attrs ? '地面高程'", (r2.batch_id,)) == [(0,)]


def test_a_units_row_does_not_put_plain_elevations_in_attrs(fresh_db, tmp_path):
    """The row of units below the header is no record: its "(m)" keeps no point's 地面高程
    in attrs."""
    pts = [[None, None, None, None, "(m)"]] + \
        [[f"JS{i + 1}", "直线点", N0 + 20 * i, E0, 36.3] for i in range(5)]
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                            [_workbook(tmp_path / "普查.xlsx", SEG, point_rows=pts)])
    assert r.loaded == 9, r.text()
    assert fresh_db.rows("SELECT count(*) FROM pipe_points WHERE batch_id = %s AND "
                         "attrs ? '地面高程'", (r.batch_id,)) == [(0,)]


def test_correcting_one_cell_versions_only_that_point(fresh_db, tmp_path):
    """v1: JS1's 地面高程 typed "36.30 米"; v2: the same delivery, JS1 typed 36.3: only JS1
    gets a new version (the typed form is its row's, not its table's)."""
    v1 = [[f"JS{i + 1}", "直线点", N0 + 20 * i, E0, "36.30 米" if i == 0 else 36.3]
          for i in range(5)]
    v2 = [[f"JS{i + 1}", "直线点", N0 + 20 * i, E0, 36.3] for i in range(5)]
    load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                     [_workbook(tmp_path / "v1" / "普查.xlsx", SEG, point_rows=v1)
                      if (tmp_path / "v1").mkdir() is None else None])
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile,
                            [_workbook(tmp_path / "v2" / "普查.xlsx", SEG, point_rows=v2)
                             if (tmp_path / "v2").mkdir() is None else None])
    assert r.updated <= 1, r.text()
