"""Checks of a delivery's bytes before GDAL sees them.

GDAL is a parser of dozens of formats; some inputs must never reach it (XML with a DOCTYPE:
external entities, entity expansion) and some it reads "successfully" into something wrong
(a truncated Shapefile, a CSV cut at a NUL byte, an Excel sheet with a two-row header). Each
check raises :class:`~cim.errors.InputError` naming the file, and the row and field where
there is one. They read a bounded number of bytes, whatever the size of the file.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from cim.errors import InputError

# formats GDAL reads with an XML parser (expat)
XML_SUFFIXES = {".gml", ".xml", ".kml", ".citygml", ".gpx", ".osm", ".xsd", ".gfs", ".vrt",
                ".jml", ".georss", ".rss", ".svg", ".mapml", ".nas", ".ili", ".wfs"}
# zip containers of XML parts
ZIP_XML_SUFFIXES = {".xlsx", ".xlsm", ".ods", ".kmz"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
TEXT_TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}

PROLOG_LIMIT = 1 << 20  # an XML prolog longer than this is refused
MAX_ZIP_MEMBERS = 2000
# a damaged zip container: not a zip, a bad CRC, a truncated or corrupt deflate stream
ZIP_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError)


def workbook_errors() -> tuple[type[BaseException], ...]:
    """What openpyxl raises for a damaged workbook, and only that: catch these around
    openpyxl's own calls (loading, iterating rows), never around the platform's code.

    KeyError is openpyxl's way of saying a part is missing from the zip ("There is no item
    named 'xl/workbook.xml'"), SyntaxError covers the XML parsers' ParseError, ValueError a
    cell reference or value it cannot parse.
    """
    from openpyxl.utils.exceptions import InvalidFileException

    return (InvalidFileException, *ZIP_ERRORS, KeyError, ValueError, SyntaxError, OSError)


def precheck(path: Path, layer: str | None = None, encoding: str | None = None) -> None:
    """Every check that applies to ``path`` by its suffix (raises InputError); ``encoding``
    a text table's (``--encoding``), UTF-8 if None."""
    suffix = path.suffix.lower()
    check_xml_safety(path)
    if suffix == ".shp":
        check_shapefile(path)
    if suffix in TEXT_TABLE_SUFFIXES:
        from loaders.sources.table_checks import check_csv_cells, check_text_table

        check_text_table(path, encoding)
        check_csv_cells(path, encoding)
    if suffix in EXCEL_SUFFIXES:
        check_excel_header(path, layer)


# -- XML ------------------------------------------------------------------------------------
def check_xml_safety(path: Path) -> None:
    """Refuse XML with a DOCTYPE (XXE, entity expansion) before any parser sees it: plain XML
    under any name, and the XML members of zip containers (.xlsx, .ods, .kmz …)."""
    with open(path, "rb") as fh:
        start = fh.read(256)
        # GDAL picks its driver by content too: XML under any name gets the XML check
        if path.suffix.lower() in XML_SUFFIXES or looks_like_xml(start):
            fh.seek(0)
            check_xml_prolog(fh.read(PROLOG_LIMIT + 1), path)
    if path.suffix.lower() in ZIP_XML_SUFFIXES:
        check_zip_xml(path)


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="replace")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="replace")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.decode("latin-1")  # markup is ASCII; other bytes do not matter here


def looks_like_xml(start: bytes) -> bool:
    if start.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        return True
    if start.startswith(b"\xef\xbb\xbf"):
        start = start[3:]
    return start.lstrip().startswith(b"<")


def check_xml_prolog(head: bytes, path: Path, member: str | None = None) -> None:
    """Refuse XML whose prolog declares a DOCTYPE (the only place entities can be declared).

    Survey data never needs a DTD; one can pull in files or URLs (XXE) or expand entities
    exponentially (billion laughs). The check walks the prolog (XML declaration, processing
    instructions, comments) up to the root element and looks at nothing else.
    """
    text = _decode_head(head)
    where = f" (in {member})" if member else ""
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            if len(head) > PROLOG_LIMIT:
                raise InputError(f"refused: the XML prolog{where} is longer than "
                                 f"{PROLOG_LIMIT:,} bytes", path=str(path))
            return  # empty or all prolog: the parser will say what is wrong
        if text.startswith("<?", pos):
            end = text.find("?>", pos + 2)
            step = 2
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos + 4)
            step = 3
        elif text.startswith("<!", pos):
            decl = text[pos:pos + 64_000]
            risks = []
            if re.search(r"\b(SYSTEM|PUBLIC)\b", decl):
                risks.append("an external entity or DTD (XXE: it can read local files or URLs)")
            if re.search(r"<!ENTITY\s+(%\s*)?[^\s>]+\s+[\"']", decl):
                risks.append("internal entities (entity expansion, 'billion laughs')")
            what = " and ".join(risks) or "a document type declaration"
            raise InputError(
                f"refused: the XML{where} has a <!DOCTYPE> with {what}; survey data never "
                "needs one and it is unsafe to parse — remove the DOCTYPE and its entities",
                path=str(path))
        else:
            return  # the root element (or not XML at all: GDAL will say so)
        if end == -1:
            if len(head) > PROLOG_LIMIT:
                raise InputError(f"refused: the XML prolog{where} is longer than "
                                 f"{PROLOG_LIMIT:,} bytes", path=str(path))
            return
        pos = end + step


