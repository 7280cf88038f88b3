"""OGC API - Processes on the served app (issue 9 item 9): each process answers over HTTP with
exactly the JSON the CLI's ``--json`` prints on the same database; inputs are validated
against the declared schema (400 naming the input), an unknown process is 404, and a process
runs as the read-only role unless it declares ``writes``.

The inputs are chosen from the session database (the Jining samples: buildings, a pipe survey
with drainage and water networks, components) by SQL, so every process has something to
find; the expected answer of each is the CLI's, run as a separate process.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import run_cli

QUERY_PROCESSES = {"aoi", "overlay", "near", "stats", "section", "clearance", "trace",
                   "isolate"}
OGC = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"


def _execute(api, pid, inputs, **kw):
    return requests.post(f"{api}/processes/{pid}/execution", json={"inputs": inputs},
                         timeout=120, **kw)


def _cli(db, args):
    out = run_cli([*args, "--json"], db.env(), check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def picks(db):
    """Codes, a box and a section line of the sample city (CRS84 lon/lat)."""
    lon, lat = db.rows(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(ST_Collect(geom)), 4490)"
        " c FROM pipe_segments WHERE valid_to IS NULL) s")[0]
    d = 0.003
    drain = db.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL AND class_name = "
                      "'排水' ORDER BY code LIMIT 1 OFFSET 5")
    water = db.scalar("SELECT code FROM pipe_segments WHERE valid_to IS NULL AND class_name = "
                      "'给水' ORDER BY code LIMIT 1 OFFSET 5")
    # a line across a straight water segment at its middle, perpendicular to it
    line = db.scalar(
        "SELECT ST_AsText(ST_Transform(ST_Rotate(ST_Force2D(geom), pi() / 2, "
        "ST_LineInterpolatePoint(ST_Force2D(geom), 0.5)), 4490)) FROM pipe_segments "
        "WHERE code = %s", (water,))
    district = db.scalar("SELECT code FROM admin_divisions WHERE valid_to IS NULL "
                         "ORDER BY code LIMIT 1")
    assert drain and water and line and district
    return {"bbox": [lon - d, lat - d, lon + d, lat + d], "drain": drain, "water": water,
            "line": line, "district": district}


def _bbox_arg(b):
    return ",".join(repr(v) for v in b)


CASES = {
    "aoi": (lambda p: {"bbox": p["bbox"], "layers": ["buildings", "pipe_segments"],
                       "where": {"buildings": "floors_above >= 3"}, "features": True},
            lambda p: ["query", "aoi", "--bbox", _bbox_arg(p["bbox"]),
                       "--layers", "buildings,pipe_segments",
                       "--where", "buildings:floors_above >= 3", "--features"]),
    "overlay": (lambda p: {"a": "buildings", "b": "grid_cells", "bbox": p["bbox"]},
                lambda p: ["query", "overlay", "buildings", "grid_cells",
                           "--bbox", _bbox_arg(p["bbox"])]),
    "near": (lambda p: {"a": "pipe_segments", "b": "buildings", "distance": 30.0,
                        "bbox": p["bbox"]},
             lambda p: ["query", "near", "pipe_segments", "buildings", "--distance", "30",
                        "--bbox", _bbox_arg(p["bbox"])]),
    "stats": (lambda p: {"layer": "pipe_segments", "by": "district", "class": "class_name"},
              lambda p: ["query", "stats", "pipe_segments", "--by", "district",
                         "--class", "class_name"]),
    "section": (lambda p: {"line": p["line"]},
                lambda p: ["query", "section", "--line", p["line"]]),
    "clearance": (lambda p: {"district": p["district"]},
                  lambda p: ["query", "clearance", "--district", p["district"]]),
    "trace": (lambda p: {"code": p["drain"], "direction": "up"},
              lambda p: ["query", "trace", p["drain"], "--direction", "up"]),
    "isolate": (lambda p: {"code": p["water"]},
                lambda p: ["query", "isolate", p["water"]]),
}


@pytest.mark.parametrize("pid", sorted(CASES))
def test_process_answers_like_the_cli(api, db, picks, pid):
    inputs, args = CASES[pid]
    r = _execute(api, pid, inputs(picks))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    expected = _cli(db, args(picks))
    assert r.json() == expected
    assert json.dumps(expected) != json.dumps({})  # the CLI found something to compare


def test_answers_are_not_empty(api, picks):
    """The comparisons above compare real answers, not empty ones on both sides."""
    assert _execute(api, "aoi", {"bbox": picks["bbox"]}).json()["layers"]["buildings"][
        "count"] > 0
    assert _execute(api, "section", {"line": picks["line"]}).json()["rows"]
    assert _execute(api, "isolate", {"code": picks["water"]}).json()["isolated_segments"]
    assert _execute(api, "near", {"a": "pipe_segments", "b": "buildings", "distance": 30.0,
                                  "bbox": picks["bbox"]}).json()["rows"]


def test_document_response_wraps_the_result(api, picks):
    raw = _execute(api, "stats", {"layer": "buildings", "by": "district"}).json()
    r = requests.post(f"{api}/processes/stats/execution", timeout=60, json={
        "inputs": {"layer": "buildings", "by": "district"}, "response": "document"})
    assert r.status_code == 200 and r.json() == {"result": raw}


@pytest.mark.parametrize("pid,inputs,words", [
    ("aoi", {"point": [116.6, 35.4], "radius": "ten"}, ["'radius'", "number"]),
    ("aoi", {"bbox": [1, 2, 3]}, ["'bbox'", "3 items", "at least 4"]),
    ("overlay", {"a": "buildings"}, ["missing required input", "'b'"]),
    ("stats", {"layer": "nope"}, ["'layer'", "nope", "buildings"]),
    ("near", {"a": "pipe_segments", "b": "buildings"}, ["'distance'", "'nearest'"]),
    ("aoi", {"bogus": 1}, ["unknown input", "'bogus'"]),
    ("aoi", {"polygon": "POLYGON((116.6 35.4, 116.7"}, ["polygon: cannot read it", "WKT"]),
    ("section", {"line": "LINESTRING(oops)"}, ["line: cannot read it", "WKT"]),
    ("trace", {"code": "999999999999999999"}, ["999999999999999999"]),
    ("isolate", {"code": 42}, ["'code'", "string"]),
    ("near", {"a": "pipe_segments", "b": "buildings", "nearest": 2.5}, ["'nearest'",
                                                                         "integer"]),
])
def test_bad_inputs_are_400_with_a_message(api, pid, inputs, words):
    r = _execute(api, pid, inputs)
    assert r.status_code == 400, r.text
    msg = r.json()["description"]
    assert msg.startswith(pid + ":")
    for w in words:
        assert w in msg, msg
    assert "Traceback" not in r.text


@pytest.mark.parametrize("body,words", [
    (b"{not json", ["not JSON"]),
    (b"[1, 2]", ["JSON object"]),
    (b'{"inputs": [1]}', ["inputs"]),
    (b'{"inputs": {}, "extra": 1}', ["'extra'"]),
    (b'{"inputs": {}, "response": "mail"}', ["response"]),
])
def test_bad_request_bodies_are_400(api, body, words):
    r = requests.post(f"{api}/processes/stats/execution", data=body, timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    for w in words:
        assert w in r.json()["description"]


def test_unknown_process_is_404(api):
    for r in (requests.get(f"{api}/processes/nope", timeout=30),
              requests.post(f"{api}/processes/nope/execution", json={"inputs": {}},
                            timeout=30)):
        assert r.status_code == 404
        assert "no-such-process" in r.json()["type"]
        assert "'nope'" in r.json()["description"]
    r = requests.get(f"{api}/jobs/abc", timeout=30)
    assert r.status_code == 404 and "no-such-job" in r.json()["type"]


def _processes_schema(schema, where: str) -> None:
    """OGC API - Processes 1.0's schema.yaml (OpenAPI 3.0's dialect): ``type`` one string,
    ``exclusiveMinimum``/``exclusiveMaximum`` booleans, no ``const`` (additionalProperties:
    false there) — the raw JSON Schema 2020-12 broke the declared process-description class."""
    if isinstance(schema, list):
        for s in schema:
            _processes_schema(s, where)
        return
    if not isinstance(schema, dict):
        return
    assert not isinstance(schema.get("type"), list), (where, schema)
    assert "const" not in schema, (where, schema)
    for k in ("exclusiveMinimum", "exclusiveMaximum"):
        assert k not in schema or isinstance(schema[k], bool), (where, schema)
    for k in ("properties",):
        for v in (schema.get(k) or {}).values():
            _processes_schema(v, where)
    for k in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties"):
        if k in schema:
            _processes_schema(schema[k], where)


def test_the_list_takes_limit_and_offset(api):
    every = requests.get(f"{api}/processes", timeout=30).json()["processes"]
    r = requests.get(f"{api}/processes", params={"limit": 5}, timeout=30)
    assert r.status_code == 200
    got = r.json()
    assert [p["id"] for p in got["processes"]] == [p["id"] for p in every[:5]]
    nxt = next(link["href"] for link in got["links"] if link["rel"] == "next")
    rest = requests.get(nxt, timeout=30).json()["processes"]
    assert [p["id"] for p in rest] == [p["id"] for p in every[5:10]]
    assert requests.get(f"{api}/processes", params={"limit": 0}, timeout=30).status_code == 400
    assert requests.get(f"{api}/processes/aoi", params={"limit": 2},
                        timeout=30).status_code == 400  # a description has no list


def test_near_says_its_either_or_rule(api):
    d = requests.get(f"{api}/processes/near", timeout=30).json()
    assert "distance" in d["description"] and "nearest" in d["description"]


def test_process_list_and_descriptions(api):
    from layers.processes import all_processes

    r = requests.get(f"{api}/processes", timeout=30)
    assert r.status_code == 200
    listed = {p["id"]: p for p in r.json()["processes"]}
    assert QUERY_PROCESSES <= set(listed)
    assert set(listed) == set(all_processes())  # the approval check too, once it exists
    assert any(link["rel"] == "self" for link in r.json()["links"])
    for pid, summary in listed.items():
        assert summary["jobControlOptions"] == ["sync-execute"]
        # a Chinese name in every title: the HTML list is read by Chinese staff
        assert any("\u4e00" <= ch <= "\u9fff" for ch in summary["title"]), summary["title"]
        href = next(link["href"] for link in summary["links"] if link["rel"] == "self")
        assert href.endswith(f"/processes/{pid}")
        d = requests.get(f"{api}/processes/{pid}", timeout=30).json()
        schema = all_processes()[pid]["inputs"]
        assert set(d["inputs"]) == set(schema["properties"])
        for name, inp in d["inputs"].items():
            _processes_schema(inp["schema"], f"{pid}.{name}")
            assert inp["minOccurs"] == (1 if name in schema.get("required", []) else 0)
        # a description for the client, not the maintainer's docstring
        assert summary.get("description") and "``" not in summary["description"], summary
        assert set(d["outputs"]) == {"result"}
        assert any(link["href"].endswith(f"/processes/{pid}/execution")
                   for link in d["links"])
    overlay = requests.get(f"{api}/processes/overlay", timeout=30).json()["inputs"]
    assert overlay["a"]["minOccurs"] == 1 and overlay["bbox"]["minOccurs"] == 0
    assert "buildings" in overlay["a"]["schema"]["enum"]
    # HTML is served (tests/test_tiles2_processes_html.py); a format none serves is a 400
    assert requests.get(f"{api}/processes?f=xml", timeout=30).status_code == 400


def test_conformance_declares_the_process_classes(api):
    classes = requests.get(f"{api}/conformance", timeout=30).json()["conformsTo"]
    for c in ("core", "json", "ogc-process-description"):
        assert OGC + c in classes
    assert OGC + "job-list" not in classes and OGC + "callback" not in classes


# -- in-process: which role runs a process, and what a failing process answers --------------
def _whoami(conninfo, inputs):
    """Who runs me, and may I write."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        user, ro = conn.execute("SELECT current_user, "
                                "current_setting('transaction_read_only')").fetchone()
    return {"user": user, "read_only": ro}


