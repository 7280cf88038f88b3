"""The web one map (/map) and pygeoapi's HTML pages in real headless Chromium, offline.

Every request the browser makes goes through a recording proxy (tests/browser.py) that
forwards only to the test server. Expected codes and positions come from the stored WKB read
with shapely and transformed with pyproj (never from the page or the tiles under test).
"""

from __future__ import annotations

import io
import time
import urllib.parse

import pyproj
import pytest
import requests
import shapely

from tests.browser import RecordingProxy, chromium, quit_chromium

LAYERS = ["admin_divisions", "grid_cells", "buildings", "pipe_points", "pipe_segments",
          "components"]
# Chromium's own services (updates, sign-in, the default search engine's preconnect): the
# browser contacts them whatever the page is; never a CDN the pages could load from
BROWSER_SERVICES = {"update.googleapis.com", "clients2.google.com", "accounts.google.com",
                    "start.duckduckgo.com", "clientservices.googleapis.com",
                    "safebrowsing.googleapis.com", "optimizationguide-pa.googleapis.com",
                    "content-autofill.googleapis.com", "www.google.com"}
TO_LONLAT = pyproj.Transformer.from_crs("EPSG:4527", "OGC:CRS84", always_xy=True)


def host(url: str) -> str:
    return urllib.parse.urlsplit(url if "//" in url else "//" + url).hostname or url


def page_external(proxy: RecordingProxy) -> list[str]:
    return [u for u in proxy.external if host(u) not in BROWSER_SERVICES]


def wait(driver, script: str, timeout: float = 90) -> object:
    t0 = time.time()
    while time.time() - t0 < timeout:
        got = driver.execute_script(script)
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for: {script}")


