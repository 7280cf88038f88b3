"""The ``cim`` command line. Settings are built here, at the entry, never at import time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import psycopg

from cim.config import Settings
from cim.errors import CimError, DatabaseError, InputError


class Ctx:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._profile = None

    @property
    def profile(self):
        from cim.profile import load_profile

        if self._profile is None:
            self._profile = load_profile(self.settings.profile)
        return self._profile

    def url(self) -> str:
        from cim.db.engine import database_url

        return database_url(self.settings, start=True)

    def conninfo(self) -> str:
        from cim.db.engine import psycopg_conninfo

        return psycopg_conninfo(self.url())


pass_ctx = click.make_pass_decorator(Ctx)


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group()
@click.option("--profile", type=click.Path(path_type=Path), envvar="CIM_PROFILE",
              help="City profile YAML (default: the Jining sample profile).")
@click.pass_context
def cli(ctx: click.Context, profile: Path | None) -> None:
    """CIM platform: load survey data into PostGIS and publish it through OGC APIs."""
    settings = Settings(profile=profile) if profile else Settings()
    ctx.obj = Ctx(settings)


# -- database -------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """The embedded PostGIS cluster (or CIM_DATABASE_URL) and its schema."""


@db.command("start")
@pass_ctx
def db_start(c: Ctx) -> None:
    """Start the project-local cluster (initialising it the first time)."""
    click.echo(c.url())


@db.command("stop")
@pass_ctx
def db_stop(c: Ctx) -> None:
    """Stop the project-local cluster."""
    from cim.db.cluster import Cluster

    Cluster(c.settings.home).stop()
    click.echo("stopped")


@db.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def db_status(c: Ctx, as_json: bool) -> None:
    """Show whether the cluster runs, where and on which port."""
    from cim.db.cluster import Cluster

    st = Cluster(c.settings.home).status() if not c.settings.database_url else \
        {"external": True}
    if as_json:
        _echo_json(st)
    else:
        for k, v in st.items():
            click.echo(f"{k:12} {v}")


@db.command("url")
@pass_ctx
def db_url(c: Ctx) -> None:
    """Print the database URL (starts the cluster if needed)."""
    click.echo(c.url())


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def db_upgrade(c: Ctx, revision: str) -> None:
    """Run Alembic migrations up to REVISION (default head)."""
    from cim.db.migrate import current, upgrade

    url = c.url()
    upgrade(url, c.profile.srid, revision)
    click.echo(f"database at revision {current(url)} (storage EPSG:{c.profile.srid})")


@db.command("downgrade")
@click.argument("revision", default="base")
@pass_ctx
def db_downgrade(c: Ctx, revision: str) -> None:
    """Undo migrations down to REVISION (default base: drops every table)."""
    from cim.db.migrate import current, downgrade

    url = c.url()
    downgrade(url, c.profile.srid, revision)
    click.echo(f"database at revision {current(url)}")


# -- profile ------------------------------------------------------------------------------
@cli.group()
def profile() -> None:
    """The city profile: city, storage CRS, districts, grid, dictionaries."""


@profile.command("show")
@pass_ctx
def profile_show(c: Ctx) -> None:
    """Print the active profile."""
    p = c.profile
    _echo_json({**p.to_dict(), "path": str(p.path), "boundaries": str(p.boundaries),
                "grid": str(p.grid)})


@profile.command("create")
@click.option("--name", required=True, help="City name, e.g. 济宁市")
@click.option("--admin-code", required=True, help="GB/T 2260 city code, e.g. 370800")
@click.option("--crs", "crs", required=True, help="Projected storage CRS, e.g. EPSG:4527")
@click.option("--boundary", type=click.Path(exists=True, path_type=Path), required=True,
              help="District boundaries (any GDAL format) with code and name fields")
@click.option("--grid", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="profile.yaml to write")
def profile_create(name: str, admin_code: str, crs: str, boundary: Path, grid: Path | None,
                   out: Path) -> None:
    """Create a profile for another city from its name, code, CRS and boundary file."""
    from cim.profile import create_profile

    p = create_profile(out, name=name, admin_code=admin_code, storage_crs=crs,
                       boundary=boundary, grid=grid)
    click.echo(f"wrote {out}: {p.city_name} ({p.city_code}), EPSG:{p.srid}, "
               f"{len(p.districts)} districts")


@profile.command("apply")
@click.option("--json", "as_json", is_flag=True)
@click.option("--quiet", is_flag=True, help="Print nothing but errors")
@pass_ctx
def profile_apply(c: Ctx, as_json: bool, quiet: bool) -> None:
    """Load the profile's district boundaries and grid cells into the database."""
    from loaders.divisions import load_districts, load_grid

    reports = [load_districts(c.conninfo(), c.profile, mode="replace")]
    if c.profile.grid:
        reports.append(load_grid(c.conninfo(), c.profile, mode="replace"))
    if not quiet:
        _print_reports(reports, as_json)