def check_zip_xml(path: Path) -> None:
    """The XML parts of a zip container (.xlsx, .ods, .kmz) get the same prolog check."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise InputError(f"refused: the container has {len(infos):,} parts",
                                 path=str(path))
            for info in infos:
                if info.is_dir() or not info.filename.lower().endswith(
                        (".xml", ".rels", ".kml", ".vml", ".gml")):
                    continue
                with zf.open(info) as fh:
                    check_xml_prolog(fh.read(PROLOG_LIMIT + 1), path, member=info.filename)
    except ZIP_ERRORS as exc:
        raise InputError(f"not a valid {path.suffix} file (it should be a zip container): "
                         f"{exc}", path=str(path)) from exc


# -- Shapefile ------------------------------------------------------------------------------
def _sidecar(path: Path, ext: str) -> Path | None:
    for e in (ext, ext.upper()):
        p = path.with_suffix(e)
        if p.exists():
            return p
    return None


def check_shapefile(path: Path) -> None:
    """The .shp, .shx and .dbf must be complete and agree on the number of features.

    GDAL reads a truncated Shapefile without complaint up to the cut, or pairs shapes with
    the wrong attribute records when the parts disagree; either would load wrong data.
    """
    for ext in (".shx", ".dbf"):
        if _sidecar(path, ext) is None:
            raise InputError(f"the shapefile has no {ext} file beside it", path=str(path))
    shx, dbf = _sidecar(path, ".shx"), _sidecar(path, ".dbf")
    shp_size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or int.from_bytes(head[0:4], "big") != 9994:
        raise InputError("not a Shapefile (bad or truncated 100-byte .shp header)",
                         path=str(path))
    declared = int.from_bytes(head[24:28], "big") * 2
    if shp_size < declared:
        raise InputError(f"the .shp is truncated: its header says {declared:,} bytes but "
                         f"the file has {shp_size:,}", path=str(path))
    shx_size = shx.stat().st_size
    with open(shx, "rb") as fh:
        shx_head = fh.read(100)
        if len(shx_head) < 100 or int.from_bytes(shx_head[0:4], "big") != 9994:
            raise InputError(f"{shx.name} is not a Shapefile index (bad or truncated header)",
                             path=str(path))
        shx_declared = int.from_bytes(shx_head[24:28], "big") * 2
        if shx_size < shx_declared or (shx_size - 100) % 8:
            raise InputError(f"{shx.name} is truncated: its header says {shx_declared:,} "
                             f"bytes but the file has {shx_size:,}", path=str(path))
        n_shapes = (shx_size - 100) // 8
        if n_shapes:
            fh.seek(100 + 8 * (n_shapes - 1))
            last = fh.read(8)
            end = int.from_bytes(last[0:4], "big") * 2 + 8 + int.from_bytes(last[4:8], "big") * 2
            if end > shp_size:
                raise InputError(f"the .shp is truncated: shape {n_shapes} ends at byte "
                                 f"{end:,} but the file has {shp_size:,}", path=str(path),
                                 row=n_shapes)
    dbf_size = dbf.stat().st_size
    with open(dbf, "rb") as fh:
        dh = fh.read(32)
    if len(dh) < 32:
        raise InputError(f"{dbf.name} is truncated ({dbf_size} bytes, no complete header)",
                         path=str(path))
    n_records = int.from_bytes(dh[4:8], "little")
    header_len = int.from_bytes(dh[8:10], "little")
    record_len = int.from_bytes(dh[10:12], "little")
    need = header_len + n_records * record_len
    if dbf_size < need:
        whole = max(0, (dbf_size - header_len) // record_len) if record_len else 0
        raise InputError(f"{dbf.name} is truncated: its header says {n_records} records "
                         f"({need:,} bytes) but the file has {dbf_size:,} bytes, "
                         f"{whole} complete records", path=str(path),
                         row=whole + 1 if whole < n_records else None)
    if n_records != n_shapes:
        raise InputError(f"the parts of the shapefile disagree: {shx.name} indexes {n_shapes} "
                         f"shapes but {dbf.name} has {n_records} attribute records; shapes "
                         "and attributes would be paired wrongly", path=str(path))


# -- Excel ----------------------------------------------------------------------------------
_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def _merged_ranges(zf: zipfile.ZipFile, member: str) -> list[tuple[str, int, int]]:
    """(ref, first row, last row) of every merged range of one sheet (streamed)."""
    out: list[tuple[str, int, int]] = []
    tail = b""
    with zf.open(member) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            buf = tail + chunk
            for m in _MERGE_RE.finditer(buf):
                c1, r1, c2, r2 = m.groups()
                ref = f"{c1.decode()}{r1.decode()}" + (f":{c2.decode()}{r2.decode()}" if c2 else "")
                item = (ref, int(r1), int(r2 or r1))
                if item not in out:
                    out.append(item)
            tail = buf[-200:]
    return out


def _col_index(letters: str) -> int:
    return sum((ord(c) - 64) * 26 ** i for i, c in enumerate(reversed(letters))) - 1


def _cols(ref: str) -> tuple[int, int]:
    """0-based first and last column of a cell range like 'C1:D1'."""
    letters = re.findall(r"[A-Z]+", ref)
    return _col_index(letters[0]), _col_index(letters[-1])


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def column_letters(j: int) -> str:
    """A 0-based column as a spreadsheet names it (0 → A, 26 → AA)."""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def check_excel_header(path: Path, sheet: str | None = None) -> None:
    """An Excel sheet must have one header row with one name per column.

    GDAL takes row 1 as the field names only when it looks like one; merged header cells or
    a second header row give fields named Field1… or a data row of header text.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except workbook_errors() as exc:
        raise InputError(f"cannot read the Excel workbook: {exc}", path=str(path)) from exc
    try:
        try:
            if sheet is not None and sheet not in wb.sheetnames:
                raise InputError(f"no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})",
                                 path=str(path))
            ws = wb[sheet] if sheet else wb.worksheets[0]
            rows = [list(r) for r in ws.iter_rows(min_row=1, max_row=12, values_only=True)]
        except workbook_errors() as exc:  # read-only mode parses the sheet while iterating
            raise InputError(f"cannot read the Excel workbook: {exc}",
                             path=str(path)) from exc
        member = getattr(ws, "_worksheet_path", None)
        try:
            with zipfile.ZipFile(path) as zf:
                merges = _merged_ranges(zf, member) if member else []
        except ZIP_ERRORS as exc:
            raise InputError(f"cannot read the Excel workbook: {exc}",
                             path=str(path)) from exc
    finally:
        wb.close()
    if not rows:
        return
    width = max(len(r) for r in rows)
    rows = [r + [None] * (width - len(r)) for r in rows]
    header = rows[0]

    def text(v) -> bool:
        return isinstance(v, str) and v.strip() != ""

    in_header = [m for m in merges if m[1] <= 2]
    if in_header:
        # name first a range over several columns (a grouping heading), else the first one
        in_header.sort(key=lambda m: (":" not in m[0] or _cols(m[0])[0] == _cols(m[0])[1],
                                      m[1], _cols(m[0])[0]))
        ref, r1, _r2 = in_header[0]
        j = _cols(ref)[0]
        name = rows[r1 - 1][j] if r1 - 1 < len(rows) and j < width else None
        refs = ", ".join(m[0] for m in in_header[:6]) + (" …" if len(in_header) > 6 else "")
        raise InputError(
            f"the header has merged cells ({refs}; sheet {ws.title!r}); give the sheet one "
            "header row with one name per column, no merged cells", path=str(path),
            row=r1, field=str(name) if name is not None else None)
    if len(rows) < 2 or not any(text(v) for v in header):
        return
    second = rows[1]
    if not any(text(v) for v in second) or any(_is_number(v) for v in second):
        return
    below = rows[2:]
    for j in range(width):
        if not text(second[j]):
            continue
        under = [r[j] for r in below if r[j] is not None and r[j] != ""]
        over_blank = not text(header[j])
        numeric_below = bool(under) and all(_is_number(v) for v in under)
        if over_blank or numeric_below:
            above = f" below {header[j]!r}" if text(header[j]) else " under an empty cell of row 1"
            raise InputError(
                f"row 2 looks like a second header row (column {column_letters(j)}: {second[j]!r}{above}"
                f"{', with numbers below' if numeric_below else ''}); give the sheet one "
                "header row with one name per column", path=str(path), row=2,
                field=str(second[j]))
