"""``cim styles``: the one map's styles for QGIS (``apply`` into public.layer_styles, ``qml``)
and the web (``maplibre``), and ``cim qgis-project`` (layers/qgis)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cim.cli import Ctx, echo_json, pass_ctx, require_schema


@click.group("styles")
def styles() -> None:
    """The one map's styles (cim/dictionaries/styles.yaml, or the profile's `styles`)."""


@styles.command("apply")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def styles_apply(c: Ctx, as_json: bool) -> None:
    """Write each layer's QML into public.layer_styles as its default style (QGIS applies it
    when a planner adds the PostGIS layer by hand). Replaces the platform's earlier rows."""
    from layers.styles.apply import apply_styles

    require_schema(c)
    rows = apply_styles(c.conninfo(), c.profile)
    if as_json:
        echo_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['layer']:<16} {r['type']:<8} {r['style']}")


@styles.command("qml")
@click.argument("layer")
@click.option("--geometry", type=click.Choice(["point", "line", "fill"]),
              help="symbol kind of a mixed layer (components; default point)")
@pass_ctx
def styles_qml(c: Ctx, layer: str, geometry: str | None) -> None:
    """Print LAYER's QGIS style (QML)."""
    from layers.styles.qml import qml

    click.echo(qml(layer, c.profile, geometry=geometry), nl=False)


@styles.command("maplibre")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
@pass_ctx
def styles_maplibre(c: Ctx, base_url: str) -> None:
    """Print the web map's MapLibre style JSON."""
    from layers.styles.maplibre import maplibre_style

    click.echo(json.dumps(maplibre_style(base_url, c.profile), ensure_ascii=False, indent=1))


@click.command("qgis-project")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--service", default="cim", show_default=True,
              help="pg service name the layers connect with (no password in the project)")
@click.option("--service-file", type=click.Path(path_type=Path),
              help="also write the service's entry (host, port, dbname, user) to this "
                   "pg_service.conf, keeping its other sections")
@click.option("--name", default="cim_onemap", show_default=True,
              help="project name in the database's qgis_projects table")
@click.option("--no-db", is_flag=True, help="do not save the project into the database")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def qgis_project(c: Ctx, out: Path, service: str, service_file: Path | None, name: str,
                 no_db: bool, as_json: bool) -> None:
    """Write the one-map QGIS project OUT (.qgs, or .qgz zipped) and save it into the
    database's qgis_projects table, styled, current features only, in the storage CRS."""
    from layers.qgis.project import project_xml
    from layers.qgis.store import (
        check_project_name,
        check_service_name,
        qgz_bytes,
        read_service_file,
        save_to_database,
        write_service_file,
    )

    if out.suffix.lower() not in (".qgs", ".qgz"):  # QGIS opens no other (nothing written)
        raise click.BadParameter(f"{out.name}: a QGIS project is a .qgs or .qgz file",
                                 param_hint="OUT")
    check_service_name(service)
    if not no_db:
        check_project_name(name)
    if service_file:  # a service file that cannot be read stops the command before any write
        read_service_file(service_file)
    conninfo = c.conninfo()
    text, layers = project_xml(conninfo, c.profile, service=service)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".qgz":
        out.write_bytes(qgz_bytes(text, out.stem))
    else:
        out.write_text(text, encoding="utf-8")
    result = {"file": str(out), "layers": len(layers), "service": service}
    if service_file:
        result["service_file"] = str(service_file)
        result["service_entry"] = write_service_file(service_file, service, conninfo)
    if not no_db:
        result["database"] = save_to_database(conninfo, name, text, service)
    if as_json:
        echo_json(result)
    else:
        click.echo(f"wrote {out} ({len(layers)} layers, pg service '{service}')")
        if service_file:
            click.echo(f"service [{service}] written to {service_file}")
        if "database" in result:
            click.echo(f"saved in the database: {result['database']}")
