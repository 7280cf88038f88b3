"""Checks of a table's cells before GDAL reads them, where GDAL would take a value as
another without a word: a text table's encoding, NUL bytes and rows of more cells than its
header names; a GeoPackage's number columns holding text. (Split from
:mod:`loaders.sources.precheck`, which runs them by the file's suffix.)"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from cim.errors import InputError
from loaders.engine.ahead import Begun, file_identity

SCAN_LIMIT = 4 << 20  # bytes of a text table checked for encoding and NUL bytes


# -- text tables ----------------------------------------------------------------------------
def check_text_table(path: Path, encoding: str | None = None) -> None:
    """GDAL reads CSV as UTF-8 and silently cuts a line at a NUL byte: refuse both problems.
    With ``encoding`` (``--encoding GBK``: the reader reads a copy in UTF-8), the bytes must
    be text in it."""
    with open(path, "rb") as fh:
        head = fh.read(SCAN_LIMIT)
    nul = head.find(b"\x00")
    # (a NUL survives the UTF-8 copy an --encoding reads, so it is looked for either way)
    if nul != -1 and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        line = head.count(b"\n", 0, nul) + 1
        raise InputError(f"line {line} contains a NUL byte; GDAL would silently cut the row "
                         "there (remove the NUL characters)", path=str(path),
                         row=_row_at(path, head, nul, encoding) or line)
    if head.removeprefix(b"\xef\xbb\xbf").startswith((b"\n", b"\r")):
        # GDAL takes no header then: no field names, every row refused as of too many cells
        raise InputError("line 1 is empty: the table's header (its field names) must be its "
                         "first line — delete the empty line(s) before it", path=str(path),
                         row=1)
    if encoding is not None and not is_utf8_name(encoding):
        return _check_text_in(path, encoding)
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    try:
        body.decode("utf-8")
        return
    except UnicodeDecodeError as exc:
        if exc.start > len(body) - 4 and len(head) == SCAN_LIMIT:
            return  # the scan cut a character in two
        bad = exc.start
    line = body.count(b"\n", 0, bad) + 1
    try:
        body.decode("gb18030")
        what = "it looks like GBK/GB18030 (Excel's plain 'CSV' on Chinese Windows)"
    except UnicodeDecodeError:
        what = "its encoding is unknown"
    raise InputError(f"the file is not UTF-8 (line {line}: {what}); save it as 'CSV UTF-8'"
                     " or give its encoding with --encoding (GBK …)",
                     path=str(path), row=_row_at(path, body, bad) or line)


def _row_at(path: Path, head: bytes, pos: int, encoding: str | None = None) -> int | None:
    """The row a spreadsheet shows the byte at ``pos`` of a text table's ``head`` on (an
    empty line is a row, a quoted value over several lines one), for the refusals that name
    its line too (what a text editor shows): the row is what every other refusal and reject
    of the table names (:func:`blank_records`). Parsed only when refusing; None where the
    text before it does not parse."""
    import csv
    import io

    try:
        text = head[:pos].decode(encoding or "utf-8", errors="replace").removeprefix("\ufeff")
    except LookupError:  # an unknown --encoding (refused as such after this)
        return None
    try:  # (a character after the text: the record it is in counts, even an empty one)
        with large_csv_fields():
            return sum(1 for _ in csv.reader(io.StringIO(text + "\x01", newline=""),
                                             delimiter=csv_separator(path)))
    except csv.Error:
        return None


@contextlib.contextmanager
def large_csv_fields() -> Iterator[None]:
    """Let Python's csv module read a WKT of a large footprint (its limit: 128 KiB) while
    these checks read, and give the process its limit back after (a service's own CSV
    reading keeps its guard)."""
    import csv
    import sys

    before = csv.field_size_limit(min(sys.maxsize, 2 ** 31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(before)


def is_utf8_name(encoding: str) -> bool:
    return encoding.strip().lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


def _check_text_in(path: Path, encoding: str) -> None:
    import codecs

    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r} (--encoding)", path=str(path)) from exc
    with open(path, "rb") as fh:
        head = fh.read(SCAN_LIMIT)
    try:
        decoder.decode(head, final=len(head) < SCAN_LIMIT)
    except UnicodeDecodeError as exc:
        line = head.count(b"\n", 0, exc.start) + 1
        raise InputError(f"the file is not {encoding} text (line {line}, byte "
                         f"{head[exc.start:exc.start + 1].hex()}): give its encoding with "
                         "--encoding, or save it as 'CSV UTF-8'", path=str(path),
                         row=_row_at(path, head, exc.start, encoding) or line) from None


def csv_separator(path: Path) -> str:
    """The separator GDAL reads a text table with: a .tsv's tab, else the one of comma,
    semicolon and tab its header line holds outside quotes (a comma when it holds several)."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    with open(path, "rb") as fh:
        line = fh.readline(1 << 16)
    outside = b"".join(line.split(b'"')[::2])
    found = [c for c in (",", ";", "\t") if c.encode() in outside]
    return found[0] if len(found) == 1 else ","


