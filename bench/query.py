"""Query library benchmark (issue 9, "Performance"): the one-map queries on a generated city.

Run by hand from the repository root (never by the test suite), on a quiet machine, then copy
the printed table into docs/benchmarks.md:

    .venv/bin/python -m bench.query                 # 1,000,000 buildings, ~100,000 pipe
                                                    # segments, 1,000,000 components
    .venv/bin/python -m bench.query --scale 0.05    # a quick try: 50,000 / ~5,000 / 50,000
    .venv/bin/python -m bench.query --reload        # rebuild the database from the files

What it does:

1. generates, with the data_samples generator and cached under the work dir (default
   /var/tmp/cim-bench, never the repo): the building footprints (``large_buildings``, the same
   file bench/api.py uses), a 3D pipe network of six classes in the streets of the centre with
   nodes and water valves (``large_pipes``: GIS layers with the surveyors' field names) and a
   component census of points (``large_components``); a district box and a 500 m unit grid;
2. makes the database ``cim_bench_query`` (profile with that district and grid) and loads the
   files with the real loaders: ``cim load buildings``, ``cim load pipes --lines … --points …
   --valves …`` (QA first), ``cim load components``; the database is kept between runs and
   reused while it holds these files' loads (``--reload`` rebuilds it);
3. times each query as the CLI and the processes call it (library function: connect, query,
   build the result), after a few warm-up calls, over random inputs drawn with ``--seed``:
   all-layer AOI count over a 500 m × 500 m box (CRS84) in the pipe-surveyed centre; proximity
   of pipes to 100 buildings (the 100 nearest a random point, as one polygon area, pipes within
   ``--near-m``); a 200 m cross-section across a street; valve isolation of a random water
   segment (the first call, which reads the network into memory, reported apart); statistics
   of pipes per grid cell and class for the whole city;
4. with ``--http``, serves the database with ``cim serve`` and times the same inputs as OGC API
   processes over HTTP (pooled connections; answers checked against the library's:
   bench/query_http.py);
5. prints a markdown table (median, p95, targets) with the machine and date, and writes the
   results as JSON to the work dir.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg
from pyproj import Transformer
from sqlalchemy.engine import make_url

from bench.api import cim_env, sh
from bench.api_runs import machine
from cim.config import Settings
from cim.db.engine import psycopg_conninfo
from cim.db.engine import server_url as engine_server_url

ROOT = Path(__file__).resolve().parent.parent
DB = "cim_bench_query"
BUILDINGS, SEGMENTS, COMPONENTS = 1_000_000, 100_000, 1_000_000
CELL = 500.0
# query -> (target median ms, target p95 ms or None)
TARGETS = {"aoi": (50, 100), "near": (200, None), "section": (100, None),
           "isolate": (200, None), "stats": (5000, None)}
LABELS = {"aoi": "AOI count, all layers, random 500 m box",
          "near": "proximity: pipes within {near_m:g} m of 100 buildings",
          "section": "cross-section, 200 m line across a street",
          "isolate": "valve isolation, random water segment",
          "stats": "stats: pipes per grid cell × class, whole city"}


# -- data ----------------------------------------------------------------------------------
def _cached(path: Path, make) -> Path:
    if not path.exists():
        t = time.monotonic()
        tmp = path.with_suffix(".tmp.gpkg")
        make(tmp)
        tmp.rename(path)
        print(f"generated {path} in {time.monotonic() - t:.0f} s", flush=True)
    return path


def datasets(work: Path, scale: float, seed: int) -> dict:
    from data_samples.generate import write_buildings_gpkg
    from data_samples.generate.large_components import write_components_gpkg
    from data_samples.generate.large_pipes import write_pipe_network_gpkg

    nb, ns, nc = (max(1, round(x * scale)) for x in (BUILDINGS, SEGMENTS, COMPONENTS))
    d = work / "data"
    d.mkdir(parents=True, exist_ok=True)
    return {
        "counts": {"buildings": nb, "segments": ns, "components": nc},
        "buildings": _cached(d / f"buildings_{nb}_{seed}.gpkg",
                             lambda p: write_buildings_gpkg(p, nb, seed=seed)),
        "pipes": _cached(d / f"pipes_{ns}_{nb}_{seed}.gpkg",
                         lambda p: write_pipe_network_gpkg(p, ns, nb, seed=seed)),
        "components": _cached(d / f"components_{nc}_{nb}_{seed}.gpkg",
                              lambda p: write_components_gpkg(p, nc, nb, seed=seed)),
    }


def district_and_grid(work: Path, data: dict) -> tuple[Path, Path]:
    """One district (a box 500 m-aligned around everything) and its 500 m unit grid."""
    import geopandas as gpd
    import pyogrio
    import shapely

    b = [pyogrio.read_info(data[k], layer=layer, force_total_bounds=True)["total_bounds"]
         for k, layer in (("buildings", None), ("pipes", "pipes"), ("components", None))]
    x0 = math.floor((min(v[0] for v in b) - 1000) / CELL) * CELL
    y0 = math.floor((min(v[1] for v in b) - 1000) / CELL) * CELL
    x1 = math.ceil((max(v[2] for v in b) + 1000) / CELL) * CELL
    y1 = math.ceil((max(v[3] for v in b) + 1000) / CELL) * CELL
    district = work / "query_district.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"code": ["370811"], "name": ["任城区"]},
                                             geometry=[shapely.box(x0, y0, x1, y1)],
                                             crs="EPSG:4527"), district)
    nx, ny = round((x1 - x0) / CELL), round((y1 - y0) / CELL)
    rows = []
    for r in range(ny):  # codes: district + street (10 columns) + community (10 rows) + serial
        for c in range(nx):
            code = f"370811{c // 10 + 1:03d}{r // 10 + 1:03d}{(r % 10) * 10 + c % 10 + 1:03d}"
            rows.append({"code": code, "name": f"网格{code[6:]}", "district_code": "370811",
                         "geometry": shapely.box(x0 + c * CELL, y1 - (r + 1) * CELL,
                                                 x0 + (c + 1) * CELL, y1 - r * CELL)})
    grid = work / "query_grid.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4527"), grid,
                            layer="grid_cells")
    return district, grid


def _loaded(url: str) -> set[str]:
    try:
        with psycopg.connect(psycopg_conninfo(url), connect_timeout=10) as conn:
            return {r[0] for r in conn.execute(
                "SELECT source_path FROM load_batches WHERE status = 'succeeded'")}
    except psycopg.Error:
        return set()


def _load(py: list[str], env: dict, what: str, argv: list[str]) -> dict:
    t = time.monotonic()
    out = sh(py + ["load", *argv, "--json", "--quiet"], env)
    rep = json.loads(out[out.index("{"):])
    took = time.monotonic() - t
    print(f"loaded {what}: {rep.get('loaded', '?'):,} of {rep.get('read', '?'):,} "
          f"({rep.get('rejected', '?')} rejected) in {took:.0f} s", flush=True)
    return {"read": rep.get("read"), "loaded": rep.get("loaded"),
            "rejected": rep.get("rejected"), "seconds": round(took, 1)}


def prepare_db(work: Path, data: dict, reload: bool) -> tuple[str, dict]:
    """(URL, load reports) of the benchmark database holding the three files' loads."""
    from cim.db.migrate import fresh_database

    server = engine_server_url(Settings())
    url = make_url(server).set(database=DB, drivername="postgresql+psycopg") \
        .render_as_string(hide_password=False)
    profile = work / "query_profile.yaml"
    env = cim_env(work, url, profile)
    py = [sys.executable, "-m", "cim"]
    state = work / "query_db.json"
    files = {str(data[k].resolve()) for k in ("buildings", "pipes", "components")}
    if not reload and profile.exists() and state.exists() and files <= {
            str(Path(p).resolve()) for p in _loaded(url)}:
        print(f"database {DB}: reusing the loads of {', '.join(sorted(Path(f).name for f in files))}",
              flush=True)
        sh(py + ["db", "upgrade"], env)
        return url, json.loads(state.read_text())["loads"]
    district, grid = district_and_grid(work, data)
    sh(py + ["profile", "create", "--name", "济宁市(bench)", "--admin-code", "370800",
             "--crs", "EPSG:4527", "--boundary", str(district), "--grid", str(grid),
             "--out", str(profile)], env)
    fresh_database(server, DB, 4527)
    sh(py + ["profile", "apply", "--quiet"], env)
    p = str(data["pipes"])
    loads = {"buildings": _load(py, env, "buildings", ["buildings", str(data["buildings"])]),
             "pipes": _load(py, env, "pipes", ["pipes", "--lines", f"{p}:pipes", "--points",
                                               f"{p}:nodes", "--valves", f"{p}:valves"]),
             "components": _load(py, env, "components",
                                 ["components", str(data["components"])])}
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    state.write_text(json.dumps({"loads": loads}, indent=1))
    return url, loads


