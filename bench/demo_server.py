"""A `make demo` equivalent on a scratch database, for the conformance and load scripts.

``make demo`` serves the project's own database; the bench scripts must not touch it. So
:func:`demo_server` makes a database of its own on the same server (the embedded cluster or
``CIM_DATABASE_URL``'s), applies the Jining profile (districts and grid cells), loads the
samples exactly as ``make demo`` does (buildings, the pipe survey, the three component files),
serves it with ``cim serve`` (gunicorn, the platform's app, as the read-only role) on a free
port, and drops the database when done.

    with demo_server(work) as base:       # e.g. http://127.0.0.1:43123
        ...
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.api_runs import Server, free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data_samples" / "jining"


def demo_database(name: str) -> str:
    """(Re)create database ``name`` with the samples loaded as by ``make demo``; its URL."""
    from cim.config import DEFAULT_PROFILE, Settings
    from cim.db.engine import psycopg_conninfo, server_url
    from cim.db.migrate import fresh_database
    from cim.profile import load_profile
    from loaders.buildings import load_buildings
    from loaders.components import load_components
    from loaders.divisions import load_districts, load_grid
    from loaders.pipes.load import load_pipes_files

    profile = load_profile(DEFAULT_PROFILE)
    url = fresh_database(server_url(Settings()), name, profile.srid)
    conninfo = psycopg_conninfo(url)
    load_districts(conninfo, profile, mode="replace")
    if profile.grid:
        load_grid(conninfo, profile, mode="replace")
    load_buildings(conninfo, profile, SAMPLES / "buildings" / "buildings_survey.shp")
    load_pipes_files(conninfo, profile, [SAMPLES / "pipes"])
    for shp in sorted((SAMPLES / "components").glob("components_*.shp")):
        load_components(conninfo, profile, shp)
    return url


@contextmanager
def demo_server(work: Path, name: str | None = None, workers: int = 2,
                threads: int = 4) -> Iterator[Server]:
    """``cim serve`` over a fresh demo database; the server, stopped and dropped afterwards."""
    from cim.config import DEFAULT_PROFILE, Settings
    from cim.db.engine import drop_database, server_url

    name = name or f"cim_bench_demo_{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "logs").mkdir(exist_ok=True)
    t0 = time.monotonic()
    url = demo_database(name)
    print(f"demo database {name} loaded in {time.monotonic() - t0:.0f} s", flush=True)
    port = free_port()
    env = dict(os.environ, CIM_DATABASE_URL=url, CIM_PROFILE=str(DEFAULT_PROFILE),
               CIM_HOME=str(work / "home"))
    argv = [sys.executable, "-m", "cim", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--threads", str(threads), "--no-access-log"]
    srv = None
    try:
        srv = start_server("cim serve", argv, env, port, "/collections/buildings/items", "json",
                           work / "logs" / f"demo-{port}.log", ROOT)
        yield srv
    finally:
        if srv is not None:
            srv.stop()
        drop_database(server_url(Settings()), name)
