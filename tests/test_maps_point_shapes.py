"""Point markers keep their QGIS shape on the web map: a valve ◆ and a hydrant ▲ in their
pipe class colour (styles.yaml rules), a facility's square, cross, triangle, diamond. The web
map drew every rule as a circle, so a valve and a hydrant of one class differed only by
0.4 mm. In real Chromium: the shape glyphs are served, and the valve's shape layer is drawn
at the valve (MapLibre places it: queryRenderedFeatures finds it there)."""

from __future__ import annotations

import urllib.parse

import pytest
import requests

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import load_network_samples, make_db, scratch_api
from tests.test_webmap import go, lonlat_inside, open_map


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("mapsshape", jining_profile)
    load_network_samples(d, jining_profile)
    with scratch_api(d, tmp_path_factory.mktemp("mapsshape")) as base:
        yield d, base


def test_style_keeps_the_marker_shapes(served):
    _, base = served
    style = requests.get(f"{base}/styles/onemap?f=mapbox", timeout=30).json()
    shapes = {(sl["source-layer"], sl["metadata"]["cim:shape"], sl["layout"]["text-field"])
              for sl in style["layers"] if sl["type"] == "symbol"
              and "cim:shape" in sl.get("metadata", {})}
    assert {("pipe_points", "diamond", "◆"), ("pipe_points", "triangle", "▲"),
            ("facilities", "square", "■"), ("facilities", "cross_fill", "✚")} <= shapes


def test_a_valve_is_drawn_as_its_shape(served):
    d, base = served
    code, lonlat = lonlat_inside(d, "pipe_points", "AND appurtenance = '阀门'")
    pipe_class = d.scalar("SELECT pipe_class FROM pipe_points WHERE code = %s", (code,))
    style = requests.get(f"{base}/styles/onemap?f=mapbox", timeout=30).json()
    valve = next(sl for sl in style["layers"] if sl.get("source-layer") == "pipe_points"
                 and sl.get("metadata", {}).get("cim:shape") == "diamond"
                 and sl["metadata"]["cim:child"] == f"pipe_class-{pipe_class}")
    proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
    driver = chromium(proxy)
    try:
        open_map(driver, base)
        widths = driver.execute_async_script(
            "const done = arguments[arguments.length - 1], m = CIM_MAP.map;"
            "const font = arguments[1], ids = arguments[0].map(c => c.codePointAt(0));"
            "m.style.glyphManager.getGlyphs({[font]: ids}).then(g => done(ids.map("
            "  i => g[font][i] ? g[font][i].bitmap.width : 0)), e => done(String(e)));",
            list("◆▲■✚"), valve["layout"]["text-font"][0])
        assert isinstance(widths, list) and all(widths), widths
        go(driver, lonlat, 19)
        found = driver.execute_script(
            "const m = CIM_MAP.map, p = m.project(arguments[0]);"
            "return m.queryRenderedFeatures([[p.x - 4, p.y - 4], [p.x + 4, p.y + 4]], "
            "{layers: [arguments[1]]}).map(f => f.properties.code)", list(lonlat), valve["id"])
    finally:
        quit_chromium(driver)
        proxy.shutdown()
    assert code in found
