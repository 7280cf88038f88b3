"""Readings in a CSV file (``cim iot import``): its encoding, delimiter, the columns read by
their aliases (field_aliases.yaml ``readings``), each cell read strictly and the first bad one
refused naming the file, row and column; units the file names checked against the sensors'."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from cim.errors import InputError
from cim.numbers import parse_number
from cim.text import decode_text, header_brackets, norm_key, norm_name, shown
from layers.iot.times import local_problem, sub_microsecond_problem

COLUMNS = ("sensor", "time", "value")  # the header names of each: field_aliases.yaml readings


def _aliases(section: str = "readings") -> dict[str, list[str]]:
    """The platform's aliases of ``section`` (field_aliases.yaml), read by the one dictionary
    reader: what :func:`read_csv_rows` takes when no city's are given."""
    from cim.profile import DICTIONARY_DIR, read_yaml_mapping

    return read_yaml_mapping(DICTIONARY_DIR / "field_aliases.yaml",
                             "the field aliases").get(section) or {}


def _time(text: str, tz: dt.tzinfo | str | None) -> tuple[dt.datetime | None, str | None]:
    """A time cell read as written, or None and why it is refused: not ISO 8601 at all
    (2026/12/1 16:00, an Excel display), without a UTC offset and no --tz given, a fraction
    of a second below the microsecond (never cut: :mod:`layers.iot.times`), or a wall-clock
    time the --tz zone had twice or never. ``tz``: a fixed offset, or an IANA zone name read
    through the platform's one rule for the city's clock (:func:`cim.cityclock.city_time`)."""
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None, (f"time {shown(text)} is not an ISO 8601 time (2026-12-01 16:00:00, "
                      "2026-12-01T16:00:00+08:00)")
    problem = sub_microsecond_problem(text)
    if problem is not None:
        return None, problem
    if t.tzinfo is None:
        if tz is None:
            return None, (f"time {shown(text)} has no UTC offset (write one, or give --tz +08:00 "
                          "or --tz Asia/Shanghai)")
        if isinstance(tz, str):
            from cim.cityclock import city_time

            problem = local_problem(t, tz)
            return (None, problem) if problem else (city_time(t, tz), None)
        t = t.replace(tzinfo=tz)
    return t, None


@dataclass
class CsvReadings:
    """A CSV file's readings, each one's row in the file (the header is row 1) and the file's
    header of each column (sensor, time, value)."""

    readings: list[tuple[str, dt.datetime, float]]
    rows: list[int]
    fields: dict[str, str]
    # the unit each reading is written in, where the file says: its unit column's cell, else
    # the unit in the value column's header (监测值(kPa)); None: not said
    units: list[str | None] = field(default_factory=list)


def _delimiter(text: str) -> str:
    """A comma, unless the header line has none and has a tab (Excel's 另存为 Unicode 文本:
    UTF-16, tab-separated). Not a semicolon: its files write a decimal comma, and 12,500
    (12.5) would be read as twelve thousand five hundred."""
    head = text.split("\n", 1)[0]
    return "\t" if "," not in head and "\t" in head else ","


def read_csv(path: Path, tz: dt.tzinfo | str | None = None,
             aliases: dict[str, list[str]] | None = None,
             encoding: str | None = None) -> list[tuple[str, dt.datetime, float]]:
    """The readings of a CSV file (:func:`read_csv_rows`)."""
    return read_csv_rows(path, tz, aliases, encoding).readings


def _header_unit(name: str) -> str | None:
    """The unit a value column's header names in its trailing brackets (监测值(kPa) → kpa,
    读数（MPa） → mpa); None for none, or for a qualifier written in words (监测值(实时))."""
    for text in header_brackets(name):
        if text and not any("\u4e00" <= ch <= "\u9fff" for ch in text):
            return text
    return None


