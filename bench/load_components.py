"""Bulk-load benchmark of the component census: `cim load components`, rows/s against buildings.

Run by hand (never by the test suite) from the repository root; record the printed table in
docs/benchmarks.md (issue 12, third target):

    .venv/bin/python -m bench.load_components                   # 1,000,000 census points
    .venv/bin/python -m bench.load_components --count 200000    # quicker
    .venv/bin/python -m bench.load_components --convert-only    # the converter alone, no DB

It generates N census points with the sample census schema (编号, 部件小类, 部件名称, 状态,
初始日期 …; `data_samples.generate.large_components.write_components_gpkg`) as a GeoPackage
under /var/tmp/cim-bench, makes a database (``cim_bench_components``) whose profile has one
district box around them and its 500 m unit grid (components need a grid cell), and times
`cim load components` in a child process (wall seconds, peak RSS from wait4). For the issue's
ratio it then times `cim load buildings` on the building benchmark's N-footprint file
(`bench.load_buildings.dataset`, same loader entry as bench/load_buildings.py) into a database
of its own (``cim_bench_components_b``: the building benchmark's ``cim_bench`` may be in use),
in the same run, and prints seconds per row of both.

``--convert-only`` reads the file and runs the converter batch by batch in this process (no
database): what the Python side costs, to tell it from the SQL side.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

from bench.load_buildings import compiled_platform, settle, timed_process
from cim.config import Settings
from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.engine import server_url as engine_server_url
from cim.db.migrate import fresh_database

WORK = Path("/var/tmp/cim-bench")
DB = "cim_bench_components"
DB_BUILDINGS = "cim_bench_components_b"
CELL = 500.0


def server_url() -> str:
    return engine_server_url(Settings())


def cached(path: Path, make) -> Path:
    """``path``, made by ``make(tmp)`` and renamed into place if missing (never half-written)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        t = time.monotonic()
        tmp = path.with_name(path.stem + ".tmp" + path.suffix)
        make(tmp)
        tmp.rename(path)
        print(f"generated {path} in {time.monotonic() - t:.0f} s", flush=True)
    return path


def components_file(count: int, seed: int) -> Path:
    from data_samples.generate.large_components import write_components_gpkg

    # the points stand in the streets of the lattice of `count` building footprints
    return cached(WORK / f"components_{count}_{seed}.gpkg",
                  lambda p: write_components_gpkg(p, count, count, seed=seed))


def district_and_grid(work: Path, bounds: tuple[float, float, float, float], tag: str
                      ) -> tuple[Path, Path]:
    """One district (a box, 500 m-aligned, 1 km around ``bounds``) and its 500 m unit grid."""
    import geopandas as gpd
    import pyogrio
    import shapely

    x0 = math.floor((bounds[0] - 1000) / CELL) * CELL
    y0 = math.floor((bounds[1] - 1000) / CELL) * CELL
    x1 = math.ceil((bounds[2] + 1000) / CELL) * CELL
    y1 = math.ceil((bounds[3] + 1000) / CELL) * CELL
    district = work / f"{tag}_district.gpkg"
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
    grid = work / f"{tag}_grid.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4527"), grid,
                            layer="grid_cells")
    return district, grid


def bench_database(tag: str, bounds, db: str):
    """(profile, url) of a fresh database with one district box and its grid loaded."""
    from loaders.divisions import create_profile, load_districts, load_grid

    district, grid = district_and_grid(WORK, bounds, tag)
    profile = create_profile(WORK / f"{tag}_profile.yaml", name="济宁市(bench)",
                             admin_code="370800", storage_crs="EPSG:4527", boundary=district,
                             grid=grid)
    url = fresh_database(server_url(), db, profile.srid)
    conninfo = psycopg_conninfo(url)
    load_districts(conninfo, profile, mode="replace")
    load_grid(conninfo, profile, mode="replace")
    return profile, url


def run_cli_load(argv: list[str], url: str, profile_path: Path) -> tuple[float, int, dict]:
    """Wall seconds, peak RSS (MB) and the JSON report of ``cim load …`` in a child process."""
    # nothing left to write of the step before; the delivery's files in the page cache
    settle(psycopg_conninfo(url), *[Path(a) for a in argv if Path(a).is_file()])
    env = dict(os.environ, CIM_DATABASE_URL=url, CIM_PROFILE=str(profile_path),
               CIM_LOAD_PHASES="1")  # the direct write says where its time went
    secs, rss, out = timed_process([sys.executable, "-m", "cim.cli", "load", *argv, "--quiet",
                                    "--json"], env)
    for line in out.splitlines():
        if line.startswith("phases:"):
            print("  " + line, flush=True)
    rep = json.JSONDecoder().raw_decode(out[out.index("{"):])[0]
    assert rep["loaded"] + rep["rejected"] == rep["read"], rep
    return secs, rss, rep


