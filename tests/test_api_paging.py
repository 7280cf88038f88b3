"""The platform's items path (issue 8): keyset paging, the capped count, 400s for bad
parameters, and the app factory. Expected values come from SQL on the session database or
from the survey file, never from the server."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import pyogrio
import pyproj
import pytest
import requests
import shapely

from tests.conftest import PROJECT_ROOT, SAMPLE_BUILDINGS, start_api

CAP = 100


@pytest.fixture(scope="module")
def capped_api(db, tmp_path_factory):
    """The session database served with a small count cap and page limit."""
    proc, base = start_api(db.url, db.profile, tmp_path_factory.mktemp("capped"),
                           count_cap=CAP, items_max_limit=500, items_max_offset=1000)
    yield base
    proc.terminate()
    proc.wait(10)


def _get(base, coll="buildings", **params):
    return requests.get(f"{base}/collections/{coll}/items", params={"f": "json", **params},
                        timeout=60)


def _harvest(url):
    pages, ids = [], []
    while url:
        r = requests.get(url, timeout=60)
        assert r.status_code == 200, r.text
        fc = r.json()
        pages.append(fc)
        ids += [f["id"] for f in fc["features"]]
        nxt = [lk["href"] for lk in fc["links"] if lk["rel"] == "next"]
        assert len(nxt) <= 1
        url = nxt[0] if nxt else None
        assert len(pages) < 100, "next links do not end"
    return pages, ids


@pytest.mark.parametrize("layer", ["buildings", "pipe_points"])
def test_next_links_visit_every_feature_once(capped_api, db, layer):
    """Keyset `next` links (a cursor, not an offset) over a whole layer, above the cap."""
    expected = [c for c, in db.rows(f"SELECT code FROM {layer} WHERE valid_to IS NULL "
                                    "ORDER BY id")]
    assert len(expected) > 2 * CAP
    pages, ids = _harvest(f"{capped_api}/collections/{layer}/items?f=json&limit=97")
    assert ids == expected  # each exactly once, in id order
    nexts = [lk["href"] for p in pages for lk in p["links"] if lk["rel"] == "next"]
    assert nexts and all("cursor=" in h and "offset=" not in h for h in nexts)
    assert all("numberMatched" not in p for p in pages)  # above the cap: omitted


def test_next_links_with_a_bbox_follow_the_survey(capped_api, db):
    """A CRS84 bbox harvested page by page: the survey's footprints meeting it (shapely)."""
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    keys = dict(db.rows("SELECT split_part(source_key, ':', 2), code FROM buildings "
                        "WHERE valid_to IS NULL"))
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True)
    bbox = (116.605, 35.345, 116.62, 35.36)
    expected = {keys[k] for k, g in zip(survey["编号"], survey.geometry)
                if shapely.transform(g, lambda c: np_t(to_ll, c)).intersects(shapely.box(*bbox))}
    assert len(expected) > CAP
    pages, ids = _harvest(f"{capped_api}/collections/buildings/items?f=json&limit=40&bbox="
                          + ",".join(map(str, bbox)))
    assert len(ids) == len(set(ids)) and set(ids) == expected


def np_t(tr, c):
    import numpy as np

    x, y = tr.transform(c[:, 0], c[:, 1])
    return np.column_stack([x, y])


def test_count_is_exact_below_the_cap_and_omitted_above(capped_api, db):
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", read_geometry=False)
    n_res = int((survey["建筑用途"] == "办公").sum())  # the survey file's own count
    assert 5 < n_res <= CAP
    fc = _get(capped_api, use_name="办公", limit=5).json()
    assert fc["numberMatched"] == n_res and fc["numberReturned"] == 5
    total = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    fc = _get(capped_api, limit=5).json()
    assert "numberMatched" not in fc and fc["numberReturned"] == 5
    hits = _get(capped_api, resulttype="hits").json()
    assert hits["numberMatched"] == total and hits["features"] == []


