"""/map opens on the served city, wherever it is: the page started at Jining's centre (written
in map.js) and asked for Jining's tiles before it moved to the city's bounds. A city profile
around the real OSM Liechtenstein buildings (EPSG:2056), its districts loaded; the browser's
requests recorded by the proxy (tests/browser.py)."""

from __future__ import annotations

import math
import os
import re
import urllib.parse

import pyproj
import pytest

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.migrate import fresh_database
from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import TestDB, profile_around, real_file, server_url, start_api
from tests.test_webmap import open_map

JINING = (116.59, 35.41)
TILE = re.compile(r"/tiles/WebMercatorQuad/(\d+)/(\d+)/(\d+)")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from loaders.divisions import load_districts

    src = real_file("li_buildings.gpkg")
    work = tmp_path_factory.mktemp("mapsli")
    profile = profile_around(src, "buildings", work, name="Liechtenstein (test)",
                             admin_code="990100", crs="EPSG:2056")
    name = f"cim_test_mapsli_{os.getpid()}"
    url = fresh_database(server_url(), name, profile.srid)
    d = TestDB(url=url, conninfo=psycopg_conninfo(url), profile=profile, name=name)
    try:
        load_districts(d.conninfo, profile, mode="replace")
        proc, base = start_api(d.url, profile, work)
        try:
            yield d, base
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        drop_database(server_url(), name)


def _lonlat(z: int, row: int, col: int) -> tuple[float, float]:
    n = 2 ** z
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (row + 0.5) / n))))
    return (col + 0.5) / n * 360 - 180, lat


def test_the_map_opens_on_the_city(served):
    d, base = served
    x0, y0, x1, y1 = d.rows("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                            "(SELECT ST_Extent(geom) e FROM admin_divisions) s")[0]
    lon, lat = pyproj.Transformer.from_crs(2056, 4326, always_xy=True).transform(
        (x0 + x1) / 2, (y0 + y1) / 2)
    proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
    driver = chromium(proxy)
    try:
        open_map(driver, base)
        centre = driver.execute_script("return CIM_MAP.center")
        urls = list(proxy.requests)
    finally:
        quit_chromium(driver)
        proxy.shutdown()
    assert centre == pytest.approx([lon, lat], abs=0.05)
    tiles = [tuple(map(int, m.groups())) for u in urls if (m := TILE.search(u))]
    assert tiles
    far = [t for t in tiles if abs(_lonlat(*t)[0] - lon) > 20]  # e.g. Jining's, 107° east
    assert not far, far[:5]
