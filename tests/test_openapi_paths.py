"""The served OpenAPI document describes every route the platform answers itself (processes,
tiles, the web map, the operational APIs), not only pygeoapi's collections, and stays valid."""

from __future__ import annotations

import re

import requests
from openapi_spec_validator import validate

from services.openapi_paths import oas30_schema


def test_served_document_is_valid_and_lists_every_served_process(api):
    doc = requests.get(f"{api}/openapi?f=json", timeout=60).json()
    validate(doc)
    served = [p["id"] for p in requests.get(f"{api}/processes?f=json", timeout=30)
              .json()["processes"]]
    assert served  # the platform serves the query library
    for pid in served:
        assert f"/processes/{pid}" in doc["paths"]
        body = doc["paths"][f"/processes/{pid}/execution"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["required"] == ["inputs"]
    cols = requests.get(f"{api}/collections?f=json", timeout=30).json()["collections"]
    tiled = doc["paths"]["/collections/{collectionId}/tiles"]["get"]["parameters"][0]
    # every collection of a layer is tiled (the catalog serves layers only)
    assert set(tiled["schema"]["enum"]) == {c["id"] for c in cols}


def _pattern(path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")


def test_every_platform_route_is_described(api, db, tmp_path, monkeypatch):
    """Each rule of the app that is not pygeoapi's (nor static files) matches a path of the
    document: a route added without its description fails here."""
    from services.app import create_app
    from services.settings import ServeSettings

    monkeypatch.setenv("CIM_DATABASE_URL", db.url)
    app = create_app(ServeSettings(home=tmp_path, profile=db.profile.path,
                                   host="127.0.0.1", port=5997))
    doc = requests.get(f"{api}/openapi?f=json", timeout=60).json()
    patterns = [_pattern(p) for p in doc["paths"]]
    own = [r for r in app.url_map.iter_rules()
           if not r.endpoint.startswith("pygeoapi.")
           and r.endpoint.rsplit(".", 1)[-1] != "static"]
    assert len(own) >= 10
    missing = []
    for rule in own:
        sample = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", rule.rule)
        if not any(p.match(sample) for p in patterns):
            missing.append(rule.rule)
    assert missing == []


def test_json_schema_to_openapi_30():
    s = {"type": "object", "properties": {
        "radius": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "kind": {"const": "pipes"}, "either": {"type": ["string", "integer"]}}}
    out = oas30_schema(s)
    assert out["properties"]["radius"] == {"type": "number", "nullable": True, "minimum": 0,
                                           "exclusiveMinimum": True}
    assert out["properties"]["kind"] == {"enum": ["pipes"]}
    assert out["properties"]["either"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
