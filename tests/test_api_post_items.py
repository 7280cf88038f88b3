"""``POST /collections/{id}/items`` takes a CQL2 JSON filter in its body (OGC API Features
part 3); a body of another type, or none, is the client's error — pygeoapi answered it with
nothing, which Flask turned into a 500 and a traceback in the log."""

from __future__ import annotations

import requests


def test_a_post_without_a_json_body_is_a_415_naming_what_to_send(api):
    r = requests.post(f"{api}/collections/buildings/items", data=b"height > 10", timeout=60)
    assert "Content-Type" not in r.request.headers  # premise: no type sent
    assert r.status_code == 415, (r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] == "InvalidParameterValue"
    assert "application/query-cql-json" in body["description"]
    # text of another type: pygeoapi's own 400 (not JSON), never a 500
    r = requests.post(f"{api}/collections/buildings/items", data=b"height > 10",
                      headers={"Content-Type": "text/plain"}, timeout=60)
    assert r.status_code == 400, r.text[:300]


def test_a_post_of_a_cql2_json_filter_still_filters(api, db):
    want = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL AND height > 10")
    assert want > 0  # premise
    r = requests.post(f"{api}/collections/buildings/items?limit=10000&f=json", timeout=60,
                      json={"op": ">", "args": [{"property": "height"}, 10]},
                      headers={"Content-Type": "application/query-cql-json"})
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["features"]) == want


def test_map_coverage_and_edr_routes_are_404_not_a_logged_error(api):
    for route in ("map", "coverage", "position?coords=POINT(116 35)"):
        r = requests.get(f"{api}/collections/buildings/{route}", timeout=60)
        assert r.status_code == 404, (route, r.status_code, r.text[:300])
        assert r.json()["code"] == "NotFound"


def test_numbers_in_other_scripts_are_a_400(api):
    """limit, offset and bbox take ASCII digits, as the tiles' z/x/y do: ``int('１０')`` and
    ``float('３５')`` read full-width digits, so ``limit=１０`` was served as 10."""
    for params in ({"limit": "１０"}, {"offset": "٣"},
                   {"bbox": "１１６,35,117,36"}):
        r = requests.get(f"{api}/collections/buildings/items", params=params, timeout=60)
        assert r.status_code == 400, (params, r.status_code, r.text[:200])
    assert requests.get(f"{api}/collections/buildings/items", params={"limit": "10"},
                        timeout=60).status_code == 200


def test_html_pages_say_their_charset(api):
    for path in ("/collections?f=html", "/collections/buildings/items?f=html&limit=2",
                 "/collections/buildings/queryables?f=html"):
        r = requests.get(f"{api}{path}", timeout=60)
        assert r.status_code == 200, (path, r.text[:200])
        assert r.headers["Content-Type"].replace(" ", "").lower() == \
            "text/html;charset=utf-8", (path, r.headers["Content-Type"])
        assert "建筑" in r.text  # decoded right by a client that reads only the header
