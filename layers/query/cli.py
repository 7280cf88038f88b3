"""``cim query …``: the one-map query library on the command line.

Each command calls the library function the OGC API process calls, so ``--json`` prints the
process's result. Area options (``--bbox``, ``--polygon``, ``--point``/``--radius``,
``--code``, ``--district``, ``--grid``, ``--crs``) mean the same everywhere.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cim.cli import FINITE_FLOAT, Ctx, echo_json, pass_ctx
from cim.errors import InputError

if TYPE_CHECKING:  # the library (shapely, pyproj) is imported when a query runs, not at start
    from layers.query.area import Area


@click.group("query")
def query() -> None:
    """One-map queries across layers (一张图): aoi, overlay, near, stats."""
    from layers.query.common import DEFAULT_MAX_ROWS, MAX_ROWS, READ_FILES

    # a geometry argument may name the user's file here (only here), for this command only:
    # set and left on, an in-process call (click's CliRunner, a served process that imports
    # the CLI) left every later query of the process reading the server's files
    # and the answer is not cut to a served process's number of rows (MAX_ROWS)
    token, rows_token = READ_FILES.set(True), MAX_ROWS.set(None)

    def reset() -> None:
        try:
            READ_FILES.reset(token)
            MAX_ROWS.reset(rows_token)
        except ValueError:  # closed in another contextvars context: turn it off there
            READ_FILES.set(False)
            MAX_ROWS.set(DEFAULT_MAX_ROWS)

    click.get_current_context().call_on_close(reset)


def _floats(value: str | None, n: int, name: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != n:
        raise InputError(f"{name} {value!r}: expected {n} comma-separated numbers")
    return parts


def area_options(f):
    """The area-of-interest options; the command receives ``area: Area``."""
    opts = [
        click.option("--bbox", help="X0,Y0,X1,Y1 (in --crs; CRS84 lon/lat by default)"),
        click.option("--polygon", help="WKT, GeoJSON or a file holding either"),
        click.option("--point", help="X,Y (with --radius)"),
        click.option("--radius", type=FINITE_FLOAT, help="metres around --point"),
        click.option("--code", "feature_code", help="the area of the feature with CODE"),
        click.option("--district", help="district code (level 3)"),
        click.option("--grid", help="grid cell code"),
        click.option("--crs", help="CRS of --bbox/--polygon/--point: CRS84 (default), "
                                   "EPSG:4490 (lat/lon) or the storage CRS (northing first); "
                                   "GeoJSON and files are easting first in any CRS"),
    ]

    @functools.wraps(f)
    def wrapper(*args, bbox, polygon, point, radius, feature_code, district, grid, crs,
                **kw):
        from layers.query.area import Area

        kw["area"] = Area(bbox=_floats(bbox, 4, "--bbox"), polygon=polygon,
                          point=_floats(point, 2, "--point"), radius=radius,
                          code=feature_code, district=district, grid=grid, crs=crs)
        return f(*args, **kw)

    for o in reversed(opts):
        wrapper = o(wrapper)
    return wrapper


def _geojson_out(geojson: Path | None, features: list[dict[str, Any]],
                 out_crs: str | None) -> None:
    if geojson is not None:
        from layers.query.sqlparts import write_geojson

        write_geojson(geojson, features, out_crs)


def output_file(ctx: click.Context, param: click.Parameter, value: Path | None
                ) -> Path | None:
    """An option naming a file the command writes, checked before the query runs: a folder
    that does not exist was found only after the query, as an internal error with a
    traceback (FileNotFoundError)."""
    if value is None:
        return None
    folder = value.parent
    if value.is_dir():
        raise click.BadParameter(f"{value} is a folder: name the file to write", ctx, param)
    if not folder.is_dir():
        raise click.BadParameter(f"{value}: no folder {folder} to write it in", ctx, param)
    if not os.access(folder, os.W_OK) or (value.exists() and not os.access(value, os.W_OK)):
        raise click.BadParameter(f"{value}: not writable", ctx, param)
    return value


_GEOJSON = click.option("--geojson", type=click.Path(path_type=Path), callback=output_file,
                        help="write the features to OUT (GeoJSON)")
_OUT_CRS = click.option("--out-crs", help="CRS of the geometries written (CRS84 by default)")
_JSON = click.option("--json", "as_json", is_flag=True, help="print the result as JSON")


@query.command("aoi")
@area_options
@click.option("--layers", "layer_list", help="a,b (default: every layer)")
@click.option("--where", multiple=True, help="LAYER:CQL2 filter, e.g. "
                                             "'buildings:floors_above >= 10' (repeatable)")
@click.option("--features", is_flag=True, help="include the features in --json")
@click.option("--on-map", is_flag=True, help="only what the one map shows (open cases, "
                                             "active alarms …)")
@_GEOJSON
@_OUT_CRS
@_JSON
@pass_ctx
def aoi_cmd(c: Ctx, area: Area, layer_list: str | None, where: tuple[str, ...],
            features: bool, on_map: bool, geojson: Path | None, out_crs: str | None,
            as_json: bool) -> None:
    """Exact counts (and features) of current features of each layer in an area (the
    operations' alarms and cases too)."""
    from layers.query.aoi import aoi

    res = aoi(c.conninfo(), area, layer_list, list(where), features or geojson is not None,
              out_crs, zone=c.profile.timezone if c.settings.profile is not None else None,
              on_map=on_map)
    if geojson is not None:
        feats = [dict(f, properties={"layer": n, **f["properties"]})
                 for n, v in res["layers"].items() for f in v["features"]]
        _geojson_out(geojson, feats, out_crs)
        if not features:
            for v in res["layers"].values():
                v.pop("features")
    if as_json:
        echo_json(res)
        return
    for n, v in res["layers"].items():
        click.echo(f"{n:<16} {v['count']:>10}")


@query.command("overlay")
@click.argument("a")
@click.argument("b")
@area_options
@click.option("--features", is_flag=True, help="include the pieces as features in --json")
@_GEOJSON
@_OUT_CRS
@_JSON
@pass_ctx
def overlay_cmd(c: Ctx, a: str, b: str, area: Area, features: bool, geojson: Path | None,
                out_crs: str | None, as_json: bool) -> None:
    """Pieces of layer A cut by the polygons of layer B, with both attribute sets."""
    from layers.query.overlay import overlay

    res = overlay(c.conninfo(), a, b, area, features or geojson is not None, out_crs)
    if geojson is not None:
        _geojson_out(geojson, res["features"], out_crs)
        if not features:
            res.pop("features")
    if as_json:
        echo_json(res)
        return
    for r in res["rows"]:
        m = r.get("area_m2", r.get("length_m"))
        click.echo(f"{r['a_code']:<20} {r['b_code']:<20} {'' if m is None else f'{m:.3f}'}")
    click.echo(f"{res['pieces']} pieces, {res['total_area_m2']:.3f} m², "
               f"{res['total_length_m']:.3f} m")


@query.command("near")
@click.argument("a")
@click.argument("b")
@click.option("--distance", type=FINITE_FLOAT, help="metres (in plan)")
@click.option("--nearest", type=int, help="at most K nearest B for each A")
@area_options
@_JSON
@pass_ctx
def near_cmd(c: Ctx, a: str, b: str, distance: float | None, nearest: int | None, area: Area,
             as_json: bool) -> None:
    """Pairs of A and B features within --distance metres (or each A's --nearest K B)."""
    from layers.query.near import near

    res = near(c.conninfo(), a, b, distance, nearest, area)
    if as_json:
        echo_json(res)
        return
    for r in res["rows"]:
        click.echo(f"{r['a_code']:<20} {r['b_code']:<20} {r['distance_m']:.3f}")


@query.command("stats")
@click.argument("layer")
@click.option("--by", type=click.Choice(["grid", "district"]), default="grid",
              show_default=True)
@click.option("--class", "class_field", help="a column of LAYER to group by, e.g. pipe_class")
@_JSON
@pass_ctx
def stats_cmd(c: Ctx, layer: str, by: str, class_field: str | None, as_json: bool) -> None:
    """Count, length and area of LAYER per grid cell or district (totals add up)."""
    from layers.query.stats import stats

    res = stats(c.conninfo(), layer, by, class_field)
    if as_json:
        echo_json(res)
        return
    for r in res["rows"]:
        click.echo(f"{r['unit_code'] or '-':<16} {r['class'] or '':<8} {r['count']:>8} "
                   f"{r['length_m'] or 0:>14.3f} {r['area_m2'] or 0:>14.3f}")
    for w in res["warnings"]:  # features the null row holds though a unit lies there
        click.echo(f"warning: {w}", err=True)


def _add_network_commands() -> None:
    from layers.query.network_cli import isolate_cmd, trace_cmd

    query.add_command(trace_cmd)
    query.add_command(isolate_cmd)


_add_network_commands()


# the pipe queries (section, clearance) add their commands to the group
from layers.query import cli_pipes as _cli_pipes  # noqa: E402,F401
