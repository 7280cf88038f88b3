"""A client's mistakes answered as the client's: in its language, as a 400 that names what is
wrong, and not as the server's ERROR in its log.

- pygeoapi renders its HTML error pages in its system locale: a 404 asked for in Chinese
  (``lang=zh``, a browser's ``Accept-Language: zh-CN``) said ``<html lang="en">``, "Exception".
- A CQL2 number beyond a double's range (``1e400``) was read as infinity by pygeoapi's ECQL
  fallback: an empty page (200) instead of a 400 naming the literal.
- A filter pygeoapi cannot parse, or one PostgreSQL refuses for its types or geometry, was
  logged at ERROR (with a traceback), and an empty CSV page too ("no features").
- An ECQL filter could name a column the layer does not publish (a case's free-text
  ``description``): the count it answered read that text out, pattern by pattern.
"""

from __future__ import annotations

import html
import re

import requests

from tests.conftest import start_api

ITEMS = "/collections/buildings/items"


def said(r: requests.Response) -> str:
    """A 400's message: the JSON document's, or the text of the HTML error page an f=html
    request gets (tests/test_api15_html_errors.py), its entities read back."""
    if r.headers["Content-Type"].startswith("text/html"):
        return html.unescape(r.text)
    return r.json()["description"]


def test_an_html_error_page_is_in_the_requested_language(api):
    page = requests.get(f"{api}/collections/buildings", params={"f": "html", "lang": "zh"},
                        timeout=60)
    assert '<html lang="zh"' in page.text  # premise: the other pages are
    for path, params, headers in [
            ("/collections/nosuch", {"f": "html", "lang": "zh"}, {}),
            ("/collections/nosuch", {"f": "html"}, {"Accept-Language": "zh-CN,zh;q=0.9"}),
            (f"{ITEMS}/nosuch", {"f": "html", "lang": "zh"}, {}),
            ("/collections/nosuch", {}, {"Accept": "text/html", "Accept-Language": "zh"})]:
        r = requests.get(api + path, params=params, headers=headers, timeout=60)
        assert r.status_code == 404, (path, params, r.status_code)
        assert '<html lang="zh"' in r.text, (path, params, headers, r.text[:300])
        assert "异常" in r.text and r.headers["Content-Language"].startswith("zh")
    r = requests.get(f"{api}/collections/nosuch", params={"f": "html", "lang": "en"},
                     headers={"Accept-Language": "zh-CN"}, timeout=60)
    assert '<html lang="en"' in r.text and "Exception" in r.text  # lang= wins


def test_a_number_beyond_a_double_is_the_filters_400(api, db):
    assert db.scalar("SELECT count(*) FROM buildings WHERE height > 50") > 0  # premise
    for text, literal in [("height > 1e400", "1e400"), ("height < -1E400", "-1E400"),
                          ("height > 50 AND height < 1e999", "1e999"),
                          # not CQL2 (ILIKE): pygeoapi's ECQL would have answered
                          ("name ILIKE '%大厦%' AND height > 1e400", "1e400")]:
        for f in ("json", "csv", "html"):
            r = requests.get(api + ITEMS, params={"filter": text, "f": f}, timeout=60)
            assert r.status_code == 400, (text, f, r.status_code, r.text[:200])
            assert literal in said(r), (text, f, r.text[:300])


