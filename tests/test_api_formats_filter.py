"""A CQL2 ``filter`` gives the same features in every format (review 8): pygeoapi's HTML, CSV
and JSON-LD pages parsed ``filter`` as ECQL, so ``S_INTERSECTS``, ``TIMESTAMP('…')`` or
``filter-lang=cql2-text`` were 400s there while GeoJSON answered them. Expected values come
from the survey file (shapely/pyproj) or by construction (instants before the load)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import numpy as np
import pyogrio
import pyproj
import pytest
import requests
import shapely

from tests.conftest import SAMPLE_BUILDINGS, start_api

ITEMS = "/collections/buildings/items"
POLY = "POLYGON((116.60 35.34, 116.62 35.34, 116.62 35.36, 116.60 35.36, 116.60 35.34))"


@pytest.fixture(scope="module")
def served(tmp_path_factory, jining_profile):
    from cim.db.engine import drop_database
    from loaders.buildings import load_buildings
    from tests.conftest import make_db, server_url

    d = make_db("fmtflt", jining_profile)
    before = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    proc, base = start_api(d.url, jining_profile, tmp_path_factory.mktemp("fmtflt"))
    keys = dict(d.rows("SELECT split_part(source_key, ':', 2), code FROM buildings "
                       "WHERE valid_to IS NULL"))
    try:
        yield {"base": base, "before": before, "keys": keys}
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


def _survey(served):
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    to_ll = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True)

    def ll(c):
        x, y = to_ll.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return [(served["keys"][k], shapely.transform(g, ll), h)
            for k, g, h in zip(survey["编号"], survey.geometry, survey["建筑高度"])]


def _codes(served, fmt, **params):
    r = requests.get(served["base"] + ITEMS, params={"f": fmt, "limit": 5000, **params},
                     timeout=120)
    assert r.status_code == 200, (fmt, r.status_code, r.text[:300])
    if fmt == "json":
        return {f["id"] for f in r.json()["features"]}
    if fmt == "jsonld":
        return {f["@id"].rsplit("/", 1)[-1] for f in r.json()["features"]}
    if fmt == "csv":
        return {row["code"] for row in csv.DictReader(io.StringIO(r.text))}
    return r.text  # html


CASES = {
    "spatial": lambda s: ({"filter": f"S_INTERSECTS(geometry, {POLY})"},
                          {c for c, g, _ in _survey(s) if g.intersects(shapely.from_wkt(POLY))}),
    "cql2-text": lambda s: ({"filter": "height > 20 AND S_INTERSECTS(geometry, " + POLY + ")",
                             "filter-lang": "cql2-text"},
                            {c for c, g, h in _survey(s)
                             if h > 20 and g.intersects(shapely.from_wkt(POLY))}),
    "timestamp-all": lambda s: ({"filter": f"valid_from > TIMESTAMP('{s['before']}')"},
                                set(s["keys"].values())),
    "timestamp-none": lambda s: ({"filter": f"valid_from < TIMESTAMP('{s['before']}')"}, set()),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", ["json", "csv", "jsonld"])
def test_a_cql2_filter_gives_the_same_features_in_every_format(served, case, fmt):
    params, expected = CASES[case](served)
    assert _codes(served, fmt, **params) == expected


def test_html_page_of_a_cql2_filter_lists_its_features_and_keeps_it_in_its_links(served):
    params, expected = CASES["cql2-text"](served)
    assert 5 < len(expected) < 500
    page = _codes(served, "html", **params)
    others = set(served["keys"].values()) - expected
    assert all(c in page for c in expected)
    assert not any(c in page for c in others)
    first = _codes(served, "html", **params, limit=3)
    # the next link (a keyset cursor, as GeoJSON's) keeps the filter
    assert "cursor=" in first and "S_INTERSECTS" in first


def test_a_broken_cql2_filter_is_a_400_naming_it_in_every_format(served):
    for fmt in ("json", "csv", "html"):
        r = requests.get(served["base"] + ITEMS, params={
            "f": fmt, "filter": "nosuch > 1", "filter-lang": "cql2-text"}, timeout=60)
        assert r.status_code == 400 and "nosuch" in r.text, (fmt, r.text[:200])


@pytest.mark.parametrize("fmt", ["csv", "html"])
@pytest.mark.parametrize("name,field,value", [("height", "建筑高度", "22.6"),
                                              ("floors_above", "地上层数", "7"),
                                              ("year_built", "建成年代", "2014")])
def test_a_number_property_filter_on_pygeoapis_pages(served, fmt, name, field, value):
    """``height=22.6`` on CSV/HTML: pygeoapi handed the provider text, compared with a
    number column as an error (a 500); now the survey's features of that value."""
    survey = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    expected = {served["keys"][k] for k, v in zip(survey["编号"], survey[field])
                if float(v) == float(value)}
    assert expected
    got = _codes(served, fmt, **{name: value})
    if fmt == "csv":
        assert got == expected
    else:
        others = set(served["keys"].values()) - expected
        assert all(c in got for c in expected) and not any(c in got for c in others)


@pytest.mark.parametrize("params,named", [
    ({"sortby": ""}, "sortby"), ({"sortby": ","}, "sortby"),  # CSV/HTML: a 500 in pygeoapi
    ({"properties": ""}, "properties"),  # GeoJSON gave the ids, pygeoapi a 400
    ({"datetime": "2020-01-01/2019-01-01"}, "datetime"),  # was 200 with nothing
    ({"datetime": "2020-01-01T00:00:00Z/2019-12-31T00:00:00Z"}, "datetime"),
])
def test_a_request_that_asks_nothing_sensible_is_the_same_400_in_every_format(
        served, params, named):
    for fmt in ("json", "csv", "html"):
        r = requests.get(served["base"] + ITEMS, params={"f": fmt, **params}, timeout=60)
        if fmt == "html":  # the error page (tests/test_api15_html_errors.py), saying the same
            assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/html")
            assert named in r.text, r.text[-2000:]
            continue
        assert r.status_code == 400 and named in r.json()["description"], (fmt, r.text[:200])


def test_jsonld_of_an_item_is_in_crs84_only(served):
    """schema:geo and GeoSPARQL's WKT are longitude/latitude by definition: with crs=EPSG:4490
    pygeoapi wrote latitude as schema:longitude (and metres, with EPSG:4527) — refused; the
    default, CRS84, and f=json in any advertised CRS still answer (probe of session 19)."""
    import requests

    code = sorted(served["keys"].values())[0]
    url = f"{served['base']}/collections/buildings/items/{code}"
    for crs in ("EPSG:4490", "http://www.opengis.net/def/crs/EPSG/0/4527"):
        r = requests.get(url, params={"f": "jsonld", "crs": crs}, timeout=60)
        assert r.status_code == 400 and "JSON-LD is in CRS84" in r.text, r.text[:300]
    r = requests.get(url, params={"f": "jsonld"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    items = f"{served['base']}/collections/buildings/items"
    r = requests.get(items, params={"f": "jsonld", "crs": "EPSG:4490", "limit": 2}, timeout=60)
    assert r.status_code == 400 and "JSON-LD is in CRS84" in r.text, r.text[:300]
    assert requests.get(items, params={"f": "jsonld", "limit": 2}, timeout=60).ok
    r = requests.get(url, params={"f": "json", "crs": "EPSG:4490"}, timeout=60)
    assert r.status_code == 200
