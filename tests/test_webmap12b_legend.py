"""The web map's legend in real headless Chromium (review 12b): each point class is shown as the
map draws it. Every point's swatch was a round dot in its class colour — a valve (◆) like a
hydrant (▲), a well (white, ringed in its pipe class colour) a solid dot, the facilities'
squares and crosses as circles. Expected shapes and fills are read from styles.yaml with
PyYAML (not through the style builder), and compared with the style layers the map draws."""

from __future__ import annotations

import yaml

from cim.profile import DICTIONARY_DIR
from tests.test_maps_probe10 import browser  # noqa: F401 (the fixture)
from tests.test_webmap import open_map

SWATCHES = """
const out = {};
for (const s of document.querySelectorAll('#tree-body .child')) {
  const title = s.querySelector('label').textContent.trim();
  out[title] = [...s.querySelectorAll('.sw')].map(w => ({
    label: w.title, shape: w.dataset.shape || null, text: w.textContent,
    radius: getComputedStyle(w).borderTopLeftRadius, background: getComputedStyle(w).backgroundColor,
    color: getComputedStyle(w).color, border: getComputedStyle(w).borderTopColor}));
}
return out;
"""


def _rgb(spec: str) -> str:
    r, g, b = (int(p) for p in spec.split(",")[:3])
    return f"rgb({r}, {g}, {b})"


def _rules(layer: str) -> dict[str, dict]:
    styles = yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))
    return {r["title"]: r["symbol"] for r in styles["layers"][layer]["rules"]}


def test_point_swatches_show_the_maps_shape_and_fill(browser, api):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    shown = driver.execute_script(SWATCHES)
    rules = _rules("pipe_points")
    glyph = {"diamond": "◆", "triangle": "▲", "square": "■", "cross_fill": "✚"}
    water = shown["给水管线"]  # a pipe class child: its segments' line, then its point rules
    by = {w["label"]: w for w in water}
    valve, hydrant, well = by["阀门"], by["消防栓"], by["窨井"]
    assert valve["shape"] == rules["阀门"]["shape"] == "diamond"
    assert hydrant["shape"] == rules["消防栓"]["shape"] == "triangle"
    assert valve["text"] == glyph["diamond"] and hydrant["text"] == glyph["triangle"]
    assert valve["text"] != hydrant["text"]
    # the map draws those glyphs for the class's valves and hydrants
    fields = driver.execute_script(
        "return CIM_MAP.map.getStyle().layers.filter(l => l['source-layer'] === 'pipe_points'"
        " && l.type === 'symbol' && !(l.metadata || {})['cim:label']).map(l => l.layout['text-field'])")
    assert glyph["diamond"] in fields and glyph["triangle"] in fields
    # a well: the map's white fill ringed in the class colour (the segments' line colour)
    assert well["shape"] == "circle" and well["radius"] == "50%"
    assert well["background"] == _rgb(rules["窨井"]["fill"]) == "rgb(255, 255, 255)"
    line = next(w for w in water if w["shape"] is None)
    assert well["border"] == line["border"] != well["background"]
    painted = driver.execute_script(
        "return CIM_MAP.map.getStyle().layers.filter(l => l['source-layer'] === 'pipe_points'"
        " && l.type === 'circle').map(l => l.paint['circle-color'])")
    assert "#ffffff" in painted
    # a valve's glyph is in the class colour as the map's text-color
    assert valve["color"] == line["border"]


def test_facility_rules_show_their_own_shapes(browser, api):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    shown = {w["label"]: w for w in driver.execute_script(SWATCHES)["公共服务设施"]}
    for title, symbol in _rules("facilities").items():
        w = shown[title]
        assert w["shape"] == symbol["shape"], (title, w)
        if symbol["shape"] == "circle":
            assert w["background"] == _rgb(symbol["fill"]) and w["radius"] == "50%"
        else:  # a glyph in the rule's fill
            assert w["text"] and w["color"] == _rgb(symbol["fill"]), (title, w)
