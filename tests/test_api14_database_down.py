"""The database going away while the server runs (a restart, a failover, an admin closing
connections): every endpoint answers 503 ServiceUnavailable with a line saying so — /codes
was a 500 "internal error" with a traceback in the log, which ops staff read as the
platform's bug. And once the database is back, the same server answers again (its pooled
connections replaced). Real app under gunicorn over HTTP; the database is closed to new
connections and its sessions ended (`ALTER DATABASE … ALLOW_CONNECTIONS false`)."""

from __future__ import annotations

import math
import time

import psycopg
import pytest
import requests

from tests.conftest import SAMPLE_BUILDINGS, make_db, scratch_api, server_url

PATHS = ["/codes/370811", "/collections/buildings/items?limit=1",
         "/collections/buildings/items?limit=1&f=html"]


def _tile_path(d, right: int = 0) -> str:
    """The WebMercatorQuad z14 tile holding the first sample building (its tile math), or
    the ``right``-th east of it (one the server has not cached)."""
    lon, lat = d.rows("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface("
                      "geom), 4326) AS p FROM buildings LIMIT 1) q")[0]
    n = 2 ** 14
    col = int((lon + 180) / 360 * n) + right
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/collections/buildings/tiles/WebMercatorQuad/14/{row}/{col}"


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    from loaders.buildings import load_buildings

    d = make_db("down14", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    with scratch_api(d, tmp_path_factory.mktemp("down14"), workers=1) as base:
        yield d, base


def _close(name: str, allow: bool) -> None:
    from cim.db.engine import psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(server_url()), autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


def test_every_endpoint_says_503_while_the_database_is_away_and_answers_after(served):
    d, base = served
    paths, unseen = [*PATHS, _tile_path(d)], _tile_path(d, right=1)
    for p in paths:
        assert requests.get(base + p, timeout=30).status_code == 200, p
    _close(d.name, False)
    try:
        for p in [*PATHS, unseen]:  # (a tile asked before may be cached)
            r = requests.get(base + p, timeout=60)
            assert r.status_code == 503, (p, r.status_code, r.text[:300])
    finally:
        _close(d.name, True)
    deadline = time.monotonic() + 30
    for p in paths:
        while True:
            r = requests.get(base + p, timeout=60)
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.status_code == 200, (p, r.status_code, r.text[:300])


def test_only_the_database_out_of_reach_is_a_503():
    """A full disk, a deadlock or a statement too complex are the server's errors (a 500,
    logged whole), not "try again": only a lost or refused connection, an ended session,
    too many connections and a pool whose connections stayed held are."""
    from psycopg import OperationalError, errors

    from services.guard import database_away
    from services.pool import PoolTimeout

    away = [OperationalError("connection refused"), errors.AdminShutdown(),
            errors.CrashShutdown(), errors.CannotConnectNow(), errors.TooManyConnections(),
            errors.ConnectionFailure(), PoolTimeout("no database connection free")]
    for e in away:
        assert database_away(e) is not None, type(e).__name__
    for e in (errors.DiskFull(), errors.DeadlockDetected(), errors.StatementTooComplex(),
              errors.OutOfMemory(), errors.QueryCanceled(), errors.SerializationFailure(),
              errors.UndefinedTable(), TimeoutError("a bug's own timeout")):
        assert database_away(e) is None, type(e).__name__
    try:  # an error raised while handling a lost connection is its own (a bug's)
        try:
            raise errors.AdminShutdown()
        except errors.AdminShutdown:
            raise ValueError("a bug in the handler") from None
    except ValueError as bug:
        assert database_away(bug) is None
    wrapped = RuntimeError("query failed")
    wrapped.__cause__ = errors.AdminShutdown()
    assert database_away(wrapped) is not None