def check_csv_cells(path: Path, encoding: str | None = None) -> None:
    """Refuse a text table with a row of more non-empty cells than its header has names.

    GDAL reads a row's cells up to the header's last column and drops the rest without a
    word: a value holding the separator unquoted (权属单位 "济宁水务集团,二分公司") shifted
    the cells after it and lost the last. Arrow's CSV parser counts every row's cells (C++,
    0.4–1 s the 200 MB CSV of a million footprints, one column converted); only the rows of
    another count reach Python.
    Rows are numbered as a spreadsheet shows them (the header is row 1, a quoted value over
    two lines one row, an empty line one: Arrow numbers it only when it reads it as a row —
    of one cell, skipped as any row of too few)."""
    import pyarrow
    import pyarrow.csv as pcsv

    bad: list[tuple[int | None, int, int, str]] = []
    sep = csv_separator(path)

    def handler(row) -> str:  # (pyarrow.csv.InvalidRow)
        # only rows whose extra cells hold something count (and are capped): a writer that
        # ends every data row with a separator would otherwise fill the cap with harmless
        # rows and hide a later row whose extra cells hold data
        if row.actual_columns > row.expected_columns and len(bad) < 1000 and any(
                c.strip() for c in _cells(row.text, sep)[row.expected_columns:]):
            bad.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    if encoding is None or not encoding.lower().replace("-", "").startswith(("utf16", "utf32")):
        # quotes, separators and line ends are the same bytes in UTF-8 and GBK/GB18030
        # (their multi-byte characters' bytes are all above 0x3f): Latin-1 keeps each byte
        check_quotes_closed(path, sep, path)
    try:
        with pcsv.open_csv(
                path,
                read_options=pcsv.ReadOptions(autogenerate_column_names=True, use_threads=False,
                                              encoding=encoding or "utf8",
                                              block_size=1 << 24),
                parse_options=pcsv.ParseOptions(delimiter=csv_separator(path),
                                                newlines_in_values=True,
                                                ignore_empty_lines=False,
                                                invalid_row_handler=handler),
                convert_options=pcsv.ConvertOptions(include_columns=["f0"],
                                                    column_types={"f0": pyarrow.binary()})
        ) as reader:
            for _batch in reader:
                pass
    except (pyarrow.ArrowException, UnicodeDecodeError, LookupError):
        return  # what Arrow cannot parse, GDAL says what it can of
    if not bad:
        return
    number, expected, actual, text = bad[0]
    extra = [c for c in _cells(text, sep)[expected:]]
    more = f" ({len(bad)} rows so)" if len(bad) > 1 else ""
    raise InputError(
        f"{actual} cells where the header has {expected}{more}; GDAL "
        f"would drop the cells past the header's last column ({', '.join(map(repr, extra))}):"
        " a value holding the separator without quotes shifts the cells after it — quote "
        "it, or save the table from Excel again", path=str(path), row=number)


def check_quotes_closed(text: str | Path, separator: str, path: Path) -> None:
    """Refuse a text table that ends inside a quoted value, naming the row it opens in.

    A file cut short (a copy broken off, a file still being written) in a quoted WKT or 备注
    lost its last row without a word: GDAL, Arrow and Python's csv module all end the value
    at the end of the file and read the row as far as it goes (or drop it). Closed values
    hold their quotes in pairs, so only a text of an odd number of quotes is read again
    (``text``: the table's text, or its file, read as Latin-1: quotes, separators and line
    ends are the same bytes in UTF-8 and GBK/GB18030, whose multi-byte characters' bytes are
    all above 0x3f), by Python's csv module in strict mode: its end of data inside a quoted
    value is the one error that says so (a quote inside an unquoted value is a character,
    as for GDAL)."""
    if (text.count('"') if isinstance(text, str) else _quotes_in(text)) % 2 == 0:
        return
    row = _unclosed_quote_row(text, separator)
    if row is not None:
        raise InputError("a quoted value opened in this row never closes: the file ends "
                         "inside it (cut short, or a closing quote missing), and the row "
                         "would be read only as far as the file goes", path=str(path), row=row)


