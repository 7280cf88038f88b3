"""A Shapefile's .dbf encoding: the .cpg or the .dbf's language byte checked against the bytes,
else the bytes themselves; ``--encoding`` checked against them too.

Chinese surveyors' Shapefiles usually carry a GBK .dbf with no .cpg (GDAL would then read it as
ISO-8859-1, every Chinese name garbage), and the labels tools write are often wrong: a .cpg
saying GB2312 for a file holding GBK characters, GBK for a file saved as UTF-8, UTF-8 for GBK
bytes; a language byte saying 936 (GBK) over UTF-8 text. Every non-ASCII value of the file is
judged, wherever it is (a file whose first 4,000 rows are ASCII is as common as any), each on
its own: a character cut short by its field's width is allowed at the end of a value that fills
its field, nothing else. Field names are judged the same way: GDAL and QGIS cut a UTF-8 name at
the .dbf's 10 bytes, often inside a character; such a name is read without the cut character,
and the note names it. A file whose text is GBK but for values a program stored as UTF-8 is
refused, naming the first (GB18030 reads UTF-8 Chinese as other characters without an error:
:mod:`loaders.sources.dbf_utf8`), unless ``--encoding GBK`` says to read them as GBK.

The whole record area is read, 16 MiB at a time, never row by row in Python: a chunk of ASCII
only is skipped by ``bytes.isascii``; of the others, each text field holding a non-ASCII byte
is decoded in one ``str`` call over all its values, a character cut at a value's end told from
the value's last bytes in NumPy (a Python step only for a value the decoder stops at). A
million-row .dbf (233 MB, four Chinese text fields) takes ~0.3 s as UTF-8, ~0.55 s as GBK
(Python's GB18030 decoder; the walk for UTF-8 values adds about half), 0.04 s if ASCII — GDAL's own read of it takes 1-5 s.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cim.errors import InputError
from loaders.sources.dbf_utf8 import utf8_cut, utf8_values

# .dbf language driver ids (byte 29) that mean a Chinese code page
_LDID_CHINESE = {0x4D: "GB18030", 0x7A: "GB18030"}

# a .cpg's (or --encoding's) name of an encoding (upper case, no blanks) → the family its
# bytes are checked in
_CPG_UTF8 = {"UTF-8", "UTF8", "65001", "CP65001"}
_CPG_GBK = {"GBK", "936", "CP936", "ANSI936", "GB2312", "GB18030", "EUC-CN", "CP54936", "54936"}

# iconv's name of UTF-8: told it, GDAL recodes the text and so drops a character that a field's
# width cut short (told "UTF-8" it passes the bytes on as they are, and the cut character is
# invalid UTF-8 further on). Given only when every value and name has been checked: iconv
# would skip any other invalid byte just as silently.
UTF8_RECODED = "UTF8"

_CHUNK = 16 * 1024 * 1024  # bytes of records read at a time
_DELETED = 0x2A  # a record's first byte: '*' deleted (GDAL skips it), ' ' live


@dataclass
class _Header:
    ldid: int
    header_len: int
    record_len: int
    records: int  # the header's count, at most the whole records the file holds
    names: list[bytes]  # every field's name as stored
    texts: list[tuple[int, int, int]]  # (field index, start, end in a record) of text fields


@dataclass
class _Check:
    """Whether a .dbf's names and text values are all text in an encoding."""
    non_ascii: bool = False  # a name or value holds a non-ASCII byte
    bad: tuple[int | None, str] | None = None  # (row or None for a name, field): the first not
    cut_names: list[str] = field(default_factory=list)  # names read without a cut character
    cut_values: dict[str, int] = field(default_factory=dict)  # field → values cut so
    # checked as GBK: values that are UTF-8 Chinese text
    # (:func:`loaders.sources.dbf_utf8.utf8_values`), how many and the first (row, field)
    utf8_values: int = 0
    first_utf8: tuple[int, str] | None = None

    @property
    def ok(self) -> bool:
        return self.bad is None

    @property
    def cut(self) -> bool:
        return bool(self.cut_names or self.cut_values)


