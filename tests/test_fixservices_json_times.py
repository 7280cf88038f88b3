"""Times in a process answer and in the health store's stored detail are RFC 3339
(``2026-06-15T05:00:00+00:00``), as every JSON answer writes them (cim.text.json_value):
``json.dumps(default=str)`` wrote '2026-06-15 05:00:00+00:00', a space for the 'T'."""

from __future__ import annotations

import datetime as dt
import json
import re

import psycopg
import pytest

RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"


def _clock(conninfo, inputs):
    """A time the database gives (a timestamptz in the session's zone)."""
    with psycopg.connect(conninfo) as conn:
        return {"at": conn.execute(
            "SELECT '2026-06-15 05:00:00+00'::timestamptz").fetchone()[0]}


@pytest.fixture(scope="module")
def client(db):
    from flask import Flask

    from cim.db.engine import psycopg_conninfo
    from cim.db.roles import serving_url
    from services.processes import register

    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    procs = {"clock": {"id": "clock", "title": "clock", "inputs": schema, "run": _clock}}
    app = Flask("t")
    register(app, psycopg_conninfo(serving_url(db.url)), "http://x", procs, None)
    return app.test_client()


def test_a_time_in_a_process_answer_is_rfc3339(client):
    """str() wrote '2026-06-15 05:00:00+00:00' (a space for the 'T')."""
    r = client.post("/processes/clock/execution", json={"inputs": {}})
    assert r.status_code == 200, r.get_data(as_text=True)
    at = r.get_json()["at"]
    assert re.fullmatch(RFC3339, at), at
    assert dt.datetime.fromisoformat(at) == dt.datetime(2026, 6, 15, 5, tzinfo=dt.UTC)


def test_a_time_in_the_health_stores_detail_is_rfc3339():
    """An indicator's detail holding a time is stored as RFC 3339 (default=str wrote a space
    for the 'T')."""
    from layers.health.store import _rows

    at = dt.datetime(2026, 6, 15, 5, tzinfo=dt.UTC)
    entry = {"unit_kind": "city", "unit_code": "city", "unit_name": "济宁", "value": 1.0,
             "target": None, "status": "no_target", "score": None, "previous_value": None,
             "change": None, "trend": None, "method": "m", "flags": [],
             "detail": {"as_of": at, "day": dt.date(2026, 6, 15)}}
    result = {"year": 2026, "previous_year": None, "index": {"units": {}},
              "indicators": [{"id": "x", "name_zh": "x", "name_en": "x", "dimension": "d",
                              "unit": "%", "direction": "up", "city": entry,
                              "districts": []}]}
    (row,) = _rows(result, 1)
    detail = json.loads(row["detail"])
    assert detail == {"as_of": "2026-06-15T05:00:00+00:00", "day": "2026-06-15"}
