"""The OpenAPI document's ``cursor`` (review 9): it said an integer, "not combined with sortby",
so a client checking its request against the document (Swagger UI's "try it out") refused
the cursor of a sorted page's next link, a base64url token. The cursors of real next links
must satisfy the documented schema."""

from __future__ import annotations

import urllib.parse

import jsonschema
import requests


def _cursor_schema(api: str) -> dict:
    doc = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=60).json()
    params = doc["paths"]["/collections/buildings/items"]["get"]["parameters"]
    refs = [p["$ref"].rsplit("/", 1)[1] for p in params if "$ref" in p]
    found = [p for p in params if p.get("name") == "cursor"] + \
        [doc["components"]["parameters"][r] for r in refs
         if doc["components"]["parameters"][r].get("name") == "cursor"]
    assert len(found) == 1
    return found[0]["schema"]


def test_next_link_cursors_satisfy_the_documented_schema(api):
    schema = _cursor_schema(api)
    for params in ({"limit": 5}, {"limit": 5, "sortby": "-height,name"}):
        fc = requests.get(f"{api}/collections/buildings/items", timeout=60,
                          params={"f": "json", **params}).json()
        nxt = next(lk["href"] for lk in fc["links"] if lk["rel"] == "next")
        cursor = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)["cursor"][0]
        # a query value as a client reads it by the schema's type (form style)
        value = int(cursor) if schema.get("type") == "integer" and cursor.isdigit() \
            else cursor
        jsonschema.validate(value, schema)