def test_offset_still_works(capped_api, db):
    codes = [c for c, in db.rows("SELECT code FROM buildings WHERE valid_to IS NULL "
                                 "ORDER BY id LIMIT 50")]
    fc = _get(capped_api, offset=37, limit=5).json()
    assert [f["id"] for f in fc["features"]] == codes[37:42]
    prev = [lk["href"] for lk in fc["links"] if lk["rel"] == "prev"]
    assert prev and parse_qs(urlparse(prev[0]).query)["offset"] == ["32"]
    nxt = [lk["href"] for lk in fc["links"] if lk["rel"] == "next"]
    after = requests.get(nxt[0], timeout=60).json()
    assert [f["id"] for f in after["features"]] == codes[42:47]


@pytest.mark.parametrize("params, words", [
    ({"limit": "-1"}, "limit"), ({"limit": "abc"}, "limit"), ({"limit": "0"}, "limit"),
    ({"offset": "-5"}, "offset"), ({"offset": "5000"}, "offset"),
    ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": "116.7,35.3,116.6,35.4"}, "bbox"), ({"bbox": "1,2,3,nan"}, "bbox"),
    ({"bbox": "0,95,1,96"}, "bbox"),
    ({"crs": "http://www.opengis.net/def/crs/EPSG/0/999999"}, "crs"),
    ({"crs": "EPSG:3857"}, "crs"),
    ({"bbox": "1,2,3,4", "bbox-crs": "urn:nonsense"}, "bbox-crs"),
    ({"bbox-crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}, "bbox"),
    ({"unknown_param": "1"}, "unknown_param"), ({"height;drop table x": "1"}, "drop"),
    ({"sortby": "nosuch"}, "nosuch"), ({"properties": "name,nosuch"}, "nosuch"),
    ({"height": "tall"}, "height"), ({"floors_above": "1.5"}, "floors_above"),
    ({"resulttype": "all"}, "resulttype"), ({"cursor": "x"}, "cursor"),
    ({"skipGeometry": "maybe"}, "skipGeometry"),
])
def test_bad_parameters_are_400_with_a_message(capped_api, params, words):
    r = _get(capped_api, **params)
    assert r.status_code == 400, (params, r.status_code, r.text[:300])
    assert words in r.json()["description"], r.text


def test_unknown_parameters_are_refused_in_html_too(capped_api):
    r = requests.get(f"{capped_api}/collections/buildings/items",
                     params={"f": "html", "colour": "red"}, timeout=60)
    assert r.status_code == 400 and "colour" in r.text
    html = requests.get(f"{capped_api}/collections/buildings/items?f=html&limit=3", timeout=60)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")


def test_geojson_by_accept_header_and_response_members(capped_api, db):
    r = requests.get(f"{capped_api}/collections/buildings/items?limit=2",
                     headers={"Accept": "application/geo+json"}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["numberReturned"] == 2
    assert {"timeStamp", "links"} <= set(fc)
    assert {lk["rel"] for lk in fc["links"]} >= {"self", "alternate", "next", "collection"}
    first = db.scalar("SELECT code FROM buildings WHERE valid_to IS NULL ORDER BY id LIMIT 1")
    assert fc["features"][0]["id"] == fc["features"][0]["properties"]["code"] == first
    one = requests.get(f"{capped_api}/collections/buildings/items/{first}?f=json", timeout=60)
    assert one.status_code == 200 and one.json()["id"] == first
    assert one.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"


def test_skip_geometry_and_limit_above_the_maximum(capped_api):
    fc = _get(capped_api, skipGeometry="true", limit=100000).json()
    assert fc["numberReturned"] == 500  # items_max_limit of this server
    assert all(f["geometry"] is None for f in fc["features"])


def test_importing_the_app_module_builds_nothing():
    """Settings are read and pygeoapi imported by create_app(), never at import time."""
    code = ("import sys, services.app, services.serve; "
            "assert 'pygeoapi.flask_app' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin", "CIM_PROFILE": "/nonexistent"})
    assert out.stdout.strip() == "ok", out.stderr


POLY = "POLYGON((116.60 35.34, 116.62 35.34, 116.62 35.36, 116.60 35.36, 116.60 35.34))"


def _survey_codes_meeting(db, area):
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    keys = dict(db.rows("SELECT split_part(source_key, ':', 2), code FROM buildings "
                        "WHERE valid_to IS NULL"))
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True)
    return {keys[k] for k, g in zip(survey["编号"], survey.geometry)
            if shapely.transform(g, lambda c: np_t(to_ll, c)).intersects(area)}


@pytest.mark.parametrize("lang", ["cql2-text", "cql2-json"])
def test_cql2_filters_on_the_platforms_path(capped_api, db, lang):
    """CQL2 S_INTERSECTS (text and JSON) in CRS84, paged with cursors: the survey's answer."""
    area = shapely.from_wkt(POLY)
    expected = _survey_codes_meeting(db, area)
    assert len(expected) > CAP
    import json

    flt = f"S_INTERSECTS(geometry, {POLY})" if lang == "cql2-text" else json.dumps(
        {"op": "s_intersects", "args": [{"property": "geometry"},
                                        shapely.geometry.mapping(area)]})
    r = _get(capped_api, filter=flt, **{"filter-lang": lang}, limit=300)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/geo+json"  # not pygeoapi's answer
    pages, ids = _harvest(r.url)
    assert len(ids) == len(set(ids)) and set(ids) == expected


def test_broken_cql2_is_400_and_ecql_still_goes_to_pygeoapi(capped_api, db):
    r = _get(capped_api, filter="height >>> 5", **{"filter-lang": "cql2-text"})
    assert r.status_code == 400 and r.json()["description"].startswith("filter")
    expected = _survey_codes_meeting(db, shapely.from_wkt(POLY))
    fc = _get(capped_api, filter=f"INTERSECTS(geometry, {POLY})", limit=2000).json()  # ECQL
    assert {f["id"] for f in fc["features"]} == expected


def test_last_cursor_page_exactly_full_has_no_next_link(capped_api, db):
    """The page statement reads one row ahead: a last page that is exactly full ends there."""
    n = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL AND use_name = '办公'")
    assert n > 5
    first = _get(capped_api, use_name="办公", limit=5).json()
    nxt = [lk["href"] for lk in first["links"] if lk["rel"] == "next"][0]
    assert "cursor=" in nxt and "&limit=5" in nxt
    last = requests.get(nxt.replace("&limit=5", f"&limit={n - 5}"), timeout=60).json()
    assert last["numberReturned"] == n - 5
    assert [lk for lk in last["links"] if lk["rel"] == "next"] == []


def test_pygeoapis_pages_count_as_the_geojson_path(capped_api, db):
    """HTML (and an ECQL filter's GeoJSON, pygeoapi's) counted every match on every page: on
    a million footprints each page of 10 counted them all. They count up to the cap as the
    GeoJSON path does, and omit the count above it (review 9)."""
    import re

    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", read_geometry=False)
    n_res = int((survey["建筑用途"] == "办公").sum())
    assert 5 < n_res <= CAP
    total = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    assert total > CAP

    def html_count(**params):
        r = _get(capped_api, f="html", limit=5, **params)
        assert r.status_code == 200, r.text[:300]
        return [int(n) for n in re.findall(r"<p>[^<:]*: (\d+)</p>", r.content.decode())]

    assert html_count(use_name="办公") == [n_res]
    assert html_count() == []  # above the cap: no count
    ecql = "BBOX(geometry,115,34,118,37)"  # ECQL, no CQL2: pygeoapi's GeoJSON page
    fc = _get(capped_api, filter=ecql, use_name="办公", limit=5).json()
    assert fc["numberMatched"] == n_res and fc["numberReturned"] == 5
    fc = _get(capped_api, filter=ecql, limit=5).json()
    assert "numberMatched" not in fc and fc["numberReturned"] == 5
    hits = _get(capped_api, filter=ecql, resulttype="hits").json()
    assert hits["numberMatched"] == total
