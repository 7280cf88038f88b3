"""The one encoding detection of delivered text (cim.text.decode_text): a file it cannot read
is an input problem naming the file and line, never a traceback — through the loaders' table
reader and `cim iot import` alike.

Expected lines are counted on the bytes written here (the line the bad bytes were put on)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cim.errors import InputError
from cim.text import decode_text
from tests.conftest import run_cli

HEAD = "设备编号,监测时间,监测值\n"
ROW = "积水-甲,2026-12-01T08:00:00+08:00,0.25\n"


def _mixed() -> bytes:
    """A UTF-8 file with a BOM (Excel's 'CSV UTF-8') and a third line pasted in from a GBK
    file."""
    return (HEAD + ROW).encode("utf-8-sig") + ROW.encode("gbk")


def test_a_bom_file_with_lines_in_another_encoding_is_refused_naming_the_line():
    with pytest.raises(InputError) as exc:
        decode_text(_mixed(), Path("r.csv"))
    assert (exc.value.path, exc.value.row) == ("r.csv", 3)
    assert "not UTF-8" in exc.value.message


def test_a_utf16_file_cut_short_is_refused_naming_the_line():
    raw = (HEAD + ROW + "积").encode("utf-16")[:-1]  # line 3's 积 lost its second byte
    with pytest.raises(InputError) as exc:
        decode_text(raw, Path("r.csv"))
    assert (exc.value.path, exc.value.row) == ("r.csv", 3)
    assert "UTF-16" in exc.value.message


def test_an_encoding_given_that_does_not_fit_names_the_line():
    raw = (HEAD + ROW).encode("utf-8") + b"x,y,\xff\n"
    with pytest.raises(InputError) as exc:
        decode_text(raw, "r.csv", "utf-8")
    assert (exc.value.path, exc.value.row) == ("r.csv", 3)


@pytest.mark.parametrize("encoding,name", [("gbk", "GB18030"), ("utf-8-sig", "UTF-8 (BOM)"),
                                           ("utf-8", "UTF-8"), ("utf-16", "UTF-16")])
def test_what_is_read(encoding, name):
    assert decode_text((HEAD + ROW).encode(encoding), "r.csv") == (HEAD + ROW, name)


def test_cim_iot_import_of_a_mixed_file_names_it(tmp_path):
    """The file is decoded before any database is reached: no database needed."""
    f = tmp_path / "mixed.csv"
    f.write_bytes(_mixed())
    env = {**os.environ, "CIM_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    p = run_cli(["iot", "import", str(f)], env)
    assert p.returncode == 3, p.stdout + p.stderr
    assert p.stderr.startswith(f"error: {f}, row 3: the file begins as UTF-8"), p.stderr
    assert "Traceback" not in p.stderr


def test_a_survey_table_with_a_bom_and_gbk_rows_names_the_line(tmp_path):
    from loaders.sources.tables import read_tables

    f = tmp_path / "管线点.csv"
    f.write_bytes(("物探点号,X,Y\n" + "JS1,1,2\n").encode("utf-8-sig") + "JS2,给水,3\n"
                  .encode("gbk"))
    with pytest.raises(InputError) as exc:
        read_tables(f)
    assert (exc.value.path, exc.value.row) == (str(f), 3)
