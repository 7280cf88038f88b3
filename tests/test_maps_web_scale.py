"""A layer's scale range (styles.yaml `max_scale`, a scale denominator as QGIS shows it) starts
the layer at the same ground scale on the web map: measured in real Chromium at the style
layer's minzoom, over the city — metres between two points 100 CSS pixels apart (pyproj's
geodesic), one CSS pixel being 1/96 inch. The zooms had been WebMercatorQuad's (256-pixel
tiles, 0.28 mm pixels, the equator's scale), one zoom and more too deep for MapLibre (512-pixel
zooms): a 1:50 000 layer appeared from 1:21 600 at Jining's latitude."""

from __future__ import annotations

import urllib.parse

import pyproj
import pytest
import requests
import yaml

from cim.profile import DICTIONARY_DIR
from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import make_db, scratch_api
from tests.test_webmap import go, open_map

CSS_PX_M = 0.0254 / 96


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("mapsscale", jining_profile)
    with scratch_api(d, tmp_path_factory.mktemp("mapsscale")) as base:
        yield d, base


def test_layers_and_labels_start_at_their_scale(served):
    d, base = served
    spec = yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))
    style = requests.get(f"{base}/styles/onemap?f=mapbox", timeout=30).json()
    zooms = {sl["id"]: sl.get("minzoom") for sl in style["layers"]}
    want = {"buildings-fill": spec["layers"]["buildings"]["max_scale"],
            "buildings-label": spec["layers"]["buildings"]["label"]["max_scale"],
            "planning_parcels-fill": spec["layers"]["planning_parcels"]["max_scale"]}
    _, x, y = d.big_cell()
    lonlat = pyproj.Transformer.from_crs(d.profile.srid, 4326, always_xy=True).transform(x, y)
    geod = pyproj.Geod(ellps="GRS80")
    proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
    driver = chromium(proxy)
    try:
        open_map(driver, base)
        for sid, scale in want.items():
            go(driver, lonlat, zooms[sid])
            a_lon, a_lat, b_lon, b_lat = driver.execute_script(
                "const m = CIM_MAP.map, c = m.getCanvas();"
                "const w = c.clientWidth / 2, h = c.clientHeight / 2;"
                "const a = m.unproject([w, h]), b = m.unproject([w + 100, h]);"
                "return [a.lng, a.lat, b.lng, b.lat];")
            metres = geod.inv(a_lon, a_lat, b_lon, b_lat)[2]
            shown = metres / (100 * CSS_PX_M)
            assert shown == pytest.approx(scale, rel=0.03), (sid, zooms[sid], shown)
    finally:
        quit_chromium(driver)
        proxy.shutdown()
