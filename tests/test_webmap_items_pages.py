"""pygeoapi's HTML items page as a planner pages it in real headless Chromium (review 9): the
next button goes on by the keyset cursor, keeping the sort and the filter, and choosing another
page size keeps them too (it dropped every parameter but ``limit``). Expected codes come from
SQL on the session database."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.browser import RecordingProxy, chromium, quit_chromium

FILTER = "height > 10 AND use_name = '住宅'"
ORDER = "height DESC NULLS LAST, id"


@pytest.fixture(scope="module")
def browser(api):
    proxy = RecordingProxy(urllib.parse.urlsplit(api).netloc)
    driver = chromium(proxy)
    yield driver
    quit_chromium(driver)
    proxy.shutdown()


def _wait(driver, script: str, timeout: float = 60):
    import time

    t0 = time.time()
    while time.time() - t0 < timeout:
        got = driver.execute_script(script)
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


def _codes(driver) -> list[str]:
    _wait(driver, "return document.readyState === 'complete'")
    return driver.execute_script(
        "return [...document.querySelectorAll('table tbody tr td:first-child a')]"
        ".map(a => a.getAttribute('href').split('/items/')[1])")


def test_next_button_and_page_size_keep_the_sort_and_filter(browser, api, db):
    expected = [c for c, in db.rows(
        "SELECT code FROM buildings WHERE valid_to IS NULL AND height > 10 "
        f"AND use_name = '住宅' ORDER BY {ORDER}")]
    assert len(expected) > 25
    query = urllib.parse.urlencode({"f": "html", "sortby": "-height", "limit": 10,
                                    "filter": FILTER})
    browser.get(f"{api}/collections/buildings/items?{query}")
    assert _codes(browser) == expected[:10]
    for page in (1, 2):
        old = browser.current_url
        browser.execute_script(
            "[...document.querySelectorAll('a[role=button]')]"
            ".find(a => ['下一页', 'Next'].includes(a.textContent.trim())).click()")
        _wait(browser, f"return location.href !== {old!r}")
        args = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
        assert "cursor" in args and "offset" not in args
        assert args["filter"] == [FILTER] and args["sortby"] == ["-height"]
        assert _codes(browser) == expected[10 * page:10 * page + 10]
    old = browser.current_url
    browser.execute_script("const s = document.getElementById('limits'); s.value = '100';"
                           "s.dispatchEvent(new Event('change'));")
    _wait(browser, f"return location.href !== {old!r}")
    args = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
    assert args["limit"] == ["100"] and "cursor" not in args
    assert args["filter"] == [FILTER] and args["sortby"] == ["-height"]
    assert _codes(browser) == expected[:100]
