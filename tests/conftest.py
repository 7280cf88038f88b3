"""One real PostGIS per test session: the project's embedded cluster (or CIM_DATABASE_URL),
with a database of the session's own that is dropped at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests

from cim.config import DEFAULT_PROFILE, PROJECT_ROOT, Settings
from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.engine import server_url as engine_server_url
from cim.db.migrate import fresh_database
from cim.profile import CityProfile, load_profile

SAMPLES = PROJECT_ROOT / "data_samples" / "jining"
SAMPLE_BUILDINGS = SAMPLES / "buildings" / "buildings_survey.shp"
# real third-party data: CIM_REAL_DATA, else ../shared/data/real beside the checkout
REAL = Path(os.environ.get("CIM_REAL_DATA") or PROJECT_ROOT.parent / "shared" / "data" / "real")


@dataclass
class TestDB:
    url: str
    conninfo: str
    profile: CityProfile
    name: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["CIM_DATABASE_URL"] = self.url
        env["CIM_PROFILE"] = str(self.profile.path)
        return env

    def scalar(self, query: str, params: tuple = ()):
        import psycopg

        with psycopg.connect(self.conninfo) as conn:
            return conn.execute(query, params).fetchone()[0]

    def rows(self, query: str, params: tuple = ()):
        import psycopg

        with psycopg.connect(self.conninfo) as conn:
            return conn.execute(query, params).fetchall()

    def big_cell(self) -> tuple[str, float, float]:
        """(code, x, y of the centroid) of the first unit grid cell of 任城区 larger than
        240,000 m²: room for a few test features well inside the city and one cell."""
        return self.rows("SELECT code, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
                         "FROM grid_cells WHERE valid_to IS NULL AND district_code = '370811' "
                         "AND ST_Area(geom) > 240000 ORDER BY code LIMIT 1")[0]


def server_url() -> str:
    """URL of any database on the server the tests use."""
    return engine_server_url(Settings())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def drop_stale_test_databases(server: str) -> list[str]:
    """Drop the databases of earlier test sessions on this machine whose process is gone: a
    killed run never reaches its fixtures' cleanup, and each left 100 MB–1 GB on the cluster.
    Only on the embedded cluster (an external server's databases may belong to sessions of
    other machines, whose process ids mean nothing here; the embedded cluster lives in the
    checkout, and its sessions share this machine's process ids). The names dropped."""
    import psycopg

    from cim.db.engine import psycopg_conninfo

    if Settings().database_url:
        return []
    with psycopg.connect(psycopg_conninfo(server), autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'cim\\_test\\_%'")]
    dropped = []
    for name in names:
        pid = name.rsplit("_", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            drop_database(server, name)
            dropped.append(name)
    return dropped


_STALE_CHECKED: list[bool] = []


def make_db(suffix: str, profile: CityProfile, apply_profile: bool = True) -> TestDB:
    if not _STALE_CHECKED:  # once a session, before its first database
        _STALE_CHECKED.append(True)
        drop_stale_test_databases(server_url())
    name = f"cim_test_{suffix}_{os.getpid()}"
    url = fresh_database(server_url(), name, profile.srid)
    db = TestDB(url=url, conninfo=psycopg_conninfo(url), profile=profile, name=name)
    if apply_profile:
        from loaders.divisions import load_districts, load_grid

        load_districts(db.conninfo, profile, mode="replace")
        if profile.grid:
            load_grid(db.conninfo, profile, mode="replace")
    return db


@contextmanager
def scratch_db(suffix: str, profile: CityProfile, apply_profile: bool = True
               ) -> Iterator[TestDB]:
    """A database of a test's own (:func:`make_db`), dropped when the block ends; the big grid
    cell's code and corner as ``cell``, ``x0``, ``y0`` where the profile was applied."""
    d = make_db(suffix, profile, apply_profile)
    try:
        if apply_profile:
            d.cell, d.x0, d.y0 = d.big_cell()
        yield d
    finally:
        drop_database(server_url(), d.name)


@pytest.fixture(scope="session")
def jining_profile() -> CityProfile:
    return load_profile(DEFAULT_PROFILE)


@pytest.fixture(scope="session")
def db(jining_profile) -> TestDB:
    """The session database with the Jining profile applied and the sample buildings loaded."""
    from loaders.buildings import load_buildings

    d = make_db("jn", jining_profile)
    d.sample_report = load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    load_network_samples(d, jining_profile)
    load_plan_and_base_samples(d, jining_profile)
    assess_risks(d, jining_profile)
    compute_health(d, jining_profile)
    load_sensor_samples(d, jining_profile)
    d.sample_day = replay_sample_day(d, jining_profile)  # alarms and cases, as make demo
    yield d
    drop_database(server_url(), d.name)


def assess_risks(d: TestDB, profile: CityProfile) -> None:
    """The sample district's risk list (issue 13), assessed after its loads as `make demo`
    does, so every served layer has features."""
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    d.risk_result = assess(d.conninfo, load_config(profile), 2026)


def compute_health(d: TestDB, profile: CityProfile) -> None:
    """The sample city's health check for 2026, computed and stored as `make demo` does: the
    health results are a served collection (empty until computed), and every served
    collection has features (tests/test_ogc_conformance.py)."""
    from layers.health.compute import compute

    compute(d.conninfo, 2026, profile)


def load_plan_and_base_samples(d: TestDB, profile: CityProfile) -> None:
    """The planning controls (issue 11) and the city base layers (issue 13), as `make demo`
    loads them, so every served collection has features."""
    from loaders.city_base import load_base
    from loaders.planning import load_planning
    from loaders.population import load_population

    planning = SAMPLES / "planning" / "planning.gpkg"
    d.planning_reports = [load_planning(d.conninfo, profile, planning, kind=kind,
                                        source_layer=kind)
                          for kind in ("parcels", "control_lines", "height_zones")]
    base = SAMPLES / "base"
    d.base_reports = [load_base(d.conninfo, profile, kind, base / f"{name}.gpkg")
                      for kind, name in (("roads", "roads"), ("green", "green_spaces"),
                                         ("facilities", "facilities"))]
    d.base_reports.append(load_population(d.conninfo, profile, base / "population.gpkg"))


def load_sensor_samples(d: TestDB, profile: CityProfile) -> None:
    """The sample sensor registry (issue 14) as `make demo` loads it, on the sample pipes and
    components (load them first). Its day of readings is replayed by :func:`replay_sample_day`
    only where a test wants the alarms and cases it opens."""
    from loaders.sensors import load_sensors

    d.sensors_report = load_sensors(d.conninfo, profile, SAMPLES / "sensors" / "sensors.csv")


def replay_sample_day(d: TestDB, profile: CityProfile) -> dict:
    """The sample day of readings through the one ingest path, then the gap detector at the
    day's end, as `make demo` runs them (`cim iot import`, `cim iot gaps`); the import's counts."""
    import datetime as dt

    import psycopg

    from layers.iot.csv_readings import read_csv
    from layers.iot.gaps import detect
    from layers.iot.ingest import ingest
    from layers.iot.partitions import ensure_months, month_of
    from layers.iot.thresholds import load_config

    rows = read_csv(SAMPLES / "sensors" / "readings_day.csv")
    cfg = load_config(profile)
    with psycopg.connect(d.conninfo) as conn:
        ensure_months(conn, {month_of(t) for _, t, _ in rows})
        conn.commit()
        counts = ingest(conn, rows, source=None, config=cfg)
        conn.commit()
        detect(conn, dt.datetime(2026, 6, 15, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=8))),
               cfg)
    return counts


def load_network_samples(d: TestDB, profile: CityProfile) -> None:
    """The sample pipe survey, the old water main delivered apart from it and the component
    census (issue 3), when present, before `api`."""
    pipes, components = SAMPLES / "pipes", SAMPLES / "components"
    if pipes.is_dir():
        from loaders.pipes.load import load_pipes_files

        d.pipes_report, d.pipes_qa = load_pipes_files(d.conninfo, profile, [pipes])
        old_main = SAMPLES / "pipes_gis" / "old_water_main.gpkg"
        if old_main.is_file():  # the second delivery: an old water main (issue 11 item 5)
            d.old_main_report, _ = load_pipes_files(
                d.conninfo, profile, lines=f"{old_main}:pipes", points=f"{old_main}:nodes",
                class_opt="给水", dataset="old_water_main")
    if components.is_dir():
        from loaders.components import load_components

        d.component_reports = [load_components(d.conninfo, profile, p)
                               for p in sorted(components.glob("*.shp"))]


@pytest.fixture()
def fresh_db(jining_profile, request) -> TestDB:
    """An empty database (profile applied) for tests that need a clean slate."""
    d = make_db(f"f{abs(hash(request.node.name)) % 10**6}", jining_profile)
    yield d
    drop_database(server_url(), d.name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_api(url: str, profile: CityProfile, home: Path, **settings) -> tuple:
    """`cim serve`'s gunicorn (the platform's app) on a free port, serving ``url``;
    ``settings``: ServeSettings fields (workers, count_cap …). (process, base URL)."""
    from services.serve import gunicorn_argv, server_env
    from services.settings import ServeSettings

    port = free_port()
    cfg = ServeSettings(**{"host": "127.0.0.1", "port": port, "home": home,
                           "profile": profile.path, "workers": 1, "threads": 2, **settings})
    log = open(home / "gunicorn.log", "w")
    proc = subprocess.Popen(gunicorn_argv(cfg), env=server_env(cfg, url), stdout=log,
                            stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(base + "/conformance", timeout=2).status_code == 200:
                return proc, base
        except (requests.ConnectionError, requests.Timeout):  # workers still booting
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("the OGC API did not start: " + (home / "gunicorn.log").read_text())


@contextmanager
def scratch_api(d: TestDB, home: Path, **settings):
    """The app (:func:`start_api`) serving a test's own database ``d``: yields its base URL;
    afterwards the server is stopped and ``d`` dropped (also when the server did not start)."""
    try:
        proc, base = start_api(d.url, d.profile, home, **settings)
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        drop_database(server_url(), d.name)


@pytest.fixture(scope="session")
def api(db, tmp_path_factory) -> str:
    """The platform's app (pygeoapi inside) under gunicorn over HTTP, serving the session
    database."""
    proc, base = start_api(db.url, db.profile, tmp_path_factory.mktemp("serve"), workers=2)
    yield base
    proc.terminate()
    proc.wait(10)


def run_cli(args: list[str], env: dict[str, str], check: bool = False) -> subprocess.CompletedProcess:
    import sys

    proc = subprocess.run([sys.executable, "-m", "cim", *args], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"cim {' '.join(args)} failed: {proc.stderr}")
    return proc


def real_file(name: str) -> Path:
    p = REAL / name
    if not p.exists():
        pytest.skip(f"real third-party data {p} is absent (../shared/data/real not mounted)")
    return p


def profile_around(src: Path, layer: str, workdir: Path, *, name: str, admin_code: str,
                   crs: str = "EPSG:2056", src_crs: str | None = None) -> CityProfile:
    """A test profile whose two synthetic districts (west and east halves, codes
    admin_code+1 and +2) cover a real layer, so real data from abroad loads like a city's."""
    import geopandas as gpd
    import shapely

    from loaders.divisions import create_profile
    from loaders.sources.read import iter_batches, open_source

    source = open_source(src, layer)  # the platform's reader: it also reads CityGML solids
    geoms = np.concatenate([b.geometries for b in iter_batches(source)])
    g = gpd.GeoSeries(geoms, crs=src_crs or source.crs).to_crs(crs)
    minx, miny, maxx, maxy = g.total_bounds
    box = shapely.box(minx - 2000, miny - 2000, maxx + 2000, maxy + 2000)
    west = box.intersection(shapely.box(minx - 3000, miny - 3000, (minx + maxx) / 2,
                                        maxy + 3000))
    base = int(admin_code)
    gpd.GeoDataFrame({"code": [str(base + 1), str(base + 2)], "name": ["West", "East"]},
                     geometry=[west, box.difference(west)], crs=crs) \
        .to_file(workdir / "districts.gpkg")
    return create_profile(workdir / "profile.yaml", name=name, admin_code=admin_code,
                          storage_crs=crs, boundary=workdir / "districts.gpkg")


@pytest.fixture
def converted(monkeypatch):
    """How many rows each load handed to the building converter (a spy: the converter runs
    as it is; in process, processes=0)."""
    from loaders.engine import direct

    seen: list[int] = []
    init = direct.DirectConverter.__init__

    def spying_init(self, layer, layer_code, convert, *a, **kw):
        def counted(batch):
            seen.append(len(batch.geometries))
            return convert(batch)
        init(self, layer, layer_code, counted, *a, **kw)

    monkeypatch.setattr(direct.DirectConverter, "__init__", spying_init)
    return seen
