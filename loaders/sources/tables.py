"""Survey result tables (成果表) as surveyors deliver them: Excel, old Excel, CSV, DBF, GeoPackage.

A *table* is one sheet of a workbook, one CSV file, one DBF or one layer of a GeoPackage. The
reader finds the header row (a title row above it, as in 《管线点成果表》, is skipped), joins
two-row headers (埋深 over 起点/终点, 坐标 over X/Y, merged cells or not), keeps every data row
with the row number a person sees in the file (Excel row, a CSV record as a spreadsheet
opening it shows it, feature number), and leaves the values as they are (numbers stay
numbers, text stays text): parsing is the loader's job.

Headers are matched to attributes through ``cim/dictionaries/field_aliases.yaml``; a mapping
file given with ``--mapping`` overrides the aliases (:func:`read_mapping`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.errors import ConfigError, InputError
from cim.text import decode_text, norm_key, norm_name
from loaders.field_names import export_fields, load_mapping_yaml, match_fields
from loaders.sources.excel import xls_grids, xlsx_grids
from loaders.sources.precheck import check_xml_safety, column_letters
from loaders.sources.table_checks import check_quotes_closed, large_csv_fields

EXCEL = {".xlsx", ".xlsm"}
OLD_EXCEL = {".xls"}
CSV = {".csv", ".txt", ".tsv"}
DBF = {".dbf"}
GDAL_TABLES = {".gpkg", ".sqlite"}
TABLE_SUFFIXES = EXCEL | OLD_EXCEL | CSV | DBF | GDAL_TABLES
HEADER_SCAN_ROWS = 15



def norm_header(name: Any) -> str:
    """A header as it is compared with the aliases (:func:`cim.text.norm_name`): no spaces,
    separators or full width, no trailing unit in brackets (起点埋深(m) → 起点埋深), × written
    as x, case-folded."""
    return norm_name(name)


@dataclass
class Table:
    path: Path
    sheet: str | None  # sheet of a workbook or layer of a GeoPackage
    headers: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]  # the row as a person finds it in the file
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    # a GIS layer's geometry type (its geometries are not read: survey tables carry X/Y)
    geometry_type: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.sheet}" if self.sheet else self.path.name

    def column(self, header: str) -> list[Any]:
        j = self.headers.index(header)
        return [r[j] if j < len(r) else None for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


# -- mapping of headers to attributes -----------------------------------------------------
def match_headers(headers: list[str], aliases: dict[str, list[str]],
                  override: dict[str, str] | None = None, *, table: str = "",
                  strict: bool = False) -> dict[str, str]:
    """{attribute: header} for the attributes found in ``headers``: the loaders' one matcher
    (:func:`loaders.field_names.match_fields`; with ``strict`` an override naming a header that the
    table lacks is an error naming the table and the header)."""
    return match_fields(headers, aliases, override, strict=strict, exclusive=True,
                        where=table or None)


def known_header_names(aliases: dict[str, dict[str, list[str]]], sections: Iterable[str]
                       ) -> set[str]:
    return {norm_header(n) for s in sections for names in (aliases.get(s) or {}).values()
            for n in names}


@dataclass
class Mapping:
    """A ``--mapping`` file: columns per table kind, default values and value translations.

    ```yaml
    points:   {point_no: 测点编号, x: 北坐标, y: 东坐标}   # survey point tables
    segments: {start_no: 上游点号, end_no: 下游点号}        # survey segment tables
    lines:    {source_id: id, start_no: node_a, end_no: node_b, size: dn}   # GIS line layer
    nodes:    {point_no: id, feature: node_type}          # GIS point layer (nodes)
    valves:   {point_no: id, segment_id: pipe_id}         # GIS appurtenances
    class: 给水                                           # default class of the delivery
    defaults: {valves: {appurtenance: 阀门}}               # where a row's value is blank
    values:   {feature: {T: 三通}, status: {in use: 在用}} # source value → dictionary value
    ```
    Attributes outside a section (``x: 北坐标``) apply to any table that has the column.
    """

    sections: dict[str, dict[str, str]] = field(default_factory=dict)  # kind → attr → header
    flat: dict[str, str] = field(default_factory=dict)  # attr → header, any table
    defaults: dict[str, str] = field(default_factory=dict)  # used where a value is blank
    section_defaults: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    path: str | None = None

    def for_kind(self, kind: str) -> tuple[dict[str, str], bool]:
        """(override, strict) for a table of ``kind``."""
        if kind in self.sections:
            return self.sections[kind], True
        return self.flat, False

    def default(self, kind: str, attr: str) -> str | None:
        return self.section_defaults.get(kind, {}).get(attr, self.defaults.get(attr))

    def value(self, kind: str, attr: str, raw: Any) -> Any:
        """A row's value after translation, or the default where it is blank."""
        from loaders.fields import is_blank

        v = self.translate(attr, raw)
        return self.default(kind, attr) if is_blank(v) else v

    def translate(self, attr: str, value: Any) -> Any:
        table = self.values.get(attr)
        if not table or value is None:
            return value
        key = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            key = str(int(value))
        if key in table:
            return table[key]
        # else as every dictionary look-up: spaces, full width and case do not matter
        wanted = norm_key(key)
        return next((v for k, v in table.items() if norm_key(k) == wanted), value)


