"""pygeoapi's ECQL BBOX (and ENVELOPE) put in the storage CRS by two corners: a lon/lat box
is no axis-aligned box in Gauss-Krüger, and the features in its other two corners were not
found (405 of the 407 buildings `bbox=` finds in the README's demo box). Expected: the
buildings whose footprints, projected to lon/lat with pyproj, meet the box (shapely)."""

from __future__ import annotations

import numpy as np
import requests
import shapely

from cim.crs import transformer

BOX = (116.60, 35.34, 116.62, 35.36)


def _codes(api: str, **params) -> set[str]:
    r = requests.get(f"{api}/collections/buildings/items",
                     params={"limit": 10000, **params}, headers={"Accept": "application/geo+json"}, timeout=60)
    assert r.status_code == 200, r.text[:400]
    assert r.headers["Content-Type"].startswith("application/geo+json"), (params, r.headers["Content-Type"])
    return {f["properties"]["code"] for f in r.json()["features"]}


def test_ecql_bbox_and_envelope_find_what_the_box_holds(api, db):
    to_lonlat = transformer(db.profile.srid, "OGC:CRS84")
    box = shapely.box(*BOX)
    want = set()
    for code, wkb in db.rows("SELECT code, ST_AsBinary(geom) FROM buildings "
                             "WHERE valid_to IS NULL"):
        g = shapely.transform(shapely.from_wkb(bytes(wkb)), lambda c: np.column_stack(
            to_lonlat.transform(c[:, 0], c[:, 1])))
        if g.intersects(box):
            want.add(code)
    assert len(want) > 100, len(want)
    x0, y0, x1, y1 = BOX
    assert _codes(api, bbox=",".join(map(str, BOX))) == want
    assert _codes(api, filter=f"BBOX(geometry,{x0},{y0},{x1},{y1})") == want
    assert _codes(api, filter=f"INTERSECTS(geometry, ENVELOPE({x0} {x1} {y0} {y1}))") == want
    # under a NOT too (pygeofilter's Not is no dataclass: the rewrite passed it by), and a
    # whole-world box (projected whole, no valid area: it found nothing)
    everything = {c for (c,) in db.rows("SELECT code FROM buildings WHERE valid_to IS NULL")}
    assert _codes(api, filter=f"NOT BBOX(geometry,{x0},{y0},{x1},{y1})") == everything - want
    assert _codes(api, filter="BBOX(geometry,-180,-90,180,90)") == everything
    assert _codes(api, filter="BBOX(geometry,0,0,1,1)") == set()
    # a box of another CRS, or latitude first: a 400 saying so (read as CRS84 it lay where
    # no data can, and found nothing unsaid)
    for bad in (f"BBOX(geometry,{y0},{x0},{y1},{x1})",
                "BBOX(geometry,39460000,3917000,39461000,3918000,'EPSG:4527')"):
        r = requests.get(f"{api}/collections/buildings/items", params={"filter": bad},
                         timeout=60)
        assert r.status_code == 400 and "longitude, latitude" in r.text, (bad, r.text[:300])


def test_a_head_request_is_answered_as_its_get(api):
    """HEAD went to pygeoapi, which refused the short CRS forms (400) and typed GeoJSON as
    application/json without Content-Crs: link checkers and caches probe with HEAD."""
    for params in ({"limit": 1, "crs": "EPSG:4527"},
                   {"bbox": "35.35,116.58,35.37,116.60", "bbox-crs": "EPSG:4490", "limit": 2}):
        url = f"{api}/collections/buildings/items"
        get = requests.get(url, params=params, timeout=60)
        head = requests.head(url, params=params, timeout=60)
        assert (get.status_code, head.status_code) == (200, 200), (params, head.text)
        for h in ("Content-Type", "Content-Crs"):
            assert head.headers.get(h) == get.headers.get(h), (params, h, head.headers)
        assert head.content == b""


def test_openapi_lists_every_filter_lang_the_items_take(api):
    """The OpenAPI document's filter-lang enum left out cql-json, which README documents and
    the items take. Each language listed is taken by the items (a filter in it, 200)."""
    import json

    doc = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=60).json()
    params = doc.get("components", {}).get("parameters", {})
    (enum,) = {tuple(p["schema"]["enum"]) for p in params.values()
               if p.get("name") == "filter-lang"}
    assert set(enum) == {"cql2-text", "cql2-json", "cql-text", "cql-json"}, enum
    as_json = json.dumps({"op": "=", "args": [{"property": "use_name"}, "办公"]})
    for lang in enum:
        text = as_json if lang.endswith("json") else "use_name = '办公'"
        r = requests.get(f"{api}/collections/buildings/items",
                         params={"filter": text, "filter-lang": lang, "limit": 1}, timeout=60)
        assert r.status_code == 200, (lang, r.text[:300])


def test_limit_below_one_is_told_one_bound(api):
    for v in ("0", "-1", "x"):
        r = requests.get(f"{api}/collections/buildings/items", params={"limit": v}, timeout=60)
        assert r.status_code == 400, (v, r.text[:200])
        assert "limit must be a whole number ≥ 1" in r.json()["description"], (v, r.text)
