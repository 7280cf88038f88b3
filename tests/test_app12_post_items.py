"""A CQL2 JSON body ``POST``ed to ``/collections/{id}/items`` is answered as the ``GET`` with
``filter=<body>&filter-lang=cql2-json`` (the other query parameters kept). pygeoapi parsed
the body first: ``between`` and ``s_dwithin`` were its 400 "Bad CQL JSON", and
``crs=EPSG:4527`` beside a POST was ignored (CRS84 served). Expected values come from the
stored rows (SQL, shapely, pyproj), never from the app."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests
import shapely
from pyproj import Transformer

CQL_JSON = {"Content-Type": "application/query-cql-json"}


def _post(api: str, body, **params) -> requests.Response:
    return requests.post(f"{api}/collections/buildings/items",
                         params={"limit": 10000, **params},
                         data=json.dumps(body, ensure_ascii=False).encode(), headers=CQL_JSON,
                         timeout=60)


def _get(api: str, body, **params) -> requests.Response:
    return requests.get(f"{api}/collections/buildings/items",
                        params={"limit": 10000, "filter": json.dumps(body, ensure_ascii=False),
                                "filter-lang": "cql2-json", **params}, timeout=60)


def _ids(r: requests.Response) -> set[str]:
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return {f["id"] for f in r.json()["features"]}


def _heights(db, low: float, high: float) -> set[str]:
    return {c for (c,) in db.rows("SELECT code FROM buildings WHERE valid_to IS NULL "
                                  "AND height BETWEEN %s AND %s", (low, high))}


def test_a_posted_between_selects_the_heights_in_the_range(api, db):
    want = _heights(db, 10, 20)
    assert want and len(want) < db.scalar(
        "SELECT count(*) FROM buildings WHERE valid_to IS NULL")  # premise: a real selection
    body = {"op": "between", "args": [{"property": "height"}, 10, 20]}
    assert _ids(_post(api, body)) == want
    # pygeoapi's pages (CSV) take the platform's reading of the body too
    r = _post(api, body, f="csv")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert {row["code"] for row in csv.DictReader(io.StringIO(r.text))} == want


def test_a_posted_s_dwithin_selects_the_footprints_within_the_distance(api, db):
    """The point is given in CRS84; the distance is metres in the projected storage CRS
    (planar, as ST_DWithin there): shapely on the stored rows, the point by pyproj."""
    srid = db.profile.srid
    x, y = db.rows("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                   "FROM buildings WHERE valid_to IS NULL ORDER BY id LIMIT 1")[0]
    lon, lat = Transformer.from_crs(srid, 4490, always_xy=True).transform(x, y)
    px, py = Transformer.from_crs(4490, srid, always_xy=True).transform(lon, lat)
    here = shapely.Point(px, py)
    rows = db.rows("SELECT code, ST_AsBinary(geom) FROM buildings WHERE valid_to IS NULL")
    dist = {c: shapely.from_wkb(bytes(g)).distance(here) for c, g in rows}
    metres = 150.0
    want = {c for c, d in dist.items() if d <= metres}
    unsure = {c for c, d in dist.items() if abs(d - metres) < 0.01}
    assert 1 < len(want) < len(rows)  # premise: a real selection
    body = {"op": "s_dwithin", "args": [{"property": "geometry"},
                                        {"type": "Point", "coordinates": [lon, lat]},
                                        metres, "meters"]}
    got = _ids(_post(api, body))
    assert got - unsure == want - unsure


def test_a_posted_filter_takes_crs_epsg_4527_northing_first(api, db):
    """``crs=EPSG:4527`` beside a POST: coordinates in EPSG:4527, northing first (X = N, as
    the CRS defines its axes), the feature's first vertex by pyproj from the stored one."""
    code, height = db.rows("SELECT code, height FROM buildings WHERE valid_to IS NULL "
                           "AND height IS NOT NULL ORDER BY id LIMIT 1")[0]
    sx, sy = db.rows("SELECT ST_X(p.geom), ST_Y(p.geom) FROM buildings b, "
                     "ST_DumpPoints(b.geom) p WHERE b.code = %s AND b.valid_to IS NULL "
                     "ORDER BY p.path LIMIT 1", (code,))[0]
    # authority axis order: EPSG:4527's first axis is northing
    n, e = Transformer.from_crs(db.profile.srid, 4527).transform(
        *((sy, sx) if _north_first(db.profile.srid) else (sx, sy)))
    assert n > 3_000_000 and e > 39_000_000  # premise: N ≈ 3.9e6, E with zone 39's prefix
    body = {"op": "and", "args": [{"op": "=", "args": [{"property": "code"}, code]},
                                  {"op": "between", "args": [{"property": "height"},
                                                             height - 1, height + 1]}]}
    for r in (_post(api, body, crs="EPSG:4527"), _get(api, body, crs="EPSG:4527")):
        assert r.status_code == 200, (r.status_code, r.text[:300])
        assert "4527" in r.headers["Content-Crs"], r.headers.get("Content-Crs")
        (feat,) = r.json()["features"]
        first = _first_vertex(feat["geometry"])
        assert first == pytest.approx([n, e], abs=1e-3), (first, n, e)