MAPPING_SECTIONS = ("points", "segments", "lines", "nodes", "valves", "components")


def read_mapping(path: str | Path | None) -> Mapping:
    if path is None:
        return Mapping()
    data = load_mapping_yaml(path, "attribute: column (optionally in sections "
                                   f"{', '.join(MAPPING_SECTIONS)})")
    m = Mapping(path=str(path))
    for k, v in data.items():
        k = str(k)
        if k in MAPPING_SECTIONS:
            if not isinstance(v, dict):
                raise ConfigError(f"section {k!r} must map attribute: column", path=str(path))
            m.sections[k] = {str(a): "" if h is None else str(h) for a, h in v.items()}
        elif k == "values":
            if not isinstance(v, dict) or not all(isinstance(t, dict) for t in v.values()):
                raise ConfigError("'values' must map attribute: {source value: value}",
                                  path=str(path))
            m.values = {str(a): {str(s): str(t) for s, t in tab.items()} for a, tab in v.items()}
        elif k == "defaults":
            if not isinstance(v, dict):
                raise ConfigError("'defaults' must map attribute: value", path=str(path))
            for a, c in v.items():
                if isinstance(c, dict):  # defaults of one section: {valves: {appurtenance: 阀门}}
                    m.section_defaults[str(a)] = {str(x): str(y) for x, y in c.items()}
                else:
                    m.defaults[str(a)] = str(c)
        elif k == "class":
            m.defaults["class"] = str(v)
        elif isinstance(v, (dict, list)):
            raise ConfigError(f"unknown mapping section {k!r}; sections are "
                              f"{', '.join(MAPPING_SECTIONS)}, values, defaults", path=str(path))
        else:
            m.flat[k] = "" if v is None else str(v)
    return m


