"""A .dbf's encoding judged value by value (loaders.sources.dbf.detect_dbf_encoding): a
value that fills its field may end in a character its width cut; one that does not fill it
may not. .dbf files written byte by byte here (no database)."""
from __future__ import annotations

import struct
from pathlib import Path

from loaders.sources.dbf import detect_dbf_encoding


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
    assert enc == "UTF-8", (enc, how)


def test_small_utf8_dbf_with_cut_names_is_utf8(tmp_path):
    names = ["道路名称".encode()[:10], "地面高程".encode()[:10], "管线材质".encode()[:10],
             "权属单位".encode()[:10]]
    recs = [["中山路".encode(), b"36.3", "铸铁".encode(), "自来水公司".encode()]] * 5
    p = _dbf(tmp_path / "s.dbf", names, [20, 10, 10, 20], recs)
    enc, how = detect_dbf_encoding(p)
    assert enc == "UTF-8", (enc, how)


def test_utf8_dbf_whose_fields_were_sized_for_gbk_is_utf8(tmp_path):
    # fields sized for GBK (2 bytes a character), written as UTF-8 (3): long names cut
    names = [b"NAME", b"ROAD"]
    recs = [[f"建设路第{i}号住宅楼".encode(), "解放大道东段辅路".encode()] for i in range(200)]
    p = _dbf(tmp_path / "u.dbf", names, [24, 16], recs)
    enc, how = detect_dbf_encoding(p)
    assert enc == "UTF-8", (enc, how)


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
