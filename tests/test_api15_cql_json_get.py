"""``filter-lang=cql-json`` (the drafts' name of CQL2 JSON) in a GET: it went to pygeoapi,
whose GET reads every filter as CQL Text — a CQL2 JSON filter was its 400 "Bad CQL text",
while the same filter POSTed with ``filter-lang=cql-json`` was read as CQL2 JSON. Both
methods now read it as CQL2 JSON. Expected counts from SQL on the stored rows."""

from __future__ import annotations

import json

import requests

ITEMS = "/collections/buildings/items"


def test_a_cql_json_filter_in_a_get_is_read_as_its_post_is(api, db):
    name, want = db.rows("SELECT name, count(*) FROM buildings WHERE valid_to IS NULL AND "
                         "name IS NOT NULL GROUP BY name ORDER BY count(*) DESC, name "
                         "LIMIT 1")[0]
    f = json.dumps({"op": "=", "args": [{"property": "name"}, name]}, ensure_ascii=False)
    got = requests.get(api + ITEMS, params={"filter": f, "filter-lang": "cql-json",
                                            "limit": 1000}, timeout=60)
    assert got.status_code == 200, got.text[:300]
    assert got.json()["numberMatched"] == want, got.text[:300]
    assert {p["properties"]["name"] for p in got.json()["features"]} == {name}
    posted = requests.post(api + ITEMS, params={"filter-lang": "cql-json", "limit": 1000},
                           data=f.encode(), timeout=60,
                           headers={"Content-Type": "application/query-cql-json"})
    assert posted.status_code == 200, posted.text[:300]
    assert {x["id"] for x in posted.json()["features"]} == \
        {x["id"] for x in got.json()["features"]}


def test_the_2021_drafts_form_is_a_400_naming_cql2s(api):
    f = json.dumps({"eq": [{"property": "name"}, "x"]})
    for fmt in ("json", "csv"):
        r = requests.get(api + ITEMS, params={"filter": f, "filter-lang": "cql-json", "f": fmt},
                         timeout=60)
        assert r.status_code == 400, (fmt, r.status_code, r.text[:300])
        assert '{"op": ..., "args": [...]}' in r.json()["description"], r.text[:300]
