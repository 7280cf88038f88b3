"""The layers' commands: ``cim layers``, ``cim code explain``, ``cim batches``, ``cim rejects``,
``cim history``, the ``cim query`` group (layers/query/cli.py), ``cim styles`` and
``cim qgis-project`` (layers/styles/cli.py), ``cim health`` (layers/health/cli.py)."""

from __future__ import annotations

from pathlib import Path

import click

from cim.cli import Ctx, echo_json, pass_ctx
from cim.errors import InputError


def register(cli: click.Group) -> None:
    """Add the layers' commands to ``cli``."""
    from layers.health.cli import health
    from layers.query.cli import query
    from layers.styles.cli import qgis_project, styles

    for command in (layers_cmd, code, batches, rejects_cmd, history_cmd, query, styles,
                    qgis_project, health):
        cli.add_command(command)
    from layers.risk.cli import risk  # the risk list (issue 13)

    cli.add_command(risk)
    from layers.iot.cli import iot  # lifeline monitoring (issue 14)

    cli.add_command(iot)
    from layers.cases.cli import register as register_cases  # the case loop (issue 14)

    register_cases(cli)


# -- catalog ------------------------------------------------------------------------------
@click.command("layers")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def layers_cmd(c: Ctx, as_json: bool) -> None:
    """The catalog: each layer with its count, extents, SRID and last load batch."""
    from layers.catalog import catalog

    rows = [e.to_dict() for e in catalog(c.conninfo())]
    if not rows:
        from cim.db.migrate import current
        from cim.errors import DatabaseError

        if current(c.url()) is None:  # not an empty catalog: no catalog at all
            raise DatabaseError("the database has no CIM schema: run `cim db upgrade`")
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        last = r["last_batch"]["id"] if r["last_batch"] else "-"
        click.echo(f"{r['name']:<16} {r['title_zh']:<6} {r['geometry_type']:<12} "
                   f"{r['count']:>10}  srid {r['srid']}  last batch {last}")


# -- codes --------------------------------------------------------------------------------
@click.group()
def code() -> None:
    """Unified codes."""


@code.command("explain")
@click.argument("code_value", metavar="CODE")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def code_explain(c: Ctx, code_value: str, as_json: bool) -> None:
    """Decode CODE: district, layer, class, serial, and whether it exists."""
    from layers.features import explain_code

    d = explain_code(c.conninfo(), c.profile, code_value)
    if as_json:
        echo_json(d.to_dict())
    else:
        for k, v in d.to_dict().items():
            click.echo(f"{k:15} {v}")


# -- batches ------------------------------------------------------------------------------
@click.command("batches")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def batches(c: Ctx, as_json: bool) -> None:
    """List load batches (read-only: a load left running by a dead loader shows as failed)."""
    from layers.batches import list_batches

    rows = list_batches(c.conninfo())
    if as_json:
        echo_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['id']:>5} {r['status']:<10} {r['layer']:<16} read {r['read']:>8} "
                       f"loaded {r['loaded']:>8} rejected {r['rejected']:>6}  {r['source_path']}")


@click.command("rejects")
@click.argument("batch_id", type=int)
@click.option("--export", "export", type=click.Path(path_type=Path),
              help="Write the rejects to FILE.csv or FILE.gpkg (original attributes + geometry)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def rejects_cmd(c: Ctx, batch_id: int, export: Path | None, as_json: bool) -> None:
    """Show (or export) the features a load batch rejected, with their reasons."""
    import psycopg

    from layers.rejects import export_rejects, rejects

    with psycopg.connect(c.conninfo()) as conn:
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM load_batches WHERE id = %s)",
                            (batch_id,)).fetchone()[0]:
            # an input error (exit 3), not exit 1, which the CLI keeps for bugs
            raise InputError(f"no load batch {batch_id} (`cim batches` lists them)",
                             field="BATCH")
    if export:
        n = export_rejects(c.conninfo(), batch_id, export)
        click.echo(f"wrote {n} rejects of batch {batch_id} to {export}")
        return
    rows = rejects(c.conninfo(), batch_id)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        where = f"row {r['row_number']}" if r["row_number"] is not None else "-"
        field = f" [{r['field']}]" if r["field"] else ""
        click.echo(f"{where:>10}  {r['reason']:<22}{field} {r['message']}")
    click.echo(f"{len(rows)} rejected")


@click.command("history")
@click.argument("code_value", metavar="CODE")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def history_cmd(c: Ctx, code_value: str, as_json: bool) -> None:
    """Show every version of the feature with CODE (valid_from/valid_to, batch, attributes)."""
    from layers.features import history

    rows = history(c.conninfo(), code_value)
    if not rows:
        raise InputError(f"no feature has code {code_value}", field="CODE")
    if as_json:
        echo_json(rows)
        return
    skip = {"valid_from", "valid_to", "batch_id", "layer", "current", "code", "flags"}
    for r in rows:
        state = "current" if r["current"] else f"retired {_on_clock(r['valid_to'], c)}"
        # cases, alarms and risk points are written by the platform, not by a load: no batch
        batch = r.get("batch_id")
        click.echo(f"{_on_clock(r['valid_from'], c)}  batch {'-' if batch is None else batch}"
                   f"  {state}")
        attrs = ", ".join(f"{k}={_on_clock(v, c)}" for k, v in r.items()
                          if k not in skip and v is not None)
        click.echo(f"    {attrs}")




def _on_clock(v: object, c: Ctx) -> object:
    """A time of the database as README's CLI text shows it: on the city's clock (the
    profile's ``timezone``) with its offset (:func:`cim.cityclock.on_city_clock`). The sessions
    run on UTC, so the value as read was UTC, which a person in China reads 8 hours off; any
    other value as it is."""
    import datetime as dt

    from cim.cityclock import on_city_clock

    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return on_city_clock(v, c.profile.timezone).isoformat(sep=" ", timespec="seconds")
    return v
