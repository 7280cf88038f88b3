"""``cim health compute --year Y [--future-year] [--json] [--report OUT.html]
[--indicators FILE]``, ``cim health years [--json]``, ``cim health report --year Y --out
OUT.html`` and ``cim health delete --year Y --yes``."""

from __future__ import annotations

from pathlib import Path

import click

from cim.cli import Ctx, echo_json, pass_ctx
from layers.query.cli import output_file


@click.group("health")
def health() -> None:
    """City health check (城市体检): indicators, index, report."""


@health.command("compute")
@click.option("--year", type=click.IntRange(1900, 2200), required=True,
              help="The check year (1900–2200, as the health-compute process takes it)")
@click.option("--future-year", is_flag=True,
              help="YEAR is after the city's current year on purpose (a plan-target scenario)")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              callback=output_file,
              help="Write the HTML report (tables per dimension, choropleth maps)")
@click.option("--indicators", "catalog_file", type=click.Path(path_type=Path), default=None,
              help="Indicator catalog (default: the profile's health_indicators.yaml)")
@pass_ctx
def compute_cmd(c: Ctx, year: int, future_year: bool, as_json: bool, report: Path | None,
                catalog_file: Path | None) -> None:
    """Compute every indicator for YEAR per district and for the city, store it (replacing
    that year) and compare it with the previous year and the targets. Buildings, parks,
    roads, facilities and districts are today's whatever YEAR: only the residents and the
    pipes' (and new high-rises') ages follow it."""
    from layers.health.catalog import load_catalog
    from layers.health.compute import compute, future_year_problem

    problem = None if future_year else future_year_problem(year, c.profile)
    if problem:
        raise click.BadParameter(problem, param_hint="'--year'")
    cat = load_catalog(c.profile, catalog_file)
    if report:  # the report's dictionaries read (a city's copy checked) before anything is stored
        from layers.health.report import (
            district_shapes,
            health_classes,
            health_labels,
            render_html,
        )

        classes, labels = health_classes(c.profile), health_labels(c.profile)
    result = compute(c.conninfo(), year, c.profile, cat)
    if report:
        report.write_text(render_html(result, district_shapes(c.conninfo()), classes, labels),
                          encoding="utf-8")
        result["report"] = str(report)
    if as_json:
        echo_json(result)
        return
    city = result["index"]["units"].get("city", {})
    # no indicator with a value (nothing loaded): "-", as below, not Python's None
    click.echo(f"health check {year}: city index "
               f"{city.get('value') if city.get('value') is not None else '-'} "
               f"(previous year {result['previous_year'] or '-'}: "
               f"{city.get('previous_value') if city.get('previous_value') is not None else '-'})"
               # the change is partly of what the index averages (indicators_changed) or of
               # another area (boundary_changed)
               + (f"  [{', '.join(city['flags'])}]" if city.get("flags") else ""))
    for ind in result["indicators"]:
        e = ind["city"]
        v = "-" if e["value"] is None else f"{e['value']:.0f}" if ind.get("count") else \
            f"{e['value']:.2f}"
        flags = f"  [{', '.join(e['flags'])}]" if e["flags"] else ""
        py = (e.get("detail") or {}).get("population_year")  # whose residents, per capita
        pop = f"  (population {py})" if py is not None else ""
        t = ind["target"]  # a count's whole too: "target 0", not 0.0 buildings
        t = "-" if t is None else f"{t:.0f}" if ind.get("count") and t == int(t) else t
        click.echo(f"  {ind['name_zh']:<16} {v:>10} {ind['unit']:<7} target "
                   f"{t:<6} {e['status']}{flags}{pop}")
    if report:
        click.echo(f"report: {report}")


@health.command("delete")
@click.option("--year", type=click.IntRange(1900, 2200), required=True,
              help="The stored year to delete")
@click.option("--yes", is_flag=True, help="Confirm: the year is no longer served or mapped")
@pass_ctx
def delete_cmd(c: Ctx, year: int, yes: bool) -> None:
    """Delete the stored results of YEAR (retired, as a recompute retires them) and compare
    the next stored year anew with the one before YEAR. A year stored by mistake was the
    map's latest year and the next year's previous one for good."""
    from layers.health.store import delete_year

    if not yes:
        raise click.UsageError(f"deleting the stored health check {year} needs --yes")
    n = delete_year(c.conninfo(), year)
    if not n:
        raise click.BadParameter(f"no health check of {year} is stored",
                                 param_hint="'--year'")
    click.echo(f"health check {year}: {n} rows deleted")


@health.command("years")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON list")
@pass_ctx
def years_cmd(c: Ctx, as_json: bool) -> None:
    """The stored years: when each was computed (the city's clock), its city index and
    trend, how many indicators have a city value. Which year to file a report of was found
    only by querying the table."""
    from layers.health.stored import on_clock, stored_years

    years = stored_years(c.conninfo())
    if as_json:
        echo_json(years)
        return
    if not years:
        click.echo("no health check is stored (cim health compute --year Y)")
        return
    from layers.health.report import health_labels

    # the trend in the city's words, as its report and the web map give it
    zone, words = c.profile.timezone, health_labels(c.profile).get("trend", {})
    for y in years:
        idx = "-" if y["index"] is None else f"{y['index']:.3f}".rstrip("0").rstrip(".")
        # (a year whose index has no value has no change from the year before either)
        prev = "" if y["previous_value"] is None or y["change"] is None else (
            f"  {words.get(y['trend'], y['trend']) if y['trend'] else '-'} "
            f"{y['change']:+g} on {y['previous_year']}")
        flags = f"  [{', '.join(y['flags'])}]" if y["flags"] else ""
        # a later year's comparison renewed (an earlier year stored or deleted since)
        again = "" if y["versioned_at"] == y["computed_at"] else \
            f"  compared anew {on_clock(y['versioned_at'], zone)}"
        click.echo(f"{y['year']}  computed {on_clock(y['computed_at'], zone)}  index {idx}"
                   f"{prev}{flags}  indicators with data {y['indicators_with_data']}/"
                   f"{y['indicators']}{again}")


@health.command("report")
@click.option("--year", type=click.IntRange(1900, 2200), required=True,
              help="The stored year to report")
@click.option("--out", type=click.Path(path_type=Path), required=True, callback=output_file,
              help="The HTML report to write")
@pass_ctx
def report_cmd(c: Ctx, year: int, out: Path) -> None:
    """Write the report of YEAR as stored: its stored values, comparisons and district
    polygons, drawn by the compute's renderer; nothing is computed or written to the
    database. Recomputing a past year to get its report redid it on today's features and
    replaced the stored year."""
    from layers.health.report import health_classes, health_labels, render_html
    from layers.health.stored import stored_result

    classes, labels = health_classes(c.profile), health_labels(c.profile)
    got = stored_result(c.conninfo(), year, c.profile)
    if got is None:
        raise click.BadParameter(f"no health check of {year} is stored (cim health years "
                                 "lists the stored years)", param_hint="'--year'")
    result, shapes = got
    if len(shapes) < len(result["index"]["units"]) - 1:  # rows stored without a polygon
        from layers.health.report import district_shapes

        shapes = {**district_shapes(c.conninfo()), **shapes}
    out.write_text(render_html(result, shapes, classes, labels), encoding="utf-8")
    if result["weights_changed"]:
        click.echo("note: the catalog's dimension weights no longer give the stored index: "
                   "the report shows no weights", err=True)
    click.echo(f"health check {year}: report {out}")
