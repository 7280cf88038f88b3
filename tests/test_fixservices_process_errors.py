"""A process's database error is the client's (400) only when a value of the inputs was
refused: PostGIS's transform failure (a point PROJ cannot project, lon/lat given as lat/lon)
or a value DataError (22003 out of range, 22P02 not a number). A bug — an undefined function
or column whose message happens to say "transform" or "longitude", a division by zero, a
geometry without SRID — is a logged 500, never "bad input". The errors are real ones, raised
by the session database executing the SQL; the app is the real processes service."""

from __future__ import annotations

import psycopg
import pytest

# lon/lat given as lat/lon: latitude 116.6°, which PROJ cannot project (CGCS2000 → GK 39)
SWAPPED = "SELECT ST_Transform(ST_SetSRID(ST_MakePoint(35.4, 116.6), 4490), 4527)"
INPUT_ERRORS = {
    "swapped": (SWAPPED, "coordinates that cannot be projected"),
    "out-of-range": ("SELECT 99999999999::int", "bad input value"),
    "not-a-number": ("SELECT 'abc'::int", "bad input value"),
}
BUGS = {
    # the words the old classifier looked for, in a programming error's message
    "undefined-function": "SELECT ST_Transform(ST_MakePoint(1, 1), 'x'::unknown, 1, 2)",
    "no-longitude": "SELECT longitude FROM (SELECT 1 AS a) s",
    "no-latitude": "SELECT latitude FROM (SELECT 1 AS a) s",
    "division-by-zero": "SELECT 1 / (SELECT count(*) FROM (SELECT 1 WHERE false) s)",
    "no-srid": "SELECT ST_Transform(ST_GeomFromText('POINT(0 0)'), 4527)",
}


def _raised(conninfo: str, sql: str) -> psycopg.Error:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        try:
            conn.execute(sql)
        except psycopg.Error as exc:
            return exc
    raise AssertionError(f"no error: {sql}")


@pytest.mark.parametrize("name", sorted(INPUT_ERRORS))
def test_a_refused_input_value_is_bad_input(db, name):
    from services.processes import _bad_value

    sql, words = INPUT_ERRORS[name]
    why = _bad_value(_raised(db.conninfo, sql))
    assert why is not None and why.startswith(words), why
    assert "\n" not in why


@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_programming_error_is_not_bad_input(db, name):
    from services.processes import _bad_value

    exc = _raised(db.conninfo, BUGS[name])
    assert _bad_value(exc) is None, (type(exc).__name__, str(exc))


def _runs(sql):
    def run(conninfo, inputs):
        with psycopg.connect(conninfo) as conn:
            return {"rows": conn.execute(sql).fetchall()}
    return run


@pytest.fixture(scope="module")
def client(db):
    from flask import Flask

    from cim.db.engine import psycopg_conninfo
    from cim.db.roles import serving_url
    from services.processes import register

    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    sqls = {"swapped": SWAPPED, **BUGS}
    procs = {pid: {"id": pid, "title": pid, "inputs": schema, "run": _runs(sql)}
             for pid, sql in sqls.items()}
    app = Flask("t")
    register(app, psycopg_conninfo(serving_url(db.url)), "http://x", procs, None)
    return app.test_client()


def test_a_swapped_point_through_the_app_is_400(client):
    r = client.post("/processes/swapped/execution", json={"inputs": {}})
    assert r.status_code == 400, r.get_data(as_text=True)
    msg = r.get_json()["description"]
    assert msg.startswith("swapped: coordinates that cannot be projected"), msg
    assert "longitude first" in msg


@pytest.mark.parametrize("pid", sorted(BUGS))
def test_a_programming_error_through_the_app_is_a_logged_500(client, pid, caplog):
    r = client.post(f"/processes/{pid}/execution", json={"inputs": {}})
    assert r.status_code == 500, r.get_data(as_text=True)
    doc = r.get_json()
    assert doc["code"] == "NoApplicableCode" and "internal error" in doc["description"]
    assert any(rec.levelname == "ERROR" and pid in rec.getMessage() and rec.exc_info
               for rec in caplog.records)
