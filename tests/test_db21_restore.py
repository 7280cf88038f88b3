"""A database backed up with pg_dump and restored (session 21's backup/restore probe): under
another name its QGIS default styles named the old database (every layer a planner added by
hand came in unstyled, and `cim styles apply` wrote a second set beside them); restored without
its grants (`pg_restore -x`) `cim serve` printed its addresses and died with a raw traceback;
restored in place under a running server (`pg_restore --clean`, PostGIS recreated) every tile
and bbox query was a 500 until the server restarted. Real pg_dump/pg_restore of a database the
sample buildings were loaded into, the real app over HTTP."""

from __future__ import annotations

import os
import subprocess
import time

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.roles import ReaderRole
from layers.styles.apply import apply_styles
from loaders.buildings import load_buildings
from tests.conftest import SAMPLE_BUILDINGS, make_db, run_cli, server_url, start_api

PG_BIN = "/usr/lib/postgresql/15/bin"
BBOX = "/collections/buildings/items?bbox=116.60,35.34,116.62,35.36&limit=5"


def _pg(tool: str, *args: str) -> subprocess.CompletedProcess:
    u = make_url(server_url())
    env = {**os.environ, "PGPASSWORD": u.password or ""}
    return subprocess.run([f"{PG_BIN}/{tool}", "-h", u.host or "127.0.0.1", "-p",
                           str(u.port), "-U", u.username or "postgres", *args],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def src(jining_profile, tmp_path_factory):
    """The sample buildings loaded, the platform's styles applied, dumped (-Fc)."""
    d = make_db("restsrc", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    apply_styles(d.conninfo, jining_profile)
    dump = tmp_path_factory.mktemp("dump") / "src.dump"
    p = _pg("pg_dump", "-Fc", "-f", str(dump), d.name)
    assert p.returncode == 0, p.stderr
    yield d, dump
    drop_database(server_url(), d.name)


def _restored(name: str, dump, *extra: str) -> str:
    drop_database(server_url(), name)
    with psycopg.connect(psycopg_conninfo(server_url()), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    p = _pg("pg_restore", "-d", name, *extra, str(dump))
    assert p.returncode == 0, p.stderr
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


def test_a_restore_under_another_name_keeps_qgis_default_styles(src):
    d, dump = src
    name = f"cim_test_restdst_{os.getpid()}"
    url = _restored(name, dump)
    try:
        env = {**os.environ, "CIM_DATABASE_URL": url}
        assert run_cli(["db", "upgrade"], env).returncode == 0
        with psycopg.connect(psycopg_conninfo(url)) as conn:
            catalogs = {r[0] for r in conn.execute("SELECT DISTINCT f_table_catalog "
                                                   "FROM layer_styles")}
            platform = conn.execute("SELECT count(*) FROM layer_styles WHERE stylename "
                                    "LIKE 'cim %'").fetchone()[0]
        assert catalogs == {name}  # what QGIS looks the default style up by
        assert run_cli(["styles", "apply"], env).returncode == 0
        with psycopg.connect(psycopg_conninfo(url)) as conn:
            again = conn.execute("SELECT count(*) FROM layer_styles WHERE stylename "
                                 "LIKE 'cim %'").fetchone()[0]
        assert again == platform == d.scalar("SELECT count(*) FROM layer_styles WHERE "
                                             "left(stylename, 4) = 'cim '")  # no second set
    finally:
        drop_database(server_url(), name)


def test_a_restore_without_grants_is_said_before_the_server_starts(src, tmp_path):
    _, dump = src
    name = f"cim_test_restnox_{os.getpid()}"
    url = _restored(name, dump, "-x")
    reader = ReaderRole.from_env().name
    try:
        env = {**os.environ, "CIM_DATABASE_URL": url, "CIM_HOME": str(tmp_path)}
        served = run_cli(["serve", "--port", "1"], env)
        assert served.returncode == 4, served.stdout + served.stderr
        assert f"{reader!r}" in served.stderr and "may not read" in served.stderr
        assert "cim db upgrade" in served.stderr and "Traceback" not in served.stderr
        assert "OGC API for" not in served.stdout
        assert run_cli(["db", "upgrade"], env).returncode == 0
        with psycopg.connect(psycopg_conninfo(url)) as conn:
            assert conn.execute("SELECT has_table_privilege(%s, 'buildings', 'SELECT')",
                                (reader,)).fetchone()[0]
    finally:
        drop_database(server_url(), name)


def test_a_restore_in_place_under_a_running_server(src, tmp_path):
    """`pg_restore --clean` recreates PostGIS under the server's kept connections: one
    request may fail on the changed catalog; the next ones are answered."""
    d, dump = src
    proc, base = start_api(d.url, d.profile, tmp_path, workers=1, threads=2)
    try:
        assert requests.get(base + BBOX, timeout=60).status_code == 200
        p = _pg("pg_restore", "--clean", "--if-exists", "-d", d.name, str(dump))
        # (PostgreSQL's own: a partition's inherited constraint is not dropped by --clean)
        errors = [x for x in p.stderr.splitlines() if "ERROR:" in x]
        assert all("cannot drop inherited constraint" in x for x in errors), p.stderr
        codes = []
        for _ in range(6):
            codes.append(requests.get(base + BBOX, timeout=60).status_code)
            time.sleep(0.2)
        assert codes[-4:] == [200] * 4, codes
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_postgis_error_of_a_query_keeps_the_pool(src):
    """PostGIS's own errors are XX000 like a changed catalog's: a point it cannot compare (two
    SRIDs) dropped every kept connection, and each such request left the pool cold."""
    from services.pool import Pool

    d, _ = src
    pool = Pool(d.conninfo, 2)
    with pool.connection() as conn:
        pid = conn.info.backend_pid
    with pytest.raises(psycopg.errors.InternalError_), pool.connection() as conn:
        assert conn.info.backend_pid == pid
        conn.execute("SELECT ST_Intersects('SRID=4326;POINT(0 0)'::geometry, "
                     "'SRID=4527;POINT(0 0)'::geometry)")
    with pool.connection() as conn:
        assert conn.info.backend_pid == pid  # kept, prepared statements and all
