"""拉框统计 with a click instead of a drag (review 12): the tool asked the server to count a
box of no size and showed its English 400 (``bbox (…): need X0 < X1 and Y0 < Y1``) as the
answer; it now asks for nothing and tells, in Chinese, to drag a box. Real Chromium."""

from __future__ import annotations

import time

from selenium.webdriver.common.action_chains import ActionChains

from tests.test_webmap import browser, go, lonlat_inside, open_map  # noqa: F401 (the fixture)


def test_a_click_with_the_box_tool_asks_to_drag_a_box(browser, api, db):  # noqa: F811
    driver, proxy = browser
    open_map(driver, api)
    _, lonlat = lonlat_inside(db, "buildings")
    go(driver, lonlat, 17)
    driver.find_element("id", "tool-aoi").click()
    proxy.clear()
    canvas = driver.find_element("css selector", "#map canvas")
    ActionChains(driver).move_to_element(canvas).click().perform()
    time.sleep(2)
    text = driver.find_element("id", "info-body").text
    assert not [u for u in proxy.requests if "/map/api/aoi" in u], proxy.requests
    assert "拖" in text and "bbox" not in text and "need" not in text, text
    # the tool is still on: a real drag then counts
    ActionChains(driver).move_to_element_with_offset(canvas, -60, -40).click_and_hold() \
        .move_by_offset(60, 40).move_by_offset(60, 40).release().perform()
    t0 = time.time()
    while time.time() - t0 < 60 and not driver.execute_script(
            "return !!document.getElementById('aoi-buildings')"):
        time.sleep(0.3)
    assert driver.execute_script("return !!document.getElementById('aoi-buildings')")