def read_csv_rows(path: Path, tz: dt.tzinfo | str | None = None,
                  aliases: dict[str, list[str]] | None = None,
                  encoding: str | None = None,
                  unit_names: list[str] | None = None) -> CsvReadings:
    """The readings of a CSV file (decoded as the loaders decode a table,
    :func:`cim.text.decode_text`: UTF-8 with or without BOM, else GBK/GB18030, or
    ``encoding``; header sensor/device_id, time, value or 设备编号,
    监测时间, 监测值: ``aliases``, default the ``readings`` entry of field_aliases.yaml,
    compared through cim.text) with their rows; a value is read strictly
    (:func:`cim.numbers.parse_number`: ``1_5``, ``1,5`` or ``12mm`` is no number); the first
    bad row is an InputError naming the file, row and field (rows counted as a spreadsheet
    does: the header is row 1). A unit column (``unit_names``: the ``readings`` aliases'
    ``unit``, else the sensor registry's 计量单位, 单位 …) or a unit in the value column's
    header gives each reading's ``units`` (:func:`check_units`)."""
    aliases = aliases or _aliases()
    if unit_names is None:
        unit_names = aliases.get("unit") or _aliases("sensors").get("unit") or []
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path=str(path)) from exc
    if raw[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):  # .xlsx (a zip) or .xls (OLE)
        raise InputError("an Excel workbook, not a CSV file: cim iot import reads CSV — save the "
                         "sheet as CSV (UTF-8 or GBK) and import that", path=str(path))
    text, _ = decode_text(raw, path, encoding)
    with io.StringIO(text, newline="") as fh:
        reader = csv.reader(fh, delimiter=_delimiter(text))
        try:
            header = next(reader)
        except StopIteration:
            raise InputError("empty file (no header)", path=str(path), row=1) from None
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", path=str(path), row=1) from None
        names = [norm_name(h) for h in header]
        idx = {col: _column(header, col, aliases, path) for col in COLUMNS}
        unit_keys = {norm_name(a) for a in ["unit", *unit_names]}
        unit_col = next((i for i, n in enumerate(names)
                         if n in unit_keys and i not in idx.values()), None)
        header_unit = _header_unit(header[idx["value"]])
        out, rows, units = [], [], []
        row_no = 1
        try:
            for row_no, row in enumerate(reader, start=2):
                if not any(c.strip() for c in row):
                    continue
                extra = next((i for i in range(len(header), len(row)) if row[i].strip()), None)
                if extra is not None:  # "1,5" unquoted: a value 1 and a cell 5 beyond
                    raise InputError(f"a cell beyond the header's {len(header)} columns "
                                     f"({shown(row[extra].strip())} in column {extra + 1}; a value "
                                     "with an unquoted comma?)", path=str(path), row=row_no)
                cells = {c: (row[i] if i < len(row) else "") for c, i in idx.items()}
                ref = cells["sensor"].strip()
                if not ref:
                    raise InputError("no sensor code or device id", path=str(path), row=row_no,
                                     field=header[idx["sensor"]])
                t, problem = _time(cells["time"], tz)
                if t is None:
                    raise InputError(problem, path=str(path), row=row_no,
                                     field=header[idx["time"]])
                try:
                    v = parse_number(cells["value"], metres=False)
                except ValueError as exc:
                    raise InputError(f"value {exc}", path=str(path), row=row_no,
                                     field=header[idx["value"]]) from None
                out.append((ref, t, v))
                rows.append(row_no)
                cell = (row[unit_col].strip() if unit_col is not None and unit_col < len(row)
                        else "")
                units.append(cell or header_unit)
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", path=str(path), row=row_no + 1) from None
    fields = {c: header[i] for c, i in idx.items()}
    if unit_col is not None:
        fields["unit"] = header[unit_col]
    return CsvReadings(out, rows, fields, units)


def _column(header: list[str], col: str, aliases: dict[str, list[str]], path: Path) -> int:
    """The index of ``col``'s column: by its aliases in their order (采集时间, the sampling
    time, before 上报时间, the upload time, whichever comes first in the file), a header as
    written before one read without its brackets (but beside one whose brackets name a unit:
    refused); two headers that read as one alias only without their brackets (监测值(最小) and
    监测值(最大)) are refused naming both — taking the leftmost stored the minimum of a SCADA
    export, and its alarm never opened."""
    names_of = [col, *(aliases.get(col) or [])]
    for alias in names_of:
        exact = [i for i, h in enumerate(header) if norm_key(h) == norm_key(alias)]
        bare = [i for i, h in enumerate(header) if norm_name(h) == norm_name(alias)]
        # beside one naming its unit (监测值 and 监测值(kPa)) a bare header is not the one as
        # written: which column holds the readings is not ours to pick (the bare one was
        # taken, and the kPa column's unit never checked)
        united = [i for i in bare if i not in exact and _header_unit(header[i])]
        if exact and united:
            raise InputError(f"columns {header[exact[0]]!r} and {header[united[0]]!r} both "
                             f"read as {alias!r} ({col}), one naming its unit: keep the one to "
                             "import, or rename the other", path=str(path), row=1,
                             field=header[exact[0]])
        if exact:
            return exact[0]
        if len(bare) > 1:
            raise InputError(f"columns {' and '.join(repr(header[i]) for i in bare)} both read "
                             f"as {alias!r} ({col}): keep the one to import, or rename the "
                             "other", path=str(path), row=1, field=header[bare[0]])
        if bare:
            return bare[0]
    raise InputError(f"no {col} column (one of {', '.join(names_of)})",
                     path=str(path), row=1, field=col)


def check_units(conn, got: CsvReadings, path: Path) -> None:
    """Each reading whose file names its unit is in its sensor's unit (its type's,
    sensor_types.csv, in which the thresholds are written: a pressure in kPa stored as MPa
    is a thousand times too high); else an InputError naming the file, row and field. Readings
    of unknown sensors are left to the ingest (counted and named there)."""
    refs = sorted({r for (r, _, _), u in zip(got.readings, got.units, strict=True) if u})
    if not refs:
        return
    unit_of = dict(conn.execute(
        "SELECT q.ref, s.unit FROM unnest(%s::text[]) AS q(ref) JOIN sensors s ON "
        "s.valid_to IS NULL AND (s.code = q.ref OR s.device_id = q.ref) "
        "ORDER BY (s.code = q.ref)", (refs,)).fetchall())  # a code wins over a device id
    for (ref, _, _), u, row in zip(got.readings, got.units, got.rows, strict=True):
        want = unit_of.get(ref)
        if u and want and norm_key(u) != norm_key(want):
            raise InputError(f"unit {u!r} is not the unit of sensor {ref} ({want}, "
                             "sensor_types.csv), in which its readings are stored and its "
                             "thresholds written: convert the values to it", path=str(path),
                             row=row, field=got.fields.get("unit", got.fields["value"]))
