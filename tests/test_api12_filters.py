"""CQL2 filters as a planner's client sends them, beside the GET query string: a CQL2 JSON
body ``POST``ed to ``/collections/{id}/items`` (OGC API Features Part 3) is read as the same
filter in the query string is, and a filter that is neither CQL2 nor pygeoapi's ECQL is a
400 that says what is wrong with it, not pygeoapi's bare "Bad CQL text"."""

from __future__ import annotations

import json

import requests
import shapely
from pyproj import Transformer

CQL_JSON = {"Content-Type": "application/query-cql-json"}


def _post(api: str, body: dict, **params) -> requests.Response:
    return requests.post(f"{api}/collections/buildings/items",
                         params={"limit": 10000, **params},
                         data=json.dumps(body, ensure_ascii=False).encode(), headers=CQL_JSON,
                         timeout=60)


def test_a_posted_filter_naming_an_unknown_property_is_a_400_naming_it(api):
    """pygeoapi's parser took it and its SQL backend compared nothing: 200, no features — a
    typo in a property name looked like an empty answer."""
    for fmt in ("json", "csv"):
        r = _post(api, {"op": "=", "args": [{"property": "heigth"}, 10]}, f=fmt)
        assert r.status_code == 400, (fmt, r.status_code, r.text[:300])
        assert "heigth" in r.json()["description"], r.text[:300]


def test_a_posted_filter_comparing_a_number_with_text_is_a_400(api):
    """It was a 500 (PostgreSQL refused the comparison) and a traceback in the log."""
    r = _post(api, {"op": "=", "args": [{"property": "height"}, "高"]})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert "height" in r.json()["description"], r.text[:300]


def test_a_posted_bbox_literal_selects_the_footprints_it_meets(api, db):
    """A CQL2 JSON ``{"bbox": [...]}`` (CRS84) became a polygon of infinite coordinates in
    pygeoapi's CRS handling: a 500. Expected: the footprints the box meets, by shapely on
    the stored rows, the box projected to the storage CRS by pyproj."""
    rows = db.rows("SELECT code, ST_AsBinary(geom) FROM buildings WHERE valid_to IS NULL")
    code, x, y = db.rows("SELECT code, ST_X(ST_PointOnSurface(geom)), "
                         "ST_Y(ST_PointOnSurface(geom)) FROM buildings "
                         "WHERE valid_to IS NULL ORDER BY id LIMIT 1")[0]
    to_lonlat = Transformer.from_crs(db.profile.srid, 4490, always_xy=True)
    to_storage = Transformer.from_crs(4490, db.profile.srid, always_xy=True)
    lon, lat = to_lonlat.transform(x, y)
    box = [lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002]
    ring = shapely.segmentize(shapely.box(*box), 0.0001)
    area = shapely.transform(ring, lambda c: list(zip(*to_storage.transform(c[:, 0], c[:, 1]))))
    want = {c for c, g in rows if shapely.from_wkb(bytes(g)).intersects(area)}
    assert code in want and len(want) < len(rows)  # premise: a real selection

    r = _post(api, {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": box}]})
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert {f["id"] for f in r.json()["features"]} == want


def test_a_filter_that_is_neither_cql2_nor_ecql_says_what_is_wrong(api):
    """Without ``filter-lang`` a filter that is not CQL2 Text goes to pygeoapi's ECQL
    parser; when that fails too the answer was "Bad CQL text" (every format), naming
    nothing. The CQL2 reading's message says where and what."""
    cases = {
        "height >": "end of filter",
        "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))": "geometry",
        "S_INTERSECTS(geometry, BBOX(117,35,116,36))": "lower corner",
        "S_DWITHIN(geometry, POINT(116.6 35.37), 5, parsecs)": "parsecs",
    }
    for flt, says in cases.items():
        for fmt in ("json", "csv"):
            r = requests.get(f"{api}/collections/buildings/items",
                             params={"filter": flt, "f": fmt}, timeout=60)
            assert r.status_code == 400, (flt, fmt, r.status_code, r.text[:300])
            text = r.json()["description"]
            assert text.startswith("filter:") and says in text, (flt, fmt, text)
    # pygeoapi's ECQL, which is no CQL2, is still answered
    r = requests.get(f"{api}/collections/buildings/items",
                     params={"filter": "INTERSECTS(geometry, POINT(1 2))"}, timeout=60)
    assert r.status_code == 200, r.text[:300]


def test_an_ecql_filter_takes_the_filter_crs_by_any_of_its_names(api, db):
    """``filter-crs=EPSG:4527`` (or its URN, or ``[EPSG:4527]``) is taken by the CQL2 path and
    by ``crs``/``bbox-crs``; with pygeoapi's ECQL (``INTERSECTS``, no ``S_``) it reached
    pygeoapi as sent, whose CRS handling reads only the URI: "Bad CQL text". The storage CRS
    is northing first (X = N): a point inside a footprint, N E, selects that footprint."""
    code, e, n = db.rows("SELECT code, ST_X(ST_PointOnSurface(geom)), "
                         "ST_Y(ST_PointOnSurface(geom)) FROM buildings "
                         "WHERE valid_to IS NULL ORDER BY id LIMIT 1")[0]
    want = {c for (c,) in db.rows(
        "SELECT code FROM buildings WHERE valid_to IS NULL AND "
        "ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), %s))", (e, n, db.profile.srid))}
    assert code in want  # premise
    srid = db.profile.srid
    for name in (f"EPSG:{srid}", f"urn:ogc:def:crs:EPSG::{srid}", f"[EPSG:{srid}]"):
        for fmt in ("json", "csv"):
            r = requests.get(f"{api}/collections/buildings/items",
                             params={"filter": f"INTERSECTS(geometry, POINT({n} {e}))",
                                     "filter-crs": name, "f": fmt}, timeout=60)
            assert r.status_code == 200, (name, fmt, r.status_code, r.text[:300])
            got = ({f["id"] for f in r.json()["features"]} if fmt == "json"
                   else {line.split(",")[0] for line in r.text.splitlines()[1:]})
            assert got == want, (name, fmt, got)


def test_a_post_with_an_unknown_query_parameter_is_a_400_naming_it(api):
    """A GET with an unknown parameter is a 400 naming it; the same parameter beside a POSTed
    filter was ignored (a misspelt ``limt=5`` answered the default page as if understood)."""
    r = _post(api, {"op": "=", "args": [{"property": "use_name"}, "住宅"]}, limt=5)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert "limt" in r.json()["description"], r.text[:300]
    r = _post(api, {"op": "=", "args": [{"property": "use_name"}, "住宅"]}, limit=5,
              use_code="01")  # a property filter is no unknown parameter
    assert r.status_code == 200, r.text[:300]
    assert r.json()["numberReturned"] == 5
