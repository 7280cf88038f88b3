"""The loaders' commands: ``cim load …``, ``cim qa pipes``, ``cim profile apply``."""

from __future__ import annotations

from pathlib import Path

import click

from cim.cli import FINITE_FLOAT, Ctx, echo_json, imports_settled, pass_ctx, print_reports
from cim.errors import InputError
from loaders.sources.gdal_messages import gdal_warnings
from loaders.sources.table_checks import start_gpkg_numbers


def register(cli: click.Group) -> None:
    """Add the loaders' commands to ``cli``."""
    cli.commands["profile"].add_command(profile_create)
    cli.commands["profile"].add_command(profile_apply)
    cli.add_command(load)
    cli.add_command(qa)
    cli.add_command(places)


def _check_district(c: Ctx, district: str | None) -> None:
    """``--district`` names a district of the profile: else an input error (exit 3), as
    every other bad option value of a load is, not exit 1, which the CLI keeps for bugs."""
    if district and district not in {d.code for d in c.profile.districts}:
        known = ", ".join(f"{d.code} {d.name}" for d in c.profile.districts)
        raise InputError(f"{district} is not a district of {c.profile.city_name} "
                         f"(districts: {known})", field="--district")


@click.command("create")
@click.option("--name", required=True, help="City name, e.g. 济宁市")
@click.option("--admin-code", required=True, help="GB/T 2260 city code, e.g. 370800")
@click.option("--crs", "crs", required=True, help="Projected storage CRS, e.g. EPSG:4527")
@click.option("--boundary", type=click.Path(exists=True, path_type=Path), required=True,
              help="District boundaries (any GDAL format) with code and name fields")
@click.option("--grid", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--encoding", help="Attribute encoding of a Shapefile boundary (default: "
                                 "detected)")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="profile.yaml to write")
def profile_create(name: str, admin_code: str, crs: str, boundary: Path, grid: Path | None,
                   encoding: str | None, out: Path) -> None:
    """Create a profile for another city from its name, code, CRS and boundary file."""
    from loaders.divisions import create_profile

    notes: list[str] = []
    p = create_profile(out, name=name, admin_code=admin_code, storage_crs=crs,
                       boundary=boundary, grid=grid, encoding=encoding, notes=notes)
    for note in notes:
        click.echo(f"note: {note}")
    click.echo(f"wrote {out}: {p.city_name} ({p.city_code}), EPSG:{p.srid}, "
               f"{len(p.districts)} districts")


@click.command("apply")
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
        print_reports(reports, as_json)


# -- loading ------------------------------------------------------------------------------
@click.group()
def load() -> None:
    """Load survey deliveries into the layers."""
    from cim import interrupts

    interrupts.one_piece()  # each `cim load` is one batch


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
    _check_district(c, district)
    conninfo = c.conninfo()
    early = _early_keys(conninfo, "buildings", path, dataset, source_layer, encoding)
    _begin_beside_imports(path, source_layer)
    from loaders.buildings import load_buildings
    from loaders.field_names import read_mapping_file

    imports_settled()

    with gdal_warnings(path):  # the report names the cut field names it read (its own)
        report = load_buildings(conninfo, c.profile, path, crs=crs, district=district,
                                mode=mode, dataset=dataset, source_layer=source_layer,
                                encoding=encoding,
                                mapping=read_mapping_file(mapping) if mapping else None,
                                quiet=quiet or as_json, early=early)
    print_reports([report], as_json)


def _begin_beside_imports(path: Path, source_layer: str | None) -> None:
    """What a load of ``path`` will ask of the file alone, begun on threads while the command
    imports its modules (~0.5 s, one core idle): a GeoPackage's number check and the
    delivery's checksum, which the load takes if the file is unchanged by then."""
    from loaders.engine.checksum import delivery_files, start_files_sha256

    start_gpkg_numbers(path, source_layer)
    start_files_sha256(delivery_files(path))