def test_an_ecql_filter_reads_only_the_published_properties(api, db):
    assert db.scalar("SELECT count(*) FROM cases WHERE valid_to IS NULL "
                     "AND description IS NOT NULL") > 0  # premise: free text to protect
    queryables = requests.get(f"{api}/collections/cases/queryables", timeout=60).json()
    assert "description" not in queryables["properties"]  # premise: not published
    for text in ("description LIKE '%' AND code ILIKE '%'",  # ILIKE: ECQL, pygeoapi's path
                 "address IS NULL AND code ILIKE '%'"):
        for f in ("json", "csv"):
            r = requests.get(f"{api}/collections/cases/items",
                             params={"filter": text, "f": f, "resulttype": "hits"}, timeout=60)
            assert r.status_code == 400, (text, f, r.status_code, r.text[:300])
            name = text.split()[0]
            assert f"'{name}'" in r.json()["description"], r.text[:300]
    # a published property still filters by ECQL, as SQL selects
    state = db.scalar("SELECT state FROM cases WHERE valid_to IS NULL LIMIT 1")
    want = db.scalar("SELECT count(*) FROM cases WHERE valid_to IS NULL AND state = %s",
                     (state,))
    r = requests.get(f"{api}/collections/cases/items",
                     params={"filter": f"state = '{state}' AND code ILIKE '%'",
                             "resulttype": "hits"}, timeout=60)
    assert r.status_code == 200 and r.json()["numberMatched"] == want, r.text[:300]


def test_a_clients_bad_filter_is_no_error_of_the_server(db, tmp_path):
    bad = [  # (parameters, a text the 400 names)
        ({"filter": "valid_from > '2026-01-01' AND name ILIKE 'x%'"}, "timestamp"),
        ({"filter": "INTERSECTS(geometry, POINT(200 100)) AND name ILIKE 'x'"}, "geometry"),
        ({"filter": "INTERSECTS(geometry, POINT(116.6 35.4)) AND name ILIKE 'x'",
          "filter-crs": "EPSG:9999"}, "filter-crs"),
        ({"filter": '{"eq": [{"property": "name"}, "x"]}',  # the 2021 draft's CQL JSON:
          "filter-lang": "cql-json"}, '"op"'),  # read as CQL2 JSON, its form named
        ({"filter": "NOT (height > 20"}, "')'"),
    ]
    proc, base = start_api(db.url, db.profile, tmp_path)
    try:
        for params, named in bad:
            for f in ("json", "csv", "html"):
                r = requests.get(base + ITEMS, params={**params, "f": f}, timeout=60)
                assert r.status_code == 400, (params, f, r.status_code, r.text[:300])
                if f != "html":
                    assert named in r.json()["description"], (params, r.text[:300])
        r = requests.get(base + ITEMS, params={"filter": "name = '没有这栋楼'", "f": "csv"},
                         timeout=60)
        assert r.status_code == 200 and r.text.splitlines()[0].startswith("code,")
        assert len(r.text.splitlines()) == 1  # the header only: nothing matched
    finally:
        proc.terminate()
        proc.wait(10)
    log = (tmp_path / "gunicorn.log").read_text()
    # (the ECQL filters above are pygeoapi's to answer: its backend's 400s are logged …)
    assert "Traceback" not in log, log[-3000:]
    assert not re.search(r"\b(ERROR|CRITICAL)\b", log), log[-3000:]  # … no ERROR


def test_a_property_given_by_its_shown_name_is_told_its_key(api):
    """A planner copies a column's heading (QGIS's alias, the HTML page's, the queryables'
    title: 建筑名称) into ``properties`` or ``sortby``; the 400 listed the keys but not which
    is which, as the filter's 400 does (``_by_its_key``)."""
    props = requests.get(f"{api}/collections/buildings/queryables", timeout=60).json()[
        "properties"]
    shown = {p["title"]: key for key, p in props.items()
             if key in ("name", "height") and not p["title"].isascii()}
    assert len(shown) == 2, props  # premise: both shown by a Chinese name
    for params in ({"properties": ",".join(shown)},
                   {"sortby": "-" + next(iter(shown))}):
        for f in ("json", "csv", "html"):
            r = requests.get(api + ITEMS, params={**params, "f": f}, timeout=60)
            assert r.status_code == 400, (params, f, r.status_code)
            text = said(r)
            named = shown if "properties" in params else dict([next(iter(shown.items()))])
            for title, key in named.items():
                assert f"'{title}' is the name shown for the property {key}" in text, text
