"""``cim case …`` (the case loop) and ``cim ops user …`` (its people).

The CLI runs as the database owner; each write still acts as a person of the loop, named by
their token (``--as TOKEN``) or, since the owner is trusted, by their name (``--user NAME``),
so the audit trail and the role checks are the same as over HTTP.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click

from cim.cli import Ctx, echo_json, pass_ctx
from cim.errors import InputError

ACTIONS = ("register", "dispatch", "handle", "verify", "close", "return", "void")


def _when(value: str | None, option: str, c: Ctx) -> dt.datetime | None:
    """An ISO date/time typed on the command line; without an offset, the city's clock (the
    profile's ``timezone``)."""
    from layers.cases.store import city_time

    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{value!r} is not an ISO date/time (2026-12-01 or "
                         "2026-12-01T08:30+08:00)", field=option) from None
    return city_time(t, c.profile.timezone, option) if t.tzinfo is None else t


def _point(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        x, y = (float(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"{value!r} is not X,Y", field="--point") from None
    return x, y


TOKEN_ENV = "CIM_OPS_TOKEN"  # a token from the environment: not on the command line (ps)


def _user(conn, token: str | None, name: str | None):
    from layers.cases.auth import authenticate, user_by_name

    if token is None and name is None:
        token = os.environ.get(TOKEN_ENV) or None
    if (token is None) == (name is None):
        raise InputError(f"act as a user: --as TOKEN (or ${TOKEN_ENV}) or --user NAME (one "
                         "of them)",
                         field="--as")
    user = authenticate(conn, token) if token else user_by_name(conn, name)
    if user is None:
        raise InputError("no active user with that token" if token
                         else f"no active user named {name!r}",
                         field="--as" if token else "--user")
    return user


def _as_options(f):
    f = click.option("--user", "user_name", default=None,
                     help="Act as this user (the owner's CLI)")(f)
    return click.option("--as", "token", default=None,
                        help=f"Act as the user of this token (else ${TOKEN_ENV}, which "
                             "keeps it off the command line)")(f)


def _t(value, zone: str) -> str:
    """A time of the text output: RFC 3339 to the second on the city's clock ``zone`` (the
    profile's ``timezone``, with its offset: :func:`cim.cityclock.on_city_clock`, the one
    display rule) — the session's UTC alone put a call taken at 09:20 in China at 01:20 —
    followed by the same instant as --json and the HTTP answers write it (UTC), so that text
    and JSON can be matched; '-' for none (a case reported and not registered has no
    deadline yet)."""
    from cim.cityclock import on_city_clock

    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        local = on_city_clock(value, zone)
        text = local.isoformat(timespec="seconds")
        if local.utcoffset():
            text += f" ({value.astimezone(dt.UTC).isoformat(timespec='seconds')})"
        return text
    return str(value)


def _show(case: dict, as_json: bool, zone: str) -> None:
    if as_json:
        echo_json(case)
        return
    click.echo(f"{case['code']}  {case['state']}  {case['category_code']} "
               f"{case['category_name']}  grid {case['grid_code'] or '-'}  unit {case['unit'] or '-'} "
               f"({case['unit_basis']})  deadline {_t(case['deadline'], zone)}")
    for e in case.get("events") or []:
        click.echo(f"  {_t(e['at'], zone)}  {e['action']:<8} {e['from_state'] or '-'} → "
                   f"{e['to_state']}  {e['actor']} ({e['role']})"
                   f"{'  ' + e['note'] if e['note'] else ''}")


@click.group("case")
def case() -> None:
    """The city-operations case loop (运管服): 上报 → 立案 → 派遣 → 处置 → 核查 → 结案."""


@case.command("report-problem")
@click.option("--source", required=True,
              help="巡查上报 (监督员), 市民热线 (受理员), or another source the city's "
                   "case_workflow.yaml lists under sources")
@click.option("--category", required=True, help="Category code (case_categories.csv)")
@click.option("--point", default=None, help="X,Y (storage CRS, or --crs)")
@click.option("--crs", default=None, help="CRS of --point (CRS84, EPSG:4490 …)")
@click.option("--grid", default=None, help="Grid cell code")
@click.option("--asset", default=None, help="Code of the asset (component, pipe …)")
@click.option("--address", default=None, help="Text address (hotline: placed by the gazetteer)")
@click.option("--description", default=None)
@click.option("--photo", "photos", multiple=True, type=click.Path(exists=True, dir_okay=False,
                                                                   path_type=Path))
@click.option("--reporter-name", default=None)
@click.option("--phone", default=None)
@click.option("--at", "at", default=None, help="Reported at (ISO; default now)")
@_as_options
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def report_problem_cmd(c: Ctx, source, category, point, crs, grid, asset, address, description,
                       photos, reporter_name, phone, at, token, user_name, as_json) -> None:
    """Open a case from an inspector (巡查上报), a 12345 call (市民热线) or another source
    of the city's loop (case_workflow.yaml ``sources``)."""
    import psycopg

    from layers.cases.listing import point_in_storage
    from layers.cases.sources import check_photo_bytes, check_photo_count, report_problem

    check_photo_count(len(photos), c.profile, "--photo")  # before reading thousands of files
    check_photo_bytes([f.stat().st_size for f in photos], c.profile, "--photo")
    contact = {k: v for k, v in (("reporter_name", reporter_name), ("phone", phone)) if v}
    with psycopg.connect(c.conninfo()) as conn:
        user = _user(conn, token, user_name)
        p = _point(point)
        try:
            out = report_problem(conn, user, source=source, category_code=category,
                                 point=point_in_storage(conn, p, crs, "--point", "--crs")
                                 if p else None, grid_code=grid, address=address,
                                 description=description, asset_code=asset,
                                 photos=[(f.name, f.read_bytes()) for f in photos],
                                 contact=contact, reported_at=_when(at, "--at", c),
                                 profile=c.profile)
        except InputError as exc:  # named as typed here (a point in no district: `point`)
            if exc.field in ("point", "photos"):
                exc.field = "--" + {"point": "point", "photos": "photo"}[exc.field]
            raise
    out.pop("contact", None)
    _show(out, as_json, c.profile.timezone)


def _act(c: Ctx, code: str, action: str, *, note, at, token, user_name, as_json, unit,
         result) -> None:
    import psycopg

    from layers.cases.workflow import act

    with psycopg.connect(c.conninfo()) as conn:
        user = _user(conn, token, user_name)
        try:
            out = act(conn, code, action, user, at=_when(at, "--at", c), note=note, unit=unit,
                      result=result, profile=c.profile)
        except InputError as exc:
            # the loop names its inputs as the HTTP body does (at, unit …): here, the options
            if exc.field in _OPTIONS:
                raise type(exc)(exc.message, path=exc.path, row=exc.row,
                                field=f"--{exc.field}") from None
            raise
    _show(out, as_json, c.profile.timezone)


_OPTIONS = frozenset({"at", "unit", "note", "result"})


def _action_command(action: str) -> click.Command:
    @click.argument("code")
    @click.option("--note", default=None)
    @click.option("--at", "at", default=None, help="Time of the action (ISO; default now)")
    @_as_options
    @click.option("--json", "as_json", is_flag=True)
    @pass_ctx
    def cmd(c: Ctx, code, note, at, token, user_name, as_json, unit=None, result=None):
        _act(c, code, action, note=note, at=at, token=token, user_name=user_name,
             as_json=as_json, unit=unit, result=result)

    if action == "dispatch":
        cmd = click.option("--unit", default=None, help="Unit (default: the proposal)")(cmd)
    if action == "verify":
        cmd = click.option("--result", type=click.Choice(["pass", "fail"]), required=True)(cmd)
    return click.command(action, help=f"Make the action {action} on case CODE (who may, from "
                         "which state: cim/dictionaries/case_workflow.yaml).")(cmd)


for _a in ACTIONS:
    case.add_command(_action_command(_a))


@case.command("act")
@click.argument("code")
@click.argument("action")
@click.option("--note", default=None)
@click.option("--unit", default=None, help="Unit (an action whose fields name one)")
@click.option("--result", default=None, help="Result (an action whose fields name one)")
@click.option("--at", "at", default=None, help="Time of the action (ISO; default now)")
@_as_options
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def act_cmd(c: Ctx, code, action, note, unit, result, at, token, user_name, as_json) -> None:
    """Make ACTION on case CODE: any action of the city's loop (its case_workflow.yaml
    ``actions``, also one it adds — 挂账, 延期 …: the commands above are the platform's)."""
    _act(c, code, action, note=note, at=at, token=token, user_name=user_name,
         as_json=as_json, unit=unit, result=result)


@case.command("list")
@click.option("--state", default=None)
@click.option("--grid", default=None)
@click.option("--unit", default=None)
@click.option("--district", default=None, help="District (level-3 division) code")
@click.option("--category", default=None, help="Category code (case_categories.csv)")
@click.option("--overdue", is_flag=True, help="Past the deadline and not handled yet")
@click.option("--limit", type=int, default=100)
@click.option("--after", default=None,
              help="Go on after this case (the last code of the page before)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_cmd(c: Ctx, state, grid, unit, district, category, overdue, limit, after,
             as_json) -> None:
    """Current cases, newest first (a page of --limit; the next one with --after CODE)."""
    import psycopg

    from layers.cases.listing import list_cases

    with psycopg.connect(c.conninfo()) as conn:
        rows = list_cases(conn, state=state, grid=grid, unit=unit, overdue=overdue,
                          limit=limit, after=after, district=district, category=category,
                          profile=c.profile)
    if as_json:
        echo_json(rows)
        return
    zone = c.profile.timezone
    for r in rows:
        click.echo(f"{r['code']}  {r['state']:<3} {r['category_code']} {r['category_name']:<10}"
                   f" grid {r['grid_code'] or '-'}  {r['unit'] or '-'}  reported "
                   f"{_t(r['reported_at'], zone)}  deadline {_t(r['deadline'], zone)}"
                   # overdue, escalated_after_close …: what the map and the API flag
                   + (f"  [{', '.join(r['flags'])}]" if r.get("flags") else ""))
    if not rows:
        click.echo("no case")
    elif len(rows) == limit:
        click.echo(f"(a page of {limit}: the next with --after {rows[-1]['code']})")


@case.command("flag-overdue")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def flag_overdue_cmd(c: Ctx, as_json) -> None:
    """Keep the flag 'overdue' on the cases past their deadline and not handled yet (run it
    periodically; the map and the OGC API show the flag), and each case's ``final`` by the
    loop's final states (the one map's open cases)."""
    import psycopg

    from layers.cases.dispatch import flag_overdue

    with psycopg.connect(c.conninfo()) as conn:
        out = flag_overdue(conn, profile=c.profile)
    if as_json:
        echo_json(out)
    else:
        click.echo(f"overdue {out['overdue']} (newly flagged {out['flagged']}, "
                   f"cleared {out['cleared']})"
                   + (f"; {out['final_restated']} case(s) restated final or open by the "
                      "loop's final states" if out["final_restated"] else ""))


@case.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_cmd(c: Ctx, code, as_json) -> None:
    """A case with its audit trail, contact and attachments (the owner's view)."""
    import psycopg

    from layers.cases.store import get_case

    with psycopg.connect(c.conninfo()) as conn:
        out = get_case(conn, code, events=True, contacts=True)
    if as_json:
        echo_json(out)
        return
    _show(out, False, c.profile.timezone)
    if out.get("contact"):
        shown = ", ".join(f"{k} {v}" for k, v in out["contact"].items() if v is not None)
        click.echo(f"  contact: {shown or '-'}")
    for a in out.get("attachments") or []:
        click.echo(f"  attachment {a['id']}: {a['name']} {a['media_type']} {a['sha256']}")


_PERIOD = (click.option("--from", "start", required=True, help="Start (ISO, included)"),
           click.option("--to", "end", required=True, help="End (ISO, excluded)"))


def _period(f):
    for o in reversed(_PERIOD):
        f = o(f)
    return f


@case.command("evaluate")
@_period
@click.option("--by", type=click.Choice(["grid", "unit", "district"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def evaluate_cmd(c: Ctx, start, end, by, as_json) -> None:
    """立案率, 按期处置率, 结案率 and mean handling time of the cases reported in a period."""
    import psycopg

    from layers.cases.evaluate import evaluate

    with psycopg.connect(c.conninfo()) as conn:
        out = evaluate(conn, _when(start, "--from", c), _when(end, "--to", c), by,
                       timezone=c.profile.timezone, profile=c.profile,
                       fields=("--from", "--to"))
    if as_json:
        echo_json(out)
        return

    def pct(v):
        return "—" if v is None else f"{v * 100:.1f}%"

    for r in [*out["rows"], {**out["total"], by or "total": "合计"}]:
        mean = r["mean_handling_h"]
        hours = "—" if mean is None else f"{mean:.1f} h"
        # the cases in no grid cell (or with no unit): '-', as show and list write it
        click.echo(f"{str(r.get(by or 'total', '合计') or '-'):<18} 上报 {r['reported']:>5}  立案率 "
                   f"{pct(r['registration_rate']):>6}  按期处置率 {pct(r['on_time_rate']):>6}  "
                   f"结案率 {pct(r['closing_rate']):>6}  平均处置 {hours}")
    click.echo(f"overdue now: {len(out['overdue'])}")


@case.command("report")
@_period
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True)
@pass_ctx
def report_cmd(c: Ctx, start, end, out_path) -> None:
    """Write the evaluation's HTML report (total, per grid cell, per unit, overdue)."""
    import psycopg

    from layers.cases.evaluate import evaluate
    from layers.cases.report import render_html

    f, t, zone = _when(start, "--from", c), _when(end, "--to", c), c.profile.timezone
    if not out_path.parent.is_dir():  # before the evaluation, not after it
        raise InputError(f"cannot write {out_path}: no folder {out_path.parent}",
                         field="--out")
    with psycopg.connect(c.conninfo()) as conn:
        page = render_html(*(evaluate(conn, f, t, by, timezone=zone, profile=c.profile)
                             for by in (None, "grid", "unit")))
    try:  # a folder that does not exist, or one not writable, is the user's, not a bug
        out_path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out_path}: {exc.strerror or exc}",
                         field="--out") from None
    click.echo(f"wrote {out_path}")


@click.group("ops")
def ops() -> None:
    """Operations: the people of the case loop."""


@ops.group("user")
def user_group() -> None:
    """Users of the case loop (roles 监督员 受理员 派遣员 处置单位 核查员 admin)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True)
@click.option("--unit", default=None, help="A 处置单位 user's unit")
@pass_ctx
def user_add(c: Ctx, name, role, unit) -> None:
    """Add a user and print their token (shown once: only its hash is kept)."""
    import psycopg

    from layers.cases.auth import add_user

    with psycopg.connect(c.conninfo()) as conn:
        token = add_user(conn, name, role, unit)
    click.echo(token)


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def user_list(c: Ctx, as_json) -> None:
    """The users (never their token or its hash)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(c.conninfo()) as conn:
        rows = conn.cursor(row_factory=dict_row).execute(
            "SELECT name, role, unit, created_at, revoked_at FROM ops_users ORDER BY name"
        ).fetchall()
    if as_json:
        echo_json(rows)
        return
    from cim.cityclock import on_city_clock

    for r in rows:  # the day revoked on the city's clock, as the case times
        state = (f"revoked {on_city_clock(r['revoked_at'], c.profile.timezone):%Y-%m-%d}"
                 if r["revoked_at"] else "active")
        click.echo(f"{r['name']:<20} {r['role']:<5} {r['unit'] or '':<20} {state}")


@user_group.command("revoke")
@click.argument("name")
@pass_ctx
def user_revoke(c: Ctx, name) -> None:
    """Revoke a user's token."""
    import psycopg

    from layers.cases.auth import revoke

    with psycopg.connect(c.conninfo()) as conn:
        if not revoke(conn, name):
            raise InputError(f"no active user named {name!r}", field="NAME")
    click.echo(f"revoked {name}")


def register(cli: click.Group) -> None:
    """Add ``cim case`` and ``cim ops`` to ``cli``."""
    cli.add_command(case)
    cli.add_command(ops)
