"""The platform's own refusals read in a browser: a planner who mistypes a parameter in the
address bar (or follows a stale link) got a JSON exception document; a request for HTML —
``f=html``, or a browser's ``Accept`` — now gets pygeoapi's error page (as pygeoapi's own
refusals do) saying the same, escaped, in the request's language. A client's
request (``Accept: */*``, ``application/json``) still gets JSON."""

from __future__ import annotations

import html

import requests

ITEMS = "/collections/buildings/items"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_bad_parameter_asked_for_html_is_a_page_saying_it(api):
    r = requests.get(api + ITEMS, params={"f": "html", "limit": "十"}, timeout=60)
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    own = requests.get(api + "/collections/nope/items", params={"f": "html"}, timeout=60)
    assert own.status_code == 404  # pygeoapi's own refusal: the page to look like
    assert r.headers["Content-Language"] == own.headers["Content-Language"]
    assert r.headers["Content-Language"].startswith("zh") and '<html lang="zh"' in r.text
    assert r.text.split("<title>")[1].split("<")[0] == own.text.split("<title>")[1].split("<")[0]
    as_json = requests.get(api + ITEMS, params={"limit": "十"}, timeout=60)
    assert as_json.status_code == 400 and as_json.headers["Content-Type"] == "application/json"
    said = as_json.json()["description"]
    assert said.startswith("limit must be") and "十" in said
    assert html.escape(said, quote=False).replace("'", "&#39;") in r.text  # the same words


def test_a_browsers_accept_gets_the_page_and_a_clients_gets_json(api):
    bad = {"bbox": "1,2,<b>x</b>"}
    page = requests.get(api + ITEMS, params=bad, headers={"Accept": BROWSER}, timeout=60)
    assert page.status_code == 400 and page.headers["Content-Type"].startswith("text/html")
    assert "<b>" not in page.text and "bbox" in page.text  # (the page strips tags)
    for accept in ("*/*", "application/json", "application/geo+json"):
        r = requests.get(api + ITEMS, params=bad, headers={"Accept": accept}, timeout=60)
        assert r.status_code == 400 and r.headers["Content-Type"] == "application/json", accept
        assert "bbox" in r.json()["description"]


def test_an_unserved_route_in_a_browser_is_a_page(api):
    r = requests.get(api + "/collections/buildings/map", headers={"Accept": BROWSER},
                     timeout=60)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    assert "the platform&#39;s collections are features" in r.text  # its message
