"""Approval check benchmark (issue 11: a sample project with its report in under 2 s).

Run by hand from the repository root (never by the test suite), then record the table in
docs/benchmarks.md:

    .venv/bin/python -m bench.approval            # 10 runs of each sample project
    .venv/bin/python -m bench.approval --runs 3

Builds a database of its own (dropped at the end) with the sample district as ``make demo``
loads it (profile, buildings, pipes, planning parcels, control lines, height zones), then times
``cim check PROJECT --report OUT.html`` on data_samples/projects/passes.gpkg and
breaks_several.geojson as a user runs it (a new ``cim`` process: start-up, imports, reading the
file, the check, the map, the report, recording) and the same in-process (the library calls
only: read, check, map and HTML, as the OGC process pays them in a warm worker). Prints the
machine, the load average before and after, and for the new process its CPU time (user +
system, from the kernel) beside the wall time: on a shared machine the wall time measures
the other tenants too, the CPU time measures the command.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cim.config import DEFAULT_PROFILE, PROJECT_ROOT, Settings
from cim.db.engine import drop_database, psycopg_conninfo, server_url
from cim.db.migrate import fresh_database
from cim.profile import load_profile

SAMPLES = PROJECT_ROOT / "data_samples"
PROJECTS = ("passes.gpkg", "breaks_several.geojson")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def machine() -> str:
    """CPU model, cores, Python: what a timing was taken on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh
                          if ln.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def _load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cim(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cim", *args], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True)


def _load(env: dict[str, str]) -> None:
    j = SAMPLES / "jining"
    steps = [["profile", "apply", "--quiet"],
             ["load", "buildings", str(j / "buildings" / "buildings_survey.shp"), "--quiet"],
             ["load", "pipes", str(j / "pipes"), "--quiet"]]
    steps += [["load", "planning", str(j / "planning" / "planning.gpkg"), "--layer", layer,
               "--quiet"] for layer in ("parcels", "control_lines", "height_zones")]
    for s in steps:
        p = _cim(s, env)
        if p.returncode != 0:
            raise SystemExit(f"cim {' '.join(s)} failed: {p.stderr}")


def _in_process(conninfo: str, path: Path, out: Path) -> float:
    from layers.approval.check import check
    from layers.approval.mapdraw import draw_map
    from layers.approval.project import build_project
    from layers.approval.report import render_html
    from loaders.project import read_project

    prof = load_profile(DEFAULT_PROFILE)
    t0 = time.perf_counter()
    pf = read_project(path)
    proj = build_project(pf.records, source=str(path), name=path.stem, crs=pf.crs,
                         storage_srid=prof.srid)
    result, ctx = check(conninfo, proj, prof)
    out.write_text(render_html(result, draw_map(proj, ctx, result, prof)), encoding="utf-8")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    prof = load_profile(DEFAULT_PROFILE)
    base = server_url(Settings())
    name = f"cim_bench_approval_{os.getpid()}"
    url = fresh_database(base, name, prof.srid)
    env = dict(os.environ, CIM_DATABASE_URL=url, CIM_PROFILE=str(prof.path))
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M %Z')}; "
          f"load average {_load_avg()}")
    try:
        t = time.perf_counter()
        _load(env)
        print(f"sample district loaded in {time.perf_counter() - t:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            for project in PROJECTS:
                path = SAMPLES / "projects" / project
                out = Path(tmp) / "r.html"
                cli, cpu, lib = [], [], []
                for _ in range(args.runs):
                    t, c = time.perf_counter(), _children_cpu()
                    p = _cim(["check", str(path), "--report", str(out)], env)
                    cli.append(time.perf_counter() - t)
                    cpu.append(_children_cpu() - c)
                    if p.returncode not in (0, 1):
                        raise SystemExit(f"cim check {project} failed: {p.stderr}")
                    lib.append(_in_process(psycopg_conninfo(url), path, out))
                for what, xs in (("cim check --report (new process)", cli),
                                 ("  its CPU time (user + system)", cpu),
                                 ("in-process read+check+map+HTML", lib)):
                    print(f"{project:24} {what:34} median {statistics.median(xs):.2f} s  "
                          f"max {max(xs):.2f} s  (n={len(xs)})")
        print(f"load average after: {_load_avg()}")
    finally:
        drop_database(base, name)


if __name__ == "__main__":
    main()
