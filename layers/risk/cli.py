"""``cim risk``: assess (regenerate and grade), list, add by hand, record progress on a
measure, a point's history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from cim.cli import Ctx, echo_json, pass_ctx
from cim.errors import InputError
from layers.query.cli import output_file

_CONFIG = (
    click.option("--rules", type=click.Path(path_type=Path), default=None,
                 help="Rules file (default cim/dictionaries/risk_rules.yaml or the profile's)"),
    click.option("--matrix", type=click.Path(path_type=Path), default=None,
                 help="Grading matrix (default cim/dictionaries/risk_matrix.yaml)"),
)


def _config_options(f):
    for opt in reversed(_CONFIG):
        f = opt(f)
    return f


@click.group("risk")
def risk() -> None:
    """The risk list (城市治理风险清单): points graded 重大/较大/一般/低 = 红/橙/黄/蓝."""


@risk.command("assess")
@click.option("--year", type=click.IntRange(1900, 2200), default=None,
              help="Assessment year (pipe ages; default the city's current year)")
@click.option("--json", "as_json", is_flag=True)
@click.option("--report", type=click.Path(path_type=Path), default=None,
              callback=output_file, help="Write the HTML report (map and list)")
@_config_options
@pass_ctx
def assess_cmd(c: Ctx, year: int | None, as_json: bool, report: Path | None,
               rules: Path | None, matrix: Path | None) -> None:
    """Regenerate the rule points, regrade every point and record the assessment."""
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    cfg = load_config(c.profile, rules, matrix)
    result = assess(c.conninfo(), cfg, year)
    if report:
        from layers.risk.listing import list_points
        from layers.risk.report import render_html

        Path(report).write_text(render_html(result, list_points(c.conninfo()), cfg.matrix),
                                encoding="utf-8")
    if as_json:
        echo_json(result)
        return
    lv = " ".join(f"{k} {v}" for k, v in result["by_level"].items())
    click.echo(f"assessment {result['run_id']} ({result['year']}): {result['total']} risk "
               f"points — {lv}; {result['changes']}")
    for n in result["notes"]:
        click.echo(f"note: {n}")


@risk.command("list")
@click.option("--level", default=None, help="重大|较大|一般|低 or 红|橙|黄|蓝")
@click.option("--type", "risk_type", default=None, help="Risk type code")
@click.option("--by", type=click.Choice(["grid", "district"]), default=None,
              help="Counts per grid cell or district and level instead of the points")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_cmd(c: Ctx, level: str | None, risk_type: str | None, by: str | None,
             as_json: bool) -> None:
    """The current risk points (most severe first), or their counts per unit."""
    from layers.risk.config import load_types
    from layers.risk.listing import counts_by, list_points

    if by:
        rows = counts_by(c.conninfo(), by, level, risk_type, load_types(c.profile))
        if as_json:
            echo_json(rows)
            return
        for r in rows:
            click.echo(f"{r['unit_code'] or '-':<16} 红 {r['重大']:>4} 橙 {r['较大']:>4} "
                       f"黄 {r['一般']:>4} 蓝 {r['低']:>4}  total {r['total']}")
        return
    rows = list_points(c.conninfo(), level, risk_type, load_types(c.profile))
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['code']} {r['color']} {r['level']:<2} {r['risk_type']:<10} "
                   f"{r['asset_code'] or '-':<18} {r['responsible_unit'] or '-'}  "
                   f"{r['measure_status']} {r['deadline']}")
    click.echo(f"{len(rows)} risk points")


# beside a likelihood nobody assessed (`cim risk add` without --likelihood)
_DEFAULTED = " (default, not assessed)"


def _by_alarm(row: dict) -> str:
    """A history row an alarm wrote says so: its level is the alarm's raise (or the restore
    when it cleared), not likelihood × consequence — the same L × C beside 低 and 重大
    read as a grading gone wrong."""
    f = row.get("factors") or {}
    if row.get("source") != "alarm" or not isinstance(f, dict) or not f.get("alarm"):
        return ""
    what = {"raise": "raised it", "restore": "cleared: restored"}.get(f.get("action"),
                                                                     f.get("action"))
    return f"  (alarm {f['alarm']} {what})"


def _xy(value: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"--point {value!r}: X,Y expected", field="--point") from None
    return x, y


@risk.command("add")
@click.option("--type", "risk_type", required=True, help="Risk type code (risk_types.csv)")
@click.option("--asset", default=None, help="Code of the asset the risk concerns")
@click.option("--point", default=None, help="X,Y where the risk is (without an asset)")
@click.option("--crs", default=None, help="CRS of --point: CRS84 (default), EPSG:4490 or the "
              "storage CRS (its axis order)")
@click.option("--likelihood", type=click.IntRange(1, 5), default=None,
              help="1..5 as assessed; left out: the matrix's manual_likelihood (3), recorded "
                   "as a default, not an assessment")
@click.option("--unit", default=None, help="Responsible unit (default: the asset's owner)")
@click.option("--measure", default=None, help="Control measure (default: the type's rule's)")
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--description", default=None)
@click.option("--json", "as_json", is_flag=True)
@_config_options
@pass_ctx
def add_cmd(c: Ctx, risk_type: str, asset: str | None, point: str | None, crs: str | None,
            likelihood: int | None, unit: str | None, measure: str | None, deadline: dt.datetime | None,
            description: str | None, as_json: bool, rules: Path | None,
            matrix: Path | None) -> None:
    """Add a risk point by hand (kept by every reassessment)."""
    from layers.risk.config import load_config
    from layers.risk.manual import add_point

    cfg = load_config(c.profile, rules, matrix)
    r = add_point(c.conninfo(), cfg, risk_type, asset=asset,
                  point=_xy(point) if point else None, crs=crs, likelihood=likelihood,
                  unit=unit, measure=measure, deadline=deadline.date() if deadline else None,
                  description=description)
    if as_json:
        echo_json(r)
    else:
        raised = (f" — raised by active alarm {', '.join(r['raised_by'])}, graded "
                  f"{r['graded_level']}" if r["raised_by"] else "")
        click.echo(f"added {r['code']}: {r['level']} ({r['color']}){raised}, likelihood "
                   f"{r['likelihood']}{_DEFAULTED if r['likelihood_defaulted'] else ''} × "
                   f"consequence {r['consequence']}")


@risk.command("history")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def history_cmd(c: Ctx, code: str, as_json: bool) -> None:
    """The level of the point CODE at each assessment."""
    from cim.cityclock import on_city_clock
    from layers.risk.listing import history

    rows = history(c.conninfo(), code)
    if not rows:  # every point is graded when made (rule or by hand): no row, no such point
        raise InputError(f"no risk point {code.strip()} (`cim risk list` lists the points)")
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        # on the city's clock, with its offset (the session's UTC put a run at 09:30 in
        # China at 01:30, and a raise of New Year's morning on the old year's date)
        at = on_city_clock(r["assessed_at"], c.profile.timezone).isoformat(timespec="minutes")
        click.echo(f"#{r['run_id']:<5} {at} {r['year']} L{r['likelihood']}"
                   f"{_DEFAULTED if r['likelihood_defaulted'] else ''} × C{r['consequence']} "
                   f"{r['level']} {r['color']}{_by_alarm(r)}")


@risk.command("measure")
@click.argument("code")
@click.option("--status", default=None, help="待落实 | 落实中 | 已落实 (risk_matrix.yaml "
              "measure_statuses)")
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--measure", default=None, help="The control measure's text")
@click.option("--unit", default=None, help="Unit responsible for the measure")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def measure_cmd(c: Ctx, code: str, status: str | None, deadline: dt.datetime | None,
                measure: str | None, unit: str | None, as_json: bool) -> None:
    """Record progress on the control measure of the point CODE (a new version of it; what
    it says already changes nothing)."""
    from cim.cityclock import city_today
    from layers.risk.config import load_matrix, matrix_path
    from layers.risk.manual import update_measure

    statuses = load_matrix(matrix_path(c.profile)).measure_statuses
    r = update_measure(c.conninfo(), code, status=status,
                       deadline=deadline.date() if deadline else None, measure=measure,
                       unit=unit, statuses=statuses, today=city_today(c.profile.timezone))
    if as_json:
        echo_json(r)
    else:
        click.echo(f"{r['code']}: {r['measure_status']} by {r['deadline']} — "
                   f"{r['measure'] or '(no measure given)'}"
                   + (f" ({r['measure_unit']})" if r["measure_unit"] else "")
                   + ("" if r["changed"] else " (unchanged)"))
