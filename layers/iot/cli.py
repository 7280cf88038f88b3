"""``cim iot …``: import readings from CSV, latest values, a time series, the gap detector,
readings partitions, reading sources (API keys) and alarms. The owner's commands: they
connect with the admin URL (partitions are created here, never by the served role)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import click

from cim.cli import Ctx, echo_json, pass_ctx, require_schema
from cim.errors import CimError, ConfigError, InputError
from cim.numbers import parse_number
from cim.text import decode_text, header_brackets, norm_key, norm_name, shown
from layers.iot.times import (
    MAX_MONTHS,
    local_problem,
    parse_offset_or_zone,
    sub_microsecond_problem,
)

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
        idx = {}
        for col in COLUMNS:
            names_of = [col, *(aliases.get(col) or [])]
            keys = {norm_name(a) for a in names_of}
            hit = next((i for i, n in enumerate(names) if n in keys), None)
            if hit is None:
                raise InputError(f"no {col} column (one of {', '.join(names_of)})",
                                 path=str(path), row=1, field=col)
            idx[col] = hit
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


def _tz(text: str | None) -> dt.tzinfo | str | None:
    """``--tz``: a fixed offset (+08:00) or an IANA zone (Asia/Shanghai, as a profile's
    ``timezone``: :func:`layers.iot.times.parse_offset_or_zone`); anything else a bad option."""
    if text is None:
        return None
    try:
        return parse_offset_or_zone(text)
    except ValueError as exc:
        raise ConfigError(str(exc), field="--tz") from None


def _when(text: str | None, name: str, zone: str) -> dt.datetime | None:
    """A time typed on the command line: ISO 8601, without an offset on the city's clock
    ``zone`` (:func:`cim.cityclock.city_time`), as the case commands read theirs."""
    from cim.cityclock import city_time

    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{shown(text)} is not ISO 8601 (2026-12-01T08:00, "
                         "2026-12-01T08:00+08:00)", field=name) from None
    problem = sub_microsecond_problem(text)
    if problem is not None:  # a bound cut to the microsecond would take in another reading
        raise InputError(problem, field=name)
    return city_time(t, zone)


def _city(c: Ctx, t: dt.datetime, timespec: str = "auto") -> str:
    """A time as the listings print it: in the city's clock (its profile's timezone), with
    its offset (2026-06-15T13:00+08:00) — the database session's UTC without an offset was
    read as local time, 8 hours off in China: :func:`cim.cityclock.on_city_clock`)."""
    from cim.cityclock import on_city_clock

    return on_city_clock(t, c.profile.timezone).isoformat(timespec=timespec)


@click.group("iot")
def iot() -> None:
    """Lifeline monitoring: sensor readings, alarms, gaps, partitions, reading sources."""


@iot.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--tz", default=None,
              help="the UTC offset (+08:00) or IANA time zone (Asia/Shanghai) of times "
                   "written without an offset")
@click.option("--encoding", default=None,
              help="the file's encoding (default: UTF-8 with or without BOM, else GBK/GB18030)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def import_cmd(c: Ctx, path: Path, tz: str | None, encoding: str | None,
               as_json: bool) -> None:
    """Import readings from a CSV file (sensor or device_id, time, value; 设备编号, 监测时间,
    监测值; UTF-8 or GBK as the loaders read a table) through the one ingest path; a bad row stops it with nothing written; readings
    conflicting with another of the file or a stored one are printed by row, not stored."""
    import psycopg

    from layers.iot.ingest import (
        BadReading,
        ingest,
        known_months,
        refuse_ahead,
        refuse_before_installation,
        refuse_outside_years,
    )
    from layers.iot.partitions import ensure_months
    from layers.iot.thresholds import load_config

    names = c.profile.field_aliases
    got = read_csv_rows(path, _tz(tz), names.get("readings"), encoding,
                        (names.get("readings") or {}).get("unit")
                        or (names.get("sensors") or {}).get("unit"))
    cfg = load_config(c.profile)
    with psycopg.connect(c.conninfo()) as conn:
        check_units(conn, got, path)
        try:
            # before the months are made: a refused file leaves no partition behind (made and
            # committed at once, not to hold the readings' lock while the file goes in)
            refuse_outside_years(got.readings)
            refuse_ahead(conn, got.readings, cfg.max_ahead_s)
            refuse_before_installation(conn, got.readings, cfg.timezone)
            ensure_months(conn, known_months(conn, got.readings))
            conn.commit()
            counts = ingest(conn, got.readings, source=None, config=cfg, listed=None)
        except BadReading as exc:  # by its index in the batch: the file's row and column
            raise InputError(exc.message, path=str(path), row=got.rows[exc.row],
                             field=got.fields.get(exc.field)) from None
    for x in counts["conflicts"]:  # a file's conflicts by row: all of them
        x["row"] = got.rows[x.pop("index")]
        x["with"] = [got.rows[j] for j in x["with"]]
    if as_json:
        echo_json(counts)
        return
    # a duplicate is a repeat of a stored reading or of a row of the file (it said "already
    # stored" of a file's repeated row on an empty database)
    click.echo(f"{path}: {counts['received']} readings, {counts['inserted']} inserted, "
               f"{counts['duplicates']} duplicates (stored once), {counts['conflicting']} "
               f"conflicting, {counts['unknown_sensor']} of unknown sensors, "
               f"{counts['alarms_opened']} alarms opened, {counts['alarms_escalated']} "
               f"escalated, {counts['alarms_cleared']} cleared, {counts['gaps_cleared']} gap "
               f"alarms cleared, {counts['cases_opened']} cases opened")
    if counts["unknown"]:
        click.echo(f"unknown sensors: {', '.join(counts['unknown'])}")
    if counts["late"]:  # older than their sensor's latest: met by the alarms of their time
        click.echo(f"{counts['late']} late readings (older than their sensor's latest "
                   f"reading): evaluated at their own time, {counts['late_alarms_opened']} "
                   "alarms opened for the past (their cases say they were reported late); an "
                   "exceedance within an alarm's episode updates that alarm")
    for x in counts["conflicts"]:
        click.echo(str(CimError(conflict_text(x), path=str(path), row=x["row"],
                                field=got.fields["value"])))


def conflict_text(x: dict) -> str:
    """What a conflicting reading of the ingest's ``conflicts`` (its ``with`` as row numbers)
    conflicts with."""
    what = []
    if x["with"]:
        what.append(f"row{'s' if len(x['with']) > 1 else ''} "
                    f"{', '.join(str(r) for r in x['with'])} of this file")
    if x["stored"] is not None:
        what.append(f"the stored {x['stored']:g} (kept)")
    return (f"conflicting reading: {x['value']:g} of {x['sensor']} at {x['time']} differs from "
            f"{' and '.join(what)}; not stored")


@iot.command("latest")
@click.option("--sensor", default=None, help="a sensor code or device id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def latest_cmd(c: Ctx, sensor: str | None, as_json: bool) -> None:
    """Each sensor's latest reading and alarm state."""
    import psycopg

    from layers.iot.series import latest

    with psycopg.connect(c.conninfo()) as conn:
        rows = latest(conn, sensor)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        when = _city(c, r["time"]) if r["time"] else "-"
        value = "-" if r["value"] is None else f"{r['value']:g}"
        flag = f"  alarm {r['alarm_level']}" if r["alarm_level"] else ""
        flag += "  offline" if r["offline"] else ""
        click.echo(f"{r['sensor_code']}  {r['device_id']:<16} {r['type_name'] or '':<8} "
                   f"{when:<26} {value} {r['unit'] or ''}{flag}")