def _quotes_in(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            n += block.count(b'"')
    return n


def _unclosed_quote_row(text: str | Path, separator: str) -> int | None:
    """The row (a spreadsheet's number: the header row 1, a record over lines one, an empty
    line one) whose quoted value is still open at the end of ``text``; None if none is."""
    import csv
    import io

    fh = (io.StringIO(text, newline="") if isinstance(text, str)
          else open(text, encoding="latin-1", newline=""))
    records = 0
    try:
        with large_csv_fields(), fh:
            for _ in csv.reader(fh, delimiter=separator, strict=True):
                records += 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return records + 1
        # strict refuses a character after a closing quote ("a"b), which GDAL reads: the
        # rule walked by hand, as rare as such a file is
        whole = text if isinstance(text, str) else text.read_bytes().decode("latin-1")
        return _walk_quotes(whole, separator)
    return None


def _walk_quotes(text: str, separator: str) -> int | None:
    """:func:`_unclosed_quote_row` by the rule the readers split records by: a quote opens a
    value only at its start, ``""`` inside one is a quote, a quote closes it otherwise."""
    import re

    token = re.compile('"|' + re.escape(separator) + r"|\r\n|\n|\r")
    row, quoted, opened, field_start, skip = 1, False, 0, 0, -1
    for m in token.finditer(text):
        c, at = m.group(), m.start()
        if at == skip:  # the second quote of a "" inside a quoted value
            continue
        if quoted:
            if c == '"':
                if text.startswith('"', at + 1):
                    skip = at + 1
                else:
                    quoted = False
            continue
        if c == '"':
            if at == field_start:
                quoted, opened = True, row
        elif c == separator:
            field_start = m.end()
        else:
            row, field_start = row + 1, m.end()
    return opened if quoted else None


def _cells(text: str, separator: str) -> list[str]:
    import csv

    return next(csv.reader([text], delimiter=separator), [])


# -- rows GDAL skips ------------------------------------------------------------------------
def has_blank_lines(path: Path, chunk: int = 16 << 20) -> bool:
    """Whether a text table holds an empty line with a row after it (or one inside a quoted
    value: then :func:`blank_records` finds none): two line ends in a row other than a CRLF's
    two bytes (LF, CR, CRLF and mixed files). NumPy over 16 MB at a time (~0.06 s the
    115 MB CSV of a million footprints, as much as reading it; ``bytes.find`` of the pairs
    took 0.35 s); empty lines at the end of the file, after every row, are none."""
    import numpy as np

    carry = b""
    with open(path, "rb") as fh:
        while data := fh.read(chunk):
            buf = carry + data
            end = len(buf)  # what ends a chunk may be the end of the file: left to the next
            while end and buf[end - 1] in (10, 13):
                end -= 1
            a = np.frombuffer(buf, np.uint8, count=end)
            lf = a == 10
            cr = a == 13 if buf.find(b"\r", 0, end) != -1 else None
            ends = lf if cr is None else lf | cr
            pair = ends[:-1] & ends[1:]
            if pair.any():
                if cr is None:
                    return True
                at = np.flatnonzero(pair)
                if not np.all(cr[at] & lf[at + 1]):
                    return True
            # a run of line ends cut by the chunk: its last 3 bytes hold a pair if it has one
            carry = buf[end:][-3:]
    return False


def blank_records(path: Path, header_rows: int, separator: str) -> list[int] | None:
    """For each empty line GDAL's CSV driver skips, how many features it read before it,
    in order; None where there is none (or the file does not parse so).

    GDAL skips a record with no cell — an empty line (LF, CRLF or CR), not one of spaces or
    of separators only (",,": a feature of empty values); an empty line inside a quoted
    value is the value's — while a spreadsheet (Excel, WPS, LibreOffice) shows each empty
    line as a row, and a record whose quoted value spans lines as one row. The loaders
    number rows as a spreadsheet shows them, so each feature after such a line is numbered
    one row further (:func:`loaders.sources.read.iter_batches`). Python's csv module splits
    records as GDAL does (a quote opens a value only at its start, ``""`` inside it is
    one), ~1 s a million records: asked only of a file :func:`has_blank_lines` says holds
    one."""
    import csv

    skipped: list[int] = []
    features = -header_rows
    try:
        with large_csv_fields(), open(path, encoding="utf-8-sig", errors="replace",
                                   newline="") as fh:
            for record in csv.reader(fh, delimiter=separator):
                if record:
                    features += 1
                elif features < 0:
                    return None  # an empty first line: GDAL reads no header (nor fields)
                else:
                    skipped.append(features)
    except csv.Error:
        return None
    while skipped and skipped[-1] == features:  # after the last feature: no row shifted
        skipped.pop()
    return skipped or None


# -- GeoPackage numbers ---------------------------------------------------------------------
_INTEGER_TYPES = {"INTEGER", "INT", "MEDIUMINT", "SMALLINT", "TINYINT", "BOOLEAN"}
_REAL_TYPES = {"REAL", "FLOAT", "DOUBLE"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_gpkg_numbers(path: Path, table: str, read_path: Path | None = None) -> None:
    """Refuse a GeoPackage whose number columns hold what GDAL would read as another number
    (:func:`_scan_gpkg_numbers`; the one :func:`start_gpkg_numbers` began, if it did); a
    check SQLite cannot run is a warning."""
    started = _claim(path, table, read_path)
    if started is not None:
        return started()
    unchecked = _scan_gpkg_numbers(path, table, read_path)
    if unchecked is not None:
        import warnings

        warnings.warn(unchecked, RuntimeWarning, stacklevel=2)


def gpkg_numbers_ahead(path: Path, table: str, read_path: Path | None = None
                       ) -> Callable[[], None]:
    """:func:`check_gpkg_numbers` on a thread of its own; the callable waits for it and
    raises its refusal (or warns) then. The check :func:`start_gpkg_numbers` began for the
    same table of the same file is taken; one begun for another is waited for first.

    The scan costs ~0.3 s of a million-row file's load (SQLite releases the GIL): a large
    load asks it while it imports its modules (``start_gpkg_numbers``) or opens its
    transaction, takes its lock and reads its first rows, and waits for it before it forks
    its converters (a fork while the thread held SQLite's mutex would leave a converter
    waiting for it for ever) — a refusal then rolls the load back as any other bad row
    does."""
    return _claim(path, table, read_path) or _Ahead(path, table, read_path)


def _claim(path: Path, table: str, read_path: Path | None) -> _Ahead | None:
    """The check :func:`start_gpkg_numbers` began of this table of this file, if any; any
    other it began is waited for (another table's, or the file changed since)."""
    key = file_identity([path], table) if read_path is None else None
    return _STARTED.take(key, _Ahead.ignore)


def start_gpkg_numbers(path: Path, table: str | None) -> None:
    """Begin the number check of ``table`` of the GeoPackage ``path`` now, while a load
    command imports its modules (half a second with a core idle), for
    :func:`gpkg_numbers_ahead` to take. Without ``table`` (no ``--layer``), that of its only
    feature table; nothing for another file, or one of several feature tables (which one is
    read is the reader's to decide)."""
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        return
    if table is None:
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(sqlite_read_uri(path), uri=True)) as db:
                names = [r[0] for r in db.execute(
                    "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")]
        except sqlite3.Error:
            return  # the reader says what is wrong with it
        if len(names) != 1:
            return
        table = names[0]
    _STARTED.begin(file_identity([path], table), lambda: _Ahead(path, table, None))


def sqlite_read_uri(path: Path) -> str:
    """The URI SQLite reads a delivered GeoPackage by without writing beside it: immutable
    (nothing to lock or journal: SQLite of a WAL-mode file opened read-only otherwise made
    its -wal and -shm in the delivery's folder): its settled copy when a -wal or -journal
    lies beside it (:func:`loaders.sources.gpkg_state.settled_gpkg`), as GDAL reads it."""
    from loaders.sources.gpkg_state import settled_gpkg

    return settled_gpkg(path).resolve().as_uri() + "?mode=ro&immutable=1"


# checks begun by start_gpkg_numbers, by the file's identity and the table
_STARTED = Begun()


class _Ahead:
    """One number check running on its thread; called, waits for it and says its outcome."""

    def __init__(self, path: Path, table: str, read_path: Path | None) -> None:
        self._outcome: BaseException | str | None = None
        self._thread = threading.Thread(target=self._run, args=(path, table, read_path),
                                        name="cim-gpkg-numbers", daemon=True)
        self._thread.start()

    def _run(self, path: Path, table: str, read_path: Path | None) -> None:
        try:
            self._outcome = _scan_gpkg_numbers(path, table, read_path)
        except BaseException as exc:  # noqa: BLE001 - raised where the load waits for it
            self._outcome = exc

    def ignore(self) -> None:
        """Wait for it, its outcome unsaid (before anything forks: see above)."""
        self._thread.join()

    def __call__(self) -> None:
        self._thread.join()
        got, self._outcome = self._outcome, None
        if isinstance(got, BaseException):
            raise got
        if got is not None:
            import warnings

            warnings.warn(got, RuntimeWarning, stacklevel=2)


def _scan_gpkg_numbers(path: Path, table: str, read_path: Path | None = None) -> str | None:
    """Refuse a GeoPackage whose number columns hold what GDAL would read as another number;
    a warning's text if SQLite cannot check them.

    SQLite keeps any value in any column: text ('abc', a blank '') or a blob in an INTEGER or
    REAL column, a fraction in an INTEGER one. GDAL reads the first two as 0 and cuts the
    fraction, without a warning: 'abc' floors loaded as 0, a height of 'x1' as 0 m. One
    scan of the table answers for all its number columns (SQLite's typeof, stopping at the
    first such value: 0.3 s for the survey's four on a million rows, the file in the page
    cache; mapping it into memory made no difference, alternated); each column's first such
    value is named with its row, numbered in the table's rowid order, as the loaders number
    a GeoPackage's rows.
    """
    import sqlite3

    src = Path(read_path or path)
    uri = sqlite_read_uri(src) if read_path is None else src.resolve().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            kind = db.execute("SELECT type FROM sqlite_master WHERE name = ?",
                              (table,)).fetchone()
            if kind is None or kind[0] != "table":
                return None  # a view, or a layer GDAL names otherwise: nothing to ask
            checks: list[tuple[str, str]] = []
            for _cid, name, decl, _notnull, _default, pk in db.execute(
                    f"PRAGMA table_info({_quoted(table)})"):
                decl = str(decl or "").upper().split("(")[0].strip()
                if pk:
                    continue
                if decl in _INTEGER_TYPES:
                    checks.append((name, f"typeof({_quoted(name)}) NOT IN ('integer', 'null')"))
                elif decl in _REAL_TYPES:
                    checks.append((name, f"typeof({_quoted(name)}) IN ('text', 'blob')"))
            if not checks:
                return None
            t = _quoted(table)
            first = db.execute(f"SELECT rowid FROM {t} WHERE "
                               + " OR ".join(f"({c})" for _n, c in checks) + " LIMIT 1"
                               ).fetchone()
            if first is None:
                return None
            # a refusal only: a scan per column, to say how many rows each holds
            bad = []
            for name, cond in checks:
                count, rowid = db.execute(f"SELECT count(*), min(rowid) FROM {t} WHERE {cond}"
                                          ).fetchone()
                if count:
                    bad.append((name, count, rowid))
            bad.sort(key=lambda b: b[2])
            name, count, rowid = bad[0]
            value, kind_of = db.execute(
                f"SELECT {_quoted(name)}, typeof({_quoted(name)}) FROM {t} WHERE rowid = ?",
                (rowid,)).fetchone()
            rows = [db.execute(f"SELECT count(*) FROM {t} WHERE rowid <= ?",
                               (r,)).fetchone()[0] for _n, _c, r in bad]
    except sqlite3.Error as exc:
        # not SQLite as expected (GDAL says what it can of it), or not readable here: said,
        # since the number columns then go unchecked
        return (f"its number columns could not be checked for text GDAL would read as 0 "
                f"({exc})")
    decl_of = {n: ("INTEGER" if "NOT IN" in c else "REAL") for n, c in checks}
    if kind_of == "blob":
        shown = f"binary data ({len(value)} bytes)"
    elif kind_of == "real":
        shown = f"the fraction {value!r}"
    else:
        shown = f"the text {value!r}"
    row = rows[0]
    others = [f"{n} (row {r:,}" + (f" and {c - 1:,} more" if c > 1 else "") + ")"
              for (n, c, _rowid), r in zip(bad[1:], rows[1:], strict=True)]
    raise InputError(
        f"the {decl_of[name]} column {name!r} of layer {table!r} holds {shown} in row {row:,}"
        + (f" and {count - 1:,} other row{'s' if count != 2 else ''}" if count > 1 else "")
        + (f"; so do {', '.join(others)}" if others else "")
        + ": GDAL would load another number in its place without a word (0 for a text, "
        "the whole part of a fraction) — give each a number, or leave it empty (NULL)",
        path=str(path), row=row, field=name)
