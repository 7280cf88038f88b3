"""The query benchmark's HTTP pass (``bench/query.py --http``): the processes as a client
meets them, ``POST /processes/<id>/execution`` on ``cim serve``.

The library pass times the function a CLI command calls (a new connection per call); a served
process runs on a pooled connection instead (services/processes.py). This pass serves the
benchmark database with ``cim serve`` (gunicorn, its default workers and threads, the
read-only role), posts the same random inputs one after the other on one keep-alive HTTP
session, after warm-up calls, and checks every answer equals the library's for that input.
``--http-code DIR`` serves another checkout's code (a worktree of an older commit) to compare.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import requests

from bench.api import cim_env
from bench.api_runs import free_port, start_server

ROOT = Path(__file__).resolve().parent.parent


def serve(work: Path, url: str, profile: Path, code: Path | None = None):
    """``cim serve`` on the benchmark database (the code of ``code``, default this checkout)."""
    root = (code or ROOT).resolve()
    port = free_port()
    env = dict(cim_env(work, url, profile), PYTHONPATH=str(root))
    argv = [sys.executable, "-m", "cim", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return start_server("cim serve", argv, env, port, "/collections/buildings/items", "json",
                        work / "logs" / "query-serve.log", root)


def inputs_of(wl: dict, near_m: float) -> dict[str, list[dict]]:
    """The workloads of bench/query.py as process inputs."""
    return {"aoi": [{"bbox": list(b)} for b in wl["aoi"]],
            "near": [{"a": "buildings", "b": "pipe_segments", "distance": near_m,
                      "polygon": g, "crs": "EPSG:4527"} for g in wl["near"]],
            "section": [{"line": ln, "crs": "EPSG:4527"} for ln in wl["section"]],
            "isolate": [{"code": c} for c in wl["isolate"][1:]]}


def http_pass(srv, inputs: dict[str, list[dict]], expected: dict[str, list], warmup: int,
              skip: set[str], pct) -> dict:
    """Median/p95 of each process over HTTP; every answer must equal ``expected`` (the
    library's results for the same inputs, when given)."""
    out: dict = {}
    with requests.Session() as s:
        for pid, xs in inputs.items():
            if pid in skip:
                continue
            url = f"{srv.base}/processes/{pid}/execution"
            for x in xs[:warmup]:
                s.post(url, json={"inputs": x}, timeout=120).raise_for_status()
            times, wrong = [], 0
            for i, x in enumerate(xs):
                t = time.perf_counter()
                r = s.post(url, json={"inputs": x}, timeout=120)
                times.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise RuntimeError(f"{pid}: {r.status_code} {r.text[:300]}")
                if expected.get(pid) is not None and r.json() != expected[pid][i]:
                    wrong += 1
            if wrong:
                raise RuntimeError(f"{pid}: {wrong} of {len(xs)} HTTP answers differ from the "
                                   "library's")
            out[pid] = pct(times)
            print(f"http {pid}: median {out[pid]['median_ms']:.1f} ms, p95 "
                  f"{out[pid]['p95_ms']:.1f} ms ({len(xs)} runs, same answers as the library)",
                  flush=True)
    return out
