"""A JSON body nested too deep, sent to the served app's other JSON writers as to the case
loop's: ``POST /processes/<id>/execution`` and ``POST /iot/readings`` answered 500
("internal error", a RecursionError in the server's log) for ``[[[…]]]`` a hundred thousand
deep, and a body just below json's own limit went on into code that recursed deeper. Each is
a 400 naming ``body``; nothing is written. A body nested as deep as a real input goes
(a GeoJSON multipolygon inside a feature collection, a reading) is read as before.
"""

from __future__ import annotations

import psycopg
import pytest
import requests

from layers.iot.sources import add_source
from tests.conftest import start_api
from tests.iot_fixture import iot_database

DEEP = 100_000


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    with iot_database(jining_profile, "p12depth") as d:
        with psycopg.connect(d.conninfo) as conn:
            d.key = add_source(conn, "vendor-p12depth")
        proc, d.base = start_api(d.url, d.profile, tmp_path_factory.mktemp("p12depth"))
        try:
            yield d
        finally:
            proc.terminate()
            proc.wait(10)


def _post(url: str, raw: str, headers: dict | None = None) -> requests.Response:
    return requests.post(url, data=raw.encode(), timeout=60,
                         headers={"Content-Type": "application/json", **(headers or {})})


def _names_body(r: requests.Response) -> bool:
    return r.status_code == 400 and "'body'" in r.json()["description"]


def test_process_execution_deep_body_is_400(served):
    url = served.base + "/processes/stats/execution"
    r = _post(url, "[" * DEEP + "]" * DEEP)
    assert _names_body(r), (r.status_code, r.text[:300])
    r = _post(url, '{"inputs": {"layer": ' + "[" * DEEP + "]" * DEEP + "}}")
    assert _names_body(r), (r.status_code, r.text[:300])
    # about json's own limit: read or not, a 400 naming the body, never a 500
    for depth in range(880, 1001, 15):
        r = _post(url, '{"inputs": {"layer": ' + "[" * depth + "]" * depth + "}}")
        assert _names_body(r), (depth, r.status_code, r.text[:300])


def test_process_execution_real_nesting_still_read(served):
    # a project of the approval check: FeatureCollection → features → geometry →
    # MultiPolygon coordinates, 9 levels below the body; refused for its content (a 400 about
    # the project, whatever it is), not for its depth
    ring = [[0, 0], [1, 0], [1, 1], [0, 0]]
    project = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"a": {"b": {"c": [1]}}},
         "geometry": {"type": "MultiPolygon", "coordinates": [[ring]]}}]}
    r = requests.post(served.base + "/processes/approval-check/execution",
                      json={"inputs": {"project": project}}, timeout=60)
    assert r.status_code in (200, 400), r.text[:300]
    assert "'body'" not in r.json().get("description", ""), r.text[:300]
    r = requests.post(served.base + "/processes/stats/execution",
                      json={"inputs": {"layer": "buildings"}}, timeout=60)
    assert r.status_code == 200, r.text[:300]


def test_iot_readings_deep_body_is_400(served):
    url = served.base + "/iot/readings"
    key = {"X-API-Key": served.key}
    before = served.scalar("SELECT count(*) FROM readings")
    r = _post(url, "[" * DEEP + "]" * DEEP, key)
    assert _names_body(r), (r.status_code, r.text[:300])
    r = _post(url, '{"readings": [{"sensor": ' + "[" * DEEP + "]" * DEEP
              + ', "time": "2026-06-15T08:00:00+08:00", "value": 1}]}', key)
    assert _names_body(r), (r.status_code, r.text[:300])
    for depth in range(880, 1001, 15):
        r = _post(url, '{"readings": [{"sensor": ' + "[" * depth + "]" * depth
                  + ', "time": "2026-06-15T08:00:00+08:00", "value": 1}]}', key)
        assert _names_body(r), (depth, r.status_code, r.text[:300])
    # without a key the body is not read: 401 as before
    r = _post(url, "[" * DEEP + "]" * DEEP)
    assert r.status_code == 401, r.text[:300]
    assert served.scalar("SELECT count(*) FROM readings") == before
