"""Risk points are a live layer (review 12b): an alarm on its asset raises a risk point in place
(layers.risk.alarm) while the platform runs. Drawn from the one-map source, a raise moved the
version of that source, and the open map reloaded every tile of every one-map layer (buildings,
pipes, parcels …) to redraw one point; QGIS did not redraw it at all. Now it is in the `live`
source: a raise reloads that source only, and the QGIS project refreshes it on its own. In
real headless Chromium over HTTP; the raise is the alarm path's own, read back in SQL."""

from __future__ import annotations

import urllib.parse

import psycopg
import pytest
import shapely

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import assess_risks, load_network_samples, make_db, scratch_api
from tests.test_webmap import TO_LONLAT, go, page_external, wait


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("wm12blive", jining_profile)
    load_network_samples(d, jining_profile)
    assess_risks(d, jining_profile)
    with scratch_api(d, tmp_path_factory.mktemp("wm12blive"), tiles_version_ttl=0) as base:
        proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
        driver = chromium(proxy)
        try:
            yield d, base, driver, proxy
        finally:
            quit_chromium(driver)
            proxy.shutdown()


def test_a_risk_raise_reloads_the_live_source_only(served):
    from layers.risk.alarm import raise_for_alarm
    from layers.risk.config import load_config

    d, base, driver, proxy = served
    code = d.scalar("SELECT code FROM risk_points WHERE valid_to IS NULL AND level <> '重大' "
                    "ORDER BY code LIMIT 1")
    driver.get(base + "/map?live=1")
    wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
    wkb = d.scalar("SELECT ST_AsBinary(geom) FROM risk_points WHERE code = %s AND "
                   "valid_to IS NULL", (code,))
    p = shapely.from_wkb(bytes(wkb))
    go(driver, TO_LONLAT.transform(p.x, p.y), 16)
    style = driver.execute_script("return CIM_MAP.map.getStyle()")
    assert "risk_points" in style["sources"]["live"]["url"]
    assert "risk_points" not in style["sources"]["cim"]["url"]
    assert {sl["source"] for sl in style["layers"] if sl.get("source-layer") == "risk_points"} \
        == {"live"}
    before = driver.execute_script("return JSON.parse(JSON.stringify(CIM_STATE.live.sources))")
    proxy.clear()

    with psycopg.connect(d.conninfo) as conn:  # the alarm path's raise, committed
        assert raise_for_alarm(conn, load_config(d.profile).matrix, asset_code=None,
                               alarm_code="370811940199999913", level="重大",
                               risk_code=code) == code
    assert wait(driver, "return CIM_MAP.map.querySourceFeatures('live', {sourceLayer: "
                        f"'risk_points'}}).some(f => f.properties.code === '{code}' && "
                        "f.properties.level === '重大')", 30)
    after = driver.execute_script("return JSON.parse(JSON.stringify(CIM_STATE.live.sources))")
    assert after["live"]["reloads"] > before["live"]["reloads"]
    assert after["cim"]["reloads"] == before["cim"]["reloads"], (before, after)
    tiles = [u for u in proxy.statuses if "/tiles/WebMercatorQuad/" in u]
    assert tiles and all("collections=risk_points," in u for u in tiles), tiles
    assert page_external(proxy) == [], page_external(proxy)
