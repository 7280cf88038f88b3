"""A Shapefile's .dbf encoding: the .cpg checked against the bytes, else the .dbf's language
byte, else the bytes themselves.

Chinese surveyors' Shapefiles usually carry a GBK .dbf with no .cpg (GDAL would then read it as
ISO-8859-1, every Chinese name garbage), and the .cpg files tools write are often wrong: GB2312
for a file holding GBK characters, GBK for a file saved as UTF-8, UTF-8 for GBK bytes. The
bytes are judged value by value, a character cut short by its field's width allowed.
"""

from __future__ import annotations

from pathlib import Path

from cim.errors import InputError

# .dbf language driver ids (byte 29) that mean a Chinese code page
_LDID_CHINESE = {0x4D: "GB18030", 0x7A: "GB18030"}

# a .cpg's name of an encoding (upper case, no blanks) → the family its bytes are checked in
_CPG_UTF8 = {"UTF-8", "UTF8", "65001"}
_CPG_GBK = {"GBK", "936", "CP936", "ANSI936", "GB2312", "GB18030", "EUC-CN", "CP54936", "54936"}


def detect_dbf_encoding(dbf: Path) -> tuple[str | None, str]:
    """(encoding, how it was decided) for a .dbf; None means 'let GDAL decide' (a .cpg it is
    left to).

    A .cpg is checked against the bytes where it names UTF-8 or a Chinese code page: tools
    write GB2312 for files that hold GBK characters (堃, 昇, traditional 國 — GDAL would read
    them as other characters, silently), GBK for a file saved as UTF-8, UTF-8 for GBK bytes.
    The GBK family is read as GB18030, its superset; bytes that are not what the .cpg says but
    are the other are read as they are, and the note says so."""
    claim = None
    for ext in (".cpg", ".CPG"):
        cpg = dbf.with_suffix(ext)
        if cpg.exists():
            claim = cpg.read_text(errors="replace").lstrip("\ufeff").strip()
            break
    family = None if claim is None else "".join(claim.upper().split())
    if claim is not None and family not in _CPG_UTF8 | _CPG_GBK:
        return None, f".cpg says {claim}"
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            raise InputError("the .dbf file is truncated", path=str(dbf))
        header_len = int.from_bytes(head[8:10], "little")
        record_len = int.from_bytes(head[10:12], "little")
        descriptors = fh.read(max(0, header_len - 32))
        body = fh.read(1024 * 1024)
    values = _dbf_texts(descriptors, body, record_len)
    body = b" ".join(v for v, _ in values)
    utf8, gbk = _decodes(values, "utf-8"), _decodes(values, "gb18030")
    if claim is not None:
        said = f".cpg says {claim}"
        if body.isascii():
            return None, said
        if family in _CPG_UTF8:
            if utf8:
                return None, said
            if gbk:
                return "GB18030", f"{said}, but the bytes are GBK, not UTF-8"
            raise InputError(f"the .dbf's text is not UTF-8 as its .cpg says ({claim}), nor "
                             "GBK: give its encoding with --encoding", path=str(dbf))
        if utf8:  # a Chinese code page said, UTF-8 bytes (GBK text is never valid UTF-8)
            return "UTF-8", f"{said}, but the bytes are UTF-8"
        if gbk:
            return "GB18030", said + ("" if family in ("GB18030", "CP54936", "54936")
                                      else " (read as GB18030, its superset)")
        raise InputError(f"the .dbf's text is not {claim} as its .cpg says, nor UTF-8: give "
                         "its encoding with --encoding", path=str(dbf))
    ldid = head[29]
    if ldid in _LDID_CHINESE:
        return _LDID_CHINESE[ldid], f".dbf language driver 0x{ldid:02X} (GBK)"
    if body.isascii():
        return "UTF-8", "ASCII only"
    if utf8:
        return "UTF-8", "bytes decode as UTF-8"
    if gbk:
        return "GB18030", "bytes decode as GBK/GB18030, not UTF-8"
    return "ISO-8859-1", "bytes are neither UTF-8 nor GBK; read as Latin-1"


def _dbf_texts(descriptors: bytes, body: bytes, record_len: int
               ) -> list[tuple[bytes, bool]]:
    """The field names and the character fields' values of a .dbf sample that are not ASCII,
    each as its own bytes (padding stripped), with whether it fills its field: a full field
    may have been cut at its width in the middle of a character, so an encoding is judged
    value by value (:func:`_decodes`)."""
    names, fields, at = [], [], 1  # a record opens with its deletion flag
    for i in range(0, len(descriptors) - 31, 32):
        if descriptors[i] == 0x0D:  # end of the field descriptors
            break
        d = descriptors[i:i + 32]
        name = d[:11].split(b"\0", 1)[0]
        names.append((name, len(name) >= 10))  # 10 bytes: a name's most
        if d[11:12] in (b"C", b"V"):
            fields.append((at, at + d[16]))
        at += d[16]
    out = [(n, full) for n, full in names if not n.isascii()]
    if record_len <= 0:
        return out
    for r in range(0, len(body) - record_len + 1, record_len):
        rec = body[r:r + record_len]
        for a, b in fields:
            v = rec[a:b]
            if not v.isascii():
                t = v.rstrip(b" \0")
                out.append((t, len(t) == b - a))
    return out


def _decodes(values: list[tuple[bytes, bool]], encoding: str) -> bool:
    """Whether every value is text in ``encoding`` — but for the last character of a value
    that fills its field, which the field's width may have cut short. GBK read as UTF-8 fails
    on most values; Latin-1 read as GBK on those whose accented letter does not pair with the
    next byte (one ending a word, not cut: the field is not full)."""
    for v, full in values:
        try:
            v.decode(encoding)
        except UnicodeDecodeError as exc:
            # only a character its field's end cut short: the data ends inside it
            if not full or exc.end != len(v) or exc.start < len(v) - 3 \
                    or not _decodes_strict(v[:exc.start], encoding):
                return False
    return True


def _decodes_strict(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False
