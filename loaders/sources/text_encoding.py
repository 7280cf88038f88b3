"""The text encoding a source is read in, and the check that its text is in it.

Shapefiles from Chinese surveyors usually carry a GBK .dbf with no .cpg; GDAL would then
decode it as ISO-8859-1 and every Chinese name would be garbage.
:func:`loaders.sources.dbf.detect_dbf_encoding` decides from the .cpg, the .dbf language driver
byte and the bytes themselves, for the .dbf :func:`dbf_path` names; every other format
declares its own (UTF-8). Text GDAL passes on undecoded is refused by :func:`check_text`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow

from cim.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from loaders.sources.read import Source


def dbf_path(path: Path, layer: str | None = None) -> Path | None:
    """The .dbf whose text GDAL decodes: a Shapefile's, or a .dbf read on its own, or a
    zipped Shapefile's (:func:`zipped_dbf`)."""
    if path.suffix.lower() == ".dbf":
        return path
    if path.suffix.lower() == ".zip":
        return zipped_dbf(path, layer)
    if path.suffix.lower() != ".shp":
        return None
    for ext in (".dbf", ".DBF"):
        p = path.with_suffix(ext)
        if p.exists():
            return p
    return None


def zipped_dbf(path: Path, layer: str | None) -> Path | None:
    """The .dbf (with its .cpg) of a zipped Shapefile, copied into a scratch folder for its
    encoding to be decided as a Shapefile's beside it is: GDAL reads the zip's .dbf in its
    .cpg's encoding or ISO-8859-1, so a GBK one without a .cpg was garbage, and field names
    a writer cut inside a UTF-8 character were refused as "not UTF-8". The zip's one
    Shapefile, or the one ``layer`` names; None where that is not one (GDAL then decides).
    The copy is streamed (a .dbf of a million records is ~200 MB)."""
    import shutil
    import zipfile

    from loaders.sources.gdal_access import scratch_dir

    try:
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            dbfs = [i for i in members if i.filename.lower().endswith(".dbf")
                    and any(m.filename.lower() == i.filename.lower()[:-4] + ".shp"
                            for m in members)]
            if layer is not None:
                dbfs = [i for i in dbfs if Path(i.filename).stem == layer]
            if len(dbfs) != 1:
                return None
            dbf = dbfs[0]
            stem = dbf.filename[:-4]
            out = scratch_dir("cim-zipdbf-")
            for m in members:
                if m.filename[:-4] == stem and m.filename[-4:].lower() in (".dbf", ".cpg"):
                    target = out / Path(m.filename).name
                    with zf.open(m) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 22)
            return out / Path(dbf.filename).name
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
        return None  # GDAL says what it can of the zip


def encoding_advice(dbf: bool) -> str:
    """What to do about text that is not in the encoding read: ``--encoding`` decides a
    .dbf's only (every other format declares its own, and the option is ignored for it)."""
    if dbf:
        return "give the .dbf's encoding with --encoding (GBK, UTF-8 …)"
    return ("the format's text is UTF-8 and the file's writer stored another encoding: "
            "save it as UTF-8 (--encoding applies to a Shapefile's .dbf only)")


def check_text(rb: pyarrow.RecordBatch, names: list[str], src: Source, row: int,
               rows: np.ndarray | None = None) -> None:
    """Refuse a batch whose text GDAL passed on as it was but is not UTF-8 — a .dbf read as
    UTF-8 (``--encoding UTF-8`` over other bytes), a GeoPackage or SQLite file a writer filled
    with GBK bytes: Arrow would fail on it wherever it is first converted (an internal error).
    Arrow checks a column at ~3 GB/s (~1 ms a 50,000-row name column). The row named is
    ``row`` on from the batch's first, or its own in ``rows`` (rows not consecutive)."""
    for name in names:
        col = rb.column(name)
        if not (pyarrow.types.is_string(col.type) or pyarrow.types.is_large_string(col.type)):
            continue
        try:
            col.validate(full=True)
        except pyarrow.ArrowInvalid:
            values = col.cast(pyarrow.binary()).to_pylist()
            at = next((i for i, v in enumerate(values) if v is not None and not is_utf8(v)), 0)
            hint = "give the .dbf's encoding with --encoding" if src.driver == \
                "ESRI Shapefile" else "the file's writer stored text in another encoding"
            raise InputError(f"the text is not {src.encoding or 'UTF-8'}: {hint}",
                             path=str(src.path), field=name,
                             row=int(rows[at]) if rows is not None else row + at) from None


