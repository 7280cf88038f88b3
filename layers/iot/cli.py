"""``cim iot …``: import readings from CSV, latest values, a time series, the gap detector,
readings partitions, reading sources (API keys) and alarms. The owner's commands: they
connect with the admin URL (partitions are created here, never by the served role)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from cim.cli import Ctx, echo_json, pass_ctx, require_schema
from cim.errors import CimError, ConfigError, InputError
from cim.text import shown
from layers.iot.csv_readings import check_units, read_csv_rows
from layers.iot.times import (
    MAX_MONTHS,
    parse_offset_or_zone,
    sub_microsecond_problem,
)


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
        echo_json({**counts, "columns": got.fields})
        return
    # a duplicate is a repeat of a stored reading or of a row of the file (it said "already
    # stored" of a file's repeated row on an empty database)
    click.echo(f"{path}: {counts['received']} readings, {counts['inserted']} inserted, "
               f"{counts['duplicates']} duplicates (stored once), {counts['conflicting']} "
               f"conflicting, {counts['unknown_sensor']} of unknown sensors, "
               f"{counts['alarms_opened']} alarms opened, {counts['alarms_escalated']} "
               f"escalated, {counts['alarms_cleared']} cleared, {counts['gaps_cleared']} gap "
               f"alarms cleared, {counts['cases_opened']} cases opened (columns read: "
               + ", ".join(f"{k} {v!r}" for k, v in got.fields.items()) + ")")
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
