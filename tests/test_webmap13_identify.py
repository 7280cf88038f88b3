"""The one map as city-operations staff and planners click it (review 13), in real headless
Chromium over HTTP on the session's sample city (alarms, cases and risk points of the sample
day), every request the page makes recorded by the proxy (nothing leaves the server).

- A risk point sits on its pipe, and the pipe's line is drawn above it: a click on the
  orange point identified the pipe, never the risk point.
- An alarm, its sensor and its case share one spot: only the top one (the alarm) could be
  identified; the case was out of reach of a click.
- A gap alarm (a sensor gone silent) has no value: its headline read "井下液位 m，峰值 —".
- A code that names no current feature was explained under English headings (class_code,
  layer_name …), and 拉框统计 listed the layers in the JSON's alphabetical order.

Expected codes come from SQL on the tables (the risk point's asset, the alarm's sensor and
case), positions from the stored WKB through pyproj, names from the profile's dictionaries.
"""

from __future__ import annotations

import requests
import shapely
from selenium.webdriver.common.action_chains import ActionChains

from tests.test_webmap import (  # noqa: F401 (the fixture)
    TO_LONLAT,
    browser,
    go,
    open_map,
    page_external,
    wait,
)

# the points drawn above risk points (城市运行监测, 城市部件, 地下管线' points): a risk point
# chosen away from them is the only point under the click
ABOVE = ("sensors", "alarms", "cases", "components", "pipe_points")


def _at(db, table: str, code: str) -> tuple[float, float]:
    wkb = db.scalar(f"SELECT ST_AsBinary(ST_Force2D(geom)) FROM {table} "  # noqa: S608
                    "WHERE code = %s AND valid_to IS NULL", (code,))
    p = shapely.from_wkb(bytes(wkb)).point_on_surface()
    return TO_LONLAT.transform(p.x, p.y)


def _click_centre(driver) -> None:
    driver.execute_script("document.getElementById('info-body').innerHTML = ''")
    canvas = driver.find_element("css selector", "#map canvas")
    ActionChains(driver).move_to_element(canvas).click().perform()


def _shown(driver) -> str:
    return wait(driver, "const e = document.getElementById('info-code'); "
                        "return e && e.textContent", 30)


def _here(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#info-here a[data-code]')]"
        ".map(a => a.dataset.collection + '/' + a.dataset.code)")


def test_a_click_on_a_risk_point_identifies_it_not_the_pipe_above_it(browser, api, db):  # noqa: F811
    driver, proxy = browser
    far = " ".join(f"AND NOT EXISTS (SELECT 1 FROM {t} o WHERE o.valid_to IS NULL AND "
                   "ST_DWithin(o.geom, r.geom, 10))" for t in ABOVE)
    code, pipe = db.rows("SELECT r.code, r.asset_code FROM risk_points r JOIN pipe_segments s "
                         "ON s.code = r.asset_code AND s.valid_to IS NULL "
                         "AND ST_DWithin(s.geom, r.geom, 0.01) "
                         f"WHERE r.valid_to IS NULL {far} ORDER BY r.code LIMIT 1")[0]
    proxy.clear()
    open_map(driver, api)
    go(driver, _at(db, "risk_points", code), 18)
    _click_centre(driver)
    assert _shown(driver) == code  # was the pipe's code
    # the pipe it sits on is one click away
    assert f"pipe_segments/{pipe}" in _here(driver)
    driver.find_element("css selector", f"#info-here a[data-code='{pipe}']").click()
    assert wait(driver, "const e = document.getElementById('info-code'); "
                        f"return e && e.textContent === '{pipe}'", 30)
    assert f"risk_points/{code}" in _here(driver)
    assert page_external(proxy) == [], page_external(proxy)


