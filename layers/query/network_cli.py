"""``cim query trace`` and ``cim query isolate``: the network analyses on the command line.

Kept beside :mod:`layers.query.trace` and :mod:`layers.query.isolation` (the ``query`` group in :mod:`layers.query.cli` adds
these commands), so ``--json`` prints exactly what the OGC API processes return. ``--geojson``
writes the traced or isolated segments (and the valves to close) as features.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cim.cli import FINITE_FLOAT, Ctx, echo_json, pass_ctx
from layers.query.cli import output_file


def _write_features(c: Ctx, path: Path, groups: dict[str, list[str]], out_crs: str | None,
                    parts: dict[str, dict[str, list]] | None = None) -> None:
    """The features whose codes ``groups`` lists, with their group as property ``role``; a
    segment ``parts`` gives for its role (code → [[from, to], …] along it) is drawn as those
    stretches only (``from``/``to`` in its properties), not whole."""
    import psycopg
    from psycopg import sql

    from layers.query.sqlparts import geojson_sql, storage_srid, write_geojson

    feats: list[dict[str, Any]] = []
    with psycopg.connect(c.conninfo()) as conn:
        srid = storage_srid(conn)
        for role, codes in groups.items():
            spans = (parts or {}).get(role, {})
            for table in ("pipe_segments", "pipe_points"):
                q = sql.SQL("SELECT code, {} FROM {} WHERE valid_to IS NULL AND code = ANY(%s) "
                            "ORDER BY code").format(geojson_sql(sql.SQL("geom"), out_crs, srid),
                                                    sql.Identifier(table))
                for code, geom in conn.execute(q, ([k for k in codes if k not in spans],)):
                    feats.append({"type": "Feature", "id": code, "geometry": geom,
                                  "properties": {"code": code, "role": role,
                                                 "layer": table}})
            sub = sql.SQL("SELECT {} FROM pipe_segments WHERE valid_to IS NULL AND code = %s"
                          ).format(geojson_sql(sql.SQL("ST_LineSubstring(geom, %s, %s)"),
                                               out_crs, srid))
            for code in sorted(k for k in codes if k in spans):
                for lo, hi in spans[code]:
                    geom = conn.execute(sub, (lo, hi, code)).fetchone()[0]
                    feats.append({"type": "Feature", "id": code, "geometry": geom,
                                  "properties": {"code": code, "role": role,
                                                 "layer": "pipe_segments", "from": lo,
                                                 "to": hi}})
    write_geojson(path, feats, out_crs)


@contextmanager
def _on_profile_clock(c: Ctx) -> Iterator[None]:
    """An old code's end said on the clock of the profile in use (``--profile FILE``): the
    analyses locate the code without it and read the configured profile's zone."""
    from layers.query.network_locate import NoLongerCurrent

    try:
        yield
    except NoLongerCurrent as exc:
        raise exc.on_clock(c.profile.timezone) from None


_GEOJSON = click.option("--geojson", type=click.Path(path_type=Path), callback=output_file,
                        help="write the segments and points of the answer to OUT (GeoJSON)")
_OUT_CRS = click.option("--out-crs", help="CRS of --geojson (CRS84 by default)")
_JSON = click.option("--json", "as_json", is_flag=True, help="print the result as JSON")


@click.command("trace")
@click.argument("code")
@click.option("--direction", type=click.Choice(["up", "down"]), default="down",
              show_default=True, help="downstream (follow flow) or upstream")
@_GEOJSON
@_OUT_CRS
@_JSON
@pass_ctx
def trace_cmd(c: Ctx, code: str, direction: str, geojson: Path | None, out_crs: str | None,
              as_json: bool) -> None:
    """Everything upstream or downstream of a drainage point or segment CODE (排水追踪)."""
    from layers.query.trace import trace

    with _on_profile_clock(c):
        res = trace(c.conninfo(), code, direction, c.profile)
    if geojson is not None:
        _write_features(c, geojson, {"segment": res["segments"], "point": res["points"]},
                        out_crs, res["parts"])
    if as_json:
        echo_json(res)
        return
    click.echo(f"{len(res['segments'])} segments, {len(res['points'])} points, "
               f"{res['length_m']:.3f} m {direction}stream of {code}")
    for s in res["segments"]:
        click.echo(f"  {s}")


@click.command("isolate")
@click.argument("code")
@click.option("--sources", help="codes of the supply points (water plants, tanks, gas "
                                "stations), comma-separated, or a text file of them")
@click.option("--at", type=FINITE_FLOAT, help="position of the burst along the segment, 0 (start) "
                                       "to 1 (end); default: anywhere on it")
@_GEOJSON
@_OUT_CRS
@_JSON
@pass_ctx
def isolate_cmd(c: Ctx, code: str, sources: str | None, at: float | None,
                geojson: Path | None, out_crs: str | None, as_json: bool) -> None:
    """Valves to close for a burst on a water or gas segment CODE (关阀分析)."""
    from layers.query.isolation import isolate

    with _on_profile_clock(c):
        res = isolate(c.conninfo(), code, sources, at, c.profile)
    if geojson is not None:
        # with sources, also what the text names beside them: the valves that need not close
        # and the pipes dry whatever bursts (the answer's parts hold their stretches too)
        _write_features(c, geojson, {
            "valve": res["valves"], "closed_already": res["closed_already"],
            "broken_passed": res["broken_passed"],
            "valve_not_needed": res.get("valves_not_needed", []),
            "isolated": res["isolated_segments"], "unsupplied": res["unsupplied_segments"],
            "dry_already": res.get("dry_already_segments", [])},
            out_crs, res["parts"])
    if as_json:
        echo_json(res)
        return
    click.echo(f"close {len(res['valves'])} valves: {' '.join(res['valves'])}")
    if not (res["valves"] or res["closed_already"] or res.get("valves_not_needed")):
        # "close 0 valves" read as "nothing to do": no valve bounds the part, it is emptied
        # only by shutting off what feeds it
        click.echo("no valve bounds it: all the pipes joined to it are emptied only by "
                   "shutting off what feeds them")
    if res["closed_already"]:
        click.echo(f"closed already: {' '.join(res['closed_already'])}")
    if res["broken_passed"]:
        click.echo(f"broken, passed over (cannot close): {' '.join(res['broken_passed'])}")
    click.echo(f"isolated: {len(res['isolated_segments'])} segments, {res['length_m']:.3f} m")
    if "sources_in_zone" in res:  # the supply check ran
        click.echo(f"without supply: {len(res['unsupplied_segments'])} segments, "
                   f"{res['unsupplied_length_m']:.3f} m")
        if res["valves_not_needed"]:
            click.echo(f"need not close (dry beyond): {' '.join(res['valves_not_needed'])}")
        if res["dry_already_segments"]:
            click.echo(f"dry already (no source reaches them, whatever bursts): "
                       f"{len(res['dry_already_segments'])} segments, "
                       f"{res['dry_already_length_m']:.3f} m")
        if res["sources_in_zone"]:
            click.echo("sources inside the isolated zone (they feed the burst: shut them off): "
                       + " ".join(res["sources_in_zone"]))
