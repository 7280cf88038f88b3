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
- floor:     reading the file (pyogrio Arrow stream), a binary COPY of the same rows (buffer
             built in memory beforehand) into a bare table, then the GiST index and ANALYZE:
             what reading and PostgreSQL need at the least

then the incremental reload: a copy of the file with 1 % of the features changed (their name;
same file name, so the same dataset and source keys) loaded again by `cim load buildings`
into the loaded layer (only the changed features may get new versions: checked), and by
ogr2ogr (`-overwrite`, its only way to take a new delivery) beside it.

Peak memory is the loader's maximum resident set size (wait4 rusage: the largest of the
process and its converter process).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
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
from data_samples.generate import write_buildings_gpkg
from loaders.divisions import create_profile

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


def settle(conninfo: str, *inputs: Path) -> None:
    """Untimed, before each timing: the writes of the step before (a million rows: 0.4–1.5 GB
    of WAL, tables and indexes, and a VACUUM's hint bits) put to disk, by the server
    (``CHECKPOINT``) and the kernel (``sync``). Left to the background they ran beside the
    next step: a reload right after ogr2ogr and its VACUUM took 12.8 s instead of 5.2 s;
    ogr2ogr after the loader's first load varied 9–19 s.

    Then the step's ``inputs`` read once, so that every timing starts with its delivery in the
    page cache, as one just copied to the server is: whichever method read a file first paid
    its disk reads for the other, and the changed file of the reload came to the loader
    before ogr2ogr (this VM hands back memory it sees unused, the page cache's included: the
    reload took 3.6 s in the bench, 2.9–3.1 s after a load of the same file, 4.7–5.6 s with
    the page cache dropped)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    os.sync()
    buf = bytearray(1 << 20)
    for path in inputs:
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass


def compiled_platform() -> None:
    """The platform's modules compiled to bytecode before any timing, as an installed package
    has them (``pip install`` compiles; a first run writes them otherwise). Where
    ``PYTHONDONTWRITEBYTECODE`` is set, as in the shell these benchmarks were run from until
    2026-12-05, no run ever wrote them: every loader process compiled its ~65 modules from
    source again (~0.1 s of CPU at each start, a load's and a reload's alike), which no
    installed platform pays and ogr2ogr, a compiled program, never does."""
    import compileall

    for pkg in ("cim", "loaders", "layers", "services"):
        compileall.compile_dir(str(ROOT / pkg), quiet=1)


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


def changed_copy(path: Path, every: int = 100) -> tuple[Path, int]:
    """The delivery again with every ``every``-th feature's name changed (1 %), under the same
    file name (same dataset): (path, number changed). Cached beside the original."""
    out = path.parent / "changed" / path.name
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)
        # through GDAL: the GeoPackage's triggers call its SQL functions (ST_IsEmpty …)
        subprocess.run(["ogrinfo", "-q", str(out), "-sql",
                        'UPDATE buildings SET "建筑名称" = coalesce("建筑名称", \'\') '
                        f"|| '(改)' WHERE fid % {int(every)} = 0"], check=True,
                       capture_output=True)
    with sqlite3.connect(out) as db:
        n = db.execute('SELECT count(*) FROM buildings WHERE "建筑名称" LIKE \'%(改)\'').fetchone()[0]
    return out, n


def prepare_loader_db(url: str, profile_path: Path) -> None:
    from cim.profile import load_profile
    from loaders.divisions import load_districts

    load_districts(psycopg_conninfo(url), load_profile(profile_path), mode="replace")


def run_loader(path: Path, url: str, profile_path: Path) -> tuple[float, int, dict]:
    env = dict(os.environ, CIM_DATABASE_URL=url, CIM_PROFILE=str(profile_path))
    env["CIM_LOAD_PHASES"] = "1"  # the loader prints where its time went (stderr)
    secs, rss, out = timed_process([sys.executable, "-m", "cim.cli", "load", "buildings",
                                    str(path), "--quiet", "--json"], env)
    phases = [line for line in out.splitlines() if line.startswith("phases: ")]
    out = "\n".join(line for line in out.splitlines() if not line.startswith("phases: "))
    rep = json.loads(out[out.index("{"):])
    for line in phases:
        print("  " + line, flush=True)
    assert rep["loaded"] + rep["rejected"] == rep["read"], rep
    print(f"  loader: read {rep['read']:,}, loaded {rep['loaded']:,} (new {rep['inserted']:,}, "
          f"changed {rep['updated']:,}, unchanged {rep['unchanged']:,}), "
          f"rejected {rep['rejected']:,}: {secs:.1f} s, {rss} MB", flush=True)
    return secs, rss, rep


def run_ogr2ogr(path: Path, conninfo: str, *extra: str) -> tuple[float, int]:
    secs, rss, _ = timed_process(["ogr2ogr", "-f", "PostgreSQL", f"PG:{conninfo}", str(path),
                                  "-nln", "bench_ogr2ogr", *extra])
    print(f"  ogr2ogr {' '.join(extra)}: {secs:.1f} s, {rss} MB", flush=True)
    # untimed: what autovacuum would do to ogr2ogr's million new rows within the minute, done
    # now so that it does not run beside the next timing (it doubled a reload's time once)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) bench_ogr2ogr")
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


def run_floor(path: Path, conninfo: str) -> dict[str, float]:
    """Seconds of the floor's parts: read (the Arrow stream), COPY, GiST, ANALYZE. The
    COPY buffer (footprints as MultiPolygon EWKB) is built between read and COPY, untimed."""
    import numpy as np
    import pyarrow as pa

    from loaders.engine import copybuf

    t = time.monotonic()
    table = pyogrio.read_arrow(path)[1]
    read_secs = time.monotonic() - t
    geoms = shapely.from_wkb(table.column("geom").to_numpy(zero_copy_only=False))
    parts, idx = shapely.get_parts(geoms, return_index=True)
    wkb = shapely.to_wkb(shapely.set_srid(shapely.multipolygons(parts, indices=idx), 4527),
                         include_srid=True)
    types = {"编号": "text", "建筑名称": "text", "建筑用途": "text", "结构": "text",
             "地上层数": "int4", "地下层数": "int4", "建筑高度": "float8", "建成年代": "int4"}
    attrs = [c for c in table.column_names if c != "geom"]
    enc = {"text": lambda a: copybuf.text(a), "int4": lambda a: copybuf.int4(
        np.asarray(a.to_pandas(), dtype=object)), "float8": lambda a: copybuf.float8(
        np.asarray(a.to_pandas(), dtype=object))}
    chunks = []
    for start in range(0, table.num_rows, 100_000):
        part = table.slice(start, 100_000)
        fields = [enc[types.get(c, "text")](part.column(c).combine_chunks()
                                              if isinstance(part.column(c), pa.ChunkedArray)
                                              else part.column(c)) for c in attrs]
        fields.append(copybuf.binary(wkb[start:start + 100_000]))
        chunks.append(copybuf.rows(fields, part.num_rows)[0])
    with psycopg.connect(conninfo) as conn:
        cols = ", ".join(f'"{c}" {types.get(c, "text")}' for c in attrs)
        conn.execute(f"DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor ({cols}, "
                     "geom geometry(MultiPolygon, 4527))")
        conn.commit()
        names = ", ".join(f'"{c}"' for c in attrs)
        t = time.monotonic()
        with conn.cursor().copy(f"COPY bench_floor ({names}, geom) FROM STDIN (FORMAT BINARY)"
                                ) as cp:
            cp.write(copybuf.HEADER)
            for c in chunks:
                cp.write(c)
            cp.write(copybuf.TRAILER)
        conn.commit()
        t1 = time.monotonic()
        conn.execute("CREATE INDEX ON bench_floor USING gist (geom)")
        conn.commit()
        t2 = time.monotonic()
        conn.execute("ANALYZE bench_floor")
        conn.commit()
        t3 = time.monotonic()
    out = {"read": read_secs, "copy": t1 - t, "gist": t2 - t1, "analyze": t3 - t2}
    print("  floor: " + ", ".join(f"{k} {v:.1f} s" for k, v in out.items()), flush=True)
    return out


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["loader", "ogr2ogr", "geopandas", "floor", "reload"])
    args = ap.parse_args()
    compiled_platform()
    path = dataset(args.count, args.seed)
    work = ROOT / "bench" / ".cache"
    profile = bench_profile(path, work)
    results: dict[str, tuple[float, int | None]] = {}
    loads = [f"start {load_average()}"]

    url, conninfo = fresh_db(profile)
    if "loader" not in args.skip:
        prepare_loader_db(url, profile.path)
        settle(conninfo, path)
        print(f"timing the loader … (load average {load_average()})", flush=True)
        secs, rss, _ = run_loader(path, url, profile.path)
        results["cim load buildings"] = (secs, rss)
    if "ogr2ogr" not in args.skip:
        settle(conninfo, path)
        print(f"timing ogr2ogr … (load average {load_average()})", flush=True)
        results["ogr2ogr (defaults)"] = run_ogr2ogr(path, conninfo)
    changed_n = 0
    if "reload" not in args.skip and "loader" not in args.skip:
        changed, changed_n = changed_copy(path)
        settle(conninfo, changed)
        print(f"timing the reload, {changed_n:,} features changed … (load average "
              f"{load_average()})", flush=True)
        secs, rss, rep = run_loader(changed, url, profile.path)
        assert (rep["updated"], rep["inserted"]) == (changed_n, 0), rep
        with psycopg.connect(conninfo) as conn:
            total, current = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL) FROM buildings"
            ).fetchone()
        assert current == rep["loaded"] and total == rep["loaded"] + changed_n, (total, current)
        results["cim load buildings, reload 1 % changed"] = (secs, rss)
        if "ogr2ogr" not in args.skip:
            settle(conninfo, changed)
            print(f"timing ogr2ogr -overwrite of the changed file … (load average "
                  f"{load_average()})", flush=True)
            results["ogr2ogr -overwrite, changed file"] = run_ogr2ogr(changed, conninfo,
                                                                      "-overwrite")
    if "geopandas" not in args.skip:
        settle(conninfo, path)
        print(f"timing geopandas … (load average {load_average()})", flush=True)
        results["geopandas to_postgis"] = run_geopandas(path, url)
    # last: the floor holds the whole file in this process (a child forked after it would
    # report its size as peak memory)
    if "floor" not in args.skip:
        settle(conninfo, path)
        print(f"timing the floor … (load average {load_average()})", flush=True)
        floor = run_floor(path, conninfo)
        results["floor: read + COPY + GiST + ANALYZE"] = (sum(floor.values()), None)
    loads.append(f"end {load_average()}")
    drop_database(server_url(), DB)

    n = args.count
    loader = results.get("cim load buildings", (float("nan"),))[0]
    print()
    print(f"{n:,} footprints, {platform.node()}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load average "
          + ", ".join(loads))
    print(f"| {'method':<40} | {'seconds':>8} | {'rows/s':>9} | {'× loader':>8} | "
          f"{'peak RSS MB':>11} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 11}|{'-' * 10}|{'-' * 13}|")
    for name, (secs, rss) in results.items():
        print(f"| {name:<40} | {secs:>8.1f} | {n / secs:>9,.0f} | {secs / loader:>8.2f} | "
              f"{(str(rss) if rss else '-'):>11} |")
    if "floor" not in args.skip:
        print("(floor: " + ", ".join(f"{k} {v:.1f} s" for k, v in floor.items()) + ")")
    if changed_n:
        print(f"(reload: {changed_n:,} features changed)")


if __name__ == "__main__":
    main()
