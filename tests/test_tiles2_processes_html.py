"""The processes as HTML pages (review 11): the landing page links ``/processes?f=html``, which
answered 400 "only json is served" to a planner clicking it. In real headless Chromium with
every other host refused (tests/browser.py's recording proxy): the list, a process's page and
the jobs page it links to load, show every process by its title, load nothing from elsewhere
and log no console error. Expected titles and inputs come from the process definitions
(:func:`layers.processes.all_processes`), never from the server's answers."""

from __future__ import annotations

import re
import urllib.parse

import pytest
import requests

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import scratch_api, scratch_db
from tests.test_webmap import page_external, wait

CJK = re.compile(r"[\u4e00-\u9fff]+")


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    """The app over HTTP on a database of the module's own (the processes need no data)."""
    with scratch_db("tiles2_proc", jining_profile) as d, \
            scratch_api(d, tmp_path_factory.mktemp("tiles2_proc")) as base:
        yield base


@pytest.fixture(scope="module")
def logged(served):
    """Chromium behind the recording proxy, its console kept (goog:loggingPrefs)."""
    from selenium import webdriver

    mp = pytest.MonkeyPatch()

    class Options(webdriver.ChromeOptions):
        def __init__(self) -> None:
            super().__init__()
            self.set_capability("goog:loggingPrefs", {"browser": "ALL"})

    mp.setattr(webdriver, "ChromeOptions", Options)
    proxy = RecordingProxy(urllib.parse.urlsplit(served).netloc)
    try:
        driver = chromium(proxy)
    finally:
        mp.undo()
    yield driver, proxy
    quit_chromium(driver)
    proxy.shutdown()


def _clean(driver, proxy) -> None:
    """Nothing from another host, no failed request, no console error."""
    assert page_external(proxy) == [], page_external(proxy)
    failed = {u: s for u, s in proxy.statuses.items() if s >= 400}
    assert failed == {}, failed
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def _loaded(driver) -> None:
    wait(driver, "return document.readyState === 'complete'")
    wait(driver, "return document.body.innerText.trim().length > 0")


def test_landing_page_link_opens_the_process_list(logged, served):
    from layers.processes import all_processes

    defs = all_processes()
    driver, proxy = logged
    driver.get(served + "/?f=html")
    _loaded(driver)
    driver.get_log("browser")
    proxy.clear()
    link = driver.find_element("css selector", 'a[href$="/processes?f=html"]')
    link.click()
    wait(driver, "return location.pathname === '/processes'")
    _loaded(driver)
    rows = driver.find_elements("css selector", "#processes tbody tr")
    shown = {}
    for row in rows:
        a = row.find_element("css selector", "td a")
        shown[a.get_attribute("href").rsplit("/", 1)[-1]] = a.text.strip()
    assert list(shown) == list(defs)  # every process, in the registry's order
    for pid, p in defs.items():
        assert shown[pid] == p["title"].strip(), pid
        # the Chinese name a definition gives (排水追踪, 规划审查 …) is on the page
        for zh in CJK.findall(p["title"]):
            assert zh in shown[pid], (pid, zh)
    # the offline Bootstrap is applied (its .table has a bottom margin)
    assert driver.execute_script(
        "return getComputedStyle(document.querySelector('table')).marginBottom !== '0px'")
    _clean(driver, proxy)


def test_a_process_page_lists_its_inputs_and_links_the_jobs_page(logged, served):
    from layers.processes import all_processes

    driver, proxy = logged
    for pid in ("overlay", "trace"):
        schema = all_processes()[pid]["inputs"]
        driver.get_log("browser")
        proxy.clear()
        driver.get(f"{served}/processes?f=html")
        _loaded(driver)
        link = driver.find_element("css selector", f'#processes a[href$="/processes/{pid}"]')
        # (the descriptions make the list longer than the window; Bootstrap scrolls smoothly)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", link)
        link.click()
        wait(driver, f"return location.pathname === '/processes/{pid}'")
        _loaded(driver)
        assert driver.find_element("css selector", "#process h2").text.strip() == \
            all_processes()[pid]["title"].strip()
        ids = [td.text.strip() for td in driver.find_elements(
            "css selector", "#process table tbody td[itemprop=id]")]
        assert ids == [*schema["properties"], "result"], pid  # the inputs, the one output
        _clean(driver, proxy)
    # the process page's jobs link: an HTML page too (no job is ever kept)
    proxy.clear()
    jobs = driver.find_element("css selector", 'a[title="Browse jobs"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", jobs)
    jobs.click()
    wait(driver, "return location.pathname === '/jobs'")
    _loaded(driver)
    assert driver.find_elements("css selector", "table.job-list tbody tr") == []
    _clean(driver, proxy)


def test_json_stays_the_default_and_other_formats_are_refused(served):
    doc = requests.get(f"{served}/processes", timeout=30)
    assert doc.headers["Content-Type"].startswith("application/json")
    assert doc.json()["processes"]
    one = requests.get(f"{served}/processes/overlay?f=json", timeout=30).json()
    assert one["id"] == "overlay" and "inputs" in one
    # a browser asking by Accept gets the page, as from pygeoapi's own views
    page = requests.get(f"{served}/processes/overlay", timeout=30,
                        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["Content-Type"].startswith("text/html")
    from layers.processes import all_processes

    assert all_processes()["overlay"]["title"] in page.text
    # every page embeds its ?f=jsonld (pygeoapi's _base.html): an answer, not a 400
    ld = requests.get(f"{served}/processes/overlay?f=jsonld", timeout=30)
    assert ld.status_code == 200 and ld.json()["id"] == "overlay"
    bad = requests.get(f"{served}/processes?f=xml", timeout=30)
    assert bad.status_code == 400 and "f=xml" in bad.json()["description"]
    assert requests.get(f"{served}/processes/nope?f=html", timeout=30).status_code == 404