def convert_only(path: Path, profile) -> dict[str, float]:
    """Read + convert every batch in this process (no database): seconds of each part."""
    import numpy as np

    from cim import crs as cimcrs
    from loaders.components import make_columns
    from loaders.engine.pipeline import LoadContext
    from loaders.field_names import map_fields
    from loaders.sources.read import iter_batches, open_source

    src = open_source(path, None, None)
    ctx = LoadContext(profile=profile, source=src, source_crs=cimcrs.parse_crs("EPSG:4527"),
                      transformer=None, srid=profile.srid, dataset=path.stem,
                      mapping=map_fields(src.fields, profile.field_aliases["components"]),
                      hash_rows=False)  # as a first load converts (no content hash)
    convert = make_columns(profile)  # the converter of the direct load
    t_read = t_conv = 0.0
    n = loaded = 0
    it = iter_batches(src, 50_000)
    while True:
        t = time.perf_counter()
        b = next(it, None)
        t_read += time.perf_counter() - t
        if b is None:
            break
        t = time.perf_counter()
        converted = convert(b, ctx)
        t_conv += time.perf_counter() - t
        n += len(b.geometries)
        loaded += len(converted.index)
    assert n and isinstance(loaded, (int, np.integer))
    return {"rows": n, "converted": loaded, "read_s": t_read, "convert_s": t_conv}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--buildings", type=int, default=None,
                    help="footprints of the building run for the ratio (default: --count; 0: "
                         "skip it)")
    ap.add_argument("--convert-only", action="store_true",
                    help="time reading and converting in this process, no database")
    args = ap.parse_args()
    import pyogrio

    compiled_platform()
    WORK.mkdir(parents=True, exist_ok=True)
    path = components_file(args.count, args.seed)
    bounds = tuple(pyogrio.read_info(path, force_total_bounds=True)["total_bounds"])
    print(f"uptime: {os.getloadavg()}", flush=True)
    if args.convert_only:
        from cim.profile import load_profile

        profile_path = WORK / "components_profile.yaml"
        profile = load_profile(profile_path) if profile_path.exists() else \
            bench_database("components", bounds, DB)[0]
        r = convert_only(path, profile)
        print(f"{r['rows']:,} rows ({r['converted']:,} converted): read {r['read_s']:.1f} s, "
              f"convert {r['convert_s']:.1f} s ({r['rows'] / r['convert_s']:,.0f} rows/s); "
              f"load average {os.getloadavg()[0]:.2f}")
        return
    results: dict[str, tuple[float, int, int]] = {}
    profile, url = bench_database("components", bounds, DB)
    print("timing cim load components …", flush=True)
    secs, rss, rep = run_cli_load(["components", str(path)], url, profile.path)
    print(f"  read {rep['read']:,}, loaded {rep['loaded']:,}, rejected {rep['rejected']:,} "
          f"{rep.get('rejected_by_reason')}; load average {os.getloadavg()}", flush=True)
    results["cim load components"] = (secs, rss, rep["read"])
    drop_database(server_url(), DB)
    nb = args.count if args.buildings is None else args.buildings
    if nb:
        from bench.load_buildings import bench_profile, dataset

        bpath = dataset(nb, args.seed)
        bprofile = bench_profile(bpath, WORK)
        from loaders.divisions import load_districts

        burl = fresh_database(server_url(), DB_BUILDINGS, bprofile.srid)
        load_districts(psycopg_conninfo(burl), bprofile, mode="replace")
        print("timing cim load buildings …", flush=True)
        secs, rss, rep = run_cli_load(["buildings", str(bpath)], burl, bprofile.path)
        print(f"  read {rep['read']:,}, loaded {rep['loaded']:,}, rejected {rep['rejected']:,}; "
              f"load average {os.getloadavg()}", flush=True)
        results["cim load buildings"] = (secs, rss, rep["read"])
        drop_database(server_url(), DB_BUILDINGS)
    print()
    print(f"{platform.node()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"
          f" UTC, load average {os.getloadavg()}")
    print(f"| {'load':<22} | {'rows':>9} | {'seconds':>8} | {'rows/s':>8} | {'µs/row':>7} | "
          f"{'peak RSS MB':>11} |")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 13}|")
    for name, (secs, rss, rows) in results.items():
        print(f"| {name:<22} | {rows:>9,} | {secs:>8.1f} | {rows / secs:>8,.0f} | "
              f"{secs / rows * 1e6:>7.1f} | {rss:>11} |")
    if len(results) == 2:
        c, b = results["cim load components"], results["cim load buildings"]
        print(f"components / buildings per row: {(c[0] / c[2]) / (b[0] / b[2]):.2f} "
              "(target ≤ 1.5)")


if __name__ == "__main__":
    main()
