"""Load that holds (issue 8 item 7): mixed OGC API requests at 32 connections, no errors, flat
worker memory. A bounded script, not a test:

    .venv/bin/python -m bench.api_load --demo                    # 60 s against its own demo
    .venv/bin/python -m bench.api_load --demo --duration 20      # a short check
    .venv/bin/python -m bench.api_load --url http://127.0.0.1:5000 --pid <gunicorn master>

The mix (weights in MIX): items pages with a random 500 m CRS84 bbox, the same with a CQL2
Text filter, CQL2 JSON spatial filters, property filters, cursor pages, single features by
code, the collections list, one collection, conformance, the OpenAPI document, queryables, and
vector tiles when the server has them. The request paths are drawn once (seeded) and written
to a file that bench/wrk_mixed.lua picks from at random; every path is checked to answer 200
before the run. wrk counts responses by status class; the worker processes' resident memory
(VmRSS of the gunicorn master's children, /proc) is sampled every few seconds.

Passes (exit 0) when there were no socket errors, no 4xx or 5xx, and the workers' memory in the
last third of the run is within --rss-slack MiB of the first third's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import threading
import time
from pathlib import Path

import requests

from bench.api_runs import machine

BENCH = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH / "wrk_mixed.lua"
ITEMS = "/collections/buildings/items"
MIX = {"bbox": 30, "bbox_filter": 10, "cql2_json": 5, "property": 5, "cursor": 5, "item": 15,
       "collections": 5, "collection": 5, "conformance": 5, "openapi": 2, "queryables": 3,
       "tile": 10}


def _bbox(rnd: random.Random, area) -> str:
    x0, y0, x1, y1 = area
    dx, dy = 500 / (111_320 * math.cos(math.radians((y0 + y1) / 2))), 500 / 110_900
    x, y = x0 + rnd.random() * max(x1 - x0 - dx, 0), y0 + rnd.random() * max(y1 - y0 - dy, 0)
    return f"{x:.6f},{y:.6f},{x + dx:.6f},{y + dy:.6f}"


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, y, x


def request_paths(base: str, n: int, seed: int) -> list[str]:
    """``n`` request paths in MIX's proportions, each checked once against the server."""
    rnd = random.Random(seed)
    coll = requests.get(f"{base}/collections/buildings?f=json", timeout=60).json()
    area = coll["extent"]["spatial"]["bbox"][0]
    first = requests.get(f"{base}{ITEMS}?f=json&limit=500", timeout=60).json()
    codes = [f["id"] for f in first["features"]]
    nxt = [lk["href"] for lk in first["links"] if lk["rel"] == "next"]
    ids = [c["id"] for c in requests.get(f"{base}/collections?f=json", timeout=60)
           .json()["collections"]]
    has_tiles = requests.get(f"{base}/tiles?f=json", timeout=60).status_code == 200
    cursor = nxt[0].split("cursor=")[1].split("&")[0] if nxt else None
    makers = {
        "bbox": lambda: f"{ITEMS}?f=json&limit=100&bbox={_bbox(rnd, area)}",
        "bbox_filter": lambda: f"{ITEMS}?f=json&limit=100&bbox={_bbox(rnd, area)}"
                               f"&filter=height%3E{rnd.choice([10, 20, 30])}"
                               "&filter-lang=cql2-text",
        "cql2_json": lambda: ITEMS + "?f=json&limit=50&filter-lang=cql2-json&filter=" +
        requests.utils.quote(json.dumps({"op": "s_intersects", "args": [
            {"property": "geometry"},
            {"bbox": [float(v) for v in _bbox(rnd, area).split(",")]}]}), safe=""),
        "property": lambda: f"{ITEMS}?f=json&limit=20&use_name="
                            + requests.utils.quote(rnd.choice(["住宅", "办公", "商业"])),
        "cursor": lambda: (f"{ITEMS}?f=json&limit=100&cursor={cursor}" if cursor
                           else f"{ITEMS}?f=json&limit=100"),
        "item": lambda: f"{ITEMS}/{rnd.choice(codes)}?f=json",
        "collections": lambda: "/collections?f=json",
        "collection": lambda: f"/collections/{rnd.choice(ids)}?f=json",
        "conformance": lambda: "/conformance?f=json",
        "openapi": lambda: "/openapi?f=json",
        "queryables": lambda: f"/collections/{rnd.choice(ids)}/queryables?f=json",
        "tile": lambda: "/tiles/WebMercatorQuad/{}/{}/{}".format(*_tile(
            area[0] + rnd.random() * (area[2] - area[0]),
            area[1] + rnd.random() * (area[3] - area[1]), rnd.choice([13, 14, 15, 16]))),
    }
    kinds = [k for k in MIX if k != "tile" or has_tiles]
    paths = rnd.choices([k for k in kinds], weights=[MIX[k] for k in kinds], k=n)
    out = [makers[k]() for k in paths]
    for p in sorted(set(out), key=out.index)[:400]:  # every kind answers before the run
        r = requests.get(base + p, timeout=60)
        if r.status_code not in (200, 204):
            raise SystemExit(f"{p} answered {r.status_code} before the run: {r.text[:300]}")
    return out


