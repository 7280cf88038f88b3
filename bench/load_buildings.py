"""Bulk-load benchmark: `cim load buildings` against ogr2ogr, geopandas and the raw COPY floor.

Run by hand (never by the test suite) from the repository root, as a module of the `bench`
package, so `cim`, `loaders` and `data_samples` import by name; then record the printed table
in docs/benchmarks.md:

    .venv/bin/python -m bench.load_buildings              # 1,000,000 footprints
    .venv/bin/python -m bench.load_buildings --count 200000 --skip geopandas

It generates N building footprints with the sample survey schema (Chinese field names,
EPSG:4527; `data_samples.generate.write_buildings_gpkg`) as a GeoPackage (cached under bench/.cache), makes a benchmark database whose
profile covers them, and times, each into an empty table:

- loader:    `cim load buildings` (read, validate, code, district/grid join, write, index, analyze)
- ogr2ogr:   `ogr2ogr -f PostgreSQL` with its default options (COPY, GiST index)
- geopandas: `read_file` + `to_postgis` (COPY of CSV text) + GiST index
- floor:     binary COPY of the same rows (already read into memory) into a bare table, then
             the GiST index and ANALYZE: what PostgreSQL needs at the least

Peak memory is the loader process's maximum resident set size (wait4 rusage).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import psycopg
import pyogrio
import shapely

from cim.config import Settings
from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.engine import server_url as engine_server_url
from cim.db.migrate import fresh_database
from cim.profile import create_profile
from data_samples.generate import write_buildings_gpkg

ROOT = Path(__file__).resolve().parent.parent

DB = "cim_bench"


def server_url() -> str:
    return engine_server_url(Settings())


def dataset(count: int, seed: int) -> Path:
    cache = ROOT / "bench" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"buildings_{count}_{seed}.gpkg"
    if not path.exists():
        t = time.monotonic()
        write_buildings_gpkg(path, count, seed=seed)
        print(f"generated {path.name} in {time.monotonic() - t:.0f} s", flush=True)
    return path


def bench_profile(path: Path, workdir: Path):
    """A profile with one district covering the whole synthetic set (the sample district is
    only 8 × 9 km; the large sets spread wider)."""
    info = pyogrio.read_info(path, force_total_bounds=True)
    minx, miny, maxx, maxy = info["total_bounds"]
    box = shapely.box(minx - 1000, miny - 1000, maxx + 1000, maxy + 1000)
    gdf = gpd.GeoDataFrame({"code": ["370811"], "name": ["任城区"]}, geometry=[box],
                           crs="EPSG:4527")
    pyogrio.write_dataframe(gdf, workdir / "bench_district.gpkg")
    return create_profile(workdir / "bench_profile.yaml", name="济宁市(bench)",
                          admin_code="370800", storage_crs="EPSG:4527",
                          boundary=workdir / "bench_district.gpkg")


def fresh_db(profile) -> tuple[str, str]:
    url = fresh_database(server_url(), DB, profile.srid)
    return url, psycopg_conninfo(url)


def timed_process(argv: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stderr of a child process."""
    t = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _, status, ru = os.wait4(proc.pid, 0)
    secs = time.monotonic() - t
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[0]} failed: {err or out}")
    return secs, ru.ru_maxrss // 1024, out + err


def run_loader(path: Path, url: str, profile_path: Path) -> tuple[float, int]:
    from cim.profile import load_profile
    from loaders.divisions import load_districts

    load_districts(psycopg_conninfo(url), load_profile(profile_path), mode="replace")
    env = dict(os.environ, CIM_DATABASE_URL=url, CIM_PROFILE=str(profile_path))
    secs, rss, out = timed_process([sys.executable, "-m", "cim.cli", "load", "buildings",
                                    str(path), "--quiet", "--json"], env)
    import json

    rep = json.loads(out[out.index("{"):])
    assert rep["loaded"] + rep["rejected"] == rep["read"], rep
    print(f"  loader: read {rep['read']:,}, loaded {rep['loaded']:,}, "
          f"rejected {rep['rejected']:,}", flush=True)
    return secs, rss


def run_ogr2ogr(path: Path, conninfo: str) -> tuple[float, int]:
    secs, rss, _ = timed_process(["ogr2ogr", "-f", "PostgreSQL", f"PG:{conninfo}", str(path),
                                  "-nln", "bench_ogr2ogr"])
    return secs, rss