def test_an_alarms_case_and_sensor_at_its_spot_are_reachable(browser, api, db):  # noqa: F811
    driver, proxy = browser
    # an active alarm whose case is open: the map draws all three (告警 当前, 案件 办理中)
    alarm, sensor, case, unit = db.rows(
        "SELECT a.code, a.sensor_code, a.case_code, a.unit FROM alarms a JOIN cases c "
        "ON c.code = a.case_code AND c.valid_to IS NULL WHERE a.valid_to IS NULL "
        "AND a.status = 'active' AND a.kind = 'gap' AND c.state NOT IN ('结案', '作废') "
        "ORDER BY a.code LIMIT 1")[0]
    proxy.clear()
    open_map(driver, api)
    go(driver, _at(db, "alarms", alarm), 18)
    _click_centre(driver)
    assert _shown(driver) == alarm
    here = _here(driver)
    assert f"cases/{case}" in here and f"sensors/{sensor}" in here, here
    # a gap alarm's headline says so, with no value, unit or peak it does not have
    summary = driver.find_element("id", "info-summary").text
    kind = driver.execute_script(
        "return [...document.querySelectorAll('#info-body th')].find(th => th.title === "
        "'kind').nextElementSibling.textContent")
    assert kind in summary and "峰值" not in summary and f" {unit}" not in summary, summary
    driver.find_element("css selector", f"#info-here a[data-code='{case}']").click()
    assert wait(driver, "const e = document.getElementById('info-code'); "
                        f"return e && e.textContent === '{case}'", 30)
    assert f"alarms/{alarm}" in _here(driver)
    assert page_external(proxy) == [], page_external(proxy)


def test_a_code_of_no_feature_is_explained_in_chinese(browser, api, db):  # noqa: F811
    driver, proxy = browser
    open_map(driver, api)
    code = db.scalar("SELECT max(code) FROM buildings")
    missing = code[:10] + "99999999"
    assert not db.scalar("SELECT count(*) FROM buildings WHERE code = %s", (missing,))
    layer = next(r["name_zh"] for r in db.profile.dictionary("layers")
                 if r["layer"] == "buildings")
    box = driver.find_element("id", "code")
    box.clear()
    box.send_keys(missing + "\n")
    rows = dict(wait(driver, "const t = [...document.querySelectorAll('#info-body th')]; "
                             "return t.length && t.map(th => [th.textContent, "
                             "th.nextElementSibling.textContent])", 30))
    assert all(not k.isascii() for k in rows), rows
    assert rows["编码"] == missing and rows["图层"] == layer and rows["编码类型"] == "要素"
    assert rows["行政区代码"] == missing[:6]
    assert rows["行政区"] == db.profile.district_name(missing[:6])
    assert page_external(proxy) == [], page_external(proxy)


def test_the_box_count_lists_layers_in_the_catalogs_order(browser, api, db):  # noqa: F811
    driver, proxy = browser
    open_map(driver, api)
    code = db.scalar("SELECT min(code) FROM buildings WHERE valid_to IS NULL")
    go(driver, _at(db, "buildings", code), 16)
    driver.find_element("id", "tool-aoi").click()
    canvas = driver.find_element("css selector", "#map canvas")
    ActionChains(driver).move_to_element_with_offset(canvas, -100, -80).click_and_hold() \
        .move_by_offset(100, 80).move_by_offset(100, 80).release().perform()
    got = wait(driver, "const t = [...document.querySelectorAll('#info-body td[id^=aoi-]')]; "
                       "return t.length && t.map(td => td.id.slice(4))", 60)
    driver.find_element("id", "tool-aoi").click()
    order = [c["id"] for c in requests.get(f"{api}/collections?f=json", timeout=30)
             .json()["collections"]]
    assert got == [c for c in order if c in got], (got, order)
    assert len(got) > 5


def test_a_sensors_device_id_finds_it(browser, api, db):  # noqa: F811
    """Staff know a sensor by its device id (LV-003, as alarms and `cim iot` name it): the
    search box answered "code 'LV-003' is not all digits"."""
    driver, proxy = browser
    open_map(driver, api)
    device, code = db.rows("SELECT device_id, code FROM sensors WHERE valid_to IS NULL "
                           "ORDER BY code LIMIT 1")[0]
    assert not device.isdigit()
    box = driver.find_element("id", "code")
    box.clear()
    box.send_keys(device + "\n")
    assert wait(driver, "const e = document.getElementById('info-code'); "
                        f"return e && e.textContent === '{code}'", 30)
    # neither a code nor a device id: said so in Chinese
    box.clear()
    box.send_keys("无此设备-1\n")
    text = wait(driver, "const e = document.querySelector('#info-body .err'); "
                        "return e && e.textContent", 30)
    assert "无此设备-1" in text and "digits" not in text, text
    assert page_external(proxy) == [], page_external(proxy)
