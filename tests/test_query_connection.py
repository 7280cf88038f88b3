"""The query library on an open connection (what the server's pooled processes pass): the
same answers as with a conninfo, the connection left open, idle and as it was (no session
setting of a query outlives its call), and the processes reusing one pooled connection.

Expected answers come from shapely on the hand-drawn city (tests/query_fixture.py).
"""

from __future__ import annotations

import psycopg
from psycopg.pq import TransactionStatus
from shapely.geometry import box

from layers.query.aoi import aoi
from layers.query.area import Area
from layers.query.stats import stats
from tests import query_fixture
from tests.query_fixture import GRID, PIPES, X0, Y0
from tests.test_query_aoi import expected as aoi_expected
from tests.test_query_stats import expected as stats_expected
from tests.test_query_stats import same

qdb = query_fixture.qdb  # the hand-drawn city, a database per module
LAYERS = "buildings,pipe_segments"
# EPSG:4527 in its authority order (northing, easting): B1, B2 and P3
BBOX = (Y0 + 5, X0 + 5, Y0 + 45, X0 + 95)
PIPE_SHARES = stats_expected(PIPES, GRID, lambda f: f[2], lambda f: f[1], lambda g: g.length)


def _shares(res: dict) -> dict:
    return {(r["unit_code"], r["class"]): (r["count"], r["length_m"]) for r in res["rows"]}


def _default_jit(conninfo: str) -> str:
    with psycopg.connect(conninfo) as c:
        return c.execute("SHOW jit").fetchone()[0]


def test_queries_take_an_open_connection_and_leave_it_as_it_was(qdb):
    jit = _default_jit(qdb.conninfo)
    area = Area(bbox=BBOX, crs="EPSG:4527")
    with psycopg.connect(qdb.conninfo, autocommit=True) as conn:  # as the pool lends them
        for _ in range(2):
            assert aoi(conn, area, LAYERS) == {"layers": aoi_expected(box(5, 5, 95, 45))}
            same(_shares(stats(conn, "pipe_segments", by="grid", class_field="pipe_class")),
                 PIPE_SHARES)
        assert not conn.closed
        assert conn.info.transaction_status == TransactionStatus.IDLE
        # stats turns JIT off for its own transaction only
        assert conn.execute("SHOW jit").fetchone()[0] == jit
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "off"
        conn.execute("CREATE TEMP TABLE still_writable (x int)")  # not left read-only


def test_a_callers_transaction_stays_open(qdb):
    with psycopg.connect(qdb.conninfo) as conn:
        conn.execute("CREATE TEMP TABLE mine (x int)")
        assert aoi(conn, Area(bbox=BBOX, crs="EPSG:4527"), LAYERS)["layers"][
            "buildings"]["count"] == 2
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        conn.execute("INSERT INTO mine VALUES (1)")  # the caller's transaction still writes
        assert conn.execute("SELECT count(*) FROM mine").fetchone()[0] == 1


def _probe(conn, inputs):
    """What the process got: an open connection, its backend and settings."""
    assert isinstance(conn, psycopg.Connection)
    pid, jit = conn.execute("SELECT pg_backend_pid(), current_setting('jit')").fetchone()
    return {"pid": pid, "jit": jit}


def test_pooled_processes_reuse_one_connection(qdb):
    from flask import Flask

    from layers.processes import all_processes
    from services.processes import register

    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    procs = {pid: all_processes()[pid] for pid in ("aoi", "stats")}
    procs["probe"] = {"id": "probe", "title": "p", "inputs": schema, "run": _probe,
                      "pooled": True}
    app = Flask("t")
    service = register(app, qdb.conninfo, "http://x", procs)
    c = app.test_client()
    jit = _default_jit(qdb.conninfo)
    seen = []
    for _ in range(2):
        r = c.post("/processes/aoi/execution", json={"inputs": {
            "bbox": list(BBOX), "crs": "EPSG:4527", "layers": LAYERS.split(",")}})
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.get_json() == {"layers": aoi_expected(box(5, 5, 95, 45))}
        r = c.post("/processes/stats/execution", json={"inputs": {
            "layer": "pipe_segments", "by": "grid", "class": "pipe_class"}})
        assert r.status_code == 200, r.get_data(as_text=True)
        same(_shares(r.get_json()), PIPE_SHARES)
        seen.append(c.post("/processes/probe/execution", json={"inputs": {}}).get_json())
    assert seen[0]["pid"] == seen[1]["pid"]  # one backend served every request
    assert seen[0]["jit"] == seen[1]["jit"] == jit  # stats' JIT off did not stay behind
    assert service.pool._idle.qsize() == 1
    # a bad input on the pooled path is still a 400, and the connection goes back to the pool
    r = c.post("/processes/aoi/execution", json={"inputs": {"grid": "999"}})
    assert r.status_code == 400 and "no current grid cell has code '999'" in r.get_json()[
        "description"]
    assert c.post("/processes/probe/execution", json={"inputs": {}}).get_json() == seen[0]
