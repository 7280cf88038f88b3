"""The open web map follows the database, not only its live layers (review 12).

/map polled the versions of its live source (sensors, alarms, cases) only. A risk point is
raised in place while an alarm on its asset is active (layers.risk.alarm): the alarm appeared
on the open map, the risk point beside it kept the colour it had when the page was opened; a
reload of the buildings while planners had the map open stayed invisible until each of them
reloaded the page. The tiles themselves were right (their ETags follow the data): the page
never asked again. Checked in real headless Chromium over HTTP, the expected values written
by the real code paths (the alarm's raise, a building load) and read back in SQL.
"""

from __future__ import annotations

import time

import geopandas as gpd
import pyogrio
import pytest

from loaders.buildings import load_buildings
from tests.conftest import SAMPLE_BUILDINGS
from tests.test_webmap import go, page_external
from tests.webmap_fixture import drawn_at_level, live_map, lonlat, open_live, raise_risk


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    with live_map(jining_profile, tmp_path_factory.mktemp("wm12live"), "wm12live",
                  buildings=True) as served:
        yield served


def _shown(driver, layer: str, code: str, prop: str, source: str = "cim") -> list:
    return driver.execute_script(
        "return CIM_MAP.map.querySourceFeatures(arguments[3], {sourceLayer: arguments[0]})"
        ".filter(f => f.properties.code === arguments[1]).map(f => f.properties[arguments[2]])",
        layer, code, prop, source)


def test_a_risk_point_raised_by_an_alarm_is_redrawn_on_the_open_map(served):
    d, base, driver, proxy = served
    proxy.clear()
    code, level = d.rows("SELECT code, level FROM risk_points WHERE valid_to IS NULL AND "
                         "level <> '重大' ORDER BY code LIMIT 1")[0]
    open_live(driver, base)
    go(driver, lonlat(d, "risk_points", code), 16)
    # risk points are a live layer (their own source, reloaded when they change)
    assert set(_shown(driver, "risk_points", code, "level", "live")) == {level}

    raise_risk(d, code, "370811940199999912")
    assert drawn_at_level(driver, code, "重大"), \
        "the raised risk point kept its old level on the open map"
    assert page_external(proxy) == [], page_external(proxy)
    assert all(s in (200, 204, 304) for u, s in proxy.statuses.items()
               if "/tiles/WebMercatorQuad/" in u)


def test_a_reload_of_the_buildings_is_drawn_without_reloading_the_page(served, tmp_path):
    d, base, driver, proxy = served
    open_live(driver, base)
    df = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    key, code, height = d.rows(
        "SELECT split_part(source_key, ':', 2), code, height FROM buildings WHERE "
        "valid_to IS NULL AND height IS NOT NULL ORDER BY code LIMIT 1")[0]
    go(driver, lonlat(d, "buildings", code), 17)
    assert _shown(driver, "buildings", code, "height") and \
        {float(h) for h in _shown(driver, "buildings", code, "height")} == {float(height)}

    df.loc[df["编号"] == key, "建筑高度"] = float(height) + 9.0
    changed = tmp_path / "changed.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame(df, crs="EPSG:4527"), changed)
    assert load_buildings(d.conninfo, d.profile, changed, dataset="buildings_survey").status \
        == "succeeded"
    want = float(d.scalar("SELECT height FROM buildings WHERE code = %s AND valid_to IS NULL",
                          (code,)))
    assert want == pytest.approx(float(height) + 9.0)
    t0 = time.time()
    while time.time() - t0 < 30:
        shown = {float(h) for h in _shown(driver, "buildings", code, "height")}
        if shown == {want}:
            break
        time.sleep(0.5)
    assert shown == {want}, f"the open map still draws {shown}, the database holds {want}"
    assert page_external(proxy) == [], page_external(proxy)