def run_geopandas(path: Path, url: str) -> tuple[float, int]:
    code = (
        "import sys, geopandas as gpd, psycopg\n"
        "from sqlalchemy import create_engine\n"
        f"gdf = gpd.read_file({str(path)!r}, engine='pyogrio')\n"
        f"eng = create_engine({url!r})\n"
        "gdf.to_postgis('bench_geopandas', eng, if_exists='replace', index=False, chunksize=100000)\n"
        "with eng.begin() as c:\n"
        "    c.exec_driver_sql('CREATE INDEX ON bench_geopandas USING gist (geometry)')\n"
        "    c.exec_driver_sql('ANALYZE bench_geopandas')\n"
    )
    secs, rss, _ = timed_process([sys.executable, "-c", code])
    return secs, rss


def run_floor(path: Path, conninfo: str) -> tuple[float, float]:
    """(COPY + index + analyze seconds, read seconds) with the rows already in memory."""
    from loaders.engine.bulk import EWKB, _register_geometry

    t = time.monotonic()
    df = pyogrio.read_dataframe(path, encoding="UTF-8")
    wkb = shapely.to_wkb(shapely.set_srid(shapely.multipolygons(shapely.get_parts(
        df.geometry.values), indices=shapely.get_parts(df.geometry.values,
                                                       return_index=True)[1]), 4527),
        include_srid=True)
    attrs = [c for c in df.columns if c != "geometry"]
    rows = list(zip(*(df[c].astype(object).where(df[c].notna(), None).tolist()
                      for c in attrs), (EWKB(w) for w in wkb)))
    read_secs = time.monotonic() - t
    types = {"编号": "text", "建筑名称": "text", "建筑用途": "text", "结构": "text",
             "地上层数": "int4", "地下层数": "int4", "建筑高度": "float8", "建成年代": "int4"}
    with psycopg.connect(conninfo) as conn:
        oid = _register_geometry(conn)
        cols = ", ".join(f'"{c}" {types.get(c, "text")}' for c in attrs)
        conn.execute(f"DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor ({cols}, "
                     "geom geometry(MultiPolygon, 4527))")
        conn.commit()
        t = time.monotonic()
        names = ", ".join(f'"{c}"' for c in attrs)
        with conn.cursor().copy(f"COPY bench_floor ({names}, geom) FROM STDIN (FORMAT BINARY)"
                                ) as cp:
            cp.set_types([types.get(c, "text") for c in attrs] + [oid])
            for r in rows:
                cp.write_row(r)
        conn.execute("CREATE INDEX ON bench_floor USING gist (geom)")
        conn.execute("ANALYZE bench_floor")
        conn.commit()
        return time.monotonic() - t, read_secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["loader", "ogr2ogr", "geopandas", "floor"])
    args = ap.parse_args()
    path = dataset(args.count, args.seed)
    work = ROOT / "bench" / ".cache"
    profile = bench_profile(path, work)
    results: dict[str, tuple[float, int | None]] = {}

    url, conninfo = fresh_db(profile)
    if "loader" not in args.skip:
        print("timing the loader …", flush=True)
        results["cim load buildings"] = run_loader(path, url, profile.path)
    if "ogr2ogr" not in args.skip:
        print("timing ogr2ogr …", flush=True)
        results["ogr2ogr (defaults)"] = run_ogr2ogr(path, conninfo)
    if "geopandas" not in args.skip:
        print("timing geopandas …", flush=True)
        results["geopandas to_postgis"] = run_geopandas(path, url)
    if "floor" not in args.skip:
        print("timing the floor …", flush=True)
        secs, read_secs = run_floor(path, conninfo)
        results["floor: binary COPY + GiST"] = (secs, None)
    drop_database(server_url(), DB)

    n = args.count
    loader = results.get("cim load buildings", (float("nan"),))[0]
    print()
    print(f"{n:,} footprints, {platform.node()}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"| {'method':<28} | {'seconds':>8} | {'rows/s':>9} | {'loader ×':>8} | "
          f"{'peak RSS MB':>11} |")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 11}|{'-' * 10}|{'-' * 13}|")
    for name, (secs, rss) in results.items():
        print(f"| {name:<28} | {secs:>8.1f} | {n / secs:>9,.0f} | {secs / loader:>8.2f} | "
              f"{(str(rss) if rss else '-'):>11} |")
    if "floor" not in args.skip:
        print(f"(floor excludes reading the file into memory: {read_secs:.1f} s)")


if __name__ == "__main__":
    main()
