"""The city health check on the one map (issue 13 acceptance: "both appear on the web map and
in QGIS"): the latest year's district rows in the vector tiles, the 城市体检 group of the /map
tree with the graduated legend of the styles file. Values come from the hand-built city
(tests/health_fixture.py), positions from pyproj and the slippy-map formulas (tests/test_tiles)."""

from __future__ import annotations

import pytest
import requests
import shapely
import yaml
from shapely.geometry import shape

from cim.db.engine import drop_database
from cim.profile import DICTIONARY_DIR
from layers.health.compute import compute
from tests import health_fixture as hf
from tests.conftest import make_db, server_url, start_api
from tests.test_tiles import EXTENT, TO_LONLAT, decode, lonlat_to_tile, tile_coords

Z = 14


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    """The hand-built city computed for 2025, a covered block added, 2026 computed; served."""
    d = make_db("hmap", jining_profile, apply_profile=False)
    hf.build(d.conninfo)
    compute(d.conninfo, 2025, d.profile)
    hf.add_building(d.conninfo, "H400", hf.block(400), hf.D1)  # 330 m from P1: covered
    hf.COVERED.add("H400")
    try:
        expected = hf.expected_coverage({**hf.BUILDINGS, "H400": (hf.block(400), hf.D1, "01")})
    finally:
        hf.COVERED.discard("H400")
    assert expected[hf.D1] != pytest.approx(hf.expected_coverage()[hf.D1])  # years differ
    compute(d.conninfo, 2026, d.profile)
    proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("hmap"))
    try:
        yield d, base, expected
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


def _tile_of(x: float, y: float) -> tuple[int, int]:
    lon, lat = TO_LONLAT.transform(hf.X0 + x, hf.Y0 + y)
    col, row = lonlat_to_tile(lon, lat, Z)
    return int(col), int(row)


def test_tile_has_the_latest_years_district_values(served):
    d, base, expected = served
    col, row = _tile_of(1000, 500)  # D1's centre
    r = requests.get(f"{base}/collections/health_indicators/tiles/WebMercatorQuad/"
                     f"{Z}/{row}/{col}", timeout=60)
    assert r.status_code == 200, r.text
    feats = decode(r.content)["health_indicators"]["features"]
    props = [f["properties"] for f in feats]
    assert props and {p["year"] for p in props} == {2026}  # 2025 is not on the map
    assert {p["unit_code"] for p in props} <= {hf.D1, hf.D2}  # no city row over them
    by = {(p["indicator_id"], p["unit_code"]): f for p, f in zip(props, feats)}
    park = by[("park_service_coverage", hf.D1)]
    assert park["properties"]["value"] == pytest.approx(expected[hf.D1])
    # the district's polygon where pyproj and the tile formulas put it
    district = shapely.affinity.translate(hf.DISTRICTS[hf.D1], hf.X0, hf.Y0)
    want = tile_coords(district, Z, col, row).intersection(
        shapely.box(-64, -64, EXTENT + 64, EXTENT + 64))
    got = shape(park["geometry"])
    assert got.symmetric_difference(want).area < 0.01 * want.area
    index = by[("health_index", hf.D1)]["properties"]["value"]
    stored = d.scalar("SELECT value FROM health_indicators WHERE valid_to IS NULL AND year = 2026"
                      f" AND indicator_id = 'health_index' AND unit_code = '{hf.D1}'")
    assert index == pytest.approx(stored) and 0 <= index <= 100


def test_map_tree_lists_health_and_risk_groups_with_the_graduated_legend(served):
    _, base, _ = served
    tree = requests.get(f"{base}/map/tree.json", timeout=30).json()
    groups = {g["group"]: g for g in tree}
    assert {"城市体检", "城市治理风险"} <= set(groups)
    child = groups["城市体检"]["children"][0]
    raw = yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))
    spec = raw["layers"]["health_indicators"]
    hexes = ["#" + "".join(f"{int(p):02x}" for p in c.split(",")) for c in spec["colors"]]
    assert [(i["label"], i["color"]) for i in child["legend"]] == list(zip(spec["labels"], hexes))
    style = requests.get(f"{base}/styles/onemap?f=mapbox", timeout=30)
    assert style.status_code == 200, style.text
    layers = {sl["id"]: sl for sl in style.json()["layers"]}
    fill = layers[child["layers"][0]]  # the style layers the tree names draw the index
    assert fill["type"] == "fill" and fill["source-layer"] == "health_indicators"
    assert fill["filter"] == ["in", ["coalesce", ["get", "indicator_id"], ""],
                              ["literal", ["health_index"]]]


def test_web_map_selects_an_indicator(served):
    """/map in real Chromium: the district shows the index, then the indicator picked in the
    城市体检 selector (its filter and the score colours built from styles.yaml)."""
    import urllib.parse

    from selenium.webdriver.support.ui import Select

    from tests.browser import RecordingProxy, chromium, quit_chromium
    from tests.test_webmap import go, open_map, page_external

    d, base, _ = served
    proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
    driver = chromium(proxy)
    try:
        open_map(driver, base)
        lonlat = TO_LONLAT.transform(hf.X0 + 1000, hf.Y0 + 500)  # D1's centre
        go(driver, lonlat, Z)
        shown = ("const m = CIM_MAP.map; const p = m.project(arguments[0]); "
                 "return m.queryRenderedFeatures(p, {layers: ['health_indicators-fill']})"
                 ".map(f => [f.properties.indicator_id, f.properties.unit_code])")
        assert driver.execute_script(shown, list(lonlat)) == [["health_index", hf.D1]]
        pick = Select(driver.find_element("css selector", "select[data-select]"))
        assert pick.first_selected_option.text == "城市体检指数 (区)"
        pick.select_by_visible_text("公园绿地服务半径覆盖率")
        go(driver, lonlat, Z)
        assert driver.execute_script(shown, list(lonlat)) == [["park_service_coverage", hf.D1]]
        colour = driver.execute_script(
            "return CIM_MAP.map.getPaintProperty('health_indicators-fill', 'fill-color')")
        # coloured by the indicator's score now
        assert colour[1] == ["!=", ["typeof", ["get", "score"]], "number"]
        assert not page_external(proxy), page_external(proxy)
    finally:
        quit_chromium(driver)
        proxy.shutdown()
