"""/map's 定位 list (zoom to a district or a grid cell) lists every current grid cell: it asked
for one page of 1,000 with their polygons, so a city of more unit grid cells (a district of a
real city has thousands) missed the rest without a word. Here the sample's 303 cells and
1,200 more written by hand; the expected codes are the database's."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import make_db, scratch_api
from tests.test_webmap import wait

EXTRA = 1200


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("mapsgoto", jining_profile)
    # 1,200 more cells of 任城区: the sample's first cell's polygon under new 15-digit codes
    d.rows("INSERT INTO grid_cells (code, source_key, geom, name, district_code) "
           "SELECT '370811' || lpad((900000000 + g)::text, 9, '0'), 'extra:' || g, c.geom, "
           "'额外网格' || g, c.district_code FROM generate_series(1, %s) g, "
           "(SELECT geom, district_code FROM grid_cells WHERE valid_to IS NULL "
           "ORDER BY code LIMIT 1) c RETURNING 1", (EXTRA,))
    with scratch_api(d, tmp_path_factory.mktemp("mapsgoto")) as base:
        yield d, base


def test_every_grid_cell_is_in_the_goto_list(served):
    d, base = served
    cells = {r[0] for r in d.rows("SELECT code FROM grid_cells WHERE valid_to IS NULL")}
    districts = {r[0] for r in d.rows("SELECT code FROM admin_divisions WHERE valid_to IS NULL")}
    assert len(cells) == 303 + EXTRA
    proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
    driver = chromium(proxy)
    try:
        driver.get(base + "/map")
        wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
        got = wait(driver, "const g = {}; for (const og of document.querySelectorAll("
                           "'#goto optgroup')) g[og.label] = [...og.querySelectorAll('option')]"
                           ".map(o => o.value); return Object.keys(g).length === 2 && g", 120)
        # choosing one of the last cells shows it (its geometry fetched then)
        last = max(cells)
        driver.execute_script("const s = document.getElementById('goto'); s.value = "
                              "arguments[0]; s.dispatchEvent(new Event('change'))",
                              f"grid_cells/{last}")
        shown = wait(driver, "const e = document.getElementById('info-code'); "
                             "return e && e.textContent", 30)
    finally:
        quit_chromium(driver)
        proxy.shutdown()
    assert sorted(got["网格"]) == sorted(f"grid_cells/{c}" for c in cells)
    assert sorted(got["行政区"]) == sorted(f"admin_divisions/{c}" for c in districts)
    assert shown == last
