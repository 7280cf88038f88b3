"""Placing a 12345 hotline address: a small gazetteer built from the city's own data.

The gazetteer holds the names of the current features of the layers listed under
``gazetteer`` in ``case_workflow.yaml`` (roads, facilities, buildings, grid cells), each
normalised by the one text normaliser (:func:`cim.text.norm_key`: NFKC, no spaces,
case-folded). An address is normalised the same way and placed at the LONGEST gazetteer name
it contains ("崇文路创业大厦B座东侧" → 创业大厦B座, not 崇文路): the longer the name, the
more precise the place. A name of one feature is placed at a point on it (point on surface);
a name carried by several features (a road in several segments) at the point of those
features nearest their common centroid, so the place lies on the feature; its grid cell is
the current cell holding that point (a grid cell's own name: that cell). Ties in length go to the
name found first in the address, then to the layer listed first.

The gazetteer is cached per database for ``CACHE_SECONDS`` (names change with loads, not per
call).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from cim.coding import places
from cim.errors import InputError
from cim.layerdefs import LAYERS
from cim.text import norm_key, shown

CACHE_SECONDS = 300.0
_CACHE: dict[str, tuple[float, list[Entry]]] = {}


@dataclass(frozen=True)
class Entry:
    key: str
    name: str
    layer: str
    x: float
    y: float
    grid_code: str | None


@dataclass(frozen=True)
class Place:
    """Where an address was placed: the matched name, its layer, point and grid cell."""

    name: str
    layer: str
    x: float
    y: float
    grid_code: str | None


def _table(layer: str) -> str:
    return LAYERS[layer].table if layer in LAYERS else layer


def build(conn: psycopg.Connection, layers: list[str]) -> list[Entry]:
    """The gazetteer of ``layers`` (longest names first)."""
    parts = []
    for layer in layers:
        t = _table(layer)
        own = sql.SQL("code" if t == "grid_cells" else "NULL::text")
        # names from case_workflow.yaml: quoted as a literal and an identifier, never spliced
        if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (t,)).fetchone()[0]:
            parts.append(sql.SQL(
                "SELECT {} AS layer, name, geom, {} AS cell FROM {} WHERE valid_to IS NULL "
                "AND name IS NOT NULL AND btrim(name) <> ''").format(
                sql.Literal(layer), own, sql.Identifier(t)))
    if not parts:
        return []
    # one feature: a point surely on it; several: the point of them nearest their centroid.
    # A grid cell's name places the address in that very cell.
    rows = conn.execute(sql.SQL(
        "WITH f AS ({}), "
        "n AS (SELECT layer, name, CASE WHEN count(*) = 1 THEN ST_PointOnSurface(min(geom)) "
        "      ELSE ST_ClosestPoint(ST_Collect(geom), ST_Centroid(ST_Collect(geom))) END AS p, "
        "      CASE WHEN count(*) = 1 THEN min(cell) END AS cell FROM f GROUP BY layer, name) "
        "SELECT layer, name, ST_X(p), ST_Y(p), coalesce(cell, "
        + places.grid_sql("n.p", places.district_sql("n.p")) + ") "
        "FROM n").format(sql.SQL(" UNION ALL ").join(parts))).fetchall()
    rank = {layer: i for i, layer in enumerate(layers)}
    out = [Entry(norm_key(name), name, layer, x, y, cell) for layer, name, x, y, cell in rows]
    out = [e for e in out if e.key]
    out.sort(key=lambda e: (-len(e.key), rank[e.layer], e.key))
    return out


def gazetteer(conn: psycopg.Connection, layers: list[str]) -> list[Entry]:
    """:func:`build`, cached per database and layer list for ``CACHE_SECONDS``."""
    info = conn.info
    key = f"{info.host}:{info.port}/{info.dbname}:{','.join(layers)}"
    hit = _CACHE.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    entries = build(conn, layers)
    _CACHE[key] = (time.monotonic(), entries)
    return entries


def clear_cache() -> None:
    _CACHE.clear()


def geocode(conn: psycopg.Connection, address: str, layers: list[str],
            field: str = "address") -> Place:
    """The place of ``address``; an InputError naming ``field`` when no name matches."""
    text = norm_key(address)
    if not text:
        raise InputError("the address is empty", field=field)
    best: tuple[int, int, Entry] | None = None
    for e in gazetteer(conn, layers):
        if best is not None and len(e.key) < best[0]:
            break  # entries are longest first: nothing shorter can win
        at = text.find(e.key)
        if at >= 0 and (best is None or at < best[1]):
            best = (len(e.key), at, e)
            if at == 0:
                break
    if best is None:
        raise InputError(f"the address {shown(address)} names no road, facility, building or "
                         "grid cell the platform knows; give a point instead", field=field)
    e = best[2]
    return Place(e.name, e.layer, e.x, e.y, e.grid_code)