def detect_dbf_encoding(dbf: Path, override: str | None = None) -> tuple[str | None, str]:
    """(encoding to read the .dbf with, how it was decided); None means 'let GDAL decide'
    (the .cpg it is left to).

    A .cpg or a language byte naming UTF-8 or a Chinese code page is checked against the bytes:
    bytes that are not what it says but are the other are read as they are, and the note says
    so; bytes that are neither are refused, naming the first row and field that is not. The GBK
    family is read as GB18030, its superset. ``override`` (``--encoding``) is taken as given,
    but checked the same way when it names UTF-8 or a Chinese code page (refused, naming the
    row and field, where the bytes are not what it says). Names and values cut inside a
    character (see the module) are read without it, and the note names them."""
    h = _header(dbf)
    if override is not None:
        return _given(dbf, h, override)
    claim, from_cpg, ignored = None, False, ""
    for ext in (".cpg", ".CPG"):
        cpg = dbf.with_suffix(ext)
        if cpg.exists():
            claim = cpg.read_text(errors="replace").lstrip("\ufeff").strip()
            from_cpg = True
            break
    family = None if claim is None else _family(claim)
    if from_cpg and family is None:
        if claim and python_codec(claim) is not None:
            return _other(dbf, h, claim, f".cpg says {claim}", from_cpg=True)
        # an empty .cpg, or one naming no encoding (System, ANSI): as if there were none
        ignored = f"; its .cpg ({claim or 'empty'}) names no encoding"
        claim, from_cpg = None, False
    if not from_cpg and h.ldid in _LDID_CHINESE:
        claim, family = f"0x{h.ldid:02X} (code page 936, GBK)", "GBK"
    said = None if claim is None else (f".cpg says {claim}" if from_cpg
                                       else f".dbf language driver {claim}")
    utf8 = _check(dbf, h, "utf-8")
    if not utf8.non_ascii:
        if from_cpg:
            return None, said
        if claim is not None:
            return _LDID_CHINESE[h.ldid], said
        return "UTF-8", "ASCII only" + ignored
    if utf8.ok:
        if said is None:
            why = "bytes decode as UTF-8" + ignored
        else:
            why = said if family == "UTF-8" else f"{said}, but the bytes are UTF-8"
        if utf8.cut:
            return UTF8_RECODED, why + _cut_note(utf8)
        return (None if from_cpg and family == "UTF-8" else "UTF-8"), why
    gbk = _check(dbf, h, "gb18030")
    if gbk.ok:
        if said is None:
            why = "bytes decode as GBK/GB18030, not UTF-8" + ignored
        elif family == "UTF-8":
            why = f"{said}, but the bytes are GBK, not UTF-8"
        elif from_cpg and "".join(claim.upper().split()) not in ("GB18030", "CP54936", "54936"):
            why = f"{said} (read as GB18030, its superset)"
        else:
            why = said
        _refuse_utf8_values(dbf, gbk, said)
        return "GB18030", why + _cut_note(gbk)
    if claim is None:
        mixed = _check(dbf, h, "gb18030", utf8_apart=True)
        if mixed.ok:
            _refuse_utf8_values(dbf, mixed, None, gbk_readable=False)
        return "ISO-8859-1", "bytes are neither UTF-8 nor GBK; read as Latin-1" + ignored
    what = "its .cpg" if from_cpg else "its language byte"
    if family == "UTF-8":
        row, name = utf8.bad
        raise InputError(f"the .dbf's text is not UTF-8 as {what} says ({claim}), nor GBK: "
                         "give its encoding with --encoding", path=str(dbf), row=row, field=name)
    row, name = gbk.bad
    raise InputError(f"the .dbf's text is not {claim if from_cpg else 'GBK'} as {what} says, "
                     "nor UTF-8: give its encoding with --encoding", path=str(dbf), row=row,
                     field=name)


def _given(dbf: Path, h: _Header, given: str) -> tuple[str, str]:
    """``--encoding`` for a .dbf: taken as given, its bytes checked where it names UTF-8 or a
    Chinese code page."""
    family = _family(given)
    said = f"--encoding {given}"
    if family is None:
        if python_codec(given) is None:
            raise InputError(f"--encoding {given} names no encoding known here (UTF-8, GBK, "
                             "Big5, CP1252, ISO-8859-1 … are)", path=str(dbf))
        return _other(dbf, h, given, said, from_cpg=False)
    check = _check(dbf, h, "utf-8" if family == "UTF-8" else "gb18030")
    if not check.ok:
        row, name = check.bad
        raise InputError(f"the .dbf's text is not {given} as --encoding says: give the "
                         "encoding it is in", path=str(dbf), row=row, field=name)
    if family == "UTF-8":
        return (UTF8_RECODED if check.cut else given), said + _cut_note(check)
    if "".join(given.upper().split()) not in ("GB18030", "CP54936", "54936"):
        said += " (read as GB18030, its superset)"
    return "GB18030", said + _cut_note(check) + _utf8_note(check)


