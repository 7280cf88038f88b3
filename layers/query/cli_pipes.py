"""``cim query section`` and ``cim query clearance``: the pipe queries on the command line.

Registered on the ``query`` group of :mod:`layers.query.cli` (imported at its end); each calls
the library function its OGC API process calls, so ``--json`` prints the process's result.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cim.cli import Ctx, echo_json, pass_ctx
from layers.query.cli import (
    _GEOJSON,
    _JSON,
    _OUT_CRS,
    _geojson_out,
    area_options,
    output_file,
    query,
)

if TYPE_CHECKING:
    from layers.query.area import Area


@query.command("section")
@click.option("--line", required=True, help="the section line: WKT, GeoJSON or a file")
@click.option("--crs", help="CRS of --line: CRS84 (default), EPSG:4490 (lat/lon) or the "
                            "storage CRS (northing first); GeoJSON and files are easting "
                            "first in any CRS")
@click.option("--svg", type=click.Path(path_type=Path), callback=output_file,
              help="write the drawing to OUT.svg")
@click.option("--png", type=click.Path(path_type=Path), callback=output_file,
              help="write the drawing to OUT.png (matplotlib)")
@click.option("--title", help="title of the drawing")
@_GEOJSON
@_OUT_CRS
@_JSON
@pass_ctx
def section_cmd(c: Ctx, line: str, crs: str | None, svg: Path | None, png: Path | None,
                title: str | None, geojson: Path | None, out_crs: str | None,
                as_json: bool) -> None:
    """Cross-section (横断面): the pipes --line crosses, by offset, with their elevations."""
    from layers.query.section import section, section_features, write_drawings

    res = section(c.conninfo(), line, crs, c.profile, out_crs, geometry=geojson is not None)
    if geojson is not None:
        _geojson_out(geojson, section_features(res), out_crs)
        for r in res["rows"]:
            r.pop("point", None)
    for w in write_drawings(res, svg, png, c.profile, title):
        click.echo(f"warning: {w}", err=True)
    if as_json:
        echo_json(res)
        return
    for r in res["rows"]:
        click.echo(f"{r['offset_m']:>9.3f}  {r['segment_code']:<20} {r['class_name']:<4} "
                   f"{r['size'] or '':<10} pipe {_f(r['pipe_elev'])}  ground "
                   f"{_f(r['ground_elev'])}  depth {_f(r['depth'])}")
    click.echo(f"{len(res['rows'])} crossings along {res['length_m']:.3f} m")


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


@query.command("clearance")
@area_options
@click.option("--kind", type=click.Choice(["vertical", "horizontal"]),
              help="only crossings (vertical) or only neighbours (horizontal)")
@_GEOJSON
@_OUT_CRS
@_JSON
@pass_ctx
def clearance_cmd(c: Ctx, area: Area, kind: str | None, geojson: Path | None,
                  out_crs: str | None, as_json: bool) -> None:
    """Pipes closer than GB 50289 allows (pipe_clearances.csv): crossings, neighbours,
    buildings."""
    from layers.query.clearance import clearance

    res = clearance(c.conninfo(), area, kind, c.profile, geometry=geojson is not None,
                    out_crs=out_crs)
    if geojson is not None:
        _geojson_out(geojson, [{"type": "Feature", "properties": {
            k: v for k, v in r.items() if k != "geometry"}, "geometry": r["geometry"]}
            for r in res["rows"]], out_crs)
        for r in res["rows"]:
            r.pop("geometry", None)
    if as_json:
        echo_json(res)
        return
    for r in res["rows"]:
        mark = "" if r["verified"] else " (unverified minimum)"
        click.echo(f"{r['kind']:<10} {r['a_code']:<20} {r['b_code']:<20} "
                   f"{r['clearance_m']:>7.3f} < {r['required_m']:.2f}{mark}")
    click.echo(f"{len(res['rows'])} below the minimum"
               + (f"; {res['unchecked']} crossings without elevation not checked"
                  if res["unchecked"] else ""))
