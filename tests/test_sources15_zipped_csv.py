"""A text table delivered in a zip (loaders.sources.zipped_table): GDAL read it in place, so
the checks that read a table's own bytes did not see it — a row of more cells than its header
lost the extra ones without a word, rows after an empty line were named a row short, and
``--encoding GBK`` did not apply. It is now read from a copy as the table itself is, and
refusals name the zip and the member. Expected rows by construction: the lines written,
counted as a spreadsheet shows them (the same file unzipped gives the same)."""

from __future__ import annotations

import zipfile

import pytest

from tests.conftest import run_cli, scratch_db
from tests.test_sources14_csv_blank_lines import _poly, _rejects


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("src15zip", jining_profile) as db:
        yield db


def _zip(tmp_path, name: str, members: dict[str, bytes]):
    z = tmp_path / name
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return z


def test_rows_after_empty_lines_of_a_zipped_table_are_numbered_as_unzipped(d, tmp_path):
    lines = ["编号,名称,地上层数,WKT",              # row 1
             f"Z1,甲,3,{_poly(d, 0)}",               # row 2
             "",                                     # row 3 (GDAL skips it)
             'Z2,乙,4,"POLYGON((1 2,3"',             # row 4: unreadable WKT
             "",                                     # row 5
             "Z3,丙,5,",                             # row 6: no geometry
             f"Z4,丁,6,{_poly(d, 1)}"]               # row 7
    z = _zip(tmp_path, "楼.zip", {"楼.csv": "\n".join(lines).encode("utf-8")})
    proc = run_cli(["load", "buildings", str(z), "--dataset", "zipblank", "--json"], d.env())
    assert proc.returncode == 0, proc.stderr
    got = _rejects(d, z)
    assert [(r, f) for r, _why, f in got] == [(4, "WKT"), (6, "WKT")], got
    assert d.rows("SELECT source_key FROM buildings WHERE source_key LIKE 'zipblank:%%' "
                  "ORDER BY 1") == [("zipblank:Z1",), ("zipblank:Z4",)]


def test_extra_cells_in_a_zipped_table_are_refused_naming_zip_member_and_row(d, tmp_path):
    lines = ["编号,名称,地上层数,WKT",                         # row 1
             f"C1,甲楼,3,{_poly(d, 0, 80)}",                    # row 2
             f"C2,济宁水务集团,二分公司,5,{_poly(d, 1, 80)}"]  # row 3: 5 cells
    z = _zip(tmp_path, "cells.zip", {"cells.csv": ("\n".join(lines) + "\n").encode("utf-8")})
    before = d.rows("SELECT count(*) FROM buildings")[0][0]
    proc = run_cli(["load", "buildings", str(z), "--dataset", "zipcells"], d.env())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cells.zip, row 3" in proc.stderr and "cells.csv (in the zip)" in proc.stderr, \
        proc.stderr
    assert d.rows("SELECT count(*) FROM buildings")[0][0] == before


def test_a_zipped_gbk_table_reads_with_its_encoding(d, tmp_path):
    lines = ["编号,建筑名称,地上层数,WKT",
             f"G1,甲楼,3,{_poly(d, 0, 160)}",
             f"G2,乙楼,4,{_poly(d, 1, 160)}"]
    z = _zip(tmp_path, "gbk.zip", {"gbk.csv": ("\r\n".join(lines) + "\r\n").encode("gbk")})
    proc = run_cli(["load", "buildings", str(z), "--encoding", "GBK", "--dataset", "zipgbk",
                    "--json"], d.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert d.rows("SELECT source_key, name FROM buildings WHERE source_key LIKE 'zipgbk:%%' "
                  "ORDER BY 1") == [("zipgbk:G1", "甲楼"), ("zipgbk:G2", "乙楼")]


def test_a_zip_of_two_tables_names_the_one_not_read(d, tmp_path):
    a = ["编号,名称,地上层数,WKT", f"T1,甲,3,{_poly(d, 0, 240)}"]
    b = ["编号,名称,地上层数,WKT", f"U1,乙,3,{_poly(d, 1, 240)}", f"U2,丙,3,{_poly(d, 2, 240)}"]
    z = _zip(tmp_path, "two.zip", {"a.csv": "\n".join(a).encode(), "b.csv": "\n".join(b).encode()})
    proc = run_cli(["load", "buildings", str(z), "--dataset", "ziptwo"], d.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "read a.csv from the zip" in proc.stdout, proc.stdout
    assert "read layer 'a' of 2; not read: 'b' (2 features)" in proc.stdout, proc.stdout
    assert d.rows("SELECT source_key FROM buildings WHERE source_key LIKE 'ziptwo:%%'") == \
        [("ziptwo:T1",)]


def test_a_zip_from_a_mac_with_a_folder_entry_reads_its_table(d, tmp_path):
    """A folder entry and macOS's __MACOSX/._a.csv (GDAL cannot open such a zip itself):
    the zip's one table is read, with --layer and without."""
    lines = ["编号,名称,地上层数,WKT", f"M1,甲,3,{_poly(d, 0, -40)}", "", "M2,乙,3,"]
    z = tmp_path / "mac.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/", b"")
        zf.writestr("data/a.csv", "\n".join(lines).encode())
        zf.writestr("__MACOSX/data/._a.csv", b"\x00\x05\x16\x07 resource fork")
    for args, dataset in ((["--layer", "a"], "maclayer"), ([], "mac")):
        proc = run_cli(["load", "buildings", str(z), *args, "--dataset", dataset], d.env())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert d.rows("SELECT source_key FROM buildings WHERE source_key LIKE %s",
                      (f"{dataset}:%",)) == [(f"{dataset}:M1",)]
    assert _rejects(d, z)[-1][0] == 4  # row 4: after the empty line, as a spreadsheet shows


def test_a_zipped_table_with_its_prj_and_csvt_beside_it(d, tmp_path):
    """a.csv with a.prj (its CRS) and a.csvt: read from the copy with them, rows numbered
    as the table's (its empty line counted)."""
    from pyproj import CRS

    lines = ["编号,名称,地上层数,WKT", f"P1,甲,3,{_poly(d, 0, -80)}", "",
             'P2,乙,4,"POLYGON((1 2,3"']
    z = _zip(tmp_path, "prj.zip", {
        "a.csv": "\n".join(lines).encode(),
        "a.prj": CRS.from_epsg(4527).to_wkt("WKT1_ESRI").encode(),
        "a.csvt": b'"String","String","Integer","WKT"'})
    proc = run_cli(["load", "buildings", str(z), "--dataset", "zipprj", "--json"], d.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [(r, f) for r, _w, f in _rejects(d, z)] == [(4, "WKT")]
    assert d.rows("SELECT source_key FROM buildings WHERE source_key LIKE 'zipprj:%%'") == \
        [("zipprj:P1",)]


def test_a_member_named_in_gbk_is_named_so(d, tmp_path):
    """A zip made on a Chinese Windows names 数据.csv in GBK without the UTF-8 flag; the
    note names it as written, not as CP437 mojibake."""
    lines = ["编号,名称,地上层数,WKT", f"G1,甲,3,{_poly(d, 0, -120)}"]
    z = _zip(tmp_path, "gbkname.zip", {"XXXX.csv": "\n".join(lines).encode()})
    z.write_bytes(z.read_bytes().replace(b"XXXX.csv", "数据.csv".encode("gbk")))
    proc = run_cli(["load", "buildings", str(z), "--dataset", "zipname"], d.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "read 数据.csv from the zip" in proc.stdout, proc.stdout
