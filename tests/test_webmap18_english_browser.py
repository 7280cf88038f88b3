"""The map's panels are Chinese in a browser set to English (probe of 2026-12-07): the page
took its layer titles from /collections in the browser's language, so the info panel's heading
read "Buildings" beside 建筑物 in the layer tree. Expected titles: cim/dictionaries/layers.csv."""

from __future__ import annotations

import csv
import urllib.parse

from cim.profile import DICTIONARY_DIR
from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.test_maps_probe10 import info_rows
from tests.test_webmap import open_map


def test_an_english_browser_gets_chinese_layer_titles(api, db):
    with open(DICTIONARY_DIR / "layers.csv", encoding="utf-8") as fh:
        title = {r["layer"]: r["name_zh"] for r in csv.DictReader(fh)}["buildings"]
    code = db.rows("SELECT code FROM buildings WHERE valid_to IS NULL ORDER BY code "
                   "LIMIT 1")[0][0]
    proxy = RecordingProxy(urllib.parse.urlsplit(api).netloc)
    driver = chromium(proxy, lang="en-US")
    try:
        open_map(driver, api)
        assert driver.execute_script("return navigator.language") == "en-US"
        info_rows(driver, code)
        heading = driver.execute_script(
            "return document.querySelector('#info h3, #info-body').closest('div')"
            ".querySelector('h3').textContent")
        assert heading == title, heading
    finally:
        quit_chromium(driver)
        proxy.shutdown()
