"""A CSV with its footprints as WKT saved in GBK (Excel's plain 'CSV' on Chinese Windows)
was refused as "not UTF-8" even with --encoding GBK (GDAL's CSV driver reads UTF-8 only,
and the option was ignored for anything but a .dbf). The reader now reads a UTF-8 copy of
it; a UTF-8 file given --encoding GBK by mistake is read as UTF-8 (as GBK its names would be
other characters: 甲楼 as 鐢叉ゼ). Expected names by construction (the text written)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, scratch_db


@pytest.fixture(scope="module")
def d(jining_profile):
    with scratch_db("src13enc", jining_profile) as db:
        yield db


def _text(d, dy: int, extra: str = "") -> str:
    def poly(i: int) -> str:
        a, y = d.x0 + 30 * i, d.y0 + dy
        return f'"POLYGON(({a} {y},{a + 20} {y},{a + 20} {y + 20},{a} {y + 20},{a} {y}))"'
    return ("编号,建筑名称,地上层数,WKT\n"
            f"G1,甲楼,3,{poly(0)}\nG2,乙楼,4,{poly(1)}{extra}\n")


def _names(d, dataset: str) -> list[tuple[str, str]]:
    return d.rows("SELECT source_key, name FROM buildings WHERE source_key LIKE %s "
                  "ORDER BY 1", (dataset + ":%",))


def test_a_gbk_csv_with_wkt_loads_with_encoding_gbk(d, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(_text(d, 0).encode("gbk"))
    refused = run_cli(["load", "buildings", str(path), "--dataset", "g"], d.env())
    assert refused.returncode == 3 and "--encoding" in refused.stderr, refused.stderr
    proc = run_cli(["load", "buildings", str(path), "--encoding", "GBK", "--dataset", "g"],
                   d.env())
    assert proc.returncode == 0, proc.stderr
    assert _names(d, "g") == [("g:G1", "甲楼"), ("g:G2", "乙楼")]


def test_a_utf8_csv_given_gbk_is_read_as_utf8(d, tmp_path):
    path = tmp_path / "u8.csv"
    path.write_text(_text(d, 40), encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path), "--encoding", "GBK", "--dataset", "u"],
                   d.env())
    assert proc.returncode == 0, proc.stderr
    assert _names(d, "u") == [("u:G1", "甲楼"), ("u:G2", "乙楼")]


def test_a_gbk_csv_with_extra_cells_is_refused_naming_them(d, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(_text(d, 80, extra=",二分公司").encode("gbk"))
    proc = run_cli(["load", "buildings", str(path), "--encoding", "GBK", "--dataset", "x"],
                   d.env())
    assert proc.returncode == 3 and "row 3" in proc.stderr and "'二分公司'" in proc.stderr, \
        proc.stderr
    assert _names(d, "x") == []
