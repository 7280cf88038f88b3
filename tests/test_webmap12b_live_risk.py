"""Risk points are a live layer (review 12b): an alarm on its asset raises a risk point in place
(layers.risk.alarm) while the platform runs. Drawn from the one-map source, a raise moved the
version of that source, and the open map reloaded every tile of every one-map layer (buildings,
pipes, parcels …) to redraw one point; QGIS did not redraw it at all. Now it is in the `live`
source: a raise reloads that source only, and the QGIS project refreshes it on its own. In
real headless Chromium over HTTP; the raise is the alarm path's own, read back in SQL."""

from __future__ import annotations

import pytest

from tests.test_webmap import go, page_external
from tests.webmap_fixture import drawn_at_level, live_map, lonlat, open_live, raise_risk


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    with live_map(jining_profile, tmp_path_factory.mktemp("wm12blive"), "wm12blive") as served:
        yield served


def test_a_risk_raise_reloads_the_live_source_only(served):
    d, base, driver, proxy = served
    code = d.scalar("SELECT code FROM risk_points WHERE valid_to IS NULL AND level <> '重大' "
                    "ORDER BY code LIMIT 1")
    open_live(driver, base)
    go(driver, lonlat(d, "risk_points", code), 16)
    style = driver.execute_script("return CIM_MAP.map.getStyle()")
    assert "risk_points" in style["sources"]["live"]["url"]
    assert "risk_points" not in style["sources"]["cim"]["url"]
    assert {sl["source"] for sl in style["layers"] if sl.get("source-layer") == "risk_points"} \
        == {"live"}
    before = driver.execute_script("return JSON.parse(JSON.stringify(CIM_STATE.live.sources))")
    proxy.clear()

    raise_risk(d, code, "370811940199999913")
    assert drawn_at_level(driver, code, "重大")
    after = driver.execute_script("return JSON.parse(JSON.stringify(CIM_STATE.live.sources))")
    assert after["live"]["reloads"] > before["live"]["reloads"]
    assert after["cim"]["reloads"] == before["cim"]["reloads"], (before, after)
    tiles = [u for u in proxy.statuses if "/tiles/WebMercatorQuad/" in u]
    assert tiles and all("collections=risk_points," in u for u in tiles), tiles
    assert page_external(proxy) == [], page_external(proxy)