def test_post_and_get_give_the_same_features_for_the_same_filter(api, db):
    srid = db.profile.srid
    x, y = db.rows("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
                   "FROM buildings WHERE valid_to IS NULL ORDER BY id LIMIT 1")[0]
    lon, lat = Transformer.from_crs(srid, 4490, always_xy=True).transform(x, y)
    box = [lon - 0.003, lat - 0.003, lon + 0.003, lat + 0.003]
    filters = [
        {"op": "between", "args": [{"property": "height"}, 5, 30]},
        {"op": "s_dwithin", "args": [{"property": "geometry"},
                                     {"type": "Point", "coordinates": [lon, lat]}, 0.3,
                                     "kilometers"]},
        {"op": "and", "args": [{"op": ">", "args": [{"property": "height"}, 8]},
                               {"op": "s_intersects", "args": [{"property": "geometry"},
                                                               {"bbox": box}]}]},
        {"op": "or", "args": [{"op": "like", "args": [{"property": "code"}, "%1"]},
                              {"op": "isNull", "args": [{"property": "height"}]}]},
        {"op": "not", "args": [{"op": "in", "args": [{"property": "height"}, [10, 12]]}]},
    ]
    extra = [{}, {"crs": "EPSG:4527", "sortby": "-height", "limit": 7},
             {"properties": "code,height", "skipGeometry": "true"}]
    for body in filters:
        for params in extra:
            p, g = _post(api, body, **params), _get(api, body, **params)
            assert p.status_code == g.status_code == 200, (body, params, p.text[:300])
            assert p.json()["features"] == g.json()["features"], (body, params)
            assert p.json().get("numberMatched") == g.json().get("numberMatched")
        assert _ids(_post(api, body)), body  # premise: each filter selects something


def test_a_posted_page_goes_on_by_its_next_link(api, db):
    """The ``next`` link of a POSTed page is a GET carrying the filter: the pages together
    are the whole selection, each feature once."""
    want = _heights(db, 5, 30)
    assert len(want) > 3  # premise: more than one page
    body = {"op": "between", "args": [{"property": "height"}, 5, 30]}
    r = _post(api, body, limit=3)
    seen: list[str] = []
    while True:
        assert r.status_code == 200, (r.status_code, r.text[:300])
        seen += [f["id"] for f in r.json()["features"]]
        nxt = [lk["href"] for lk in r.json()["links"] if lk["rel"] == "next"]
        if not nxt:
            break
        r = requests.get(nxt[0], timeout=60)
    assert sorted(seen) == sorted(want)


def test_a_post_with_a_filter_in_the_query_string_too_is_a_400(api):
    body = {"op": ">", "args": [{"property": "height"}, 10]}
    r = _post(api, body, filter="height < 5")
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert "query string" in r.json()["description"]
    r = _post(api, body, **{"filter-lang": "cql2-text"})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert "filter-lang" in r.json()["description"]
    r = requests.post(f"{api}/collections/buildings/items", data=b'{"op": "\xff"}',
                      headers=CQL_JSON, timeout=60)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert "UTF-8" in r.json()["description"]


def _north_first(srid: int) -> bool:
    from pyproj import CRS

    axis = CRS.from_epsg(srid).axis_info
    return bool(axis) and axis[0].direction.lower() in ("north", "south")


def _first_vertex(geom: dict) -> list[float]:
    c = geom["coordinates"]
    while isinstance(c[0], list):
        c = c[0]
    return c
