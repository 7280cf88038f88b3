"""Sensor readings ingest benchmark (issue 14 target: ≥ 10,000 readings/s sustained).

A scratch database (``cim_bench_ingest``: the sample profile's districts and grid) gets
``--sensors`` sensors (gas %LEL and pipe pressure, in 20 gateways) registered with SQL, and
``--per-sensor`` readings each at 5-minute steps: baseline values below every threshold, and
on 1 % of the sensors an excursion that opens, escalates and clears alarms (each with its case),
so the hysteresis walk and the alarm path are part of the measure.

Two passes over disjoint halves of the readings (so neither re-sends the other's):

- ``direct``: :func:`layers.iot.ingest.ingest` on one connection, batches of ``--batch``
  readings (one gateway's sensors × consecutive times), one transaction each;
- ``http``: ``cim serve`` (gunicorn, 2 workers × 4 threads, the read-only role), the same
  batches as JSON bodies (encoded before timing) posted by ``--clients`` keep-alive client
  threads with an API key; end to end: wall time from the first request to the last answer.

Both report readings/s, batch latency median/p95 and the alarms/cases opened; every batch
must answer inserted = batch size (nothing lost, nothing duplicated).

    python -m bench.ingest [--sensors 1000] [--per-sensor 500] [--batch 1000] [--clients 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import cim_env  # noqa: E402
from bench.api_runs import free_port, machine, start_server  # noqa: E402
from cim.config import DEFAULT_PROFILE, Settings  # noqa: E402
from cim.db.engine import psycopg_conninfo  # noqa: E402
from cim.db.engine import server_url as engine_server_url  # noqa: E402
from cim.db.migrate import fresh_database  # noqa: E402
from cim.profile import load_profile  # noqa: E402

# in the past (the ingest refuses readings ahead of the clock: iot.yaml readings.max_ahead_s)
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=5)
GATEWAYS = 20
DB_NAME = "cim_bench_ingest"


def prepare(sensors: int) -> tuple[str, list[str], list[str]]:
    """The scratch database with ``sensors`` sensors; (url, codes, types)."""
    from layers.iot.partitions import ensure_months
    from loaders.divisions import load_districts, load_grid

    profile = load_profile(DEFAULT_PROFILE)
    url = fresh_database(engine_server_url(Settings()), DB_NAME, profile.srid)
    ci = psycopg_conninfo(url)
    load_districts(ci, profile, mode="replace")
    load_grid(ci, profile, mode="replace")
    codes, types = [], []
    with psycopg.connect(ci) as conn:
        ensure_months(conn, [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1),
                             dt.date(2027, 2, 1), dt.date(2027, 3, 1)])
        cells = conn.execute("SELECT code, district_code, ST_PointOnSurface(geom) FROM "
                             "grid_cells WHERE valid_to IS NULL ORDER BY code").fetchall()
        rows = []
        for i in range(sensors):
            t = "01" if i % 2 == 0 else "02"
            cell, district, geom = cells[i % len(cells)]
            code = f"{district}92{t}{i + 1:08d}"
            codes.append(code)
            types.append(t)
            rows.append((code, f"sensors:BENCH-{i:05d}", geom, f"BENCH-{i:05d}", t,
                         "燃气浓度" if t == "01" else "管网压力", "%LEL" if t == "01" else "MPa",
                         "01" if t == "02" else None, district, cell))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO sensors (code, source_key, geom, device_id, type_code, type_name, "
                "unit, asset_class, status, interval_s, district_code, grid_code, valid_from) "
                "VALUES (%s, %s, %s::geometry, %s, %s, %s, %s, %s, '运行', 300, %s, %s, "
                "'2026-10-31T00:00:00Z')", rows)
    return url, codes, types


def value(t: str, excursion: bool, k: int, rnd: random.Random) -> float:
    """Baseline below every threshold; excursions at steps 100–139 and 350–389 (gas up to
    一级, pressure down to 二级) that clear after."""
    j = k - 100 if 100 <= k < 140 else k - 350 if 350 <= k < 390 else None
    if excursion and j is not None:
        peak = 1.0 - abs(j - 20) / 20  # 0..1..0
        return round(6 + 50 * peak, 2) if t == "01" else round(0.30 - 0.15 * peak, 3)
    return round(rnd.uniform(0, 6), 2) if t == "01" else round(rnd.uniform(0.28, 0.36), 3)


def batches(codes: list[str], types: list[str], per_sensor: int, batch: int,
            every: int = 100, seed: int = 14) -> list[list[tuple[str, dt.datetime, float]]]:
    """Batches of one gateway's sensors × consecutive times, in time order; one sensor in
    ``every`` has the excursions."""
    rnd = random.Random(seed)
    excursion = {c for i, c in enumerate(codes) if i % every == 7 % every}
    groups = [list(range(g, len(codes), GATEWAYS)) for g in range(GATEWAYS)]
    out = []
    for g in groups:
        steps = max(1, batch // len(g))
        for k0 in range(0, per_sensor, steps):
            b = [(codes[i], T0 + k * STEP, value(types[i], codes[i] in excursion, k, rnd))
                 for k in range(k0, min(per_sensor, k0 + steps)) for i in g]
            out.append(b)
    # interleave the gateways as they would arrive (by time)
    out.sort(key=lambda b: b[0][1])
    return out


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def direct_pass(url: str, bs: list) -> dict:
    from layers.iot.ingest import ingest

    lat, tot = [], {"inserted": 0, "alarms_opened": 0, "alarms_cleared": 0, "cases_opened": 0}
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        t0 = time.perf_counter()
        for b in bs:
            t = time.perf_counter()
            c = ingest(conn, b)
            lat.append(time.perf_counter() - t)
            if c["inserted"] != len(b):
                raise RuntimeError(f"batch inserted {c['inserted']} of {len(b)}: {c}")
            for k in tot:
                tot[k] += c[k]
        wall = time.perf_counter() - t0
    n = sum(len(b) for b in bs)
    return {"readings": n, "batches": len(bs), "seconds": wall, "per_s": n / wall,
            "median_ms": statistics.median(lat) * 1000, "p95_ms": pct(lat, 95) * 1000, **tot}


def http_pass(url: str, bs: list, clients: int, work: Path) -> dict:
    from layers.iot.sources import add_source

    with psycopg.connect(psycopg_conninfo(url)) as conn:
        key = add_source(conn, f"bench-{os.getpid()}-{time.time_ns()}")
    bodies = [json.dumps({"readings": [{"sensor": s, "time": t.isoformat(), "value": v}
                                       for s, t, v in b]}).encode() for b in bs]
    port = free_port()
    profile = Path(load_profile(DEFAULT_PROFILE).path)
    env = cim_env(work, url, profile)
    argv = [sys.executable, "-m", "cim", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log"]
    (work / "logs").mkdir(parents=True, exist_ok=True)
    srv = start_server("cim serve", argv, env, port, "/health", "json",
                       work / "logs" / "ingest-serve.log", ROOT)
    lat: list[float] = []
    tot = {"inserted": 0, "alarms_opened": 0, "alarms_cleared": 0, "cases_opened": 0}
    errors: list[str] = []
    lock = threading.Lock()
    nxt = iter(range(len(bodies)))
    # bodies go in time order: each client takes the next batch (a gateway's order kept)

    def client():
        with requests.Session() as s:
            headers = {"X-API-Key": key, "Content-Type": "application/json"}
            while True:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    return
                t = time.perf_counter()
                r = s.post(srv.base + "/iot/readings", data=bodies[i], headers=headers,
                           timeout=120)
                dtm = time.perf_counter() - t
                with lock:
                    lat.append(dtm)
                    if r.status_code != 200 or r.json()["inserted"] != len(bs[i]):
                        errors.append(f"{r.status_code} {r.text[:300]}")
                        continue
                    c = r.json()
                    for k in tot:
                        tot[k] += c[k]
    try:
        # warm-up: one request per worker thread before timing (connections, prepared plans)
        warm = [("BENCH-WARMUP", T0, 0.0)]
        requests.post(srv.base + "/iot/readings", headers={"X-API-Key": key},
                      json={"readings": [{"sensor": s, "time": t.isoformat(), "value": v}
                                         for s, t, v in warm]}, timeout=60).raise_for_status()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
    finally:
        srv.stop()
    if errors:
        raise RuntimeError(f"{len(errors)} failed batches, first: {errors[0]}")
    n = sum(len(b) for b in bs)
    return {"readings": n, "batches": len(bs), "clients": clients, "seconds": wall,
            "per_s": n / wall, "median_ms": statistics.median(lat) * 1000,
            "p95_ms": pct(lat, 95) * 1000, **tot}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=1000)
    ap.add_argument("--per-sensor", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--excursion-every", type=int, default=100,
                    help="one sensor in N has alarm excursions (default 100: 1 %%)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/cim-bench-ingest"))
    ap.add_argument("--skip", choices=["direct", "http"], action="append", default=[])
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    url, codes, types = prepare(args.sensors)
    bs = batches(codes, types, args.per_sensor, args.batch, args.excursion_every)
    half = len(bs) // 2
    # the first half of the time range directly, the second over HTTP: the HTTP pass starts
    # from the state the direct pass left, as a live feed would
    res = {"machine": machine(), "sensors": args.sensors, "per_sensor": args.per_sensor,
           "batch": args.batch, "excursion_every": args.excursion_every}
    if "direct" not in args.skip:
        res["direct"] = direct_pass(url, bs[:half])
        print(json.dumps({"direct": res["direct"]}, default=str), flush=True)
    if "http" not in args.skip:
        res["http"] = http_pass(url, bs[half:], args.clients, args.work)
        print(json.dumps({"http": res["http"]}, default=str), flush=True)
    with psycopg.connect(psycopg_conninfo(url)) as conn:
        res["stored"] = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        res["alarms"] = conn.execute("SELECT count(*) FROM alarms").fetchone()[0]
        res["cases"] = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    print(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