def python_codec(name: str) -> str | None:
    """Python's codec for an encoding as a .cpg or ``--encoding`` names it — as GDAL reads a
    .cpg: a code page number is CP<n> (1252, ANSI 1252), 8859<n> is ISO-8859-<n> — or None if
    Python knows none by that name."""
    key = " ".join(name.split()).upper()
    key = key.removeprefix("ANSI ").strip()
    if key.isdigit():
        key = f"ISO-8859-{key[4:]}" if key.startswith("8859") and len(key) > 4 else f"CP{key}"
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _other(dbf: Path, h: _Header, name: str, said: str, *, from_cpg: bool
           ) -> tuple[str, str]:
    """An encoding other than UTF-8 or GBK that a .cpg or ``--encoding`` names (Python knows
    it: :func:`python_codec`), checked against the bytes as those two are — GDAL's iconv skips
    a byte it cannot read without a word: GBK read as Big5 lost characters. GDAL is given the
    encoding by iconv's name of it (it knows no ``1252`` nor ``ANSI 1252``: it read such a
    .cpg's bytes as UTF-8 and refused them).

    A .cpg is also checked against the other families, as the GBK and UTF-8 labels are: bytes
    that are not its encoding but UTF-8 are read as UTF-8, noted; and a single-byte code page
    (1252, 8859-1), whose check almost any bytes pass, over bytes that are UTF-8 is read as
    UTF-8, over bytes that read as GBK is refused — Chinese names came out as ÈÎ³ÇÇø with
    neither error nor note. ``--encoding`` is the user's word: checked, never second-guessed."""
    codec = python_codec(name)
    assert codec is not None
    check = _check(dbf, h, codec)
    if from_cpg and (not check.ok or _single_byte(codec)):
        utf8 = _check(dbf, h, "utf-8")
        if utf8.non_ascii and utf8.ok:
            return (UTF8_RECODED if utf8.cut else "UTF-8"), \
                f"{said}, but the bytes are UTF-8" + _cut_note(utf8)
        if check.ok and check.non_ascii and _check(dbf, h, "gb18030").ok:
            raise InputError(f"the .dbf's .cpg says {name}, but its text reads as GBK too "
                             f"(Chinese written in GBK?): give --encoding GBK, or --encoding "
                             f"{name} if it is {name}", path=str(dbf))
    if not check.ok:
        row, field_name = check.bad
        what = "its .cpg says" if from_cpg else "--encoding says"
        raise InputError(f"the .dbf's text is not {name} as {what}: give the encoding it is "
                         "in with --encoding", path=str(dbf), row=row, field=field_name)
    return iconv_name(codec), said + _cut_note(check)


def _single_byte(codec: str) -> bool:
    """Whether ``codec`` reads most single high bytes alone (a Latin code page: its check
    tells little)."""
    return sum(1 for b in range(0x80, 0x100)
               if _decodes(bytes([b]), codec)) >= 100


def _decodes(b: bytes, codec: str) -> bool:
    try:
        b.decode(codec)
        return True
    except UnicodeDecodeError:
        return False


def iconv_name(codec: str) -> str:
    """GDAL's (iconv's) name of a Python codec: cp1252 → CP1252, iso8859-1 → ISO-8859-1,
    euc_kr → EUC-KR, big5 → BIG5."""
    name = codec.upper().replace("_", "-")
    if name.startswith("ISO8859-"):
        name = "ISO-8859-" + name[len("ISO8859-"):]
    return name


def _family(name: str) -> str | None:
    key = "".join(name.upper().split())
    return "UTF-8" if key in _CPG_UTF8 else "GBK" if key in _CPG_GBK else None


def _refuse_utf8_values(dbf: Path, check: _Check, said: str | None,
                        gbk_readable: bool = True) -> None:
    """Refuse a .dbf whose text is GBK (``said``: who says so, if anyone) but for values that
    are UTF-8 Chinese text (:func:`loaders.sources.dbf_utf8.utf8_values`): GDAL decodes a
    file in one encoding, so one or the other would load as other characters, silently.
    ``gbk_readable``: whether they are GBK text too (so ``--encoding GBK`` reads them)."""
    if not check.utf8_values:
        return
    row, name = check.first_utf8
    n = check.utf8_values
    many = f"{n:,} values are" if n > 1 else "1 value is"
    gbk = f"GBK ({said})" if said else "GBK"
    raise InputError(f"the .dbf holds text in two encodings: {many} UTF-8 (this the first), "
                     f"its other text is {gbk}; read in one encoding, the others would load "
                     "as other characters. Save the file again in one encoding (UTF-8, with a .cpg saying so)"
                     + ("; if they are GBK after all, give --encoding GBK" if gbk_readable
                        else ""), path=str(dbf), row=row, field=name)


