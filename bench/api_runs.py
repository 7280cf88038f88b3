"""The measuring parts of bench/api.py: servers, wrk, pgbench, harvest, machine facts.

Kept apart from the orchestration so that each part can be read (and tried) on its own; every
function takes plain values (URLs, paths, numbers) and knows nothing of the platform's code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH / "wrk_bbox.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- servers -------------------------------------------------------------------------------
@dataclass
class Server:
    """One HTTP server started by the benchmark (its own process group, so that stopping it
    also stops its workers)."""

    name: str
    base: str
    items: str  # path of the collection's items, e.g. /collections/buildings/items
    fmt: str  # the f= value asking for GeoJSON
    proc: subprocess.Popen
    log: Path
    extra: dict = field(default_factory=dict)

    def items_url(self, limit: int) -> str:
        return f"{self.items}?f={self.fmt}&limit={limit}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start_server(name: str, argv: list[str], env: dict, port: int, items: str, fmt: str,
                 log: Path, cwd: Path, wait: float = 300) -> Server:
    """Start ``argv`` and wait until ``items`` answers 200."""
    out = open(log, "w")
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    srv = Server(name, base, items, fmt, proc, log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            if requests.get(base + srv.items_url(1), timeout=30).status_code == 200:
                return srv
        except requests.RequestException:
            pass
        time.sleep(0.5)
    srv.stop()
    raise RuntimeError(f"{name} did not answer within {wait:.0f} s: {log.read_text()[-3000:]}")


# -- wrk -----------------------------------------------------------------------------------
def run_wrk(srv: Server, workload: dict, secs: int, out: Path, connections: int,
            threads: int, timeout: int) -> dict:
    """One wrk run of the bbox workload against ``srv``; the JSON summary of wrk_bbox.lua
    plus req/s."""
    env = dict(os.environ, BENCH_PATH=srv.items_url(workload["limit"]),
               BENCH_AREA=",".join(f"{v:.9f}" for v in workload["area"]),
               BENCH_BOX=",".join(f"{v:.9f}" for v in workload["box"]),
               BENCH_SEED=str(workload["seed"]), BENCH_OUT=str(out))
    out.unlink(missing_ok=True)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{secs}s",
            "--timeout", f"{timeout}s", "-s", str(WRK_SCRIPT), srv.base]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed: {proc.stderr or proc.stdout}")
    res = json.loads(out.read_text())
    if res["latency_us"]["max"] == 0:  # no response within the timeout: no latency to report
        res["latency_us"] = dict.fromkeys(res["latency_us"])
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["wrk_output"] = proc.stdout
    return res


# -- pgbench -------------------------------------------------------------------------------
def floor_script(props: list[str], srid: int, limit: int, with_count: bool) -> str:
    """pgbench script: one random box (same distribution as wrk_bbox.lua), the page as a
    GeoJSON FeatureCollection built by PostGIS (CRS84 coordinates, 9 decimals, the served
    properties); with ``with_count`` also the exact count of the match, as the servers do."""
    box = ("ST_Transform(ST_MakeEnvelope(:x0::float8, :y0::float8, :x1::float8, :y1::float8, "
           f"4490), {int(srid)})")
    where = f"valid_to IS NULL AND ST_Intersects(geom, {box})"
    pairs = ", ".join(f"'{p}', {_ident(p)}" for p in props)
    lines = [
        r"\set rx random(0, 1000000)",
        r"\set ry random(0, 1000000)",
        r"\set x0 :minx + :spanx * :rx / 1000000.0",
        r"\set y0 :miny + :spany * :ry / 1000000.0",
        r"\set x1 :x0 + :dlon",
        r"\set y1 :y0 + :dlat",
    ]
    if with_count:
        lines.append(f"SELECT count(*) FROM buildings WHERE {where};")
    lines.append(
        "SELECT json_build_object('type', 'FeatureCollection', 'features', "
        "coalesce(json_agg(json_build_object('type', 'Feature', 'id', code, 'geometry', "
        "ST_AsGeoJSON(ST_Transform(geom, 4490), 9)::json, 'properties', "
        f"json_build_object({pairs})) ORDER BY id), '[]'::json))::text "
        f"FROM (SELECT * FROM buildings WHERE {where} ORDER BY id LIMIT {int(limit)}) p;")
    return "\n".join(lines) + "\n"


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unexpected column name {name!r}")
    return name


def run_pgbench(conn: dict, script: Path, workload: dict, secs: int, clients: int,
                logdir: Path) -> dict:
    """pgbench with ``script`` (prepared statements); latency percentiles from its
    per-transaction log."""
    area, box = workload["area"], workload["box"]
    defs = {"minx": area[0], "miny": area[1], "spanx": area[2] - area[0],
            "spany": area[3] - area[1], "dlon": box[0], "dlat": box[1]}
    for old in logdir.glob("pgbench_log*"):
        old.unlink()
    argv = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "1", "-T", str(secs),
            "-f", str(script), "-l", f"--log-prefix={logdir / 'pgbench_log'}",
            "-h", conn["host"], "-p", str(conn["port"]), "-U", conn["user"]]
    for k, v in defs.items():
        argv += ["-D", f"{k}={v:.9f}"]
    argv.append(conn["dbname"])
    env = dict(os.environ)
    if conn.get("password"):
        env["PGPASSWORD"] = conn["password"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed: {proc.stderr or proc.stdout}")
    lat, failed = [], 0
    for path in logdir.glob("pgbench_log*"):
        for line in path.read_text().splitlines():
            f = line.split()
            if len(f) >= 3 and f[2].isdigit():
                lat.append(int(f[2]))
            else:
                failed += 1
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", proc.stdout)
    return {"rps": float(tps.group(1)) if tps else len(lat) / secs, "requests": len(lat),
            "errors": {"failed": failed}, "latency_us": percentiles(lat),
            "pgbench_output": proc.stdout}


def percentiles(values: list[int]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    v = sorted(values)

    def pct(p: float) -> int:
        return v[min(len(v) - 1, max(0, round(p / 100 * len(v)) - 1))]

    return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "mean": sum(v) / len(v),
            "max": v[-1]}


# -- one page, for the sameness check -------------------------------------------------------
def page_codes(srv: Server, bbox: tuple[float, ...], limit: int) -> tuple[int, list[str]]:
    """(HTTP status, the `code` property of the page's features in order)."""
    url = f"{srv.base}{srv.items_url(limit)}&bbox=" + ",".join(f"{v:.7f}" for v in bbox)
    r = requests.get(url, timeout=120)
    if r.status_code != 200:
        return r.status_code, []
    return 200, [f["properties"].get("code") for f in r.json().get("features", [])]


# -- harvest -------------------------------------------------------------------------------
def drain(srv: Server, wait: float = 300) -> None:
    """Wait until the server has finished the requests wrk left queued (a one-feature page
    answers within a second twice in a row), so that they do not count in the next timing."""
    deadline, fast = time.monotonic() + wait, 0
    while time.monotonic() < deadline and fast < 2:
        t = time.monotonic()
        requests.get(srv.base + srv.items_url(1), timeout=wait)
        fast = fast + 1 if time.monotonic() - t < 1 else 0


def harvest(srv: Server, limit: int, total: int) -> dict:
    """Follow `next` links from the first page at ``limit`` through the whole layer on one
    connection; time to 1 % of ``total`` features and to the end; every id seen once?"""
    drain(srv)
    session = requests.Session()
    url: str | None = srv.base + srv.items_url(limit)
    seen: set = set()
    n = pages = dup = 0
    t0 = time.monotonic()
    t1pct = None
    slowest = 0.0
    while url:
        tp = time.monotonic()
        r = session.get(url, timeout=600)
        slowest = max(slowest, time.monotonic() - tp)
        if r.status_code != 200:
            raise RuntimeError(f"harvest of {srv.name}: {r.status_code} at {url}: {r.text[:300]}")
        doc = r.json()
        feats = doc.get("features", [])
        for f in feats:
            key = f.get("id")
            if key in seen:
                dup += 1
            seen.add(key)
        n += len(feats)
        pages += 1
        if t1pct is None and n >= total / 100:
            t1pct = time.monotonic() - t0
        url = next((lk["href"] for lk in doc.get("links", []) if lk.get("rel") == "next"
                    and "json" in lk.get("type", "application/geo+json")), None)
        if not feats:
            break
    whole = time.monotonic() - t0
    return {"features": n, "unique": len(seen), "duplicates": dup, "pages": pages,
            "first_1pct_s": t1pct, "whole_s": whole, "slowest_page_s": slowest,
            "linearity": whole / (100 * t1pct) if t1pct else None}


# -- machine -------------------------------------------------------------------------------
def machine() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.+)", lscpu)
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return {"cpu": model.group(1).strip() if model else "?", "cores": os.cpu_count(),
            "ram_gib": round(mem_kb / 1024 ** 2, 1), "date": time.strftime("%Y-%m-%d"),
            "load_avg": os.getloadavg()}
