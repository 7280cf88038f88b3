"""``cim check`` and ``cim checks``: the approval check from the command line.

The command wires the two rooms without making either import the other: the project file is
read by ``loaders.project`` (the loaders' safe GDAL opening, plain records; a ``.zip``'s one
project too, named ``/vsizip/ZIP/MEMBER``) and checked by ``layers.approval`` (validation,
rules, report, record), so the data still flows one way. Exit codes: 0 every rule passes (or
does not apply), 1 any fails or needs review, 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cim.cli import Ctx, echo_json, pass_ctx
from cim.errors import ConfigError, InputError
from layers.query.cli import output_file


@click.command("check")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--crs", default=None, help="CRS of layers that declare none (a DXF, a "
              "Shapefile without .prj, a GeoJSON in metres); a layer declaring another CRS is "
              "refused (default: the file's, else detected from the coordinates)")
@click.option("--encoding", default=None,
              help="Encoding of a Shapefile project's .dbf text (default: its .cpg, else "
              "detected from the bytes: GBK text that is valid UTF-8 too needs --encoding GBK)")
@click.option("--rules", "rules", type=click.Path(path_type=Path), default=None,
              help="Rules file (default cim/dictionaries/approval_rules.yaml or the profile's)")
@click.option("--name", default=None, help="Project name (default: the file name)")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result")
# an output file in no folder is a bad option found before the check (it was an internal
# error after it, the check unrecorded)
@click.option("--report", type=click.Path(path_type=Path), default=None, callback=output_file,
              help="Write the HTML report (self-contained, map included)")
@click.option("--pdf", type=click.Path(path_type=Path), default=None, callback=output_file,
              help="Print the report to PDF with headless Chromium")
@click.option("--no-record", is_flag=True, help="Do not record the check in approval_checks")
@click.option("--by", "operator", default=None,
              help="Who runs the check, filed with its record (default: the system user)")
@pass_ctx
def check_cmd(c: Ctx, project: Path, crs: str | None, encoding: str | None,
              rules: Path | None, name: str | None, as_json: bool, report: Path | None,
              pdf: Path | None, no_record: bool, operator: str | None) -> None:
    """Check PROJECT (GeoPackage, GeoJSON, DXF, a Shapefile or a folder of Shapefiles, or
    a .zip holding one of them) against the planning rules."""
    _import_pyogrio_without_pandas()
    from layers.approval.check import check
    from layers.approval.config import load_config
    from layers.approval.mapdraw import draw_map
    from layers.approval.process import db_srid
    from layers.approval.project import build_project
    from layers.approval.record import attach_report, record_check
    from layers.approval.report import print_pdf, render_html
    from loaders.sources.gdal_messages import gdal_warnings

    # who runs it, checked before the check (a name of two lines is a bad option, exit 2)
    by = None if no_record else _operator(operator)
    try:
        cfg = load_config(c.profile, rules)
        # a .zip: its one project, the zip's checksum; the CRS each layer declares. GDAL's
        # warnings one line naming the file, those the notes tell (a ring read closed) not
        with gdal_warnings(project):
            pf, declared, crs_notes = read_declared(project, crs, encoding)
        # the path as filed: absolute (as load_batches.source_path), not as typed in a shell
        srid = db_srid(c.conninfo())
        proj = build_project(pf.records, source=pf.source,
                             name=name if name is not None else project.resolve().stem,
                             crs=pf.crs, storage_srid=srid,
                             profile=c.profile, config=cfg,
                             declared=declared if crs is not None else None)
        proj.notes.extend(pf.notes + crs_notes)
    except (InputError, ConfigError) as exc:
        # bad input is exit 2 for this command (the CLI's InputError code is 3 elsewhere)
        from cim.cli import one_line
        from loaders.project import dxf_unit_hint

        click.echo(f"error: {one_line(exc)}", err=True)
        placing = ("none can be detected", "cannot be placed", "storage CRS area")
        if any(w in str(exc) for w in placing) and (hint := dxf_unit_hint(project)):
            click.echo(f"hint: {hint}", err=True)
        sys.exit(2)
    result, ctx = check(c.conninfo(), proj, c.profile, cfg)
    # the file's identity in the filed report too, not only in the record's column: a path
    # names no content (the applicant's next version comes under the same name)
    result["project"]["file_sha256"] = pf.sha256
    if not no_record:  # first: the report names its record (记录号), filed with it
        result["record_id"] = record_check(
            c.conninfo(), result, pf.sha256, None, project_input=proj.as_geojson(srid),
            channel="cli", operator=by)
    html = None
    if report or pdf:
        html = render_html(result, draw_map(proj, ctx, result, c.profile),
                           c.profile.timezone)
        if not no_record:  # filed before the file is written: a disk full loses neither
            attach_report(c.conninfo(), result["record_id"], html)
        if report:
            try:
                Path(report).write_text(html, encoding="utf-8")
            except OSError as exc:  # (a full disk, a device: exit 1 read as "a rule fails")
                recorded = (f"; the check is recorded as {result['record_id']} with its "
                            f"report (`cim checks --id {result['record_id']} --report FILE` "
                            "writes it)" if not no_record else "")
                click.echo(f"error: cannot write the report {report}: {exc.strerror or exc}"
                           f"{recorded}", err=True)
                sys.exit(2)
    if pdf:
        try:
            print_pdf(html, pdf)
        except InputError as exc:
            click.echo(f"error: {exc} (the check itself is done"
                       + (f", recorded as {result['record_id']})" if not no_record else ")"),
                       err=True)
            sys.exit(2)
    if as_json:
        echo_json(result)
    else:
        s = result["summary"]
        for r in result["results"]:
            m = "" if r["measured"] is None else f" measured {r['measured']}"
            q = "" if r["required"] is None else f" required {r['required']}"
            click.echo(f"{r['status']:<15} {r['id']:<19} {r['title']['zh']}{m}{q}"
                       f"{' ' + r['unit'] if r['unit'] and (m or q) else ''}")
        click.echo(f"{s['status']}: " + ", ".join(f"{k} {n}" for k, n in s["counts"].items()))
        if not no_record:
            click.echo(f"recorded as check {result['record_id']} (cim checks --id "
                       f"{result['record_id']})")
    sys.exit(0 if result["summary"]["status"] == "pass" else 1)


def _operator(given: str | None) -> str | None:
    """Who ran the check: ``--by`` (one line), else the system user running the command."""
    import getpass

    from layers.approval.project import project_name

    if given is not None:
        try:
            return project_name(given, "the operator's name", "--by")
        except InputError as exc:
            raise click.BadParameter(exc.message, param_hint="--by") from None
    try:  # ($USER is read first: one line of text too)
        return project_name(getpass.getuser(), "the operator's name", "--by")
    except (KeyError, OSError, InputError):  # a uid without a passwd entry (a container)
        return None


def read_declared(project: Path, crs: str | None, encoding: str | None
                  ) -> tuple[Any, dict[str, Any], list[str]]:
    """The project file (``loaders.project.read_project``), the CRS each of its layers
    declares, and notes on layers declaring none.

    ``--crs`` is for coordinates whose file does not say where they lie (a DXF, a Shapefile
    without ``.prj``, a GeoJSON in metres without a ``crs`` member): there the layer takes it.
    Over a layer that declares another CRS it would move the applicant's coordinates without
    a word, so the declared CRSs go to the check (``build_project(declared=…)``), which
    refuses them naming layer and both CRSs unless they put the coordinates where ``--crs``
    does. Without ``--crs``, layers declaring different CRSs are refused by the reading.
    """
    from loaders.project import read_project

    pf = read_project(project, crs, encoding)
    declared = {n: c for n, c in pf.layer_crs.items() if c is not None}
    notes = []
    if crs is None and declared:
        from cim.crs import crs_label

        notes = [f"layer {n!r} declares no CRS: read in {crs_label(pf.crs)}, the CRS of "
                 f"layer(s) {', '.join(declared)} (--crs names the CRS of layers declaring "
                 "none)" for n, c in pf.layer_crs.items() if c is None]
    return pf, declared, notes


def _import_pyogrio_without_pandas() -> None:
    """Import pyogrio with pandas and geopandas hidden, unless one of them is imported already.

    ``cim check`` is a short process that reads one small file through pyogrio's Arrow reader
    (``loaders.project``: Python values, no pandas) and exits. pyogrio's own import tries
    pandas and geopandas, for ``read_dataframe``, which this process never calls: about 0.3 s
    of CPU, a sixth of a check with its report (the target is 2 s, docs/benchmarks.md).
    Hidden, they are recorded by pyogrio as absent; they are visible again right after, so a
    later ``import pandas`` works as ever. Should pyogrio not import without them, its modules
    are dropped and it is imported as usual. Only this command does it (a long-lived process,
    the server or the tests, could want ``read_dataframe`` later).
    """
    hidden = ("pandas", "geopandas")
    if "pyogrio" in sys.modules or any(m in sys.modules for m in hidden):
        return
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]  # `import m` raises ImportError
    try:
        import pyogrio  # noqa: F401
    except ImportError:
        for m in [m for m in sys.modules if m == "pyogrio" or m.startswith("pyogrio.")]:
            del sys.modules[m]
    finally:
        for m in hidden:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]


@click.command("checks")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0),
              help="Skip the latest N (the next page)")
@click.option("--project", default=None, help="Only projects whose name holds this text")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Checked on or after (the city's clock)")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Checked before (the city's clock; a date: its start)")
@click.option("--id", "check_id", type=int, default=None,
              help="One filed check: its record (with --report/--input, written out)")
@click.option("--report", type=click.Path(path_type=Path), default=None, callback=output_file,
              help="With --id: write the filed HTML report")
@click.option("--input", "input_out", type=click.Path(path_type=Path), default=None,
              callback=output_file, help="With --id: write the project as checked (GeoJSON "
              "in the storage CRS; `cim check` takes it again)")
@pass_ctx
def checks_cmd(c: Ctx, as_json: bool, limit: int, offset: int, project: str | None,
               since: Any, until: Any, check_id: int | None, report: Path | None,
               input_out: Path | None) -> None:
    """The recorded approval checks, latest first; or one of them (--id)."""
    from layers.approval.record import get_check, list_checks

    if check_id is None and (report or input_out):
        raise click.UsageError("--report and --input write one filed check: give its --id")
    if check_id is not None and (offset or project or since or until):
        raise click.UsageError("--id names one check: --project, --since, --until and "
                               "--offset filter the list")
    if check_id is not None:
        _one_check(c, get_check(c.conninfo(), check_id), check_id, as_json, report, input_out)
        return
    from cim.cityclock import city_time, on_city_clock

    zone = c.profile.timezone
    rows = list_checks(c.conninfo(), limit, offset, project,
                       city_time(since, zone) if since else None,
                       city_time(until, zone) if until else None)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in (r["counts"] or {}).items() if v)
        # on the city's clock with its offset (the session's UTC read 8 hours off in China)
        at = on_city_clock(r["checked_at"], zone)
        # how it came, who ran it, the file's checksum (none of a check filed before 0019)
        how = " ".join(x for x in (r["channel"], r["operator"], r["file_sha256"] and
                                   f"sha256 {r['file_sha256'][:12]}") if x)
        click.echo(f"{r['id']:>5} {at.isoformat(sep=' ', timespec='seconds')} {r['status']:<13} "
                   f"{r['project']}  ({counts})" + (f" [{how}]" if how else ""))
    if not rows:
        click.echo("no approval check recorded (`cim check PROJECT` records one)"
                   if not (offset or project or since or until) else "no check matches")


def _one_check(c: Ctx, row: dict[str, Any] | None, check_id: int, as_json: bool,
               report: Path | None, input_out: Path | None) -> None:
    if row is None:
        raise InputError(f"no approval check {check_id} is recorded", field="id")
    import json

    outputs = []
    if report:
        if row["report_html"] is None:
            raise InputError(f"check {check_id} was filed without a report (run `cim check` "
                             "with --report to file one)", field="report")
        outputs.append((report, row["report_html"]))
    if input_out:
        if row["input"] is None:
            raise InputError(f"check {check_id} was filed before the project as checked was "
                             "kept (migration 0019)", field="input")
        outputs.append((input_out, json.dumps(row["input"], ensure_ascii=False)))
    for path, text in outputs:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}",
                             path=str(path)) from None
    shown = {k: v for k, v in row.items() if k not in ("report_html", "result", "input")}
    shown["has_report"], shown["has_input"] = row["report_html"] is not None, \
        row["input"] is not None
    if as_json:
        echo_json(shown)
        return
    from cim.cityclock import on_city_clock

    at = on_city_clock(row["checked_at"], c.profile.timezone)
    click.echo(f"check {row['id']}: {row['project']} — {row['status']} at "
               f"{at.isoformat(sep=' ', timespec='seconds')}")
    for k in ("channel", "operator", "file_sha256"):
        click.echo(f"  {k:<12} {row[k] if row[k] is not None else '—'}")
    click.echo("  counts       " + ", ".join(f"{k} {v}" for k, v in
                                            (row["summary"].get("counts") or {}).items()))
    click.echo(f"  report       {'filed' if row['report_html'] else 'none'}"
               f"{' → ' + str(report) if report else ''}")
    click.echo(f"  input        {'kept' if row['input'] else 'not kept'}"
               f"{' → ' + str(input_out) if input_out else ''}")
