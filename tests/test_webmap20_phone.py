"""The one map on a phone (390 × 844, real Chromium): the map is drawn across the screen, the
bar's tools and the OGC API link are on the screen and work, the layer tree and the info panel
are reachable below the map — at that width the map was 0 px wide (the two panels filled the
screen) and 清除, 横断面 and the link lay off the screen."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.test_webmap import open_map, wait

W, H = 390, 844


@pytest.fixture(scope="module")
def phone(api):
    proxy = RecordingProxy(urllib.parse.urlsplit(api).netloc)
    driver = chromium(proxy, width=W, height=H)
    # (a desktop window is at least 500 px wide: the phone's screen is emulated, as DevTools'
    # device toolbar does)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": W, "height": H, "deviceScaleFactor": 2, "mobile": True})
    yield driver, proxy
    quit_chromium(driver)
    proxy.shutdown()


def _rect(driver, css: str) -> dict:
    return driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, "
        "width: r.width, height: r.height}", css)


def test_the_map_and_its_tools_fit_a_phone(phone, api):
    driver, _proxy = phone
    open_map(driver, api)
    vw = driver.execute_script("return window.innerWidth")
    vh = driver.execute_script("return window.innerHeight")
    assert vw <= W
    m = _rect(driver, "#map")
    assert m["width"] >= 0.95 * vw and m["height"] >= 0.4 * vh, m
    for css in ("#tool-aoi", "#tool-section", "#tool-clear", "#bar a", "#code"):
        r = _rect(driver, css)
        assert r["left"] >= 0 and r["right"] <= vw and r["top"] >= 0 and r["bottom"] <= vh, \
            (css, r)
    for css in ("#tree", "#info"):  # below the map, side by side, each on the screen
        r = _rect(driver, css)
        assert r["top"] >= m["bottom"] - 1 and r["bottom"] <= vh + 1 and r["width"] > 100, \
            (css, r)
    driver.find_element("id", "tool-clear").click()  # reachable: no click intercepted
    driver.find_element("css selector", "#bar a").click()
    wait(driver, "return location.pathname === '/collections'")