# -- reading -------------------------------------------------------------------------------
def table_files(paths: Iterable[str | Path]) -> list[Path]:
    """The table files named, with directories expanded (sorted, one level)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError("file not found", path=str(p))
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file()
                           and q.suffix.lower() in TABLE_SUFFIXES and not q.name.startswith("~$"))
            if not found:
                raise InputError("the directory holds no survey table (.xlsx .xls .csv .dbf "
                                 ".gpkg)", path=str(p))
            out += found
        else:
            out.append(p)
    return out


def _unique_names(headers: list[str | None]) -> list[str]:
    """One name a column: a repeated header gets ``_2``, ``_3`` …, a blank one ``column_N``,
    never a name another column of the table is delivered with (``X, X, X_2`` gave two
    ``X_2`` once, and a row's attributes kept one of their values only)."""
    delivered = {h for h in headers if h}
    used: set[str] = set()
    final = []
    for j, h in enumerate(headers):
        name = base = h or f"column_{j + 1}"
        if name in used or (not h and name in delivered):
            k = 2
            while f"{base}_{k}" in used or f"{base}_{k}" in delivered:
                k += 1
            name = f"{base}_{k}"
        used.add(name)
        final.append(name)
    return final


def read_tables(path: str | Path, known: set[str] | None = None,
                encoding: str | None = None) -> list[Table]:
    """Every table of a file; ``known`` are normalised header names that find the header row."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.is_dir():
        raise InputError("is a directory; give the table file", path=str(path))
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path=str(path))
    suffix = path.suffix.lower()
    known = known or set()
    check_xml_safety(path)  # an .xlsx is zipped XML: no DOCTYPE reaches openpyxl
    # each reader turns the errors that mean a damaged file into InputError; anything else
    # is a bug and keeps its traceback
    if suffix in EXCEL or suffix in OLD_EXCEL:
        hidden: list[str] = []
        tables = _tables_of(path, (xlsx_grids if suffix in EXCEL else xls_grids)(
            path, hidden), known)
        if hidden:
            note = (f"{path.name}: hidden sheet{'s' if len(hidden) > 1 else ''} "
                    f"{', '.join(hidden)} not read (Excel does not show "
                    f"{'them' if len(hidden) > 1 else 'it'}: unhide a sheet to load it)")
            if not tables:  # nothing visible to read: the hidden data is not lost unsaid
                raise InputError(f"no table in the workbook's visible sheets; {note}",
                                 path=str(path))
            for t in tables:  # each table's (a loader reports the one it reads)
                t.notes.append(note)
        return tables
    if suffix in CSV:
        return [_read_csv(path, known, encoding)]
    if suffix in DBF | GDAL_TABLES or suffix == ".shp":
        return _read_gdal(path, encoding)
    raise InputError(f"unknown table format {suffix!r}; use .xlsx, .xls, .csv, .dbf or .gpkg",
                     path=str(path))


def without_columns(t: Table, drop: Iterable[str]) -> Table:
    """``t`` without the columns ``drop`` (their values too)."""
    drop = set(drop)
    keep = [j for j, h in enumerate(t.headers) if h not in drop]
    return Table(path=t.path, sheet=t.sheet, headers=[t.headers[j] for j in keep],
                 rows=[[r[j] if j < len(r) else None for j in keep] for r in t.rows],
                 row_numbers=t.row_numbers, encoding=t.encoding, notes=list(t.notes),
                 geometry_type=t.geometry_type)


def export_columns(t: Table) -> list[str]:
    """A rejects export's own columns in ``t`` (``cim rejects --export``: cim_row …
    cim_dataset, and the point it wrote after the delivered columns, ``wkt`` under the
    export's prefix or none — a GeoPackage's is its geometry, not a column), else none."""
    exported = list(export_fields([str(h) for h in t.headers]))
    if not exported:
        return []
    prefix = re.match(r"_*cim_", exported[0], re.IGNORECASE).group(0).lower()
    last = str(t.headers[-1]) if t.headers else ""
    return exported + ([last] if last.lower() in ("wkt", prefix + "wkt") else [])


def without_export(t: Table) -> Table:
    """``t`` as delivered when it is a fixed rejects export loaded again: the export's own
    columns (:func:`export_columns`) are no attributes of the features (a survey point
    reloaded so kept cim_row … in its attrs), said in the table's notes."""
    drop = export_columns(t)
    if not drop:
        return t
    out = without_columns(t, drop)
    out.notes.append(f"{t.name}: a rejects export loaded again: its columns "
                     f"{', '.join(drop)} are not read as attributes")
    return out


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def _clean(v: Any) -> Any:
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def _grid_to_table(path: Path, sheet: str | None, grid: list[list[Any]],
                   merged: list[tuple[int, int, int, int]], known: set[str],
                   first_row_number: int = 1, encoding: str | None = None, *,
                   clean: bool = False) -> Table | None:
    """Find the header in a grid of cell values (rows of a sheet/CSV) and build a table.

    ``merged`` are merged ranges (row0, col0, row1, col1), 0-based inclusive; their value sits
    in the top-left cell and is spread over the range for the header. ``clean``: every cell
    is already a stripped, non-empty text or None (a CSV), and the rows are the caller's to
    keep: they are padded in place and kept as the table's rows, not cleaned cell by cell.
    """
    if not any(any(not _blank(c) for c in r) for r in grid):
        return None
    width = max(len(r) for r in grid)
    lengths = [len(r) for r in grid] if clean else None  # a CSV's cells a line, as delivered
    if clean:
        for r in grid:
            if len(r) < width:
                r.extend([None] * (width - len(r)))
    else:
        grid = [list(r) + [None] * (width - len(r)) for r in grid]
    head = [list(r) for r in grid[:HEADER_SCAN_ROWS + 1]]
    for r0, c0, r1, c1 in merged:
        if r0 >= len(head):
            continue
        v = head[r0][c0]
        for r in range(r0, min(r1, len(head) - 1) + 1):
            for c in range(c0, min(c1, width - 1) + 1):
                head[r][c] = v

    def score(row: list[Any]) -> int:
        return sum(1 for c in row if not _blank(c) and norm_header(c) in known)

    def two_row(i: int) -> list[str | None] | None:
        """Row i over row i+1 as one header (埋深 over 起点/终点), if row i+1 is all text."""
        if i + 1 >= len(head):
            return None
        top, below = head[i], head[i + 1]
        if not any(not _blank(c) for c in below) or any(
                not _blank(c) and (not isinstance(c, str) or _numberlike(c)) for c in below):
            return None
        filled, last = [], None
        for j, c in enumerate(top):  # a blank above a sub-header continues the group
            if not _blank(c):
                last = c
            filled.append(c if not _blank(c) else (last if not _blank(below[j]) else None))
        return [_combine(t, b, known) for t, b in zip(filled, below)]

    # the header is the row (or pair of rows) naming the most known columns; ties: the first
    best, best_score, headers = None, 1, None
    singles = [[None if _blank(c) else str(c).strip() for c in r] for r in head]
    for i in range(min(HEADER_SCAN_ROWS, len(head))):
        for cand, rows_used in ((singles[i], 1), (two_row(i), 2)):
            if cand is None:
                continue
            sc = score(cand)
            if rows_used == 2 and sc <= score(singles[i + 1]) and _title(
                    singles[i], singles[i + 1], cand, known):
                # one text over the header that names as many alone: a title merged across
                # it (2026年网格人口统计表 over 网格编码 … 备注), no group — it named 备注 anew
                continue
            if sc > best_score:
                best, best_score, headers, skip = i, sc, cand, i + rows_used
    if best is None:  # nothing known: the first non-blank row names the columns
        best = next(i for i, r in enumerate(grid) if any(not _blank(c) for c in r))
        headers = [None if _blank(c) else str(c).strip() for c in grid[best]]
        skip = best + 1
    final = _unique_names(headers)
    if lengths is not None:
        _no_cells_past_the_header(path, grid, lengths, best, skip, first_row_number)
    notes = _spread_down(grid, merged, skip, first_row_number)
    rows, numbers = [], []
    if clean:  # a row of None only is blank (any text cell is non-empty)
        for i in range(skip, len(grid)):
            if any(grid[i]):
                rows.append(grid[i])
                numbers.append(first_row_number + i)
    else:
        for i in range(skip, len(grid)):
            r = [_clean(c) for c in grid[i]]
            if all(_blank(c) for c in r):
                continue
            rows.append(r)
            numbers.append(first_row_number + i)
    final, rows = _without_empty_unnamed(headers, final, rows)
    return Table(path=path, sheet=sheet, headers=final, rows=rows, row_numbers=numbers,
                 encoding=encoding, notes=notes)


