"""/map follows the city's districts as the database holds them (review 13).

The page's opening view (the city's extent, from its districts) was read once per gunicorn
worker, and only for the districts of the profile the server read at start: a district `cim
profile apply` added under the edited profile stayed out of the map's view until a restart,
and out of its 定位 list until the page was reloaded. Over real HTTP with the real app (two
workers) and the real CLI; the expected extents from shapely and pyproj on the district
squares the test wrote.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import requests
import shapely

from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import make_db, run_cli, scratch_api
from tests.test_webmap import page_external, wait

# three districts of a test city in EPSG:4527 (easting with the zone's 39, northing): two
# first, a third added later east of them, reaching further north and south
SQUARES = {"370811": ("甲区", (39_455_000, 3_910_000, 39_460_000, 3_915_000)),
           "370812": ("乙区", (39_460_000, 3_910_000, 39_465_000, 3_915_000)),
           "370813": ("丙区", (39_465_000, 3_906_000, 39_473_000, 3_919_000))}
BOUNDS = re.compile(r"bounds: (\[\[[^\]]*\], \[[^\]]*\]\])")


def _city(work, codes: list[str]):
    """A profile (`cim profile create`) of the districts ``codes``, in its own folder."""
    work.mkdir()
    gpd.GeoDataFrame({"code": codes, "name": [SQUARES[c][0] for c in codes]},
                     geometry=[shapely.box(*SQUARES[c][1]) for c in codes],
                     crs="EPSG:4527").to_file(work / "districts.gpkg")
    run_cli(["profile", "create", "--name", "测试市", "--admin-code", "370800", "--crs",
             "EPSG:4527", "--boundary", str(work / "districts.gpkg"), "--out",
             str(work / "profile.yaml")], dict(os.environ), check=True)
    from cim.profile import load_profile

    return load_profile(work / "profile.yaml")


def _expected(codes: list[str]) -> list[float]:
    """The lon/lat box of the districts' storage box, its edges followed (every 100 m)."""
    x0, y0, x1, y1 = shapely.union_all([shapely.box(*SQUARES[c][1]) for c in codes]).bounds
    ring = np.array(shapely.box(x0, y0, x1, y1).segmentize(100).exterior.coords)
    lon, lat = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True) \
        .transform(ring[:, 0], ring[:, 1])
    return [lon.min(), lat.min(), lon.max(), lat.max()]


def _served(base: str) -> list[float]:
    html = requests.get(base + "/map", timeout=30).text
    (w, s), (e, n) = json.loads(BOUNDS.search(html).group(1))
    return [w, s, e, n]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    work = tmp_path_factory.mktemp("wm13city")
    first = _city(work / "first", ["370811", "370812"])
    d = make_db("wm13city", first, apply_profile=False)
    run_cli(["profile", "apply", "--quiet"], d.env(), check=True)
    with scratch_api(d, work, workers=2, tiles_version_ttl=0) as base:
        yield d, base, work


def test_a_district_applied_while_serving_is_in_the_maps_extent(city):
    d, base, work = city
    before = _expected(["370811", "370812"])
    for _ in range(8):  # both workers: each read the extent once and kept it
        assert _served(base) == pytest.approx(before, abs=1e-6)

    proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
    driver = chromium(proxy)
    try:
        driver.get(base + "/map?live=1")
        wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
        listed = "[...document.querySelectorAll('#goto option')].map(o => o.value)"
        assert "admin_divisions/370813" not in wait(
            driver, f"const v = {listed}.filter(v => v); return v.length && v", 60)

        # the edited profile names the new district; the server keeps the one it read
        second = _city(work / "second", ["370811", "370812", "370813"])
        run_cli(["profile", "apply", "--quiet"], {**d.env(), "CIM_PROFILE": str(second.path)},
                check=True)
        assert d.scalar("SELECT count(*) FROM admin_divisions WHERE valid_to IS NULL") == 3

        after = _expected(["370811", "370812", "370813"])
        assert after[1] < before[1] and after[2] > before[2] + 0.05 and after[3] > before[3]
        for _ in range(8):
            assert _served(base) == pytest.approx(after, abs=1e-6)
        # the open page lists it in 定位 without being reloaded
        assert wait(driver, f"return {listed}.includes('admin_divisions/370813')", 60)
        assert page_external(proxy) == [], page_external(proxy)
    finally:
        quit_chromium(driver)
        proxy.shutdown()