def worker_pids(master: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return sorted(out)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sample_rss(master: int, every: float, stop: threading.Event, out: list) -> None:
    t0 = time.monotonic()
    while not stop.wait(every):
        pids = worker_pids(master)
        try:
            out.append({"t": round(time.monotonic() - t0, 1), "workers": len(pids),
                        "rss_mib": round(sum(rss_mib(p) for p in pids), 1)})
        except OSError:  # a worker restarted between listing and reading
            pass


def run(base: str, master: int, duration: int, connections: int, threads: int, work: Path,
        every: float, seed: int) -> dict:
    paths_file = work / "api_load_paths.txt"
    paths = request_paths(base, 2000, seed)
    paths_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
    out = work / "api_load_wrk.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, BENCH_PATHS=str(paths_file), BENCH_SEED=str(seed), BENCH_OUT=str(out))
    subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", "5s", "--timeout",
                    "30s", "-s", str(WRK_SCRIPT), base], env=env, capture_output=True)  # warm-up
    samples: list = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(master, every, stop, samples))
    sampler.start()
    try:
        proc = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d",
                               f"{duration}s", "--timeout", "30s", "-s", str(WRK_SCRIPT), base],
                              env=env, capture_output=True, text=True)
    finally:
        stop.set()
        sampler.join()
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"wrk failed: {proc.stderr or proc.stdout}")
    res = json.loads(out.read_text())
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["rss"] = samples
    third = max(len(samples) // 3, 1)
    first = sum(s["rss_mib"] for s in samples[:third]) / third if samples else 0.0
    last = sum(s["rss_mib"] for s in samples[-third:]) / third if samples else 0.0
    res["rss_first_third_mib"], res["rss_last_third_mib"] = round(first, 1), round(last, 1)
    res["kinds"] = {k: sum(1 for p in paths if _kind(p) == k) for k in MIX}
    return res


def _kind(p: str) -> str:
    if p.startswith("/tiles/"):
        return "tile"
    if "filter-lang=cql2-json" in p:
        return "cql2_json"
    if "filter=" in p:
        return "bbox_filter"
    for key, kind in (("bbox=", "bbox"), ("use_name=", "property"), ("cursor=", "cursor"),
                      ("/queryables", "queryables"), ("/conformance", "conformance"),
                      ("/openapi", "openapi")):
        if key in p:
            return kind
    if p.startswith(ITEMS + "/"):
        return "item"
    if p.startswith(ITEMS):
        return "cursor"
    return "collections" if p.startswith("/collections?") else "collection"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running server (else --demo)")
    ap.add_argument("--pid", type=int, help="its gunicorn master's pid (for the memory)")
    ap.add_argument("--demo", action="store_true", help="serve a demo of its own")
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--every", type=float, default=3.0, help="seconds between RSS samples")
    ap.add_argument("--rss-slack", type=float, default=20.0,
                    help="MiB the workers may grow between the run's first and last third")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/cim-bench"))
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.demo:
        from bench.demo_server import demo_server

        with demo_server(work) as srv:
            res = run(srv.base, srv.proc.pid, args.duration, args.connections, args.threads,
                      work, args.every, args.seed)
    elif args.url and args.pid:
        res = run(args.url.rstrip("/"), args.pid, args.duration, args.connections,
                  args.threads, work, args.every, args.seed)
    else:
        raise SystemExit("give --demo, or --url and --pid of a running server")
    res["machine"] = machine()
    res["args"] = {k: str(v) for k, v in vars(args).items()}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (work / f"api_load-{stamp}.json").write_text(json.dumps(res, indent=1))
    st, er = res["status"], res["errors"]
    sockets = er["connect"] + er["read"] + er["write"] + er["timeout"]
    growth = res["rss_last_third_mib"] - res["rss_first_third_mib"]
    print(f"{res['requests']:,} requests in {res['duration_us'] / 1e6:.0f} s at "
          f"{args.connections} connections: {res['rps']:,.1f} req/s, p50 "
          f"{res['latency_us']['p50'] / 1000:.0f} ms, p95 {res['latency_us']['p95'] / 1000:.0f}"
          f" ms, p99 {res['latency_us']['p99'] / 1000:.0f} ms")
    print(f"status 2xx {st['2xx']:,}, 3xx {st['3xx']}, 4xx {st['4xx']}, 5xx {st['5xx']}; "
          f"socket errors {sockets} ({er})")
    print("workers' RSS (MiB) every {:.0f} s: {}".format(
        args.every, " ".join(f"{s['rss_mib']:.0f}" for s in res["rss"])))
    print(f"first third {res['rss_first_third_mib']} MiB, last third "
          f"{res['rss_last_third_mib']} MiB (growth {growth:+.1f} MiB); mix {res['kinds']}")
    ok = st["4xx"] == 0 and st["5xx"] == 0 and sockets == 0 and growth <= args.rss_slack
    print("PASS" if ok else "FAIL")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