def _title(top: list[str | None], below: list[str | None], combined: list[str | None],
           known: set[str]) -> bool:
    """Whether the row over a header is a title: one text, which makes no column's name a
    known one with the name below it — a group does (埋深 over 起点/终点: 起点埋深), wherever
    it stands; a title merged across the table, or typed in any one cell, does not."""
    if len({c for c in top if c}) != 1:
        return False
    return not any(c and c != b and norm_header(c) in known
                   for c, b in zip(combined, below))


def _without_empty_unnamed(headers: list[str | None], final: list[str],
                           rows: list[list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """The table without its columns of no header and no value: a trailing separator of a
    CSV's lines, a formatted empty cell beside an Excel table. Each was kept as
    ``column_N: null`` in the features' attrs — and a delivery saved without it (or with one
    more) then gave every feature a new version. A column with a value anywhere stays."""
    drop = [j for j, h in enumerate(headers) if _blank(h)
            and all(j >= len(r) or _blank(r[j]) for r in rows)]
    if not drop:
        return final, rows
    keep = [j for j in range(len(final)) if j not in set(drop)]
    return [final[j] for j in keep], [[r[j] if j < len(r) else None for j in keep]
                                      for r in rows]


def _no_cells_past_the_header(path: Path, grid: list[list[Any]], lengths: list[int],
                              best: int, skip: int, first_row_number: int) -> None:
    """A CSV row with a value past the header's last column is refused, naming it: its
    cells are shifted (an unquoted comma in 权属单位 "济宁水务集团,二分公司" put 二分公司 into 备注
    and 备注 into a column of its own, loaded without a word)."""
    head = max(lengths[best:skip])
    bad = [i for i in range(skip, len(grid)) if lengths[i] > head
           and any(c is not None for c in grid[i][head:lengths[i]])]
    if bad:
        i = bad[0]
        more = f" ({len(bad)} rows so)" if len(bad) > 1 else ""
        raise InputError(f"{lengths[i]} cells where the header has {head}{more}: a value "
                         "holding the separator without quotes shifts the cells after it — "
                         "quote it, or save the table from Excel again",
                         path=str(path), row=first_row_number + i)


def _spread_down(grid: list[list[Any]], merged: list[tuple[int, int, int, int]], skip: int,
                 first_row_number: int) -> list[str]:
    """A cell merged down over data rows (材质 PE over four segments) holds the value of each
    row it covers, as the surveyor who merged it meant: a workbook keeps it in the top cell
    only, and the rows below would load without it. Spread down its first column (a merge
    across columns keeps its value in the first: the others are not that field). Notes for
    the report, naming the cells."""
    spread = []
    for r0, c0, r1, _c1 in merged:
        if r0 < skip or r1 <= r0 or r0 >= len(grid):
            continue  # a header's merge, or a merge within one row
        v = grid[r0][c0]
        if _blank(v):
            continue
        for r in range(r0 + 1, min(r1, len(grid) - 1) + 1):
            grid[r][c0] = v
        spread.append(f"{column_letters(c0)}{first_row_number + r0}:{column_letters(c0)}"
                      f"{first_row_number + min(r1, len(grid) - 1)}")
    if not spread:
        return []
    return [f"merged cells spread over the rows they cover: {', '.join(spread)}"]


def _numberlike(s: str) -> bool:
    try:
        float(str(s).replace(",", ""))
        return True
    except ValueError:
        return False


def _combine(top: Any, bottom: Any, known: set[str]) -> str | None:
    t = None if _blank(top) else str(top).strip()
    b = None if _blank(bottom) else str(bottom).strip()
    if t and b and t != b:
        for cand in (b + t, t + b, b):
            if norm_header(cand) in known:
                return cand
        return t + b
    return b or t


def _tables_of(path: Path, sheets: list, known: set[str]) -> list[Table]:
    """The tables found in a workbook's sheets (a sheet of no table left out)."""
    tables = (_grid_to_table(path, title, grid, merged, known) for title, grid, merged in sheets)
    return [t for t in tables if t is not None]


SEPARATORS = (",", "\t", ";", "|")


def guess_separator(text: str, records: int = 50) -> str:
    """The separator of a text table: of :data:`SEPARATORS`, the one that splits most of its
    first ``records`` records into the same number of cells (two or more), records parsed
    as the reader parses them (quotes, a cell over lines); a comma when none does.

    Python's ``csv.Sniffer`` looked at lines, not records: a tab- or semicolon-separated
    table saved with CRLF line ends, or with a note over two lines (Alt+Enter in Excel),
    was taken as comma-separated — one column — and its table skipped as no survey table."""
    sample = text[:1 << 16]
    if len(text) > len(sample):
        sample = sample[:sample.rfind("\n") + 1] or sample
    best, score = ",", 0
    for sep in SEPARATORS:
        counts: dict[int, int] = {}
        try:
            for k, rec in enumerate(csv.reader(io.StringIO(sample, newline=""),
                                               delimiter=sep)):
                if k >= records:
                    break
                if any(c.strip() for c in rec):
                    counts[len(rec)] = counts.get(len(rec), 0) + 1
        except csv.Error:
            continue
        usual = max((n for n in counts if n > 1), key=lambda n: (counts[n], n), default=None)
        if usual is not None and counts[usual] > score:
            best, score = sep, counts[usual]
    return best


def _read_csv(path: Path, known: set[str], encoding: str | None) -> Table:
    text, enc = decode_text(path.read_bytes(), path, encoding)
    delim = "\t" if path.suffix.lower() == ".tsv" else guess_separator(text)
    check_quotes_closed(text, delim, path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    # a record is numbered as a spreadsheet shows it: its place among the records (a blank
    # line is one, an empty row), not the line it starts on — a quoted cell over two lines
    # is one row, and every rejected row after it was named one row too far
    grid = []
    try:
        with large_csv_fields():  # a long 备注 or a WKT cell (Python's limit: 128 KiB)
            for rec in reader:
                grid.append([c.strip() or None for c in rec])
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=str(path), row=len(grid) + 1) from exc
    t = _grid_to_table(path, None, grid, [], known, encoding=enc, clean=True)
    if t is None:
        raise InputError("the CSV file has no rows", path=str(path))
    t.notes.append(f"{path.name}: encoding {enc}, delimiter {delim!r}")
    return t


def _read_gdal(path: Path, encoding: str | None) -> list[Table]:
    import pyogrio

    from loaders.sources.dbf import detect_dbf_encoding
    from loaders.sources.read import GDAL_INPUT_ERRORS, gdal_source, list_layers

    notes = []
    dbf = path
    if path.suffix.lower() == ".shp":
        dbf = next((q for q in (path.with_suffix(".dbf"), path.with_suffix(".DBF"))
                    if q.exists()), path.with_suffix(".dbf"))
    if dbf.suffix.lower() == ".dbf" and dbf.exists():  # --encoding checked against the bytes
        encoding, why = detect_dbf_encoding(dbf, encoding)
        if encoding:
            notes.append(f"{path.name}: attribute encoding {encoding} ({why})")
    read_path, opts = gdal_source(path)  # nothing is written beside the delivery
    try:
        listed = list_layers(read_path, opts)
        layers = [name for name, _ in listed]
        kinds = dict(listed)
        if path.suffix.lower() == ".gpkg":
            # a text in an INTEGER/REAL column GDAL reads as 0 without a word: a device's
            # X of 'x' at 0, a pipe's depth as 0 m (the same check as a layer's reader)
            from loaders.sources.table_checks import check_gpkg_numbers

            for layer in layers:
                check_gpkg_numbers(path, layer)
        frames = [(layer, pyogrio.read_dataframe(read_path, layer=layer, read_geometry=False,
                                                 encoding=encoding, **opts))
                  for layer in layers]
    except UnicodeDecodeError as exc:  # pyogrio decodes names and values in Python
        raise InputError(f"its text is not {encoding or 'UTF-8'} ({exc}): give its encoding "
                         "with --encoding", path=str(path)) from exc
    except GDAL_INPUT_ERRORS as exc:
        raise InputError(f"GDAL cannot read it: {exc}", path=str(path)) from exc
    out = []
    for layer, df in frames:
        rows = [[_clean(_py(v)) for v in rec] for rec in df.itertuples(index=False, name=None)]
        sheet = layer if len(layers) > 1 or path.suffix.lower() in GDAL_TABLES else None
        out.append(Table(path=path, sheet=sheet, headers=[str(c) for c in df.columns],
                         rows=rows, row_numbers=list(range(1, len(rows) + 1)),
                         encoding=encoding, notes=list(notes),
                         geometry_type=kinds.get(layer) or None))
    return out


def _py(v: Any) -> Any:
    """A plain Python value of a pandas/numpy cell (NaN → None, Timestamp → datetime)."""
    import math

    import numpy as np

    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    return v
