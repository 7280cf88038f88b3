"""The operational APIs (lifeline readings ``/iot/…``, the case loop ``/cases…``) in the served
``/openapi``: each route README's route table lists is documented with its method, its path
parameters and exactly the query parameters the server takes there, and every error it answers
has the ``{code, description}`` body. Their descriptions are built with the shared helpers of
``services.openapi_paths`` (session 13: ``services.cases_api_doc`` had its own copies of
``services.iot_api``'s); a client generating requests from the document must still reach
every parameter, and one the document does not list must be the server's 400."""

from __future__ import annotations

import re

import pytest
import requests

# README's route table (Serving): method, path, the query parameters each takes
ROUTES = [
    ("post", "/iot/readings", set()),
    ("get", "/iot/sensors/{code}/latest", set()),
    ("get", "/iot/sensors/{code}/readings", {"start", "end", "limit", "bucket"}),
    ("get", "/iot/alarms", {"status", "sensor", "limit"}),
    ("post", "/cases", set()),
    ("get", "/cases", {"state", "grid", "unit", "district", "category", "overdue", "limit",
                       "after"}),
    ("get", "/cases/evaluation", {"from", "to", "by"}),
    ("get", "/cases/{code}", set()),
    ("post", "/cases/{code}/actions/{action}", set()),
    ("get", "/cases/{code}/attachments/{id}", set()),
]
# a value of each query parameter the server reads without a 400 of the parameter's name
VALUES = {"start": "2026-06-15T00:00:00+08:00", "end": "2026-06-16T00:00:00+08:00",
          "limit": "5", "bucket": "1h", "status": "active", "sensor": "nosuch", "state": "上报",
          "grid": "370811001001001", "unit": "x", "district": "370811", "category": "x",
          "overdue": "true", "after": "x", "from": "2026-06-01", "to": "2026-07-01",
          "by": "grid"}


@pytest.fixture(scope="module")
def doc(api) -> dict:
    r = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=60)
    assert r.status_code == 200, r.text[:200]
    return r.json()


def _shape(path: str) -> str:
    return re.sub(r"{[^}]+}", "{}", path)


def _operation(doc: dict, method: str, path: str) -> tuple[str, dict]:
    found = [p for p in doc["paths"] if _shape(p) == _shape(path)]
    assert len(found) == 1, (path, found)
    op = doc["paths"][found[0]].get(method)
    assert op is not None, (method, found[0])
    return found[0], op


def _params(doc: dict, op: dict) -> list[dict]:
    out = []
    for p in op.get("parameters", []):
        if "$ref" in p:
            p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        out.append(p)
    return out


@pytest.mark.parametrize("method,path,query", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_each_operational_route_is_documented_with_its_parameters(doc, method, path, query):
    documented, op = _operation(doc, method, path)
    params = _params(doc, op)
    in_path = {p["name"] for p in params if p["in"] == "path"}
    assert in_path == set(re.findall(r"{([^}]+)}", documented)), (documented, params)
    assert all(p["required"] for p in params if p["in"] == "path")
    assert {p["name"] for p in params if p["in"] == "query"} == query, (documented, params)
    for p in params:
        assert p["schema"].get("type") in ("string", "integer", "boolean", "number"), p
        assert p["description"].strip(), p
    errors = {code: r for code, r in op["responses"].items() if code.startswith(("4", "5"))}
    assert errors, documented
    for code, r in errors.items():
        schema = r["content"]["application/json"]["schema"]
        assert set(schema["properties"]) == {"code", "description"}, (documented, code)
        assert r["description"].strip(), (documented, code)
    ok = [code for code in op["responses"] if code.startswith("2")]
    assert ok, documented


def test_readings_document_their_api_key_header(doc):
    _, op = _operation(doc, "post", "/iot/readings")
    headers = [p for p in _params(doc, op) if p["in"] == "header"]
    assert [(h["name"], h["required"]) for h in headers] == [("X-API-Key", True)]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["readings"]


def test_the_documented_query_parameters_are_the_ones_the_server_takes(api, doc):
    """Every documented query parameter passes the server's check of parameter names (the
    answer may still be a 401 or 404 for other reasons), and a name the document does not
    list is the 400 naming it."""
    for method, path, _ in ROUTES:
        if method != "get":
            continue
        documented, op = _operation(doc, method, path)
        url = api + re.sub(r"{[^}]+}", "1", documented)
        for p in _params(doc, op):
            if p["in"] != "query":
                continue
            r = requests.get(url, params={p["name"]: VALUES[p["name"]]}, timeout=60)
            assert not (r.status_code == 400 and "unknown query parameter" in r.text), \
                (documented, p["name"], r.text[:200])
        r = requests.get(url, params={"nosuchparam": "1"}, timeout=60)
        assert r.status_code == 400 and "nosuchparam" in r.text, (documented, r.text[:200])