def _boom(conninfo, inputs):
    """A bug."""
    raise RuntimeError("secret detail\nsecond line")


def _app(db, writer_url):
    from flask import Flask

    from cim.db.engine import psycopg_conninfo
    from cim.db.roles import serving_url
    from services.processes import register

    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    procs = {"reader": {"id": "reader", "title": "r", "inputs": schema, "run": _whoami},
             "writer": {"id": "writer", "title": "w", "inputs": schema, "run": _whoami,
                        "writes": True},
             "boom": {"id": "boom", "title": "b", "inputs": schema, "run": _boom}}
    app = Flask("t")
    register(app, psycopg_conninfo(serving_url(db.url)), "http://x", procs, writer_url)
    return app.test_client()


def test_processes_run_as_the_reader_unless_they_write(db, api, monkeypatch):
    monkeypatch.delenv("CIM_PROCESS_WRITER_URL", raising=False)
    admin = db.scalar("SELECT current_user")
    c = _app(db, db.url)
    reader = c.post("/processes/reader/execution", json={"inputs": {}}).get_json()
    assert reader == {"user": "cim_reader", "read_only": "on"}
    writer = c.post("/processes/writer/execution", json={"inputs": {}}).get_json()
    assert writer == {"user": admin, "read_only": "off"}
    # no writer configured: a writing process runs as the reader (and cannot write)
    c = _app(db, None)
    assert c.post("/processes/writer/execution", json={"inputs": {}}).get_json() == reader


def test_a_failing_process_is_a_one_line_500(db, api):
    r = _app(db, None).post("/processes/boom/execution", json={"inputs": {}})
    assert r.status_code == 500
    msg = r.get_json()["description"]
    assert "\n" not in msg and "secret" not in msg and "RuntimeError" in msg
    assert "Traceback" not in r.get_data(as_text=True)
