"""The offline promise in real headless Chromium (review 11): the OGC API's HTML pages and the
web map, with every request to another host refused by the recording proxy
(tests/browser.py), load nothing from elsewhere, show their content and log no error in the
browser console (a failed request is one: pygeoapi's tile matrix set pages asked unpkg.com
for Bootstrap, /map asked for a /favicon.ico that is a 404)."""

from __future__ import annotations

import urllib.parse

import pytest
import requests

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.test_webmap import lonlat_inside, open_map, page_external, wait

PAGES = ["/", "/collections", "/conformance", "/openapi?f=html",
         "/collections/buildings?f=html", "/collections/buildings/items?f=html&limit=20",
         "/collections/buildings/queryables?f=html", "/TileMatrixSets?f=html",
         "/TileMatrixSets/WebMercatorQuad?f=html"]


@pytest.fixture(scope="module")
def logged_browser(api, monkeypatch_module):
    """tests/browser.py's Chromium with its console kept (goog:loggingPrefs)."""
    from selenium import webdriver

    class Options(webdriver.ChromeOptions):
        def __init__(self) -> None:
            super().__init__()
            self.set_capability("goog:loggingPrefs", {"browser": "ALL"})

    monkeypatch_module.setattr(webdriver, "ChromeOptions", Options)
    proxy = RecordingProxy(urllib.parse.urlsplit(api).netloc)
    driver = chromium(proxy)
    yield driver, proxy
    quit_chromium(driver)
    proxy.shutdown()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize("path", PAGES)
def test_ogc_pages_offline_without_console_errors(logged_browser, api, path):
    driver, proxy = logged_browser
    driver.get_log("browser")  # drop what an earlier page left
    proxy.clear()
    driver.get(api + path)
    wait(driver, "return document.readyState === 'complete'")
    wait(driver, "return document.body.innerText.trim().length > 0")
    if path.startswith("/TileMatrixSets"):
        assert "WebMercatorQuad" in driver.find_element("tag name", "body").text
        if path.startswith("/TileMatrixSets?"):  # the set's link opens its HTML page
            href = driver.find_element("css selector", "td a").get_attribute("href")
            assert href.endswith("/TileMatrixSets/WebMercatorQuad?f=html"), href
        # Bootstrap (the server's copy) is applied: its .table style has a bottom margin
        assert driver.execute_script(
            "const t = document.querySelector('table, .container');"
            "return t && getComputedStyle(t).marginBottom !== '0px' "
            "|| getComputedStyle(document.querySelector('.container')).maxWidth !== 'none'")
    if path.startswith("/openapi"):
        # the document loaded and parsed (Swagger UI draws the operations in view only)
        wait(driver, "return document.querySelectorAll('.opblock').length > 0")
        assert driver.execute_script("return !document.querySelector('.errors-wrapper')")
    assert page_external(proxy) == [], page_external(proxy)
    failed = {u: s for u, s in proxy.statuses.items() if s >= 400}
    assert failed == {}, failed
    assert console_errors(driver) == []


def test_map_offline_without_console_errors(logged_browser, api, db):
    """/map at a building: features drawn from the server's tiles only, no console error."""
    driver, proxy = logged_browser
    driver.get_log("browser")
    proxy.clear()
    open_map(driver, api)
    code, lonlat = lonlat_inside(db, "buildings")
    driver.execute_script("CIM_MAP.map.jumpTo({center: arguments[0], zoom: 17})", list(lonlat))
    wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded() "
                 "&& !m.isMoving()")
    got = driver.execute_script(
        "return CIM_MAP.map.queryRenderedFeatures().map(f => f.properties.code)")
    assert code in got
    assert page_external(proxy) == [], page_external(proxy)
    failed = {u: s for u, s in proxy.statuses.items() if s >= 400}
    assert failed == {}, failed
    assert console_errors(driver) == []
    assert requests.get(f"{api}/static/img/favicon.ico", timeout=30).status_code == 200


def _glyph_ids(pbf: bytes) -> set[int]:
    """The codepoints of a glyph PBF (fontstack 1 → glyph 3 → id 1), read by hand."""
    def fields(b: bytes):
        i = 0
        while i < len(b):
            k, i = _varint(b, i)
            if k & 7 == 0:
                v, i = _varint(b, i)
            else:
                n, i = _varint(b, i)
                v, i = b[i:i + n], i + n
            yield k >> 3, v

    return {v for f, stack in fields(pbf) if f == 1 for g, glyph in fields(stack) if g == 3
            for k, v in fields(glyph) if k == 1}


def _varint(b: bytes, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        c = b[i]
        i += 1
        out |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return out, i


def test_the_styles_marker_glyphs_are_served(api):
    """The style draws facility and pipe-point markers as glyphs (◆ ▲ ✚ ■): each is in a
    glyph range the server has, so the map asks no range it answers with a 404 (✚'s was,
    a console error on every load, the browser drawing it instead)."""
    style = requests.get(f"{api}/styles/onemap", timeout=30).json()
    chars = {ch for layer in style["layers"]
             for ch in (layer.get("layout", {}).get("text-field")
                        if isinstance(layer.get("layout", {}).get("text-field"), str) else "")}
    assert {"◆", "▲", "✚", "■"} <= chars
    stack = next(layer["layout"]["text-font"] for layer in style["layers"]
                 if layer.get("layout", {}).get("text-field") == "✚")
    for ch in chars:
        start = ord(ch) // 256 * 256
        url = (style["glyphs"].replace("{fontstack}", ",".join(stack))
               .replace("{range}", f"{start}-{start + 255}"))
        r = requests.get(url, timeout=30)
        assert r.status_code == 200, (ch, url)
        assert ord(ch) in _glyph_ids(r.content), ch
