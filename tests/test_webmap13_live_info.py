"""The open map's info panel follows its feature, and the layer tree's group boxes say what
is drawn (review 13), in real headless Chromium over HTTP on the live map of
tests/webmap_fixture.py.

- A risk point raised by an alarm on its asset while city-operations staff had it open in the
  info panel was redrawn red on the map (the live source reloads), but the panel went on
  reading the level it had when clicked, until clicked again.
- A group unticked and one of its layers ticked again: the map drew that layer, the group's
  box stayed unticked.

The raise is the alarm path's own; the expected level is read back in SQL.
"""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from tests.test_webmap import go, page_external, wait
from tests.webmap_fixture import drawn_at_level, live_map, lonlat, open_live, raise_risk


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    with live_map(jining_profile, tmp_path_factory.mktemp("wm13live"), "wm13live") as served:
        yield served


def _level_shown(driver) -> str | None:
    return driver.execute_script(
        "const th = [...document.querySelectorAll('#info-body th')].find(t => t.title === "
        "'level'); return th ? th.nextElementSibling.textContent : null")


def test_the_info_panel_follows_a_risk_point_raised_while_open(served):
    d, base, driver, proxy = served
    # a point away from the other points (the click lands on it), not yet 重大
    code, level = d.rows(
        "SELECT code, level FROM risk_points r WHERE valid_to IS NULL AND level <> '重大' "
        "AND NOT EXISTS (SELECT 1 FROM pipe_points p WHERE p.valid_to IS NULL AND "
        "ST_DWithin(p.geom, r.geom, 10)) AND NOT EXISTS (SELECT 1 FROM risk_points o WHERE "
        "o.valid_to IS NULL AND o.code <> r.code AND ST_DWithin(o.geom, r.geom, 10)) "
        "ORDER BY code LIMIT 1")[0]
    proxy.clear()
    open_live(driver, base)
    go(driver, lonlat(d, "risk_points", code), 18)
    canvas = driver.find_element("css selector", "#map canvas")
    ActionChains(driver).move_to_element(canvas).click().perform()
    assert wait(driver, "const e = document.getElementById('info-code'); "
                        f"return e && e.textContent === '{code}'", 30)
    assert _level_shown(driver) == level

    raise_risk(d, code, "370811940199999914")
    want = d.scalar("SELECT level FROM risk_points WHERE code = %s AND valid_to IS NULL",
                    (code,))
    assert drawn_at_level(driver, code, want)
    assert wait(driver, "const th = [...document.querySelectorAll('#info-body th')].find(t => "
                        f"t.title === 'level'); return th && th.nextElementSibling.textContent "
                        f"=== '{want}'", 30), _level_shown(driver)
    assert driver.find_element("id", "info-code").text == code
    assert page_external(proxy) == [], page_external(proxy)


def test_a_groups_box_says_some_of_its_layers_are_drawn(served):
    d, base, driver, proxy = served
    open_live(driver, base)
    group = "const det = [...document.querySelectorAll('#tree details')].find(x => " \
            "x.querySelectorAll('input[data-child]').length > 1); " \
            "const box = det.querySelector('summary input'), " \
            "kids = [...det.querySelectorAll('input[data-child]')];"
    state = "return [box.checked, box.indeterminate, kids.map(k => k.checked)]"
    driver.execute_script(group + "box.click();")
    assert driver.execute_script(group + "return [box.checked, box.indeterminate, "
                                 "kids.some(k => k.checked)]") == [False, False, False]
    driver.execute_script(group + "kids[0].click();")
    got = driver.execute_script(group + state)
    assert got[0] is False and got[1] is True and got[2][0] is True and not any(got[2][1:]), got
    driver.execute_script(group + "kids.slice(1).forEach(k => k.click());")
    assert driver.execute_script(group + "return [box.checked, box.indeterminate]") \
        == [True, False]


def test_a_live_period_that_is_no_number_keeps_the_default(served):
    """/map?live=abc: NaN seconds, which setInterval took as 0 — the page asked for the
    versions without pause."""
    d, base, driver, proxy = served
    driver.get(base + "/map?live=abc")
    wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
    proxy.clear()
    time.sleep(4)
    asked = [u for u in proxy.requests if "/tiles/versions" in u]
    driver.get("about:blank")
    assert len(asked) <= 1, len(asked)  # the default, every 12 s