@iot.command("series")
@click.argument("sensor")
@click.option("--start", required=True, help="ISO 8601 with offset")
@click.option("--end", required=True, help="ISO 8601 with offset (exclusive)")
@click.option("--limit", default=10_000, type=int,
              help="at most this many readings; with --bucket: buckets the range may span")
@click.option("--bucket", default=None,
              help="aggregate by time bucket in the city's clock (15min, 1h, 1d, 1w; any "
                   "N s/min/h that divides a day, or whole days): count, min, avg, max per "
                   "bucket")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def series_cmd(c: Ctx, sensor: str, start: str, end: str, limit: int, bucket: str | None,
               as_json: bool) -> None:
    """The readings of SENSOR (code or device id) from --start to --end, or with --bucket
    their count, min, avg and max per bucket (a day bucket starts at the city's midnight: the
    profile's timezone)."""
    import psycopg

    from layers.iot.series import buckets, series

    zone = c.profile.timezone
    t0, t1 = _when(start, "--start", zone), _when(end, "--end", zone)
    with psycopg.connect(c.conninfo()) as conn:
        if bucket is not None:
            out = buckets(conn, sensor, t0, t1, bucket, c.profile.timezone, limit)
        else:
            out = series(conn, sensor, t0, t1, limit)
    if as_json:
        echo_json(out)
        return
    if bucket is not None:
        for b in out["buckets"]:
            click.echo(f"{b['start'].isoformat()}  {b['count']:>6}  min {b['min']:g}  "
                       f"avg {b['avg']:g}  max {b['max']:g}")
        click.echo(f"{len(out['buckets'])} buckets of {out['bucket']} ({out['timezone']}) of "
                   f"{out['sensor_code']} from {out['start'].isoformat()} to "
                   f"{out['end'].isoformat()}")
        return
    for r in out["readings"]:
        click.echo(f"{_city(c, r['time'])}  {r['value']:g}")
    click.echo(f"{len(out['readings'])} readings of {out['sensor_code']}"
               + (" (truncated: raise --limit)" if out["truncated"] else ""))