# -- workloads -----------------------------------------------------------------------------
def _pct(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"median_ms": statistics.median(xs) * 1000,
            "p95_ms": xs[math.ceil(0.95 * len(xs)) - 1] * 1000, "runs": len(xs)}


def _time(fn, inputs: list, warmup: int) -> tuple[dict, list]:
    for x in inputs[:warmup]:
        fn(x)
    times, results = [], []
    for x in inputs:
        t = time.perf_counter()
        r = fn(x)
        times.append(time.perf_counter() - t)
        results.append(r)
    return _pct(times), results


def _flip_wkt(conn, sql: str, params) -> str:
    """WKT of a storage-CRS geometry in its authority axis order (northing first), as the
    library takes it with crs EPSG:4527."""
    return conn.execute(f"SELECT ST_AsText(ST_FlipCoordinates(({sql})))", params).fetchone()[0]


def workloads(conninfo: str, counts: dict, runs: int, seed: int, near_m: float) -> dict:
    """Random inputs of each query, drawn in the pipe-surveyed centre of the city."""
    from data_samples.generate.large_pipes import network_frame

    rnd = random.Random(seed)
    gx0, gy0, n, _first, pitch = network_frame(counts["segments"], counts["buildings"])
    side = n * pitch
    to84 = Transformer.from_crs("EPSG:4527", "OGC:CRS84", always_xy=True)
    out: dict = {"aoi": [], "near": [], "section": [], "isolate": []}
    for _ in range(runs):
        x, y = gx0 + rnd.random() * (side - 500), gy0 + rnd.random() * (side - 500)
        (lon0, lon1), (lat0, lat1) = to84.transform([x, x + 500], [y, y + 500])
        out["aoi"].append((lon0, lat0, lon1, lat1))
    with psycopg.connect(conninfo) as conn:
        for _ in range(max(1, runs // 2)):
            x, y = gx0 + rnd.random() * side, gy0 + rnd.random() * side
            out["near"].append(_flip_wkt(
                # one MultiPolygon of their parts (a GeometryCollection of MultiPolygons
                # costs PostGIS ~1 ms per ST_Intersects: no prepared geometry for collections)
                conn, "SELECT ST_Collect(d.geom) FROM (SELECT geom FROM buildings WHERE "
                "valid_to IS NULL ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4527) "
                "LIMIT 100) b CROSS JOIN LATERAL ST_Dump(b.geom) d", (x, y)))
        water = [r[0] for r in conn.execute(
            "SELECT code FROM pipe_segments WHERE valid_to IS NULL AND pipe_class = '01' "
            "ORDER BY code")]
    for _ in range(runs):  # across a street, up to 30° off the perpendicular
        street = rnd.randrange(n + 1)
        t = rnd.random() * side
        vertical = rnd.random() < 0.5
        cx, cy = (gx0 + street * pitch, gy0 + t) if vertical else (gx0 + t, gy0 + street * pitch)
        a = math.radians(rnd.uniform(-30, 30)) + (0 if vertical else math.pi / 2)
        dx, dy = 100 * math.cos(a), 100 * math.sin(a)
        out["section"].append(f"LINESTRING({cy - dy} {cx - dx}, {cy + dy} {cx + dx})")
    out["isolate"] = rnd.sample(water, min(len(water), runs + 1))
    return out


class _Kept:
    """One open connection handed out again and again in place of ``psycopg.connect``: what
    the queries cost without connecting and warming a new backend's catalog caches each call
    (the CLI and the processes connect per call; a pool would keep them)."""

    def __init__(self, conn):
        object.__setattr__(self, "_c", conn)

    def __getattr__(self, k):
        return getattr(self._c, k)

    def __setattr__(self, k, v):
        setattr(self._c, k, v)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._c.rollback()

    def close(self):
        pass


@contextlib.contextmanager
def one_connection(conninfo: str):
    real = psycopg.connect
    conn = real(conninfo)
    psycopg.connect = lambda *a, **k: _Kept(conn)
    try:
        yield
    finally:
        psycopg.connect = real
        conn.close()


def measure(conninfo: str, wl: dict, args, keep: dict | None = None) -> dict:
    from layers.query import graph
    from layers.query.aoi import aoi
    from layers.query.area import Area
    from layers.query.isolation import isolate
    from layers.query.near import near
    from layers.query.section import section
    from layers.query.stats import stats

    res: dict = {}
    skip = set(args.skip)

    def report(key, timing, size, rs=None):
        res[key] = {**timing, "result": size}
        if keep is not None:
            keep[key] = rs
        print(f"{key}: median {timing['median_ms']:.1f} ms, p95 {timing['p95_ms']:.1f} ms "
              f"({timing['runs']} runs; {size})", flush=True)

    w = args.warmup
    if "aoi" not in skip:
        t, rs = _time(lambda b: aoi(conninfo, Area(bbox=b)), wl["aoi"], w)
        tot = [sum(v["count"] for v in r["layers"].values()) for r in rs]
        report("aoi", t, f"{statistics.mean(tot):.0f} features counted on average, "
                         f"{len(rs[0]['layers'])} layers", rs)
    if "near" not in skip:
        t, rs = _time(lambda g: near(conninfo, "buildings", "pipe_segments",
                                     distance=args.near_m, area=Area(polygon=g, crs="EPSG:4527")),
                      wl["near"], w)
        pairs = [len(r["rows"]) for r in rs]
        report("near", t, f"{statistics.mean(pairs):.0f} pairs on average", rs)
    if "section" not in skip:
        t, rs = _time(lambda ln: section(conninfo, ln, crs="EPSG:4527"), wl["section"], w)
        report("section", t, f"{statistics.mean(len(r['rows']) for r in rs):.1f} pipes crossed "
                             "on average", rs)
    if "isolate" not in skip:
        graph._CACHE.clear()
        t0 = time.perf_counter()
        isolate(conninfo, wl["isolate"][0])
        first = (time.perf_counter() - t0) * 1000
        t, rs = _time(lambda c: isolate(conninfo, c), wl["isolate"][1:], 0)
        report("isolate", t, f"{statistics.mean(len(r['valves']) for r in rs):.1f} valves, "
                             f"{statistics.mean(len(r['isolated_segments']) for r in rs):.1f} "
                             f"segments isolated on average; first call (reads the network) "
                             f"{first:,.0f} ms", rs)
        res["isolate"]["first_call_ms"] = first
    if "stats" not in skip:
        t, rs = _time(lambda _: stats(conninfo, "pipe_segments", by="grid",
                                      class_field="pipe_class"),
                      list(range(args.stats_runs)), 1)
        report("stats", t, f"{len(rs[0]['rows']):,} rows (cell × class)")
    return res


# -- report --------------------------------------------------------------------------------
def table(results: dict) -> str:
    m, a, c = results["machine"], results["args"], results["layers"]
    lines = [f"**{c.get('buildings', 0):,} buildings, {c.get('pipe_segments', 0):,} pipe "
             f"segments ({c.get('pipe_points', 0):,} pipe points), {c.get('components', 0):,} "
             f"components**, {c.get('grid_cells', 0):,} grid cells (scale {a['scale']:g}); "
             f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['date']} "
             f"(load average at start {m['load_avg'][0]:.1f})", "",
             "| query | runs | median ms | p95 ms | target | met | result |",
             "|---|---:|---:|---:|---|---|---|"]
    for key, r in results["queries"].items():
        med, p95 = TARGETS[key]
        target = f"median ≤ {med:,}" + (f", p95 ≤ {p95:,}" if p95 else "") + " ms"
        met = r["median_ms"] <= med and (p95 is None or r["p95_ms"] <= p95)
        lines.append(f"| {LABELS[key].format(near_m=a['near_m'])} | {r['runs']} | "
                     f"{r['median_ms']:,.1f} | {r['p95_ms']:,.1f} | {target} | "
                     f"{'met' if met else '**missed**'} | {r['result']} |")
    if results.get("reused"):
        lines += ["", "The same calls on one connection kept open (no connect, warm catalog "
                  "caches: what a connection pool in the server would give):", "",
                  "| query | median ms | p95 ms |", "|---|---:|---:|"]
        for key, r in results["reused"].items():
            lines.append(f"| {LABELS[key].format(near_m=a['near_m'])} | "
                         f"{r['median_ms']:,.1f} | {r['p95_ms']:,.1f} |")
    if results.get("http"):
        lines += ["", "The same inputs as OGC API processes over HTTP (`cim serve`, pooled "
                  "connections, one keep-alive client; answers equal the library's):", "",
                  "| process | median ms | p95 ms | target | met |", "|---|---:|---:|---|---|"]
        for key, r in results["http"].items():
            med, p95 = TARGETS[key]
            met = r["median_ms"] <= med and (p95 is None or r["p95_ms"] <= p95)
            lines.append(f"| {LABELS[key].format(near_m=a['near_m'])} | "
                         f"{r['median_ms']:,.1f} | {r['p95_ms']:,.1f} | "
                         f"median ≤ {med:,}" + (f", p95 ≤ {p95:,}" if p95 else "") +
                         f" ms | {'met' if met else '**missed**'} |")
    return "\n".join(lines)


def layer_counts(conninfo: str) -> dict:
    with psycopg.connect(conninfo) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t} WHERE valid_to IS NULL").fetchone()[0]
                for t in ("buildings", "pipe_segments", "pipe_points", "components",
                          "grid_cells")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="fraction of the full city (1M buildings, 100k segments, 1M components)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/cim-bench"),
                    help="data, logs and results (not in the repo)")
    ap.add_argument("--reload", action="store_true", help="rebuild the database even if loaded")
    ap.add_argument("--runs", type=int, default=100, help="timed calls per query (near: half)")
    ap.add_argument("--stats-runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls before each query")
    ap.add_argument("--near-m", type=float, default=50.0, help="proximity distance, metres")
    ap.add_argument("--skip", nargs="*", default=[], choices=list(TARGETS))
    ap.add_argument("--no-reuse", action="store_true",
                    help="skip the second pass on one reused connection")
    ap.add_argument("--http", action="store_true",
                    help="also time the processes over HTTP on `cim serve` (pooled connections)")
    ap.add_argument("--http-code", type=Path, default=None,
                    help="serve another checkout's code (e.g. a worktree of an older commit)")
    args = ap.parse_args()
    work = args.work.resolve()
    if work == ROOT or ROOT in work.parents:
        sys.exit("--work must be outside the repository")
    (work / "logs").mkdir(parents=True, exist_ok=True)

    started = machine()
    data = datasets(work, args.scale, args.seed)
    url, loads = prepare_db(work, data, args.reload)
    conninfo = psycopg_conninfo(url)
    wl = workloads(conninfo, data["counts"], args.runs, args.seed, args.near_m)
    results = {"machine": started, "args": {**vars(args), "work": str(work)},
               "datasets": {k: str(v) for k, v in data.items() if k != "counts"},
               "counts": data["counts"], "loads": loads, "layers": layer_counts(conninfo),
               "database": DB}
    kept: dict = {}
    results["queries"] = measure(conninfo, wl, args, kept)
    skipped = list(args.skip)
    if not args.no_reuse:
        args.skip = [*args.skip, "stats"]
        with one_connection(conninfo):
            results["reused"] = measure(conninfo, wl, args)
    if args.http:
        from bench.query_http import http_pass, inputs_of, serve

        srv = serve(work, url, work / "query_profile.yaml", args.http_code)
        try:
            results["http"] = http_pass(srv, inputs_of(wl, args.near_m), kept, args.warmup,
                                        {*skipped, "stats"}, _pct)
        finally:
            srv.stop()
    text = table(results)
    out = work / f"query-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({**results, "table": text}, indent=1, ensure_ascii=False,
                              default=str))
    print()
    print(text)
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
