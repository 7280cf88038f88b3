"""A tab- or semicolon-separated survey table saved with CRLF line ends, or holding a note
over two lines (Alt+Enter in Excel), was read as comma-separated (Python's csv.Sniffer looks
at lines, not records): one column, so the table was skipped as no survey table — its
segments lost, the load "succeeded" — or refused naming the wrong cause. And `cim qa pipes`
did not say what it skipped. Tables written here; expected counts by construction."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from loaders.pipes.load import qa_pipes
from loaders.sources.tables import guess_separator

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def _tables(folder, sep: str, newline: str, n: int = 6):
    folder.mkdir()
    pts = ["物探点号,特征,附属物,X,Y,地面高程".replace(",", sep)] + [
        sep.join([f"RL{k:04d}", "直线点", "", f"{N:.3f}", f"{E + 30 * k:.3f}", "40.00"])
        for k in range(n)]
    segs = ["起始点号,终止点号,起点埋深,终点埋深,材质,管径,备注".replace(",", sep)] + [
        sep.join([f"RL{k:04d}", f"RL{k + 1:04d}", "1.2", "1.3", "钢", "300",
                  '"穿越路口\n顶管施工"' if k == 1 else ""]) for k in range(n - 1)]
    (folder / "热力_管线点.csv").write_bytes((newline.join(pts) + newline).encode("gbk"))
    (folder / "热力_管线段.csv").write_bytes((newline.join(segs) + newline).encode("gbk"))
    return folder


@pytest.mark.parametrize("sep", ["\t", ";", ","])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_every_segment_of_a_tab_or_semicolon_table_is_read(tmp_path, jining_profile, sep,
                                                          newline):
    qa = qa_pipes(jining_profile, [_tables(tmp_path / "d", sep, newline)])
    assert (qa.points, qa.segments) == (6, 5), qa.text()
    assert not [f for f in qa.findings if f.severity == "error"], qa.text()


def test_the_separator_splits_records_not_lines():
    text = "a\tb\tc\r\n1\t\"x\r\ny\"\t3\r\n4\t5,6\t7\r\n"
    assert guess_separator(text) == "\t"
    assert guess_separator("标题\n物探点号;X;Y\nA;1,5;2\nB;3;4\n") == ";"
    assert guess_separator("one column\nvalue\n") == ","


def test_qa_pipes_says_what_reading_the_delivery_noted(tmp_path, jining_profile):
    folder = _tables(tmp_path / "d", ",", "\n")
    (folder / "说明.csv").write_text("项目,内容\n测区,太白湖\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "cim", "qa", "pipes", str(folder), "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    notes = json.loads(out.stdout)["notes"]
    assert any("说明.csv" in n for n in notes), notes
    text = subprocess.run([sys.executable, "-m", "cim", "qa", "pipes", str(folder)],
                          capture_output=True, text=True)
    assert any(line.startswith("  note: ") and "说明.csv" in line
               for line in text.stdout.splitlines()), text.stdout