def not_background(png: bytes, background: tuple[int, int, int], tol: int = 12) -> float:
    """Share of pixels farther than ``tol`` from ``background`` in any channel."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    px = list(img.get_flattened_data()) if hasattr(img, "get_flattened_data") \
        else list(img.getdata())
    off = sum(1 for p in px if max(abs(a - b) for a, b in zip(p, background)) > tol)
    return off / len(px)


def lonlat_inside(db, layer: str, extra: str = "") -> tuple[str, tuple[float, float]]:
    """A current feature of ``layer`` and a lon/lat on it (shapely + pyproj on its WKB)."""
    code, wkb = db.rows(f"SELECT code, ST_AsBinary(ST_Force2D(geom)) FROM {layer} b "
                        f"WHERE valid_to IS NULL {extra} ORDER BY ST_Area(geom) DESC, code "
                        "LIMIT 1")[0]
    p = shapely.from_wkb(bytes(wkb)).point_on_surface()
    return code, TO_LONLAT.transform(p.x, p.y)


@pytest.fixture(scope="module")
def browser(api):
    proxy = RecordingProxy(urllib.parse.urlsplit(api).netloc)
    driver = chromium(proxy)
    yield driver, proxy
    quit_chromium(driver)
    proxy.shutdown()


def open_map(driver, api: str) -> None:
    driver.get(api + "/map")
    wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
    wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded()")


def go(driver, lonlat, zoom: float) -> None:
    driver.execute_script("CIM_MAP.map.jumpTo({center: arguments[0], zoom: arguments[1]})",
                          list(lonlat), zoom)
    time.sleep(0.5)
    wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded() "
                 "&& !m.isMoving()")


def test_map_offline_every_layer_identify(browser, api, db):
    """/map: only the server is contacted, each layer's tiles load with the feature where
    pyproj puts it, the map is drawn, and clicking a building shows its code."""
    driver, proxy = browser
    proxy.clear()
    open_map(driver, api)
    assert driver.find_element("id", "tree-body").text.count("地下管线") == 1
    for layer in LAYERS:
        code, lonlat = lonlat_inside(db, layer)
        go(driver, lonlat, 17 if layer != "admin_divisions" else 12)
        got = driver.execute_script(
            "return CIM_MAP.map.querySourceFeatures('cim', {sourceLayer: arguments[0]})"
            ".map(f => f.properties.code)", layer)
        assert code in got, f"{layer}: {code} not in the loaded tiles"
    tiles = {u: s for u, s in proxy.statuses.items() if "/tiles/WebMercatorQuad/" in u}
    assert tiles and all(s in (200, 204, 304) for s in tiles.values()), tiles

    # a building away from pipes and components: the click lands on it alone
    far = ("AND NOT EXISTS (SELECT 1 FROM {t} o WHERE o.valid_to IS NULL AND "
           "ST_DWithin(o.geom, ST_PointOnSurface(b.geom), 15))")
    extra = " ".join(far.format(t=t) for t in ("pipe_segments", "pipe_points", "components"))
    code, lonlat = lonlat_inside(db, "buildings", extra)
    go(driver, lonlat, 18)
    canvas = driver.find_element("css selector", "#map canvas")
    png = driver.find_element("id", "map").screenshot_as_png
    assert not_background(png, (0xF7, 0xF6, 0xF2)) > 0.02, "the map is blank"
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element(canvas).click().perform()  # the canvas' centre
    shown = wait(driver, "const e = document.getElementById('info-code'); "
                         "return e && e.textContent", 30)
    assert shown == code

    # search by code zooms to the feature (cim code explain semantics)
    other, lonlat = lonlat_inside(db, "buildings", f"AND code <> '{code}'")
    box = driver.find_element("id", "code")
    box.clear()
    box.send_keys(other + "\n")
    assert wait(driver, "const e = document.getElementById('info-code'); "
                        f"return e && e.textContent === '{other}'", 30)
    center = driver.execute_script("const c = CIM_MAP.map.getCenter(); return [c.lng, c.lat]")
    b = shapely.from_wkb(bytes(db.rows("SELECT ST_AsBinary(geom) FROM buildings WHERE code = %s "
                                       "AND valid_to IS NULL", (other,))[0][0]))
    x0, y0, x1, y1 = b.bounds
    lon0, lat0 = TO_LONLAT.transform(x0, y0)
    lon1, lat1 = TO_LONLAT.transform(x1, y1)
    assert lon0 - 1e-4 <= center[0] <= lon1 + 1e-4 and lat0 - 1e-4 <= center[1] <= lat1 + 1e-4

    # everything the page itself fetched came from the server
    entries = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert entries and all(e.startswith(api) for e in entries), entries
    assert page_external(proxy) == [], page_external(proxy)
    # the recording is real: a request to a CDN from the page is caught
    driver.execute_script("fetch('https://unpkg.com/leaflet@1.9.4/dist/leaflet.js')"
                          ".catch(() => null)")
    wait(driver, "return true")
    time.sleep(1)
    assert any(host(u) == "unpkg.com" for u in page_external(proxy))


def test_map_aoi_box(browser, api, db):
    """A box dragged on the map counts each layer as the query library's AOI does; the
    expected buildings are those whose footprint (shapely) meets the box (pyproj)."""
    driver, proxy = browser
    open_map(driver, api)
    code, lonlat = lonlat_inside(db, "buildings")
    go(driver, lonlat, 17)
    driver.find_element("id", "tool-aoi").click()
    canvas = driver.find_element("css selector", "#map canvas")
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element_with_offset(canvas, -120, -80).click_and_hold() \
        .move_by_offset(120, 80).move_by_offset(120, 80).release().perform()
    n = wait(driver, "const e = document.getElementById('aoi-buildings'); "
                     "return e && e.textContent", 60)
    corners = driver.execute_script(
        "const m = CIM_MAP.map, c = m.getCanvas(), w = c.clientWidth / 2, h = c.clientHeight / 2;"
        "const a = m.unproject([w - 120, h - 80]), b = m.unproject([w + 120, h + 80]);"
        "return [a.lng, a.lat, b.lng, b.lat]")
    to_store = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4527", always_xy=True)
    lon0, lat1, lon1, lat0 = corners
    area = shapely.Polygon([to_store.transform(x, y) for x, y in shapely.box(
        lon0, lat0, lon1, lat1).segmentize(1e-5).exterior.coords])
    geoms = [shapely.from_wkb(bytes(w)) for (w,) in db.rows(
        "SELECT ST_AsBinary(geom) FROM buildings WHERE valid_to IS NULL")]
    expected = sum(1 for g in geoms if g.intersects(area))
    assert expected > 0
    # the drawn box is rounded to 1e-7° (~1 cm): a footprint on its edge may differ by one
    assert abs(int(n) - expected) <= 1, (n, expected)


def test_live_layers_refresh_offline_and_identify_an_alarm(browser, api, db):
    """Issue 14: sensors, alarms and cases come from their own source (the server only); an
    alarm written after the page loaded appears at the next refresh (?live=2: every 2 s),
    without reloading the page, and identify shows its level, value and case."""
    driver, proxy = browser
    proxy.clear()
    driver.get(api + "/map?live=2")
    wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")
    sensor, lonlat = lonlat_inside(db, "sensors", "AND device_id = 'GP-001'")
    go(driver, lonlat, 17)
    got = driver.execute_script(
        "return CIM_MAP.map.querySourceFeatures('live', {sourceLayer: 'sensors'})"
        ".map(f => f.properties.code)")
    assert sensor in got
    time.sleep(4.5)  # two refreshes with nothing changed: the live tiles are not reloaded
    assert driver.execute_script("return CIM_STATE.live.reloads") == 0
    code, case = "370811940199999901", "370811930199999901"
    db.rows("INSERT INTO alarms (code, geom, sensor_code, device_id, type_code, type_name, "
            "kind, level, level_name, color, status, threshold, last_value, peak_value, unit, "
            "opened_at, case_code) SELECT %s, geom, code, device_id, type_code, type_name, "
            "'threshold', 1, '一级', '红', 'active', 0.05, 0.041, 0.041, unit, now(), %s "
            "FROM sensors WHERE code = %s AND valid_to IS NULL RETURNING id",
            (code, case, sensor))
    try:
        assert wait(driver, "return CIM_MAP.map.querySourceFeatures('live', {sourceLayer: "
                            f"'alarms'}}).some(f => f.properties.code === '{code}')", 60)
        assert driver.execute_script("return CIM_STATE.live.reloads") >= 1
        wait(driver, "const m = CIM_MAP.map; return m.loaded() && m.areTilesLoaded()")
        canvas = driver.find_element("css selector", "#map canvas")
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(driver).move_to_element(canvas).click().perform()  # the sensor's place
        text = wait(driver, "const e = document.getElementById('info-summary'); "
                            "return e && e.textContent", 30)
        assert "一级" in text and "0.041" in text and case in text
    finally:
        db.rows("DELETE FROM alarms WHERE code = %s RETURNING id", (code,))
    # the alarm open in the info panel is gone: the panel says so at the next refresh
    assert wait(driver, "return !!document.getElementById('info-gone')", 30)
    assert driver.find_element("id", "info-code").text == code
    live = [u for u in proxy.statuses if "collections=risk_points,sensors,alarms,cases" in u
            and "/tiles/WebMercatorQuad/" in u]
    assert live and any("&v=" in u for u in live), live
    assert all(proxy.statuses[u] in (200, 204, 304) for u in live)
    assert page_external(proxy) == [], proxy.external


@pytest.mark.parametrize("path", ["/collections/buildings?f=html",
                                  "/collections/buildings/items?f=html&limit=50"])
def test_pygeoapi_pages_offline(browser, api, path):
    """pygeoapi's collection and items pages: Leaflet and Bootstrap from the server, the map
    drawn (features or the extent as vectors), no basemap request, Chinese UI."""
    driver, proxy = browser
    driver.get("about:blank")  # an open map polls on (and refreshes its info panel) until left
    proxy.clear()
    driver.get(api + path)
    wait(driver, "return document.readyState === 'complete' && !!window.L")
    n = wait(driver, "return document.querySelectorAll('.leaflet-container path"
                     ".leaflet-interactive').length")
    assert n >= 1
    png = driver.find_element("css selector", ".leaflet-container").screenshot_as_png
    assert not_background(png, (0xDD, 0xDD, 0xDD), tol=20) > 0.005, "the map is blank"
    assert "数据集" in driver.find_element("tag name", "body").text
    css = driver.execute_script(
        "return getComputedStyle(document.querySelector('.container')).maxWidth")
    assert css not in ("", "none")  # Bootstrap's grid applied: its CSS was served
    entries = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(e.startswith(api) for e in entries), entries
    assert page_external(proxy) == [], page_external(proxy)
    failed = {u: s for u, s in proxy.statuses.items() if s >= 400}
    assert failed == {}, failed  # pygeoapi's own CSS and logos (/static/…) are served too


def test_routes(api, db):
    """Style, tree, glyphs, codes and the AOI route, checked against SQL counts."""
    s = requests.get(f"{api}/styles/onemap?f=mapbox", timeout=30)
    assert s.status_code == 200 and s.headers["Content-Type"].startswith(
        "application/vnd.mapbox.style+json")
    style = s.json()
    assert style["sources"]["cim"]["url"].startswith(
        f"{api}/tiles/WebMercatorQuad?f=tilejson&collections=")
    assert "basemap" not in style["sources"]
    font = style["layers"][-1]["layout"]["text-font"][0]
    g = requests.get(style["glyphs"].replace("{fontstack}", font).replace("{range}", "0-255"),
                     timeout=30)
    assert g.status_code == 200 and len(g.content) > 1000
    # a range not vendored is a 404: MapLibre then draws its characters with the browser's
    # fonts (CJK ideographs it draws so without asking)
    cjk = requests.get(f"{api}/map/fonts/{font}/19968-20223.pbf", timeout=30)
    assert cjk.status_code == 404
    assert requests.get(f"{api}/map/fonts/x/../0-255.pbf", timeout=30).status_code == 404
    listed = requests.get(f"{api}/styles", timeout=30).json()["styles"]
    assert [x["id"] for x in listed] == ["onemap"]
    tree = requests.get(f"{api}/map/tree.json", timeout=30).json()
    assert {g["group"] for g in tree} >= {"规划底图", "建筑", "地下管线", "城市部件"}

    code = db.scalar("SELECT code FROM buildings WHERE valid_to IS NULL ORDER BY code LIMIT 1")
    d = requests.get(f"{api}/codes/{code}", timeout=30).json()
    assert d["exists"] is True and d["layer"] == "buildings"
    assert d["item"] == f"{api}/collections/buildings/items/{code}"
    assert requests.get(f"{api}/codes/12ab", timeout=30).status_code == 400

    # a box around the whole city (its districts' extent, pyproj, 0.01° margin) holds all
    x0, y0, x1, y1 = shapely.from_wkb(bytes(db.scalar(
        "SELECT ST_AsBinary(ST_Extent(geom)::geometry) FROM admin_divisions"))).bounds
    (lon0, lon1), (lat0, lat1) = TO_LONLAT.transform([x0, x1], [y0, y1])
    box = f"{lon0 - .01},{lat0 - .01},{lon1 + .01},{lat1 + .01}"
    a = requests.get(f"{api}/map/api/aoi?bbox={box}", timeout=60)
    assert a.status_code == 200, a.text
    for layer in LAYERS:
        assert a.json()["layers"][layer]["count"] == db.scalar(
            f"SELECT count(*) FROM {layer} WHERE valid_to IS NULL")
    assert requests.get(f"{api}/map/api/aoi?bbox=1,2,3", timeout=30).status_code == 400

    # a section line drawn on the map: one row per pipe segment it crosses (shapely, pyproj)
    (lon, lat), to_store = lonlat_inside(db, "pipe_segments")[1], pyproj.Transformer.from_crs(
        "OGC:CRS84", "EPSG:4527", always_xy=True)
    a_, b_ = (lon - 0.0007, lat - 0.0005), (lon + 0.0007, lat + 0.0005)
    line = shapely.LineString([to_store.transform(*a_), to_store.transform(*b_)])
    segs = [shapely.from_wkb(bytes(w)) for (w,) in db.rows(
        "SELECT ST_AsBinary(ST_Force2D(geom)) FROM pipe_segments WHERE valid_to IS NULL")]
    expected = sum(len(getattr(x, "geoms", [x])) for x in
                   (g.intersection(line) for g in segs) if not x.is_empty)
    r = requests.get(f"{api}/map/api/section", timeout=60, params={
        "line": f"LINESTRING({a_[0]} {a_[1]}, {b_[0]} {b_[1]})"})
    assert r.status_code == 200, r.text
    assert expected >= 1 and len(r.json()["rows"]) == expected
    assert r.json()["svg"].startswith("<svg")


def test_no_cdn_in_templates_and_basemap_setting(db):
    """No template of pygeoapi's the platform serves names a CDN; the basemap is only what
    the setting says (none by default)."""
    from services.config import pygeoapi_config
    from services.webmap import PYGEOAPI_TEMPLATES

    for p in PYGEOAPI_TEMPLATES.rglob("*.html"):
        text = p.read_text(encoding="utf-8")
        for cdn in ("unpkg.com", "cdn.jsdelivr.net", "cdnjs.cloudflare.com", "googleapis.com",
                    "openstreetmap.org"):
            assert cdn not in text, (p, cdn)
    base = pygeoapi_config(db.url, db.conninfo, db.profile, "http://h")["server"]
    assert base["map"]["url"] == "" and base["templates"]["path"] == str(PYGEOAPI_TEMPLATES)
    tdt = "http://t0.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}"
    assert pygeoapi_config(db.url, db.conninfo, db.profile, "http://h",
                           basemap_url=tdt)["server"]["map"]["url"] == tdt


def test_pygeoapi_pages_titled_by_their_collection(api):
    """The collection page and its items page are titled by the collection's title (the
    items page's <title> was empty: pygeoapi gives its template no data['title'])."""
    import html
    import re

    title = requests.get(f"{api}/collections/buildings?f=json", timeout=30).json()["title"]
    assert title
    for path in ("/collections/buildings?f=html", "/collections/buildings/items?f=html&limit=5"):
        r = requests.get(api + path, timeout=60)
        assert r.status_code == 200, path
        head = re.search(r"<title>(.*?)</title>", r.content.decode("utf-8"), re.S).group(1)
        assert html.unescape(head).strip() == title, (path, head)
