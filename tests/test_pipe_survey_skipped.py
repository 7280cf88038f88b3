"""A survey table that is not read is never taken for an absent one: a file named on the
command line that holds no point or segment table is refused, and a replace load refuses to
run while a table with rows was skipped (a folder's other file, a workbook's other sheet) —
a renamed 物探点号 header had the file skipped with a note, and replace mode retired every
point it held while the segments stayed current, naming retired points."""

from __future__ import annotations

import pytest

from cim.errors import InputError
from loaders.pipes.load import load_pipes_files
from tests.test_pipes import _survey


def _write(folder, rename: bool = False):
    folder.mkdir(exist_ok=True)
    pts, segs = _survey("AT")
    if rename:
        pts = pts.rename(columns={"物探点号": "测点编码"})
    pts.to_csv(folder / "给水管线点.csv", index=False)
    segs.to_csv(folder / "给水管线段.csv", index=False)
    return [folder / "给水管线点.csv", folder / "给水管线段.csv"], len(pts), len(segs)


def _current(db) -> tuple[int, int]:
    return (db.scalar("SELECT count(*) FROM pipe_points WHERE valid_to IS NULL"),
            db.scalar("SELECT count(*) FROM pipe_segments WHERE valid_to IS NULL"))


def test_a_named_file_of_no_survey_table_is_refused_and_nothing_retired(fresh_db, tmp_path):
    files, n_pts, n_segs = _write(tmp_path / "a")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, mode="replace",
                            dataset="s")
    assert r.loaded == n_pts + n_segs, r.text()
    files, _, _ = _write(tmp_path / "b", rename=True)
    for mode in ("replace", "update"):
        with pytest.raises(InputError, match="not a point or segment table") as e:
            load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, mode=mode,
                             dataset="s")
        assert "测点编码" in str(e.value) and "给水管线点.csv" in str(e.value)
    assert _current(fresh_db) == (n_pts, n_segs)


def test_replace_refuses_while_a_folder_table_was_skipped(fresh_db, tmp_path):
    """A folder's table of survey columns that was not read (排水管线点 with its 物探点号
    renamed) blocks a replace load; a note or cover table (说明: no survey column) does not."""
    files, n_pts, n_segs = _write(tmp_path / "d")
    # a note whose columns are survey aliases too (序号, 说明), but no key column
    (tmp_path / "d" / "说明.csv").write_text("序号,说明\n1,测区为任城区\n", encoding="utf-8")
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "d"],
                            mode="replace", dataset="f")
    assert r.loaded == n_pts + n_segs and any("说明.csv" in n for n in r.notes), r.notes
    pts, _segs = _survey("PS")
    pts.rename(columns={"物探点号": "测点编码"}).to_csv(tmp_path / "d" / "排水管线点.csv",
                                                   index=False)
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "d"],
                            dataset="f")  # update: the other file is noted, not read
    assert r.unchanged == n_pts + n_segs and any("排水管线点.csv" in n for n in r.notes)
    with pytest.raises(InputError, match="--mode replace would retire") as e:
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, [tmp_path / "d"],
                         mode="replace", dataset="f")
    assert "排水管线点.csv" in str(e.value) and "说明.csv" not in str(e.value)
    assert _current(fresh_db) == (n_pts, n_segs)


def test_a_csv_line_with_cells_past_the_header_is_refused_naming_it(fresh_db, tmp_path):
    """An unquoted comma in 权属单位 (济宁水务集团,二分公司) shifted 二分公司 into 备注 and 备注
    into a column of its own: loaded without a flag. Refused, naming the line."""
    files, _, _ = _write(tmp_path / "c")
    lines = files[1].read_text(encoding="utf-8").splitlines()
    head = lines[0].split(",")
    i = head.index("材质")
    cells = lines[2].split(",")
    cells[i] = "PE,二分公司"  # a value with the separator, unquoted
    lines[2] = ",".join(cells)
    files[1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, dataset="c")
    assert e.value.row == 3 and f"{len(head) + 1} cells where the header has {len(head)}" \
        in str(e.value), str(e.value)
    assert _current(fresh_db) == (0, 0)


def test_point_numbers_excel_rounded_are_refused_naming_the_field(fresh_db, tmp_path):
    """物探点号 1.23457E+17 (Excel's display of a long number, saved so in a CSV) was read as
    a point number: two such points were one."""
    files, n_pts, _ = _write(tmp_path / "e")
    import pandas as pd

    pts = pd.read_csv(files[0], dtype=str, keep_default_na=False)
    pts.loc[0, "物探点号"] = "1.23457E+17"
    pts.to_csv(files[0], index=False)
    r, _ = load_pipes_files(fresh_db.conninfo, fresh_db.profile, files[:1], dataset="e")
    got = fresh_db.rows("SELECT field, message FROM load_rejects WHERE batch_id = %s",
                        (r.batch_id,))
    assert len(got) == 1 and got[0][0] == "物探点号" and "Excel" in got[0][1], got
    assert r.loaded == n_pts - 1, r.text()


def test_a_shifted_row_after_a_multiline_value_is_named_by_its_record(fresh_db, tmp_path):
    """A quoted 备注 over two lines above it: the shifted record is named by the row a
    spreadsheet shows it on — its record (row 4), not the line it starts on (5)."""
    folder = tmp_path / "m"
    files, _, _ = _write(folder)
    lines = files[1].read_text(encoding="utf-8").splitlines()
    head = lines[0].split(",")
    i = head.index("材质")
    first = lines[1].split(",")
    first[-1] = '"一行\n两行"'  # record 1 spans lines 2–3
    cells = lines[3].split(",")  # record 3, on line 5 once record 1 spans two lines
    cells[i] = "PE,二分公司"
    lines[1], lines[3] = ",".join(first), ",".join(cells)
    files[1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_pipes_files(fresh_db.conninfo, fresh_db.profile, files, dataset="m")
    assert e.value.row == 4, str(e.value)
