"""A city's CSV dictionaries (building uses, pipe classes, thresholds …): read as a Chinese
spreadsheet saves them (GBK, or UTF-8 with a BOM), each row checked against its header, and a
city's copy checked to keep the platform's key column — every refusal naming the file, the row
or the column."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from cim.errors import ConfigError, InputError
from cim.text import decode_text, norm_key

DICTIONARY_DIR = Path(__file__).resolve().parent / "dictionaries"


class MissingColumn(ConfigError, KeyError):
    """A column a reader needs that a city's copy of a dictionary lacks (a KeyError too, so
    that a reader falling back on a missing column still does)."""

    __str__ = Exception.__str__  # the message, not KeyError's quoted repr


class DictionaryRow(dict):
    """A CSV dictionary's row: a reader asking for a column the file has not (a city's copy
    made without the platform's ``letters`` of pipe_classes.csv) gets a configuration error
    naming the file and the column — it was a bare KeyError, an internal error, at whatever
    row of whatever load first met it. ``row.get`` keeps its default."""

    def __init__(self, path: Path, values: dict[str, str], row: int | None = None) -> None:
        super().__init__(values)
        self.path = str(path)
        self.row = row  # its line in the file (the header is line 1)

    def __missing__(self, key: str) -> str:
        raise MissingColumn(f"the dictionary has no column {key!r} (its columns: "
                            f"{', '.join(map(str, self)) or 'none'}); the platform's copy in "
                            f"{DICTIONARY_DIR} names the columns to keep", path=self.path)

    def __reduce__(self):  # pickled for a converter process: the path goes along
        return (DictionaryRow, (Path(self.path), dict(self), self.row))


def read_csv_dictionary(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV dictionary (:class:`DictionaryRow`). A city's copy saved by a Chinese
    spreadsheet is GBK, or UTF-8 with a BOM: read as the delivered tables are
    (:func:`cim.text.decode_text`) — it was a raw UnicodeDecodeError (an internal error) for a
    GBK copy."""
    rows = []
    for n, row in enumerate(csv.DictReader(io.StringIO(_dictionary_text(path), newline="")),
                            start=2):
        if None in row:  # an unquoted comma in a value: the row runs past the header
            raise ConfigError(f"the row has {len(row) - 1 + len(row[None])} fields, its header "
                              f"{len(row) - 1} (a value holding a comma must be in quotes)",
                              path=str(path), row=n)
        if any(v is None for v in row.values()):  # a field left out: the others shifted left
            given = sum(v is not None for v in row.values())
            raise ConfigError(f"the row has {given} fields, its header {len(row)}: a field "
                              "left out moves the ones after it into the wrong columns (leave "
                              "it empty between its commas instead)", path=str(path), row=n)
        rows.append(DictionaryRow(path, {k: (v or "").strip() for k, v in row.items()}, n))
    return rows


def index_rows(rows: Iterable[dict[str, str]], columns: Iterable[str],
               split: Iterable[str] = (), secondary: Iterable[str] = ()
               ) -> dict[str, dict[str, str]]:
    """The rows by each key a value is looked up by (:func:`cim.text.norm_key` of its
    ``columns`` — a code, a name —, of its ``secondary`` columns — an English name — and of
    each ``|``-separated item of its ``split`` columns — aliases, another code system).

    A code or name naming two rows is refused, naming both, and so is an alias (or English
    name) that is another row's code or name: a city's copy repeating a code, or giving one
    row an alias that is another's name, had every value of it read as the first row, without
    a word (the second row's class unreachable). Two rows sharing an alias or an English name
    keep the first's, as before (a city's older copy of land_use.csv had ``commercial`` on
    09 and 0901 alike)."""
    rows = list(rows)
    columns, split, secondary = tuple(columns), tuple(split), tuple(secondary)
    out: dict[str, dict[str, str]] = {}
    where: dict[str, str] = {}

    def clash(row: dict[str, str], col: str, k: str, first: dict[str, str], nk: str):
        return ConfigError(
            f"{k.strip()!r} ({col}) is also {where[nk]} of {_row_name(first)}: one value "
            f"names one row — {_row_name(row)} is never read by it; keep it in one row",
            path=getattr(row, "path", None), row=getattr(row, "row", None), field=col)

    for row in rows:  # codes and names first: each names one row
        for col in columns:
            k = row.get(col) or ""
            if not (nk := norm_key(k)):
                continue
            first = out.setdefault(nk, row)
            if first is not row:
                raise clash(row, col, k, first, nk)
            where.setdefault(nk, f"the {col}")
    primary = set(out)
    for row in rows:
        keys = [(c, row.get(c) or "") for c in secondary]
        keys += [(c, a) for c in split for a in (row.get(c) or "").split("|")]
        for col, k in keys:
            if not (nk := norm_key(k)):
                continue
            if nk in primary and out[nk] is not row:
                raise clash(row, col, k, out[nk], nk)
            if out.setdefault(nk, row) is row:
                where.setdefault(nk, f"an alias ({col})" if col in split else f"the {col}")
    return out


def _row_name(row: dict[str, str]) -> str:
    line = getattr(row, "row", None)
    first = next(iter(row.items()), ("", ""))
    return f"row {line} ({first[0]} {first[1]})" if line else f"{first[0]} {first[1]}"


def _dictionary_text(path: Path) -> str:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read dictionary: {exc}", path=str(path)) from exc
    try:
        text, _ = decode_text(raw, path, remedy="save it as UTF-8 (a dictionary has no "
                              "--encoding)")
    except InputError as exc:
        raise ConfigError(f"cannot read dictionary: {exc.message}", path=str(path),
                          row=exc.row) from exc
    return text


def check_csv_copy(name: str, path: Path) -> None:
    """ConfigError naming the city's copy ``path`` of CSV dictionary ``name`` if its header
    lacks the platform's key column (the first of the platform's header), which every reader
    keys on: refused before anything runs, with the header to keep. A column only some
    readers need (a name, letters, aliases) is told when one asks for it
    (:class:`DictionaryRow`): many readers do without one (``row.get``)."""
    platform = DICTIONARY_DIR / f"{name}.csv"
    if not platform.exists():
        return
    try:
        st = Path(path).stat()
    except OSError as exc:
        raise ConfigError(f"cannot read dictionary: {exc}", path=str(path)) from exc
    _check_header(str(platform), str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=128)
def _check_header(platform: str, path: str, _mtime: int, _size: int) -> None:
    want = _header(Path(platform))
    have = _header(Path(path))
    missing = [want[0]] if want and want[0] not in have else []
    if missing:
        raise ConfigError(
            f"the city's copy of {Path(platform).name} has no column {', '.join(missing)}: its "
            f"header is {','.join(have) or '(empty)'}; the platform's is {','.join(want)} — keep "
            "the platform's column names (the values may be the city's)", path=path)


def _header(path: Path) -> list[str]:
    return [c.strip() for c in next(csv.reader(io.StringIO(_dictionary_text(path),
                                                           newline="")), [])]
