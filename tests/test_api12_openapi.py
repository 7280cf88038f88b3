"""The OpenAPI document's items parameters against what the server answers: a client that
builds its requests from the document (Swagger UI's "try it out", a generated client) could
not send ``datetime`` or ``q`` — the document did not list them on the platform's layers —
nor ask for CSV or GeoJSON, which its ``f`` enum (pygeoapi's json, html, jsonld) left out."""

from __future__ import annotations

import requests


def _items_params(api: str, collection: str) -> dict[str, dict]:
    doc = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=60).json()
    out = {}
    for p in doc["paths"][f"/collections/{collection}/items"]["get"]["parameters"]:
        if "$ref" in p:
            p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        out[p["name"]] = p
    return out


def test_every_format_the_items_answer_is_in_the_documented_f(api):
    params = _items_params(api, "buildings")
    enum = params["f"]["schema"]["enum"]
    # what the server answers (README: f=json|geojson, html|csv|jsonld), each a 200
    for f in ("json", "geojson", "html", "csv", "jsonld"):
        r = requests.get(f"{api}/collections/buildings/items", params={"f": f, "limit": 1},
                         timeout=60)
        assert r.status_code == 200, (f, r.status_code, r.text[:200])
        assert f in enum, (f, enum)
    for f in enum:  # and nothing the server refuses
        r = requests.get(f"{api}/collections/buildings/items", params={"f": f, "limit": 1},
                         timeout=60)
        assert r.status_code == 200, (f, r.status_code, r.text[:200])


def test_datetime_and_q_are_documented_where_the_items_take_them(api):
    for collection in ("buildings", "pipe_segments", "alarms"):
        params = _items_params(api, collection)
        assert {"datetime", "q"} <= params.keys(), (collection, sorted(params))
        for name in ("datetime", "q"):
            assert params[name]["in"] == "query" and params[name]["schema"]["type"] == "string"
            r = requests.get(f"{api}/collections/{collection}/items",
                             params={name: {"datetime": "2026-06-15", "q": "a"}[name]},
                             timeout=60)
            assert r.status_code == 200, (collection, name, r.text[:200])
