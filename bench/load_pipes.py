"""Bulk-load benchmark of a pipe survey: `cim load pipes` on point and segment CSV tables.

Run by hand (never by the test suite) from the repository root; record the printed table in
docs/benchmarks.md (issue 12, third target):

    .venv/bin/python -m bench.load_pipes                      # ~100,000 segments
    .venv/bin/python -m bench.load_pipes --segments 20000     # quicker
    .venv/bin/python -m bench.load_pipes --phases             # also read / QA / write in-process

The survey is the sample set's pipe survey (``data_samples.generate.pipes.make_pipe_survey``:
seven classes, characteristic points, appurtenances, drainage inverts and its 15 seeded survey
errors) scaled up by tiling: the sample survey is laid out again and again, 2.5 km apart, each
copy with its own point numbers (JS0001 of copy 12 is JS0120001), until it holds the segments
asked for. The copies go into ONE point table and ONE segment table with a class column
(管线类别), UTF-8 with BOM, X = northing and Y = zone-prefixed easting, values written as the
sample's CSVs are (``writers._csv_value``) — what the survey loader reads from a survey office.
The database (``cim_bench_pipes``) has one district box around the survey and its 500 m grid.

Timed: `cim load pipes POINTS SEGMENTS` in a child process (read, QA, points, segments,
topology; wall seconds and peak RSS from wait4); with ``--phases`` also the same delivery in
this process, phase by phase (read_survey, QA, write).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.load_buildings import compiled_platform
from bench.load_components import WORK, bench_database, cached, run_cli_load, server_url
from cim.db.engine import drop_database, psycopg_conninfo

DB = "cim_bench_pipes"
SPACING = 2500.0  # metres between two copies of the sample survey
POINTS_CSV, SEGMENTS_CSV = "管网普查_管线点成果表.csv", "管网普查_管线段成果表.csv"


def sample_survey() -> dict:
    """The sample set's pipe survey tables {letters: (points, segments)}, as generated for
    data_samples/jining (same seed and random streams as ``generate_sample_set``)."""
    from data_samples.generate.buildings import make_buildings
    from data_samples.generate.districts import make_districts
    from data_samples.generate.frame import DISTRICTS, SAMPLE_SEED, area_frame
    from data_samples.generate.pipes import make_pipe_survey

    rng_d, rng_b, rng_p, _ = (np.random.default_rng(s)
                              for s in np.random.SeedSequence(SAMPLE_SEED).spawn(4))
    frame = area_frame()
    north, south, _ = make_districts(frame, rng_d)
    districts = [(DISTRICTS[0][0], DISTRICTS[0][1], north),
                 (DISTRICTS[1][0], DISTRICTS[1][1], south)]
    streets: dict = {}
    make_buildings(frame, districts, rng_b, streets=streets)
    tables, _seeded, _ = make_pipe_survey(streets, rng_p)
    return tables


def tiled_survey(segments: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(points, segments, copies): the sample survey tiled until it has ``segments`` rows."""
    from data_samples.generate.pipes import PIPE_CLASSES

    tables = sample_survey()
    pts = pd.concat([p.assign(管线类别=PIPE_CLASSES[k]["name"]) for k, (p, _) in tables.items()],
                    ignore_index=True)
    segs = pd.concat([s.assign(管线类别=PIPE_CLASSES[k]["name"]) for k, (_, s) in tables.items()],
                     ignore_index=True)
    copies = max(1, math.ceil(segments / len(segs)))
    side = math.ceil(math.sqrt(copies))

    def renumber(no: pd.Series, t: int) -> pd.Series:
        s = no.astype(object)
        ok = s.notna()
        s[ok] = s[ok].str[:2] + f"{t:03d}" + s[ok].str[2:]
        return s

    out_p, out_s = [], []
    for t in range(copies):
        de, dn = (t % side) * SPACING, (t // side) * SPACING
        p = pts.copy()
        p["物探点号"] = renumber(p["物探点号"], t)
        p["图上点号"] = p["图上点号"].astype(object).map(lambda v, t=t: f"{t}-{v}")
        p["X"] = (p["X"] + dn).round(3)  # X is the northing
        p["Y"] = (p["Y"] + de).round(3)  # Y the zone-prefixed easting
        s = segs.copy()
        s["起始点号"] = renumber(s["起始点号"], t)
        s["终止点号"] = renumber(s["终止点号"], t)
        out_p.append(p)
        out_s.append(s)
    pts = pd.concat(out_p, ignore_index=True)
    segs = pd.concat(out_s, ignore_index=True)
    first = ["管线类别"]
    return (pts[first + [c for c in pts.columns if c not in first]],
            segs[first + [c for c in segs.columns if c not in first]], copies)


def survey_files(segments: int) -> tuple[Path, Path, int, int]:
    """(points CSV, segments CSV, point rows, segment rows), cached under /var/tmp/cim-bench."""
    from data_samples.generate.pipes.writers import _csv_value

    d = WORK / f"pipes_survey_{segments}"
    made: dict = {}

    def make(tmp: Path) -> None:
        pts, segs, copies = tiled_survey(segments)
        tmp.mkdir(parents=True, exist_ok=True)
        for name, df in ((POINTS_CSV, pts), (SEGMENTS_CSV, segs)):
            text = df.astype(object).map(_csv_value)
            text.to_csv(tmp / name, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        made["copies"] = copies

    cached(d, make)
    n_p = sum(1 for _ in open(d / POINTS_CSV, encoding="utf-8-sig")) - 1
    n_s = sum(1 for _ in open(d / SEGMENTS_CSV, encoding="utf-8-sig")) - 1
    return d / POINTS_CSV, d / SEGMENTS_CSV, n_p, n_s


def survey_bounds(points: Path) -> tuple[float, float, float, float]:
    df = pd.read_csv(points, encoding="utf-8-sig", usecols=["X", "Y"])
    e = df["Y"].to_numpy(float)  # zone-prefixed eastings (EPSG:4527 keeps the prefix)
    n = df["X"].to_numpy(float)
    return float(e.min()), float(n.min()), float(e.max()), float(n.max())


def phases(profile, url: str, pts: Path, segs: Path) -> dict[str, float]:
    """The load in this process, phase by phase (seconds)."""
    from loaders.pipes.load import read_delivery, run_qa
    from loaders.pipes.write import write_delivery

    out = {}
    t = time.perf_counter()
    d = read_delivery(profile, [pts, segs])
    out["read_survey"] = time.perf_counter() - t
    t = time.perf_counter()
    qa = run_qa(profile, d)
    out["qa"] = time.perf_counter() - t
    t = time.perf_counter()
    write_delivery(psycopg_conninfo(url), profile, d, qa)
    out["write"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=100_000)
    ap.add_argument("--phases", action="store_true",
                    help="also run the load in this process and time its phases")
    args = ap.parse_args()
    compiled_platform()
    pts, segs, n_p, n_s = survey_files(args.segments)
    print(f"survey: {n_p:,} points, {n_s:,} segments ({pts.parent})", flush=True)
    bounds = survey_bounds(pts)
    print(f"load average {os.getloadavg()}", flush=True)
    profile, url = bench_database("pipes", bounds, DB)
    print("timing cim load pipes …", flush=True)
    secs, rss, rep = run_cli_load(["pipes", str(pts), str(segs)], url, profile.path)
    qa = rep.get("qa", {})
    print(f"  read {rep['read']:,}, loaded {rep['loaded']:,}, rejected {rep['rejected']:,} "
          f"{rep.get('rejected_by_reason')}; QA {qa.get('errors')} errors, "
          f"{qa.get('warnings')} warnings; load average {os.getloadavg()}", flush=True)
    timings = None
    if args.phases:
        profile, url = bench_database("pipes", bounds, DB)
        timings = phases(profile, url, pts, segs)
    drop_database(server_url(), DB)
    print()
    print(f"{platform.node()}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load average {os.getloadavg()}")
    rows = rep["read"]
    print(f"| {'load':<16} | {'rows':>8} | {'seconds':>8} | {'rows/s':>8} | {'µs/row':>7} | "
          f"{'peak RSS MB':>11} |")
    print(f"|{'-' * 18}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 13}|")
    print(f"| {'cim load pipes':<16} | {rows:>8,} | {secs:>8.1f} | {rows / secs:>8,.0f} | "
          f"{secs / rows * 1e6:>7.1f} | {rss:>11} |")
    if timings:
        print("in-process phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


if __name__ == "__main__":
    main()