def _print_reports(reports, as_json: bool) -> None:
    if as_json:
        _echo_json([r.to_dict() for r in reports] if len(reports) > 1 else reports[0].to_dict())
    else:
        for r in reports:
            click.echo(r.text())


# -- loading ------------------------------------------------------------------------------
@cli.group()
def load() -> None:
    """Load survey deliveries into the layers."""


def load_options(f):
    opts = [
        click.argument("path", type=click.Path(path_type=Path)),
        click.option("--crs", help="CRS of the input when the file has none or a wrong one"),
        click.option("--district", help="Put every feature in this district (6-digit code)"),
        click.option("--mode", type=click.Choice(["append", "update", "replace"]),
                     default="update", show_default=True,
                     help="append new; update changed features as new versions; replace "
                          "also retires features of this dataset missing from the file"),
        click.option("--dataset", help="Dataset name scoping source ids (default: file name)"),
        click.option("--layer", "source_layer", help="Layer inside a multi-layer source"),
        click.option("--encoding", help="Attribute encoding (default: detected)"),
        click.option("--mapping", type=click.Path(exists=True, path_type=Path),
                     help="YAML mapping attribute: source field"),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON"),
        click.option("--quiet", is_flag=True, help="No progress output"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


@load.command("buildings")
@load_options
@pass_ctx
def load_buildings_cmd(c: Ctx, path: Path, crs, district, mode, dataset, source_layer, encoding,
                       mapping, as_json, quiet) -> None:
    """Load building footprints (any GDAL vector format)."""
    from loaders.buildings import load_buildings
    from loaders.fields import read_mapping_file

    if district and district not in {d.code for d in c.profile.districts}:
        raise CimError(f"--district {district} is not a district of {c.profile.city_name}")
    report = load_buildings(c.conninfo(), c.profile, path, crs=crs, district=district, mode=mode,
                            dataset=dataset, source_layer=source_layer, encoding=encoding,
                            mapping=read_mapping_file(mapping) if mapping else None,
                            quiet=quiet or as_json)
    _print_reports([report], as_json)


# -- pipes and components (issue 3) ------------------------------------------------------
def pipe_source_options(f):
    opts = [
        click.argument("tables", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--lines", type=click.Path(path_type=Path),
                     help="GIS line layer of the network (instead of survey tables)"),
        click.option("--points", type=click.Path(path_type=Path),
                     help="GIS point layer of the network's nodes (with --lines)"),
        click.option("--valves", type=click.Path(path_type=Path),
                     help="GIS point layer of appurtenances such as valves (with --lines)"),
        click.option("--class", "class_", help="Pipe class of the whole delivery: 给水, JS, "
                     "雨水 … (default: class column, else sheet or file name)"),
        click.option("--crs", help="CRS of the coordinates (default: from the zone-prefixed "
                     "eastings, else the file's)"),
        click.option("--mapping", type=click.Path(exists=True, path_type=Path),
                     help="YAML mapping of columns, defaults and values (see README)"),
        click.option("--encoding", help="Text encoding of CSV/DBF (default: detected)"),
        click.option("--snap", type=float, default=0.01, show_default=True,
                     help="GIS lines without node ids: join line ends closer than this (m)"),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON"),
        click.option("--report", "report_path", type=click.Path(path_type=Path),
                     help="Write the QA report (.json, .csv or .html)"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _pipe_read_kw(tables, lines, points, valves, class_, crs, mapping, encoding, snap) -> dict:
    return {"tables": list(tables), "lines": lines, "points": points, "valves": valves,
            "class_opt": class_, "crs": crs, "mapping": mapping, "encoding": encoding,
            "snap": snap}


@load.command("pipes")
@pipe_source_options
@click.option("--mode", type=click.Choice(["append", "update", "replace"]), default="update",
              show_default=True)
@click.option("--dataset", help="Dataset name scoping source ids (default: from the file names)")
@click.option("--district", help="Put every feature in this district (6-digit code)")
@click.option("--attach", type=float, default=5.0, show_default=True,
              help="Appurtenances without a pipe id attach to a segment this near (m)")
@click.option("--quiet", is_flag=True, help="No progress output")
@pass_ctx
def load_pipes_cmd(c: Ctx, tables, lines, points, valves, class_, crs, mapping, encoding, snap,
                   as_json, report_path, mode, dataset, district, attach, quiet) -> None:
    """Load a pipe survey (管线点/管线段成果表: .xlsx .xls .csv .dbf .gpkg, files or folders)
    or a GIS network (--lines [--points] [--valves]); survey QA runs first."""
    from loaders.pipes import load_pipes_files

    if district and district not in {d.code for d in c.profile.districts}:
        raise CimError(f"--district {district} is not a district of {c.profile.city_name}")
    kw = _pipe_read_kw(tables, lines, points, valves, class_, crs, mapping, encoding, snap)
    kw["tables"] = kw["tables"] or None
    report, _qa = load_pipes_files(c.conninfo(), c.profile, mode=mode, dataset=dataset,
                                   district=district, attach=attach, report_path=report_path,
                                   **kw)
    if as_json:
        _echo_json(report.to_dict())
    elif not quiet:
        click.echo(report.text())


@cli.group()
def qa() -> None:
    """Quality checks of deliveries, without loading anything."""


@qa.command("pipes")
@pipe_source_options
@pass_ctx
def qa_pipes_cmd(c: Ctx, tables, lines, points, valves, class_, crs, mapping, encoding, snap,
                 as_json, report_path) -> None:
    """Survey QA of a pipe delivery (the checks `cim load pipes` runs first)."""
    from loaders.pipes import qa_pipes

    kw = _pipe_read_kw(tables, lines, points, valves, class_, crs, mapping, encoding, snap)
    result = qa_pipes(c.profile, kw.pop("tables") or None, **kw)
    if report_path:
        result.write(report_path)
    if as_json:
        _echo_json(result.to_dict())
    else:
        click.echo(result.text())


@load.command("components")
@load_options
@pass_ctx
def load_components_cmd(c: Ctx, path: Path, crs, district, mode, dataset, source_layer,
                        encoding, mapping, as_json, quiet) -> None:
    """Load a city-management component census (城市部件普查; points, lines, polygons)."""
    from loaders.components import load_components
    from loaders.fields import read_mapping_file

    if district and district not in {d.code for d in c.profile.districts}:
        raise CimError(f"--district {district} is not a district of {c.profile.city_name}")
    report = load_components(c.conninfo(), c.profile, path, crs=crs, district=district,
                             mode=mode, dataset=dataset, source_layer=source_layer,
                             encoding=encoding,
                             mapping=read_mapping_file(mapping) if mapping else None,
                             quiet=quiet or as_json)
    _print_reports([report], as_json)


# -- codes --------------------------------------------------------------------------------
@cli.group()
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
        _echo_json(d.to_dict())
    else:
        for k, v in d.to_dict().items():
            click.echo(f"{k:15} {v}")


# -- batches ------------------------------------------------------------------------------
@cli.command("batches")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def batches(c: Ctx, as_json: bool) -> None:
    """List load batches."""
    from layers.features import list_batches
    from loaders.bulk import mark_dead_batches

    with psycopg.connect(c.conninfo(), autocommit=True) as conn:
        mark_dead_batches(conn)
    rows = list_batches(c.conninfo())
    if as_json:
        _echo_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['id']:>5} {r['status']:<10} {r['layer']:<16} read {r['read']:>8} "
                       f"loaded {r['loaded']:>8} rejected {r['rejected']:>6}  {r['source_path']}")


@cli.command("rejects")
@click.argument("batch_id", type=int)
@click.option("--export", "export", type=click.Path(path_type=Path),
              help="Write the rejects to FILE.csv or FILE.gpkg (original attributes + geometry)")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def rejects_cmd(c: Ctx, batch_id: int, export: Path | None, as_json: bool) -> None:
    """Show (or export) the features a load batch rejected, with their reasons."""
    from loaders.rejects import export_rejects, rejects

    if export:
        n = export_rejects(c.conninfo(), batch_id, export)
        click.echo(f"wrote {n} rejects of batch {batch_id} to {export}")
        return
    rows = rejects(c.conninfo(), batch_id)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        where = f"row {r['row_number']}" if r["row_number"] is not None else "-"
        field = f" [{r['field']}]" if r["field"] else ""
        click.echo(f"{where:>10}  {r['reason']:<22}{field} {r['message']}")
    click.echo(f"{len(rows)} rejected")


@cli.command("history")
@click.argument("code_value", metavar="CODE")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def history_cmd(c: Ctx, code_value: str, as_json: bool) -> None:
    """Show every version of the feature with CODE (valid_from/valid_to, batch, attributes)."""
    from layers.features import history

    rows = history(c.conninfo(), code_value)
    if not rows:
        raise CimError(f"no feature has code {code_value}")
    if as_json:
        _echo_json(rows)
        return
    skip = {"valid_from", "valid_to", "batch_id", "layer", "current", "code", "flags"}
    for r in rows:
        state = "current" if r["current"] else f"retired {r['valid_to']:%Y-%m-%d %H:%M:%S}"
        click.echo(f"{r['valid_from']:%Y-%m-%d %H:%M:%S}  batch {r['batch_id']}  {state}")
        attrs = ", ".join(f"{k}={v}" for k, v in r.items() if k not in skip and v is not None)
        click.echo(f"    {attrs}")


# -- serving ------------------------------------------------------------------------------
@cli.command("serve")
@click.option("--host", default=None, help="Bind address (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default 5000)")
@click.option("--workers", default=2, show_default=True)
@pass_ctx
def serve(c: Ctx, host: str | None, port: int | None, workers: int) -> None:
    """Serve the OGC API (pygeoapi under gunicorn) in the foreground."""
    from services.serve import serve_foreground

    serve_foreground(c.url(), c.profile, host or c.settings.host, port or c.settings.port,
                     workers=workers, home=c.settings.home)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CimError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except psycopg.OperationalError as exc:
        err = DatabaseError(f"database unavailable: {str(exc).strip()}")
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if not _is_gdal_input_error(exc):
            raise  # a bug: keep the traceback
        err = InputError(f"GDAL cannot read the input: {str(exc).strip()}")
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)


# pyogrio's errors for a file GDAL cannot open or read (the loaders turn them into InputError;
# one that escapes is still a problem of the input, not a bug)
_GDAL_INPUT_ERRORS = {"DataSourceError", "DataLayerError", "FeatureError", "FieldError",
                      "GeometryError", "CRSError"}


def _is_gdal_input_error(exc: BaseException) -> bool:
    cls = type(exc)
    return cls.__module__.startswith("pyogrio") and cls.__name__ in _GDAL_INPUT_ERRORS


if __name__ == "__main__":
    main()