def _utf8_note(check: _Check) -> str:
    """What ``--encoding GBK`` read as it says, over values that look UTF-8: they are named,
    not refused — the one way to load a GBK file whose values only look so."""
    if not check.utf8_values:
        return ""
    row, name = check.first_utf8
    return (f"; {check.utf8_values:,} values read as GBK, as --encoding says, look like UTF-8 "
            f"text (the first: row {row}, {name})")


def _cut_note(check: _Check) -> str:
    out = ""
    if check.cut_names:
        out += ("; field names cut inside a character at the .dbf's 10 bytes by the program "
                "that wrote it, read without that character: " + ", ".join(check.cut_names))
    if check.cut_values:
        out += ("; values cut inside a character at their field's width, read without that "
                "character: " + ", ".join(f"{n} in {f}" for f, n in check.cut_values.items()))
    return out


def _header(dbf: Path) -> _Header:
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            raise InputError("the .dbf file is truncated", path=str(dbf))
        header_len = int.from_bytes(head[8:10], "little")
        record_len = int.from_bytes(head[10:12], "little")
        descriptors = fh.read(max(0, header_len - 32))
        size = fh.seek(0, 2)
    names: list[bytes] = []
    texts: list[tuple[int, int, int]] = []
    at = 1  # a record opens with its deletion flag
    for i in range(0, len(descriptors) - 31, 32):
        if descriptors[i] == 0x0D:  # end of the field descriptors
            break
        d = descriptors[i:i + 32]
        kind = d[11:12]
        # shapelib's widths: a number's second byte is its decimals, any other field's the
        # width's high byte
        width = d[16] if kind in (b"N", b"F") else d[16] + 256 * d[17]
        if kind in (b"C", b"V") and 0 < width and at + width <= record_len:
            texts.append((len(names), at, at + width))
        names.append(d[:11].split(b"\0", 1)[0])
        at += width
    records = int.from_bytes(head[4:8], "little")
    if record_len > 0:
        records = min(records, max(0, size - header_len) // record_len)
    else:
        records, texts = 0, []
    return _Header(ldid=head[29], header_len=header_len, record_len=record_len,
                   records=records, names=names, texts=texts)


def _check(dbf: Path, h: _Header, encoding: str, utf8_apart: bool = False) -> _Check:
    """Every field name and every text value of ``dbf`` holding a non-ASCII byte checked in
    ``encoding``; stops at the first that is not text in it. ``utf8_apart`` (GB18030 only):
    the values that are UTF-8 Chinese text are counted, not checked — whether the others
    are GBK (a file written in both: a UTF-8 value of an odd number of characters is no GBK
    text, so the file is neither)."""
    out = _Check()
    names = []  # as GDAL reads them in ``encoding``: a cut character dropped
    for raw in h.names:
        names.append(raw.decode(encoding, errors="replace"))
        if raw.isascii():
            continue
        out.non_ascii = True
        cut = _cut(raw, encoding, full=len(raw) >= 10)  # 10 bytes: a name's most
        if cut is None:
            out.bad = (None, names[-1])
            return out
        if cut:
            names[-1] = raw[:-cut].decode(encoding)
            out.cut_names.append(names[-1])
    for f, rows, block in _values(dbf, h):
        out.non_ascii = True
        name = names[f]
        found = utf8_values(block) if encoding == "gb18030" else None
        if utf8_apart and found is not None and len(found):
            keep = np.ones(len(block), dtype=bool)
            keep[found] = False
            bad, cuts = _check_block(block[keep], encoding)
            bad = None if bad is None else int(np.flatnonzero(keep)[bad])
        else:
            bad, cuts = _check_block(block, encoding)
        if found is not None and bad is None:
            if len(found):
                out.utf8_values += len(found)
                if out.first_utf8 is None or rows[found[0]] < out.first_utf8[0]:
                    out.first_utf8 = (int(rows[found[0]]), name)
        if cuts:
            out.cut_values[name] = out.cut_values.get(name, 0) + cuts
        if bad is not None:
            out.bad = (int(rows[bad]), name)
            return out
    return out


def _values(dbf: Path, h: _Header) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(field index, row numbers, values) of the live records of a chunk of records, for each
    text field holding a non-ASCII byte there: the values as an array of their bytes, one row
    a value (its field's width, padding kept); row numbers as GDAL numbers the features (from
    1, deleted records skipped). A chunk of ASCII only is skipped by ``bytes.isascii``."""
    n_per = max(1, _CHUNK // h.record_len) if h.record_len > 0 else 0
    done = deleted = 0
    with open(dbf, "rb") as fh:
        fh.seek(h.header_len)
        while done < h.records:
            n = min(n_per, h.records - done)
            buf = fh.read(n * h.record_len)
            n = len(buf) // h.record_len
            if n == 0:
                break
            arr = np.frombuffer(buf, dtype=np.uint8, count=n * h.record_len
                                ).reshape(n, h.record_len)
            dead = arr[:, 0] == _DELETED
            n_dead = int(np.count_nonzero(dead))
            if not buf.isascii():
                rows = done + 1 + np.arange(n) - deleted - np.cumsum(dead)
                if n_dead:
                    arr, rows = arr[~dead], rows[~dead]
                for f, a, b in h.texts:
                    if len(arr) and arr[:, a:b].max() >= 0x80:
                        yield f, rows, arr[:, a:b]
            deleted += n_dead
            done += n


def _check_block(block: np.ndarray, encoding: str) -> tuple[int | None, int]:
    """(index of the first value that is not text in ``encoding`` or None, how many values end
    in a character their field's width cut short) of one field's values (``block``: one row
    of bytes a value). A character cut at a value's end is told from the value's last bytes in
    NumPy and blanked; then all the values are decoded in one call, each after a newline so that
    no character can run from one into the next. A value the decoder still stops at is judged
    on its own (:func:`_cut`, :func:`_on_error`): the decoding goes on after it if it is a cut
    one, stops if not."""
    k, w = block.shape
    # a character cut at a value's end, told in NumPy for the two families met most; for
    # another encoding each value the decoder stops at is judged on its own (_on_error)
    tail = utf8_cut(block) if encoding == "utf-8" else _gbk_cut(block) \
        if encoding == "gb18030" else np.zeros(len(block), dtype=np.int8)
    cut = tail > 0
    lines = np.full((k, w + 1), 0x0A, dtype=np.uint8)
    lines[:, :w] = block
    for t in (1, 2, 3):
        lines[tail >= t, w - t] = 0x20
    _state.block, _state.cut = block, cut
    try:
        str(lines.data, encoding, _ON_ERROR)
    except _NotText as exc:
        return exc.args[0], int(np.count_nonzero(cut))
    finally:
        _state.block = _state.cut = None
    return None, int(np.count_nonzero(cut))


class _NotText(Exception):
    """A value that is not text in the encoding (its index in the block)."""


_state = threading.local()  # the block :func:`_on_error` judges a value of


def _on_error(exc: UnicodeError) -> tuple[str, int]:
    """A decoding error handler: the value the decoder stopped at (a row of ``_state.block``,
    as it is in the file) is a cut one (:func:`_cut`: counted in ``_state.cut``) — go on at the
    next — or not text (:class:`_NotText`)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    block = _state.block
    w = block.shape[1]
    i = exc.start // (w + 1)
    v = block[i].tobytes().rstrip(b" \0")
    if not _cut(v, exc.encoding, full=len(v) == w):
        raise _NotText(i)
    _state.cut[i] = True
    return "", (i + 1) * (w + 1) - 1  # the newline after the value


_ON_ERROR = "cim-dbf-cut"
codecs.register_error(_ON_ERROR, _on_error)


def _gbk_cut(block: np.ndarray) -> np.ndarray:
    """1 where a value ends in a GBK lead byte its end cut from its trail byte, else 0. A byte
    below 0x81 ends a character (ASCII, a trail byte, a 4-byte sequence's last digit) — or is a
    4-byte sequence's second byte, whose third then ends the value: a cut too, judged by
    :func:`_on_error` — so the bytes from 0x81 at a value's end are whole pairs, the last a
    lead alone when they are odd in number."""
    k, w = block.shape
    cut = np.zeros(k, dtype=np.int8)
    ends = np.flatnonzero(block[:, w - 1] >= 0x81)  # (most values end in padding)
    if len(ends):
        high = block[ends, ::-1] >= 0x81
        run = np.where(high.all(axis=1), w, np.argmin(high, axis=1))
        cut[ends] = run % 2
    return cut


def _cut(v: bytes, encoding: str, full: bool) -> int | None:
    """0 if ``v`` is text in ``encoding``; the length of the character cut short at its end if
    it is text but for that and fills its field (``full``: the width cut it); None if not."""
    try:
        v.decode(encoding)
        return 0
    except UnicodeDecodeError:
        pass
    if not full:
        return None
    dec = codecs.getincrementaldecoder(encoding)()
    try:
        dec.decode(v, final=False)
    except UnicodeDecodeError:
        return None
    pending = len(dec.getstate()[0])
    return pending if 0 < pending <= 3 else None