def is_utf8(v: bytes) -> bool:
    try:
        v.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


_SINGLE_BYTE_DXF = re.compile(rb"^(ANSI_(125\d|874)|ISO8859_\d+|DOS(437|850|852|855|857|860|"
                              rb"861|863|864|865|869))$", re.IGNORECASE)


def dxf_utf8(path: Path) -> str | None:
    """Why a DXF is to be read as UTF-8 against its header, else None: its $DWGCODEPAGE
    names a single-byte code page (GDAL's own DXF writer puts ANSI_1252 over UTF-8 text)
    and every byte above ASCII is part of valid UTF-8 — text in that code page with such
    bytes is never that, but for chance pairs of accented letters. GDAL would decode the
    UTF-8 as the code page: layer 建筑 read as å»ºç­. The file is decoded in 4 MB chunks
    (C codecs), once."""
    import codecs

    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        m = re.search(rb"\$DWGCODEPAGE\s*\r?\n\s*3\s*\r?\n([^\r\n]*)", head)
        if m is None or not _SINGLE_BYTE_DXF.match(m.group(1).strip()):
            return None
        decoder = codecs.getincrementaldecoder("utf-8")()
        fh.seek(0)
        multibyte = False
        try:
            while chunk := fh.read(4 << 20):
                decoder.decode(chunk)
                multibyte = multibyte or max(chunk) > 127
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return None
    if not multibyte:
        return None
    return (f"its header says {m.group(1).strip().decode('ascii', 'replace')} but its text is "
            "UTF-8, as GDAL's own DXF writer leaves it")


def utf8_chinese(path: Path) -> bool:
    """Whether a text table's first 4 MB are UTF-8 with Chinese characters and no other
    non-ASCII ones: text GBK would read as other characters (甲楼 as 鐢叉ゼ) without an
    error. GBK text is seldom valid UTF-8, and then as other scripts (住宅 D7A1 D5AC: סլ),
    never as Chinese characters only, but for a few bytes by chance."""
    with open(path, "rb") as fh:
        head = fh.read(4 << 20)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4 or len(head) < 4 << 20:
            return False
        text = head[:exc.start].decode("utf-8")
    import re

    if re.search("[^\x00-\x7f\u3000-\u9fff\uff00-\uffef\ufeff]", text):
        return False
    return len(re.findall("[\u3000-\u9fff\uff00-\uffef]", text[:1 << 16])) >= 4


def utf8_copy(path: Path, encoding: str) -> Path:
    """A text table in ``encoding`` copied as UTF-8 into a scratch folder, streamed 4 MB at a
    time (C codecs; no row is looked at): what GDAL's CSV driver reads, the rows numbered as
    in the delivery (one line for one line)."""
    import codecs

    from loaders.sources.gdal_access import scratch_dir

    out = scratch_dir("cim-csv-") / path.name
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    with open(path, "rb") as src, open(out, "wb") as dst:
        try:
            while chunk := src.read(4 << 20):
                dst.write(decoder.decode(chunk).encode("utf-8"))
                lines += chunk.count(b"\n")
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as exc:
            line = lines + chunk.count(b"\n", 0, max(exc.start, 0)) + 1
            raise InputError(f"the file is not {encoding} text (line {line}): give its "
                             "encoding with --encoding, or save it as 'CSV UTF-8'",
                             path=str(path), row=line) from None
    return out
