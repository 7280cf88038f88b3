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
import urllib.parse

import geopandas as gpd
import psycopg
import pyogrio
import pytest
import shapely

from loaders.buildings import load_buildings
from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import (
    SAMPLE_BUILDINGS,
    assess_risks,
    load_network_samples,
    make_db,
    scratch_api,
)
from tests.test_webmap import TO_LONLAT, go, page_external, wait


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("wm12live", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    load_network_samples(d, jining_profile)
    assess_risks(d, jining_profile)
    with scratch_api(d, tmp_path_factory.mktemp("wm12live"), tiles_version_ttl=0) as base:
        proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
        driver = chromium(proxy)
        try:
            yield d, base, driver, proxy
        finally:
            quit_chromium(driver)
            proxy.shutdown()


def _lonlat(d, table: str, code: str) -> tuple[float, float]:
    wkb = d.scalar(f"SELECT ST_AsBinary(ST_Force2D(geom)) FROM {table} WHERE code = %s "  # noqa: S608
                   "AND valid_to IS NULL", (code,))
    p = shapely.from_wkb(bytes(wkb)).point_on_surface()
    return TO_LONLAT.transform(p.x, p.y)


def _shown(driver, layer: str, code: str, prop: str, source: str = "cim") -> list:
    return driver.execute_script(
        "return CIM_MAP.map.querySourceFeatures(arguments[3], {sourceLayer: arguments[0]})"
        ".filter(f => f.properties.code === arguments[1]).map(f => f.properties[arguments[2]])",
        layer, code, prop, source)


def test_a_risk_point_raised_by_an_alarm_is_redrawn_on_the_open_map(served):
    from layers.risk.alarm import raise_for_alarm
    from layers.risk.config import load_config

    d, base, driver, proxy = served
    proxy.clear()
    code, level = d.rows("SELECT code, level FROM risk_points WHERE valid_to IS NULL AND "
                         "level <> '重大' ORDER BY code LIMIT 1")[0]
    driver.get(base + "/map?live=1")
    wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
    go(driver, _lonlat(d, "risk_points", code), 16)
    # risk points are a live layer (their own source, reloaded when they change)
    assert set(_shown(driver, "risk_points", code, "level", "live")) == {level}

    with psycopg.connect(d.conninfo) as conn:  # the alarm path's raise, committed
        got = raise_for_alarm(conn, load_config(d.profile).matrix, asset_code=None,
                              alarm_code="370811940199999912", level="重大", risk_code=code)
    assert got == code
    assert d.scalar("SELECT level FROM risk_points WHERE code = %s AND valid_to IS NULL",
                    (code,)) == "重大"
    assert wait(driver, "return CIM_MAP.map.querySourceFeatures('live', {sourceLayer: "
                        f"'risk_points'}}).some(f => f.properties.code === '{code}' && "
                        "f.properties.level === '重大')", 30), \
        "the raised risk point kept its old level on the open map"
    assert page_external(proxy) == [], page_external(proxy)
    assert all(s in (200, 204, 304) for u, s in proxy.statuses.items()
               if "/tiles/WebMercatorQuad/" in u)


def test_a_reload_of_the_buildings_is_drawn_without_reloading_the_page(served, tmp_path):
    d, base, driver, proxy = served
    driver.get(base + "/map?live=1")
    wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
    df = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK")
    key, code, height = d.rows(
        "SELECT split_part(source_key, ':', 2), code, height FROM buildings WHERE "
        "valid_to IS NULL AND height IS NOT NULL ORDER BY code LIMIT 1")[0]
    go(driver, _lonlat(d, "buildings", code), 17)
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
