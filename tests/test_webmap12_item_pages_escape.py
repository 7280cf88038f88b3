"""The OGC API's HTML item and items pages keep a delivery's text as text (review 12).

The pages write the features into a <script> as JSON (pygeoapi's ``to_json``, marked safe):
a building named ``</script><script>…`` in a surveyor's file closed the page's script and ran
its own in every browser that opened the building's page; the items page's map wrote the
title into its popup's HTML, so a name holding ``<img onerror=…>`` ran when a planner clicked
the footprint. Real delivery loaded by the buildings loader, the pages in real headless
Chromium: nothing of the names runs, and they are shown as written.
"""

from __future__ import annotations

import urllib.parse

import geopandas as gpd
import pyogrio
import pytest

from loaders.buildings import load_buildings
from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import SAMPLE_BUILDINGS, make_db, scratch_api
from tests.test_webmap import wait

CLOSE_SCRIPT = "</script><script>window.__cimXss = 'script'</script>"
IMG = "<img src=x onerror=\"window.__cimXss = 'img'\">"


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wm12xss")
    df = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK").iloc[:2].copy()
    df["建筑名称"] = [CLOSE_SCRIPT, IMG]
    path = tmp / "hostile_names.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(df, crs="EPSG:4527"), path)
    d = make_db("wm12xss", jining_profile)
    rep = load_buildings(d.conninfo, jining_profile, path)
    assert rep.status == "succeeded" and rep.loaded == 2, rep
    codes = dict(d.rows("SELECT name, code FROM buildings WHERE valid_to IS NULL"))
    with scratch_api(d, tmp) as base:
        proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
        driver = chromium(proxy)
        try:
            yield base, codes, driver
        finally:
            quit_chromium(driver)
            proxy.shutdown()


@pytest.mark.parametrize("name", [CLOSE_SCRIPT, IMG])
def test_an_item_page_shows_a_hostile_name_as_text(served, name):
    base, codes, driver = served
    driver.get(f"{base}/collections/buildings/items/{codes[name]}?f=html")
    wait(driver, "return document.readyState === 'complete'")
    # the page's own script ran to its end (the feature drawn on its map) …
    assert wait(driver, "return typeof geojson_data === 'object' && "
                        "document.querySelectorAll('#items-map path').length > 0", 30)
    assert driver.execute_script("return geojson_data.properties.name") == name
    # … and none of the name's
    assert driver.execute_script("return window.__cimXss === undefined")
    assert driver.find_element("tag name", "h1").text == name


def test_the_items_pages_popup_shows_a_hostile_name_as_text(served):
    base, codes, driver = served
    driver.get(f"{base}/collections/buildings/items?f=html&limit=10")
    wait(driver, "return document.readyState === 'complete'")
    assert wait(driver, "return typeof geojson_data === 'object' && geojson_data.length === 2",
                30)
    shown = driver.execute_script(
        "const out = [];"
        "items.eachLayer(l => { l.openPopup(l.getBounds ? l.getBounds().getCenter() : "
        "  l.getLatLng()); out.push(l.getPopup().getElement().querySelector("
        "  '.leaflet-popup-content').textContent); l.closePopup(); });"
        "return out;")
    assert sorted(s.strip() for s in shown) == sorted([CLOSE_SCRIPT, IMG])
    assert driver.execute_script("return window.__cimXss === undefined")
