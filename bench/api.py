"""OGC API benchmark: `cim serve` against tipg 1.6.1 on the same table, and the PostGIS floor.

Run by hand (never by the test suite), on a quiet machine, then copy the printed table into
docs/benchmarks.md:

    .venv/bin/python -m bench.api                        # 1,000,000 footprints, 30 s runs
    .venv/bin/python -m bench.api --harvest              # + harvest through `next` links
    .venv/bin/python -m bench.api --count 20000 --duration 10 --warmup 5   # a quick try

(from the repository root, as a module of the `bench` package).

What it does (issue 8, "Performance"):

1. generates N building footprints with the sample survey schema (data_samples generator),
   cached as a GeoPackage under the work dir (default /var/tmp/cim-bench, never the repo);
2. makes the database ``cim_bench_api`` on the project's cluster (or CIM_DATABASE_URL's
   server), with a profile whose one district covers the set, and loads the file with
   ``cim load buildings``; the database is kept between runs and reused when it holds this
   file's load (``--reload`` rebuilds it);
3. serves it with ``cim serve`` (gunicorn) and, one after the other, serves the same table with
   tipg 1.6.1 under uvicorn (installed in a throw-away virtualenv in the work dir), both with
   the same number of worker processes, same properties, same page order (by ``id``);
4. checks that both servers return the same features as PostGIS for a few boxes, then
   measures each with wrk (bench/wrk_bbox.lua: random 500 m boxes in CRS84 inside the data,
   limit=100, 8 connections) after a warm-up; then the database floor with pgbench: the same
   page built as GeoJSON in PostGIS (prepared statements), alone and with the exact count;
5. with ``--harvest``, follows `next` links at limit=1000 through the whole layer on one
   connection (time of the first 1 % and of the whole);
6. prints a markdown table for docs/benchmarks.md and writes the results as JSON to the work
   dir.

Needs `wrk` (Debian package) and `pgbench` (postgresql-client); network access to PyPI the
first time (tipg). All servers bind 127.0.0.1 on free ports and are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pyogrio
from pyproj import Geod, Transformer
from sqlalchemy.engine import make_url

from bench.api_runs import (
    floor_script,
    free_port,
    harvest,
    machine,
    page_codes,
    run_pgbench,
    run_wrk,
    start_server,
)
from cim.config import Settings
from cim.db.engine import psycopg_conninfo
from cim.db.engine import server_url as engine_server_url

ROOT = Path(__file__).resolve().parent.parent

DB = "cim_bench_api"
TIPG = "tipg==1.6.1"
# columns the platform does not serve as properties (services/providers.py HIDDEN)
NOT_SERVED = {"geom", "attrs", "row_hash", "source_key", "id", "batch_id"}


def sh(argv: list[str], env: dict | None = None) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} … failed:\n{proc.stderr or proc.stdout}")
    return proc.stdout


# -- data and database ---------------------------------------------------------------------
def dataset(work: Path, count: int, seed: int) -> Path:
    from data_samples.generate import write_buildings_gpkg

    path = work / "data" / f"buildings_{count}_{seed}.gpkg"
    if not path.exists():
        t = time.monotonic()
        tmp = path.with_suffix(".tmp.gpkg")
        write_buildings_gpkg(tmp, count, seed=seed)
        tmp.rename(path)
        print(f"generated {path} in {time.monotonic() - t:.0f} s", flush=True)
    return path


def cim_env(work: Path, url: str, profile: Path) -> dict:
    """Environment of the `cim` commands: the scratch DB, the bench profile, run files in the
    work dir (never .cim/ in the repo)."""
    return dict(os.environ, CIM_DATABASE_URL=url, CIM_PROFILE=str(profile),
                CIM_HOME=str(work / "home"), PYTHONPATH=str(ROOT))


def loaded_batch(url: str, path: Path) -> int | None:
    """Features of ``path`` already loaded in the database at ``url``, or None."""
    try:
        with psycopg.connect(psycopg_conninfo(url), connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT source_path, loaded FROM load_batches WHERE layer = 'buildings' "
                "AND status = 'succeeded' ORDER BY id DESC LIMIT 1").fetchone()
            current = conn.execute(
                "SELECT count(*) FROM buildings WHERE valid_to IS NULL").fetchone()[0]
    except psycopg.Error:
        return None
    if row and Path(row[0]).resolve() == path.resolve() and current == row[1] > 0:
        return current
    return None


def prepare_db(work: Path, path: Path, reload: bool) -> tuple[str, Path, int]:
    """(URL, profile path, features) of the benchmark database, loaded from ``path``."""
    from cim.db.migrate import fresh_database

    server = engine_server_url(Settings())
    url = make_url(server).set(database=DB, drivername="postgresql+psycopg") \
        .render_as_string(hide_password=False)
    profile = work / "bench_profile.yaml"
    if not reload and profile.exists() and (n := loaded_batch(url, path)):
        print(f"database {DB}: reusing the load of {path.name} ({n:,} features)", flush=True)
        # later migrations and the read-only role `cim serve` connects with (idempotent)
        sh([sys.executable, "-m", "cim", "db", "upgrade"], cim_env(work, url, profile))
        return url, profile, n
    import geopandas as gpd
    import shapely

    minx, miny, maxx, maxy = pyogrio.read_info(path, force_total_bounds=True)["total_bounds"]
    box = shapely.box(minx - 1000, miny - 1000, maxx + 1000, maxy + 1000)
    district = work / "bench_district.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"code": ["370811"], "name": ["任城区"]},
                                             geometry=[box], crs="EPSG:4527"), district)
    py = [sys.executable, "-m", "cim"]
    env = cim_env(work, url, profile)
    sh(py + ["profile", "create", "--name", "济宁市(bench)", "--admin-code", "370800",
             "--crs", "EPSG:4527", "--boundary", str(district), "--out", str(profile)], env)
    fresh_database(server, DB, 4527)
    sh(py + ["profile", "apply", "--quiet"], env)
    t = time.monotonic()
    out = sh(py + ["load", "buildings", str(path), "--json", "--quiet"], env)
    rep = json.loads(out[out.index("{"):])
    print(f"loaded {rep['loaded']:,} of {rep['read']:,} ({rep['rejected']:,} rejected) in "
          f"{time.monotonic() - t:.0f} s", flush=True)
    return url, profile, rep["loaded"]


def served_properties(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'buildings' ORDER BY ordinal_position")]
    return [c for c in cols if c not in NOT_SERVED]


def workload(conninfo: str, box_m: float, limit: int, seed: int) -> dict:
    """Where a random box's lower-left corner may fall (CRS84, inside the data) and the box
    size in degrees, as wrk_bbox.lua and the pgbench script draw them."""
    with psycopg.connect(conninfo) as conn:
        x0, y0, x1, y1, srid = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), "
            "(SELECT Find_SRID('public', 'buildings', 'geom')) "
            "FROM (SELECT ST_Extent(geom) AS e FROM buildings) s").fetchone()
    tr = Transformer.from_crs(f"EPSG:{srid}", "OGC:CRS84", always_xy=True)
    (llx, lrx, urx, ulx), (lly, lry, ury, uly) = tr.transform([x0, x1, x1, x0], [y0, y0, y1, y1])
    west, east = max(llx, ulx), min(lrx, urx)  # the lon/lat box inside the data's corners
    south, north = max(lly, lry), min(uly, ury)
    geod = Geod(ellps="GRS80")
    lat = (south + north) / 2
    dlon = geod.fwd(west, lat, 90, box_m)[0] - west
    dlat = geod.fwd(west, lat, 0, box_m)[1] - lat
    area = [west, south, max(west, east - dlon), max(south, north - dlat)]
    return {"area": area, "box": [dlon, dlat], "box_m": box_m, "limit": limit, "seed": seed,
            "srid": srid, "data_lonlat": [west, south, east, north]}


def sample_boxes(wl: dict, n: int = 5) -> list[tuple[float, float, float, float]]:
    rnd = random.Random(wl["seed"])
    (x0, y0, x1, y1), (dx, dy) = wl["area"], wl["box"]
    out = []
    for _ in range(n):
        x, y = x0 + rnd.random() * (x1 - x0), y0 + rnd.random() * (y1 - y0)
        out.append((x, y, x + dx, y + dy))
    return out


def floor_codes(conninfo: str, props: list[str], wl: dict, bbox) -> list[str]:
    sql = floor_script(props, wl["srid"], wl["limit"], False).splitlines()[-1]
    for k, v in zip(("x0", "y0", "x1", "y1"), bbox):
        sql = sql.replace(f":{k}::float8", repr(float(v)))
    with psycopg.connect(conninfo) as conn:
        doc = json.loads(conn.execute(sql).fetchone()[0])
    return [f["properties"]["code"] for f in doc["features"]]


# -- servers -------------------------------------------------------------------------------
def start_cim(work: Path, url: str, profile: Path, workers: int):
    port = free_port()
    argv = [sys.executable, "-m", "cim", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
    return start_server("cim serve", argv, cim_env(work, url, profile), port,
                        "/collections/buildings/items", "json", work / "logs" / "cim.log", ROOT)


def tipg_venv(work: Path) -> Path:
    venv = work / "venv-tipg"
    if not (venv / "bin" / "uvicorn").exists():
        print(f"installing {TIPG} and uvicorn into {venv} …", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        sh([sys.executable, "-m", "venv", str(venv)])
        sh([str(venv / "bin" / "pip"), "install", "-q", TIPG, "uvicorn"])
    return venv


def start_tipg(work: Path, url: str, props: list[str], workers: int):
    venv = tipg_venv(work)
    u = make_url(url).set(drivername="postgresql")
    port = free_port()
    env = dict(os.environ, DATABASE_URL=u.render_as_string(hide_password=False),
               TIPG_DB_SCHEMAS='["public"]', TIPG_DB_TABLES='["public.buildings"]',
               TIPG_DB_FUNCTIONS="[]",
               TIPG_TABLE_CONFIG__public_buildings__pk="id",
               TIPG_TABLE_CONFIG__public_buildings__geomcol="geom",
               TIPG_TABLE_CONFIG__public_buildings__properties=json.dumps(props))
    argv = [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port",
            str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    return start_server("tipg 1.6.1", argv, env, port, "/collections/public.buildings/items",
                        "geojson", work / "logs" / "tipg.log", work)


def measure_server(srv, args, wl: dict, work: Path, conninfo: str, props: list[str],
                   total: int) -> dict:
    res: dict = {"name": srv.name}
    same = []
    for bbox in sample_boxes(wl):
        status, codes = page_codes(srv, bbox, wl["limit"])
        same.append(status == 200 and codes == floor_codes(conninfo, props, wl, bbox)
                    and len(codes) > 0)
    res["same_page_as_postgis"] = f"{sum(same)}/{len(same)}"
    print(f"{srv.name}: same pages as PostGIS for {res['same_page_as_postgis']} boxes; "
          f"warm-up {args.warmup} s …", flush=True)
    wrk = dict(connections=args.connections, threads=args.wrk_threads, timeout=args.timeout)
    run_wrk(srv, wl, args.warmup, work / "logs" / "wrk-warmup.json", **wrk)
    print(f"{srv.name}: measuring {args.duration} s …", flush=True)
    res["wrk"] = run_wrk(srv, wl, args.duration, work / "logs" / "wrk.json", **wrk)
    if args.harvest:
        print(f"{srv.name}: harvesting {total:,} features at limit={args.harvest_limit} …",
              flush=True)
        res["harvest"] = harvest(srv, args.harvest_limit, total)
    return res


def measure_floor(args, wl: dict, work: Path, url: str, props: list[str]) -> dict:
    u = make_url(url)
    conn = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "user": u.username,
            "password": u.password, "dbname": u.database}
    out = {}
    for key, with_count in (("page", False), ("count_page", True)):
        script = work / f"floor_{key}.sql"
        script.write_text(floor_script(props, wl["srid"], wl["limit"], with_count))
        print(f"PostGIS floor ({key}): warm-up {args.warmup} s, measuring {args.duration} s …",
              flush=True)
        run_pgbench(conn, script, wl, args.warmup, args.connections, work / "logs")
        out[key] = run_pgbench(conn, script, wl, args.duration, args.connections, work / "logs")
    return out


# -- report --------------------------------------------------------------------------------
def ms(us) -> str:
    return "–" if us is None else f"{us / 1000:,.0f}" if us >= 10_000 else f"{us / 1000:.1f}"


def report(results: dict) -> str:
    m, a = results["machine"], results["args"]
    lines = [f"**{results['features']:,} footprints**, {a['duration']} s per run after "
             f"{a['warmup']} s warm-up, {a['connections']} connections, random "
             f"{a['box']:.0f} m bbox (CRS84), limit={a['limit']}, {a['workers']} workers; "
             f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['date']} "
             f"(load average at start {m['load_avg'][0]:.1f})", "",
             "| run | req/s | p50 ms | p95 ms | p99 ms | errors | status ≥ 400 | "
             "same pages |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in results["servers"]:
        w, e = s["wrk"], s["wrk"]["errors"]
        lat = w["latency_us"]
        errs = e["connect"] + e["read"] + e["write"] + e["timeout"]
        lines.append(f"| {s['label']} | {w['rps']:,.1f} | {ms(lat['p50'])} | {ms(lat['p95'])} | "
                     f"{ms(lat['p99'])} | {errs} ({e['timeout']} timeouts) | {e['status']} | "
                     f"{s['same_page_as_postgis']} |")
    for key, label in (("page", "PostGIS floor: page as GeoJSON (pgbench, prepared)"),
                       ("count_page", "PostGIS floor: exact count + page")):
        f = results.get("floor", {}).get(key)
        if f:
            lat = f["latency_us"]
            lines.append(f"| {label} | {f['rps']:,.1f} | {ms(lat['p50'])} | {ms(lat['p95'])} | "
                         f"{ms(lat['p99'])} | {f['errors']['failed']} | – | – |")
    harvests = [s for s in results["servers"] if "harvest" in s]
    if harvests:
        lines += ["", f"| harvest (limit={a['harvest_limit']}, one connection) | features | "
                  "first 1 % s | whole s | whole / (100 × first 1 %) | slowest page s |",
                  "|---|---:|---:|---:|---:|---:|"]
        for s in harvests:
            h = s["harvest"]
            lines.append(f"| {s['label']} | {h['unique']:,} of {h['features']:,} | "
                         f"{h['first_1pct_s']:.1f} | {h['whole_s']:.1f} | "
                         f"{h['linearity']:.2f} | {h['slowest_page_s']:.2f} |")
    lines += ["", "*Same pages*: boxes (of 5) whose page has the same features in the same "
              "order as the floor's query. tipg filters with the projected bounds of the CRS84 "
              "box (a little larger: the grid is rotated by the meridian convergence), so its "
              "pages may hold a few more features at the edges.", "", *targets(results)]
    return "\n".join(lines)


def targets(results: dict) -> list[str]:
    by = {s["key"]: s for s in results["servers"]}
    out = []
    if "cim" in by:
        cim = by["cim"]["wrk"]
        p95 = (cim["latency_us"]["p95"] or float("inf")) / 1000
        errs = sum(cim["errors"].values())
        if "tipg" in by:
            ratio = cim["rps"] / by["tipg"]["wrk"]["rps"]
            out.append(f"- ≥ 2× tipg's req/s: {ratio:.2f}× — {'met' if ratio >= 2 else 'missed'}")
        out.append(f"- p95 ≤ 150 ms: {p95:,.0f} ms — {'met' if p95 <= 150 else 'missed'}")
        floor = results.get("floor", {}).get("page")
        if floor:
            x = floor["rps"] / cim["rps"]
            out.append(f"- within 3× of the database floor: floor is {x:.1f}× the "
                       f"platform's req/s — {'met' if x <= 3 else 'missed'}")
        out.append(f"- 0 errors: {errs} — {'met' if errs == 0 else 'missed'}")
        h = by["cim"].get("harvest")
        if h and h["linearity"]:
            out.append(f"- harvest in linear time (whole ≤ 2 × 100 × first 1 %): "
                       f"{h['linearity']:.2f} — {'met' if h['linearity'] <= 2 else 'missed'}")
    return out


def versions(conninfo: str) -> dict:
    with psycopg.connect(conninfo) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        postgis = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    import pygeoapi

    return {"postgresql": pg, "postgis": postgis, "pygeoapi": pygeoapi.__version__,
            "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
            .split("\n")[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1_000_000, help="footprints to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/cim-bench"),
                    help="data, virtualenvs, logs and results (not in the repo)")
    ap.add_argument("--reload", action="store_true", help="rebuild the database even if loaded")
    ap.add_argument("--duration", type=int, default=30, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=10, help="seconds of warm-up before each")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=10,
                    help="wrk's request timeout, seconds (a timed-out request counts as an "
                         "error and has no latency)")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (both)")
    ap.add_argument("--box", type=float, default=500.0, help="bbox side in metres")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--harvest", action="store_true", help="also harvest via `next` links")
    ap.add_argument("--harvest-limit", type=int, default=1000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["cim", "tipg", "floor"])
    args = ap.parse_args()
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk postgresql-client")
    work = args.work.resolve()
    if work == ROOT or ROOT in work.parents:
        sys.exit("--work must be outside the repository")
    (work / "logs").mkdir(parents=True, exist_ok=True)

    started = machine()
    path = dataset(work, args.count, args.seed)
    url, profile, total = prepare_db(work, path, args.reload)
    conninfo = psycopg_conninfo(url)
    props = served_properties(conninfo)
    wl = workload(conninfo, args.box, args.limit, args.seed)
    results: dict = {"features": total, "dataset": str(path), "database": DB,
                     "machine": started, "versions": versions(conninfo),
                     "args": {**vars(args), "work": str(work)}, "workload": wl,
                     "servers": []}
    starters = {"cim": ("`cim serve` (platform app)",
                        lambda: start_cim(work, url, profile, args.workers)),
                "tipg": ("tipg 1.6.1 (uvicorn)",
                         lambda: start_tipg(work, url, props, args.workers))}
    for key, (label, start) in starters.items():
        if key in args.skip:
            continue
        srv = start()
        try:
            res = measure_server(srv, args, wl, work, conninfo, props, total)
        finally:
            srv.stop()
        results["servers"].append({"key": key, "label": label, **res})
    if "floor" not in args.skip:
        results["floor"] = measure_floor(args, wl, work, url, props)

    table = report(results)
    out = work / f"api-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({**results, "table": table}, indent=1, ensure_ascii=False))
    print()
    print(table)
    print(f"\nversions: {results['versions']}\nresults: {out}")


if __name__ == "__main__":
    main()
