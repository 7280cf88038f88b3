"""A .dbf's encoding judged value by value (loaders.sources.dbf.detect_dbf_encoding): a
value that fills its field may end in a character its width cut; one that does not fill it
may not. .dbf files written byte by byte here (no database)."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from cim.errors import InputError
from loaders.sources.dbf import UTF8_RECODED, detect_dbf_encoding


def _dbf(path: Path, names: list[bytes], widths: list[int], records: list[list[bytes]],
         ldid: int = 0) -> Path:
    n = len(names)
    header_len = 32 + 32 * n + 1
    rec_len = 1 + sum(widths)
    head = struct.pack("<BBBBIHH", 3, 124, 1, 1, len(records), header_len, rec_len)
    head += b"\0" * 17 + bytes([ldid]) + b"\0\0"
    assert len(head) == 32
    desc = b""
    for nm, w in zip(names, widths):
        desc += nm[:11].ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([w, 0]) + b"\0" * 14
    body = b""
    for r in records:
        body += b" " + b"".join(v[:w].ljust(w, b" ") for v, w in zip(r, widths))
    path.write_bytes(head + desc + b"\r" + body + b"\x1a")
    return path


def test_empty_utf8_dbf_with_four_char_chinese_names_is_utf8(tmp_path):
    # UTF-8 names of 4 Chinese characters are 12 bytes, cut at 10: a name ends in 1 byte
    # of a character. The old rule (bad <= 2) read it as UTF-8.
    names = ["道路名称".encode()[:10], "地面高程".encode()[:10], "编号".encode()]
    p = _dbf(tmp_path / "e.dbf", names, [20, 20, 10], [])
    enc, how = detect_dbf_encoding(p)
    # read through iconv, which drops the cut character GDAL would pass on
    assert enc == UTF8_RECODED, (enc, how)
    assert how.endswith("read without that character: 道路名, 地面高"), how


def test_small_utf8_dbf_with_cut_names_is_utf8(tmp_path):
    names = ["道路名称".encode()[:10], "地面高程".encode()[:10], "管线材质".encode()[:10],
             "权属单位".encode()[:10]]
    recs = [["中山路".encode(), b"36.3", "铸铁".encode(), "自来水公司".encode()]] * 5
    p = _dbf(tmp_path / "s.dbf", names, [20, 10, 10, 20], recs)
    enc, how = detect_dbf_encoding(p)
    assert enc == UTF8_RECODED, (enc, how)


def test_utf8_dbf_whose_fields_were_sized_for_gbk_is_utf8(tmp_path):
    # fields sized for GBK (2 bytes a character), written as UTF-8 (3): long names cut
    names = [b"NAME", b"ROAD"]
    recs = [[f"建设路第{i}号住宅楼".encode(), "解放大道东段辅路".encode()] for i in range(200)]
    p = _dbf(tmp_path / "u.dbf", names, [24, 16], recs)
    enc, how = detect_dbf_encoding(p)
    assert enc == UTF8_RECODED, (enc, how)
    # NAME: 建设路第 + i + 号住宅楼 is 25/26 bytes for i < 100 (cut inside 楼), 27 (楼 cut
    # whole) from 100; ROAD: 24 bytes in 16, 解放大道东 + 1 byte of 段
    assert "100 in NAME, 200 in ROAD" in how, how


def test_gbk_dbf_with_many_cut_fields_is_gbk(tmp_path):
    names = [b"NAME"]
    recs = [[f"A{i % 10}建设路住宅楼".encode("gbk")] for i in range(200)]  # 1 + 2k bytes: cut at 10
    p = _dbf(tmp_path / "g.dbf", names, [10], recs)
    enc, how = detect_dbf_encoding(p)
    assert enc == "GB18030", (enc, how)


def test_latin1_dbf_is_not_gbk(tmp_path):
    # accented letters inside words pair with the next letter as a GBK character; a few at a
    # word's end fail. The old count (bad <= max(2, wide // 500)) said: not GBK.
    words = ["Müller", "Gómez", "Rodríguez", "Zürich", "Köln"] * 40 + ["café", "José", "René"]
    recs = [[w.encode("latin-1")] for w in words]
    p = _dbf(tmp_path / "l.dbf", [b"NAME"], [12], recs)
    enc, how = detect_dbf_encoding(p)
    assert enc == "ISO-8859-1", (enc, how)


def test_a_deleted_record_is_not_judged_and_rows_are_numbered_as_gdal_reads_them(tmp_path):
    # GDAL skips a deleted record ('*'): its bytes are not read, and the rows after it are
    # numbered without it
    recs = [["中山路".encode()], ["ÿÿ".encode("latin-1")], ["建设路".encode()],
            ["ÿÿ".encode("latin-1")]]
    p = _dbf(tmp_path / "d.dbf", [b"NAME"], [12], recs)
    p.with_suffix(".cpg").write_text("UTF-8")
    b = bytearray(p.read_bytes())
    header_len = int.from_bytes(b[8:10], "little")
    b[header_len + 13] = 0x2A  # record 2 deleted
    p.write_bytes(bytes(b))
    with pytest.raises(InputError) as err:
        detect_dbf_encoding(p)
    assert (err.value.row, err.value.field) == (3, "NAME"), str(err.value)  # record 4


def test_a_language_byte_936_over_bytes_neither_gbk_nor_utf8_is_refused(tmp_path):
    recs = [["中山路".encode("gbk")], [b"\xff\xfe"]]
    p = _dbf(tmp_path / "n.dbf", [b"NAME"], [12], recs, ldid=0x4D)
    with pytest.raises(InputError) as err:
        detect_dbf_encoding(p)
    assert (err.value.row, err.value.field) == (2, "NAME"), str(err.value)
    assert "language byte" in str(err.value)


def test_a_gb18030_four_byte_character_cut_at_the_field_end_is_allowed(tmp_path):
    # 𠀀 is 4 bytes in GB18030 (95 32 82 36): cut after its third, at a full field's end
    four = "𠀀".encode("gb18030")
    recs = [["中山".encode("gbk")], [b"A" + four[:3]], [b"B" + four[:3]]]
    p = _dbf(tmp_path / "f.dbf", [b"NAME"], [4], recs)
    enc, how = detect_dbf_encoding(p)
    assert enc == "GB18030" and how.endswith("2 in NAME"), (enc, how)
    # the same three bytes inside a value with room after them are no cut
    p = _dbf(tmp_path / "g.dbf", [b"NAME"], [6], [["中山".encode("gbk")], [b"A" + four[:3]]])
    assert detect_dbf_encoding(p)[0] == "ISO-8859-1"
