"""How a text table's features are numbered as rows: as a spreadsheet shows them (the header
row 1, each empty line a row), not as GDAL counts its features (it skips empty lines), so
that a reject's "row 6" is the line a surveyor finds on row 6."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loaders.sources.precheck import TEXT_TABLE_SUFFIXES


def header_rows(driver: str, fields: list[str]) -> int:
    """1 for a text table whose first line GDAL took as its header (else it names its
    fields field_1, field_2 …), so that its rows are numbered as a spreadsheet shows them,
    as every survey table's are; 0 for any other format (features counted from 1)."""
    if driver != "CSV":
        return 0
    auto = [f"field_{i + 1}" for i in range(len(fields))]
    return 0 if fields and [f.lower() for f in fields] == auto else 1


def blank_rows(read_path: Path, header_rows: int) -> np.ndarray | None:
    """The empty lines of the text table GDAL reads (the UTF-8 copy of an --encoding GBK
    one, the copy of a zipped one: the same lines), each as the number of features before
    it, for :func:`loaders.sources.read.iter_batches` to number every feature after it as a
    spreadsheet does: GDAL skips an empty line, Excel
    and WPS show it as a row, and a reject "row 5" of what a surveyor finds on row 6 sends
    them to the wrong line. A table without one costs a pass of NumPy over its bytes
    (:func:`loaders.sources.table_checks.has_blank_lines`, ~0.06 s a 115 MB table); only
    one with one is parsed (:func:`loaders.sources.table_checks.blank_records`). A quoted
    value over several lines is one row, as Excel shows it (and GDAL reads it)."""
    from loaders.sources.table_checks import blank_records, csv_separator, has_blank_lines

    path = Path(read_path)
    if path.suffix.lower() not in TEXT_TABLE_SUFFIXES:  # a zip GDAL reads in place: its
        return None  # bytes are compressed (a zipped table is read from a copy: zipped_table)
    if not path.is_file() or not has_blank_lines(path):
        return None
    found = blank_records(path, header_rows, csv_separator(path))
    return None if found is None else np.asarray(found, dtype=np.int64)


def rows_of(blank: np.ndarray, header_rows: int, first_row: int, start: int, n: int
            ) -> np.ndarray:
    """The row numbers of features ``start`` … ``start + n - 1`` (0-based, as GDAL reads
    them) of a text table with empty lines (``blank``: :func:`blank_rows`): each one further
    for every empty line before it."""
    k = np.arange(start, start + n, dtype=np.int64)
    return first_row + header_rows + k + np.searchsorted(blank, k, side="right")


def next_row(blank: np.ndarray | None, header_rows: int, first_row: int, k: int, row: int
             ) -> int:
    """The row of feature ``k`` (0-based), the next batch's first (GDAL's error reading it
    names it): ``row`` unless empty lines come before it (``blank``)."""
    return row if blank is None else int(rows_of(blank, header_rows, first_row, k, 1)[0])
