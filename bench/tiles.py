"""Vector tile benchmark: `cim serve`'s MVT tiles against tipg 1.6.1's on the same table.

Run by hand (never by the test suite), on a quiet machine, then copy the printed table into
docs/benchmarks.md:

    .venv/bin/python -m bench.tiles                          # 1,000,000 footprints (issue 10)
    .venv/bin/python -m bench.tiles --count 50000 --tiles 60  # a quick, indicative try

What it does (issue 10, "Performance"):

1. the buildings database of bench/api.py (``cim_bench_api``: N generated footprints, reused
   when it holds that file's load; ``--reload`` rebuilds it);
2. draws ``--tiles`` random tiles per zoom (12, 14, 16): each the tile under a random existing
   footprint, so tiles are where the city is (seeded, the same tiles for both servers;
   duplicates dropped, so a small data set has few distinct z12 tiles: ``n`` in the JSON);
3. serves the layer with ``cim serve`` (gunicorn) and asks each tile once over one keep-alive
   connection (one worker: its cache is the one asked): **uncached** (made in PostGIS),
   then the same tiles again: **cached** (the worker's LRU) and **304** (If-None-Match, the
   browser's revalidation);
4. serves the same table with tipg 1.6.1 (uvicorn, same feature limit per tile) and asks the
   same tiles once (tipg has no tile cache);
5. prints median/p95 times and tile sizes per zoom as a markdown table and writes JSON to the
   work dir.

Targets (issue 10): uncached median ≤ 50 ms at z14–z16, cached ≤ 5 ms, ≤ 500 KB at z12.
The 1,000,000 run takes a while to generate and load (see bench/api.py); pipes (100,000
segments) are not generated here: measure them on the database of bench/query.py, which holds
~100,000 pipe segments and 1,000,000 footprints (run ``python -m bench.query`` once first)::

    .venv/bin/python -m bench.tiles --database cim_bench_query --layer pipe_segments
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg
import requests
from pyproj import Transformer
from sqlalchemy.engine import make_url

from bench.api import NOT_SERVED, dataset, prepare_db, start_cim, tipg_venv
from bench.api_runs import free_port, machine, start_server
from cim.config import Settings
from cim.db.engine import psycopg_conninfo
from cim.db.engine import server_url as engine_server_url

ROOT = Path(__file__).resolve().parent.parent
ZOOMS = (12, 14, 16)


def random_tiles(conninfo: str, layer: str, zooms, n: int, seed: int) -> dict[int, list]:
    """``n`` tiles per zoom, each under a random current feature (seeded)."""
    with psycopg.connect(conninfo) as conn:
        srid = conn.execute("SELECT Find_SRID('public', %s, 'geom')", (layer,)).fetchone()[0]
        total = conn.execute(f"SELECT max(id) FROM {layer}").fetchone()[0]
        rnd = random.Random(seed)
        pts = []
        while len(pts) < n * len(zooms):
            row = conn.execute(
                f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM {layer} "
                "WHERE id >= %s AND valid_to IS NULL ORDER BY id LIMIT 1) q",
                (rnd.randint(1, total),)).fetchone()
            if row:
                pts.append(row)
    tr = Transformer.from_crs(f"EPSG:{srid}", "OGC:CRS84", always_xy=True)
    out: dict[int, list] = {}
    for i, z in enumerate(zooms):
        tiles = []
        for x, y in pts[i * n:(i + 1) * n]:
            lon, lat = tr.transform(x, y)
            k = 2 ** z
            col = int((lon + 180) / 360 * k)
            r = math.radians(lat)
            row = int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * k)
            tiles.append((z, col, row))
        out[z] = list(dict.fromkeys(tiles))  # distinct: a repeat would be a cached tile
    return out


def existing_db(name: str, profile: Path, layer: str) -> tuple[str, Path, int]:
    """(URL, profile, current features of ``layer``) of an already loaded database ``name``
    on the project's cluster (``--database``: e.g. bench/query.py's ``cim_bench_query``)."""
    url = make_url(engine_server_url(Settings())).set(
        database=name, drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if not profile.exists():
        sys.exit(f"--profile {profile}: no such file (the profile the database was made with)")
    with psycopg.connect(psycopg_conninfo(url), connect_timeout=10) as conn:
        n = conn.execute(f"SELECT count(*) FROM {layer} WHERE valid_to IS NULL").fetchone()[0]
    if not n:
        sys.exit(f"database {name}: no current features in {layer}")
    return url, profile, n


def served_properties(conninfo: str, layer: str) -> list[str]:
    """The columns `cim serve` publishes for ``layer`` (what tipg is told to serve too)."""
    with psycopg.connect(conninfo) as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s ORDER BY ordinal_position", (layer,))]
    return [c for c in cols if c not in NOT_SERVED]


def timed(session: requests.Session, url: str, headers: dict | None = None):
    t = time.perf_counter()
    r = session.get(url, headers=headers or {}, timeout=120)
    ms = (time.perf_counter() - t) * 1000
    return ms, r


def summary(times: list[float], sizes: list[int] | None = None) -> dict:
    times = sorted(times)
    out = {"n": len(times), "median_ms": statistics.median(times),
           "p95_ms": times[min(len(times) - 1, int(math.ceil(0.95 * len(times))) - 1)]}
    if sizes is not None:
        sizes = sorted(sizes)
        out.update(median_kb=statistics.median(sizes) / 1024,
                   p95_kb=sizes[min(len(sizes) - 1, int(math.ceil(0.95 * len(sizes))) - 1)]
                   / 1024, max_kb=sizes[-1] / 1024)
    return out


def measure_cim(base: str, layer: str, tiles: dict[int, list]) -> dict:
    res: dict = {}
    s = requests.Session()
    for z, zt in tiles.items():
        urls = [f"{base}/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}"
                for z, x, y in zt]
        first = [timed(s, u) for u in urls]
        bad = [r.status_code for _, r in first if r.status_code not in (200, 204)]
        if bad:
            raise RuntimeError(f"cim: status {bad[:5]} at z{z}")
        again = [timed(s, u) for u in urls]
        revalidate = [timed(s, u, {"If-None-Match": r.headers["ETag"]})
                      for u, (_, r) in zip(urls, first)]
        assert all(r.status_code == 304 for _, r in revalidate)
        res[z] = {"uncached": summary([t for t, _ in first], [len(r.content) for _, r in first]),
                  "cached": summary([t for t, _ in again]),
                  "not_modified": summary([t for t, _ in revalidate]),
                  "thinned": sum(1 for _, r in first if "Cim-Tile-Thinned" in r.headers)}
    return res


def start_tipg_tiles(work: Path, url: str, props: list[str], layer: str, limit: int):
    venv = tipg_venv(work)
    u = make_url(url).set(drivername="postgresql")
    port = free_port()
    key = f"public_{layer}"
    env = dict(os.environ, DATABASE_URL=u.render_as_string(hide_password=False),
               TIPG_DB_SCHEMAS='["public"]', TIPG_DB_TABLES=f'["public.{layer}"]',
               TIPG_DB_FUNCTIONS="[]", TIPG_MAX_FEATURES_PER_TILE=str(limit),
               **{f"TIPG_TABLE_CONFIG__{key}__pk": "id",
                  f"TIPG_TABLE_CONFIG__{key}__geomcol": "geom",
                  f"TIPG_TABLE_CONFIG__{key}__properties": json.dumps(props)})
    argv = [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port",
            str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    return start_server("tipg 1.6.1", argv, env, port, f"/collections/public.{layer}/items",
                        "geojson", work / "logs" / "tipg-tiles.log", work)


def measure_tipg(base: str, layer: str, tiles: dict[int, list], limit: int) -> dict:
    res: dict = {}
    s = requests.Session()
    for z, zt in tiles.items():
        # tipg's path is z/x/y (column before row)
        first = [timed(s, f"{base}/collections/public.{layer}/tiles/WebMercatorQuad/"
                          f"{z}/{x}/{y}?limit={limit}") for z, x, y in zt]
        bad = [r.status_code for _, r in first if r.status_code not in (200, 204)]
        if bad:
            raise RuntimeError(f"tipg: status {bad[:5]} at z{z}")
        res[z] = {"uncached": summary([t for t, _ in first], [len(r.content) for _, r in first])}
    return res


def report(results: dict) -> str:
    m, a = results["machine"], results["args"]
    lines = [f"**{results['features']:,} {a['layer']}** (database "
             f"{results.get('database', 'cim_bench_api')}), up to {a['tiles']} random tiles per zoom "
             f"(under random features, distinct), one client, feature limit {a['limit']:,} "
             f"(cim below the detail zoom: {a['low_limit']:,}); "
             f"{m['cpu']}, {m['cores']} cores, {m['date']} (load average at start "
             f"{m['load_avg'][0]:.1f})", "",
             "| server | zoom (tiles) | uncached median / p95 ms | cached median / p95 ms | "
             "304 median ms | tile median / p95 / max KB | thinned |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in (("cim", "`cim serve`"), ("tipg", "tipg 1.6.1")):
        for z, r in (results.get(key) or {}).items():
            u, c, nm = r["uncached"], r.get("cached"), r.get("not_modified")
            lines.append(
                f"| {label} | {z} ({u['n']}) | {u['median_ms']:.1f} / {u['p95_ms']:.1f} | "
                + (f"{c['median_ms']:.1f} / {c['p95_ms']:.1f} | " if c else "– | ")
                + (f"{nm['median_ms']:.1f} | " if nm else "– | ")
                + f"{u['median_kb']:.1f} / {u['p95_kb']:.1f} / {u['max_kb']:.1f} | "
                + f"{r.get('thinned', '–')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000, help="generated footprints")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/cim-bench"))
    ap.add_argument("--reload", action="store_true")
    ap.add_argument("--tiles", type=int, default=200, help="random tiles per zoom")
    ap.add_argument("--limit", type=int, default=50_000, help="features per tile (both)")
    ap.add_argument("--low-limit", type=int, default=8_000,
                    help="cim's features per tile below the layer's detail zoom")
    ap.add_argument("--layer", default="buildings")
    ap.add_argument("--database", default=None,
                    help="an already loaded database to use instead of generating "
                         "cim_bench_api (e.g. cim_bench_query, made by bench/query.py)")
    ap.add_argument("--profile", type=Path, default=None,
                    help="with --database: its profile (default: WORK/query_profile.yaml)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["cim", "tipg"])
    args = ap.parse_args()
    work = args.work.resolve()
    if work == ROOT or ROOT in work.parents:
        sys.exit("--work must be outside the repository")
    (work / "logs").mkdir(parents=True, exist_ok=True)
    started = machine()
    if args.database:
        url, profile, total = existing_db(
            args.database, args.profile or work / "query_profile.yaml", args.layer)
    else:
        path = dataset(work, args.count, args.seed)
        url, profile, total = prepare_db(work, path, args.reload)
    conninfo = psycopg_conninfo(url)
    tiles = random_tiles(conninfo, args.layer, ZOOMS, args.tiles, args.seed)
    results: dict = {"features": total, "machine": started,
                     "database": make_url(url).database,
                     "args": {**vars(args), "work": str(work)}}
    if "cim" not in args.skip:
        os.environ["CIM_TILES_MAX_FEATURES"] = str(args.limit)
        os.environ["CIM_TILES_LOW_ZOOM_FEATURES"] = str(args.low_limit)
        srv = start_cim(work, url, profile, 1)
        try:
            results["cim"] = measure_cim(srv.base, args.layer, tiles)
        finally:
            srv.stop()
    if "tipg" not in args.skip:
        props = served_properties(conninfo, args.layer)
        srv = start_tipg_tiles(work, url, props, args.layer, args.limit)
        try:
            results["tipg"] = measure_tipg(srv.base, args.layer, tiles, args.limit)
        finally:
            srv.stop()
    table = report(results)
    out = work / f"tiles-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({**results, "table": table}, indent=1, ensure_ascii=False,
                              default=str))
    print()
    print(table)
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