def _early_keys(conninfo: str, layer: str, path: Path, dataset: str | None,
                source_layer: str | None, encoding: str | None):
    """The layer's keys of the delivery's dataset (--dataset, else a rejects export's, else
    the file name: the load's own rule, :func:`loaders.field_names.delivery_dataset`), read
    beside the command's imports (:mod:`loaders.engine.keyread`)."""
    from cim.layerdefs import LAYERS
    from loaders.engine.keyread import EarlyKeys
    from loaders.field_names import delivery_dataset

    return EarlyKeys(conninfo, LAYERS[layer].table, layer,
                     delivery_dataset(path, dataset, source_layer, encoding))


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
        click.option("--snap", type=FINITE_FLOAT, default=0.01, show_default=True,
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
@click.option("--attach", type=FINITE_FLOAT, default=5.0, show_default=True,
              help="Appurtenances without a pipe id attach to a segment this near (m)")
@click.option("--quiet", is_flag=True, help="No progress output")
@pass_ctx
def load_pipes_cmd(c: Ctx, tables, lines, points, valves, class_, crs, mapping, encoding, snap,
                   as_json, report_path, mode, dataset, district, attach, quiet) -> None:
    """Load a pipe survey (管线点/管线段成果表: .xlsx .xls .csv .dbf .gpkg, files or folders)
    or a GIS network (--lines [--points] [--valves]); survey QA runs first."""
    from loaders.pipes.load import load_pipes_files

    imports_settled()

    _check_district(c, district)
    kw = _pipe_read_kw(tables, lines, points, valves, class_, crs, mapping, encoding, snap)
    kw["tables"] = kw["tables"] or None
    with gdal_warnings([*tables, lines, points, valves]):
        report, _qa = load_pipes_files(c.conninfo(), c.profile, mode=mode, dataset=dataset,
                                       district=district, attach=attach,
                                       report_path=report_path, **kw)
    # --quiet as for every load command: no progress (a pipe load writes none), the report
    print_reports([report], as_json)


@click.group()
def qa() -> None:
    """Quality checks of deliveries, without loading anything."""


@qa.command("pipes")
@pipe_source_options
@pass_ctx
def qa_pipes_cmd(c: Ctx, tables, lines, points, valves, class_, crs, mapping, encoding, snap,
                 as_json, report_path) -> None:
    """Survey QA of a pipe delivery (the checks `cim load pipes` runs first)."""
    from loaders.pipes.load import qa_pipes

    kw = _pipe_read_kw(tables, lines, points, valves, class_, crs, mapping, encoding, snap)
    with gdal_warnings([*tables, lines, points, valves]):
        result = qa_pipes(c.profile, kw.pop("tables") or None, **kw)
    if report_path:
        result.write(report_path)
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(result.text())


@load.command("components")
@load_options
@pass_ctx
def load_components_cmd(c: Ctx, path: Path, crs, district, mode, dataset, source_layer,
                        encoding, mapping, as_json, quiet) -> None:
    """Load a city-management component census (城市部件普查; points, lines, polygons)."""
    _check_district(c, district)
    conninfo = c.conninfo()
    early = _early_keys(conninfo, "components", path, dataset, source_layer, encoding)
    _begin_beside_imports(path, source_layer)
    from loaders.components import load_components
    from loaders.field_names import read_mapping_file

    imports_settled()

    with gdal_warnings(path):
        report = load_components(conninfo, c.profile, path, crs=crs, district=district,
                                 mode=mode, dataset=dataset, source_layer=source_layer,
                                 encoding=encoding,
                                 mapping=read_mapping_file(mapping) if mapping else None,
                                 quiet=quiet or as_json, early=early)
    print_reports([report], as_json)




@load.command("planning")
@load_options
@click.option("--kind", type=click.Choice(["parcels", "control_lines", "height_zones"]),
              help="What the file holds (default: told by its fields and geometry)")
@pass_ctx
def load_planning_cmd(c: Ctx, path: Path, crs, district, mode, dataset, source_layer, encoding,
                      mapping, as_json, quiet, kind) -> None:
    """Load planning controls: 控规地块 (parcels), 控制线 (control_lines: 道路红线 绿线 蓝线 紫线
    黄线, areas or lines) or 限高区 (height_zones)."""
    from loaders.field_names import read_mapping_file
    from loaders.planning import load_planning

    imports_settled()

    _check_district(c, district)
    with gdal_warnings(path):
        report = load_planning(c.conninfo(), c.profile, path, kind=kind, crs=crs,
                               district=district, mode=mode, dataset=dataset,
                               source_layer=source_layer, encoding=encoding,
                               mapping=read_mapping_file(mapping) if mapping else None,
                               quiet=quiet or as_json)
    print_reports([report], as_json)


# -- city base layers (issue 13) -----------------------------------------------------------
def _load_base(c: Ctx, kind: str, path: Path, crs, district, mode, dataset, source_layer,
               encoding, mapping, as_json, quiet) -> None:
    from loaders.city_base import load_base
    from loaders.field_names import read_mapping_file

    imports_settled()

    _check_district(c, district)
    with gdal_warnings(path):
        report = load_base(c.conninfo(), c.profile, kind, path, crs=crs, district=district,
                           mode=mode, dataset=dataset, source_layer=source_layer,
                           encoding=encoding,
                           mapping=read_mapping_file(mapping) if mapping else None,
                           quiet=quiet or as_json)
    print_reports([report], as_json)


@load.command("roads")
@load_options
@pass_ctx
def load_roads_cmd(c: Ctx, path: Path, **kw) -> None:
    """Load road centre lines (道路中心线): class 快速路/主干路/次干路/支路, red-line width,
    lanes."""
    _load_base(c, "roads", path, **kw)


@load.command("green")
@load_options
@pass_ctx
def load_green_cmd(c: Ctx, path: Path, **kw) -> None:
    """Load green spaces and parks (绿地与公园) typed by CJJ/T 85 (综合公园, 社区公园, 游园 …);
    the area is computed from the geometry."""
    _load_base(c, "green", path, **kw)


@load.command("facilities")
@load_options
@pass_ctx
def load_facilities_cmd(c: Ctx, path: Path, **kw) -> None:
    """Load public service facilities (公共服务设施: 幼儿园, 小学, 中学, 社区卫生服务中心, 医院,
    养老院, 菜市场, 社区服务中心, 应急避难场所 …) as points."""
    _load_base(c, "facilities", path, **kw)


@load.command("population")
@load_options
@click.option("--year", type=click.IntRange(1900, 2100),
              help="Year of rows without a year field (年份)")
@pass_ctx
def load_population_cmd(c: Ctx, path: Path, crs, district, mode, dataset, source_layer,
                        encoding, mapping, as_json, quiet, year) -> None:
    """Load residents (常住人口) per residential building (建筑编码) or per grid cell (网格编码);
    the buildings or grid cells must be loaded first."""
    from loaders.field_names import read_mapping_file
    from loaders.population import load_population

    imports_settled()

    _check_district(c, district)
    with gdal_warnings(path):
        report = load_population(c.conninfo(), c.profile, path, year=year, crs=crs,
                                 district=district, mode=mode, dataset=dataset,
                                 source_layer=source_layer, encoding=encoding,
                                 mapping=read_mapping_file(mapping) if mapping else None,
                                 quiet=quiet or as_json)
    print_reports([report], as_json)


@load.command("sensors")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help="CRS of X/Y (default: detected from the eastings, else the "
                            "storage CRS)")