@iot.command("gaps")
@click.option("--now", default=None, help="the time to judge silence at (ISO 8601, offset)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def gaps_cmd(c: Ctx, now: str | None, as_json: bool) -> None:
    """Open gap alarms (with a 监测设备离线 case) for silent sensors; clear reporting ones."""
    import psycopg

    from layers.iot.gaps import detect
    from layers.iot.thresholds import load_config

    with psycopg.connect(c.conninfo()) as conn:
        out = detect(conn, _when(now, "--now", c.profile.timezone), load_config(c.profile))
    if as_json:
        echo_json(out)
        return
    for o in out["opened"]:
        click.echo(f"gap alarm {o['alarm']}: sensor {o['sensor']} silent since "
                   f"{_city(c, o['silent_since'])}, case {o['case']}")
    click.echo(f"{out['checked']} sensors checked, {len(out['opened'])} gap alarms opened, "
               f"{len(out['cleared'])} cleared")


@iot.command("partitions")
@click.option("--ahead", default=None, type=click.IntRange(0, MAX_MONTHS),
              help="months ahead (default iot.yaml)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def partitions_cmd(c: Ctx, ahead: int | None, as_json: bool) -> None:
    """Create the readings' monthly partitions from last month to --ahead months ahead."""
    from layers.iot.partitions import ensure_partitions
    from layers.iot.thresholds import load_config

    cfg = load_config(c.profile)
    require_schema(c)
    out = ensure_partitions(c.conninfo(), cfg.ahead if ahead is None else ahead, cfg.behind)
    if as_json:
        echo_json(out)
        return
    click.echo(f"created {', '.join(out['created']) or 'none'}; "
               f"{len(out['existing'])} partitions of readings")


@iot.group("source")
def source() -> None:
    """Reading sources: who may send readings over HTTP (one API key each)."""


@source.command("add")
@click.argument("name")
@pass_ctx
def source_add(c: Ctx, name: str) -> None:
    """Register a reading source; print its API key (shown this once, stored hashed)."""
    import psycopg

    from layers.iot.sources import add_source

    with psycopg.connect(c.conninfo()) as conn:
        key = add_source(conn, name)
    # the words on stderr, the key alone on stdout: KEY=$(cim iot source add gw) took both
    # lines, and a client sending them got gunicorn's 400 "Invalid HTTP Header"
    click.echo(f"reading source {name}: API key (shown once, send it as X-API-Key):",
               err=True)
    click.echo(key)


@source.command("revoke")
@click.argument("name")
@pass_ctx
def source_revoke(c: Ctx, name: str) -> None:
    """Revoke a reading source's key."""
    import psycopg

    from layers.iot.sources import revoke_source

    with psycopg.connect(c.conninfo()) as conn:
        revoke_source(conn, name)
    click.echo(f"reading source {name} revoked")


@source.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def source_list(c: Ctx, as_json: bool) -> None:
    """The reading sources (never their keys)."""
    import psycopg

    from layers.iot.sources import list_sources

    with psycopg.connect(c.conninfo()) as conn:
        rows = list_sources(conn)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = f"revoked {_city(c, r['revoked_at'])[:10]}" if r["revoked_at"] else "active"
        click.echo(f"{r['name']:<24} {state}")


@iot.command("alarms")
@click.option("--active", is_flag=True, help="only the active alarms")
@click.option("--sensor", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def alarms_cmd(c: Ctx, active: bool, sensor: str | None, as_json: bool) -> None:
    """Alarms, latest first."""
    import psycopg

    from layers.iot.alarms import list_alarms

    with psycopg.connect(c.conninfo()) as conn:
        rows = list_alarms(conn, active=active, sensor=sensor)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['code']}  {r['level_name']}{r['color']}  {r['kind']:<9} {r['status']:<7} "
                   f"{r['device_id']:<16} {_city(c, r['opened_at'], 'minutes')}  "
                   f"case {r['case_code']}"
                   f"  risk {r['risk_code'] or '-'}")
    click.echo(f"{len(rows)} alarms")
