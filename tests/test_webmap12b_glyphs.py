"""Labels with Φ (the usual pipe-size notation Φ200), ⌀ and ① on the web map in real headless
Chromium (review 12b): their glyph ranges (768-1023 Greek, 8960-9215 technical symbols,
9216-9471 enclosed numbers) were answered 404, an error in the console for every page, and
drawn from the browser's font. Now served, with ⌀ — which Noto Sans CJK lacks — in its PBF too
(a codepoint missing from a range MapLibre loaded is not drawn at all). The check is MapLibre's
own: the glyphs its glyph manager parsed from the served PBFs, and the proxy's status of every
font request."""

from __future__ import annotations

import time

from tests.test_maps_probe10 import browser  # noqa: F401 (the fixture)
from tests.test_webmap import open_map, wait

TEXT = "Φ200 ⌀300 ①"


def test_a_label_with_greek_and_symbols_loads_its_glyphs(browser, api):  # noqa: F811
    driver, proxy = browser
    open_map(driver, api)
    proxy.clear()
    # a label in the map's label font at the map's centre (as a pipe's size_text is drawn)
    driver.execute_script("""
      const m = CIM_MAP.map, font = m.getStyle().layers.find(l => (l.metadata || {})['cim:label'])
        .layout['text-font'];
      m.addSource('t-glyph', {type: 'geojson', data: {type: 'Feature', properties: {},
        geometry: {type: 'Point', coordinates: m.getCenter().toArray()}}});
      m.addLayer({id: 't-glyph', type: 'symbol', source: 't-glyph', layout: {'text-field': arguments[0],
        'text-font': font, 'text-size': 16, 'text-allow-overlap': true}});
      window.T_FONT = font[0];""", TEXT)
    wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded() "
                 "&& m.queryRenderedFeatures({layers: ['t-glyph']}).length > 0")
    time.sleep(1)
    fonts = {u: s for u, s in proxy.statuses.items() if "/map/fonts/" in u}
    asked = {u.rsplit("/", 1)[1] for u in fonts}
    assert {"768-1023.pbf", "8960-9215.pbf", "9216-9471.pbf"} <= asked, fonts
    assert all(s == 200 for s in fonts.values()), fonts
    # every character of the label is a glyph of the served PBFs (null: not in the range)
    got = driver.execute_script("""
      const e = CIM_MAP.map.style.glyphManager.entries[window.T_FONT];
      return arguments[0].split('').filter(c => c !== ' ').map(c => [c, !!(e && e.glyphs[c.codePointAt(0)])]);""",
                                TEXT)
    assert got and all(ok for _, ok in got), got