@click.option("--mode", type=click.Choice(["append", "update", "replace"]), default="update",
              show_default=True, help="replace also retires sensors missing from the registry")
@click.option("--encoding", help="Text encoding of a CSV (default: detected)")
@click.option("--mapping", type=click.Path(exists=True, path_type=Path),
              help="YAML mapping attribute: column")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON")
@click.option("--quiet", is_flag=True, help="No progress output")
@pass_ctx
def load_sensors_cmd(c: Ctx, path: Path, crs, mode, encoding, mapping, as_json, quiet) -> None:
    """Load the sensor registry (设备编号 监测类型 监测对象编码 X Y …, CSV/Excel/GeoPackage);
    the watched assets must be loaded first."""
    from loaders.field_names import read_mapping_file
    from loaders.sensors import load_sensors

    imports_settled()

    with gdal_warnings(path):
        report = load_sensors(c.conninfo(), c.profile, path, crs=crs, mode=mode,
                              encoding=encoding,
                              mapping=read_mapping_file(mapping) if mapping else None,
                              quiet=quiet or as_json)
    print_reports([report], as_json)


# -- placing stored features again ---------------------------------------------------------
@click.group()
def places() -> None:
    """Districts and grid cells of stored features."""


@places.command("refresh")
@click.option("--layer", help="Only this layer (default: every layer placed in districts and "
                              "grid cells)")
@click.option("--dry-run", is_flag=True, help="Count the features out of place, write nothing")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def places_refresh_cmd(c: Ctx, layer: str | None, dry_run: bool, as_json: bool) -> None:
    """Place current features again in the current districts and grid cells, by the rule
    the loads use (features loaded before the grid cells, or before a boundary changed)."""
    from dataclasses import asdict

    from loaders.places_refresh import refresh

    results = refresh(c.conninfo(), layer, dry_run=dry_run)
    if as_json:
        echo_json([asdict(r) for r in results])
        return
    for r in results:
        if r.current:
            click.echo(r.text())
    if not any(r.current for r in results):
        click.echo("no current features in the layers placed in districts and grid cells")
