"""What planners see, probed as a planner would (review 10):

- QGIS's identify panel and attribute table, and the web map's feature info, named the
  attributes by their column names (``use_name``, ``floors_above``, ``diameter_mm``): now by
  their Chinese names (建筑用途, 地上层数, 管径), QGIS through field aliases in the QML (the
  project's layers and a layer added by hand alike), the web map through ``/map/fields.json``.
- One layer reaching far beyond the city (a prefecture's roads) opened /map zoomed out to it,
  where the city's buildings and pipes are not drawn: it opens on the city's districts.
- A city's rule-based fill (its own styles file) made /styles/onemap raise
  NotImplementedError (HTTP 500: no web map at all); it is drawn as QGIS draws it.
- The web legend listed every rule of a rule-based layer grey (公共服务设施: the map drew
  schools blue and clinics red).

Real QGIS (system python3) and real headless Chromium, as the other map tests; expected names
are the Chinese words written here, expected extents read from PostGIS and pyproj.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
import urllib.parse

import pyproj
import pytest
import yaml

from cim.config import DEFAULT_PROFILE
from cim.db.engine import drop_database
from cim.profile import DICTIONARY_DIR, load_profile
from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import (
    SAMPLE_BUILDINGS,
    load_network_samples,
    make_db,
    run_cli,
    scratch_api,
    server_url,
)
from tests.test_qgis_project import SYSTEM_PYTHON, qgis_missing
from tests.test_webmap import open_map, wait

CJK = re.compile(r"[\u3400-\u9fff]")
# a planner's names of some attributes (GB/T 50001-style survey tables, CJJ 61)
KNOWN = {"buildings": {"code": "统一编码", "name": "建筑名称", "use_name": "建筑用途",
                       "floors_above": "地上层数", "height": "建筑高度(m)"},
         "pipe_segments": {"diameter_mm": "管径(mm)", "material": "材质",
                           "start_depth": "起点埋深(m)"},
         "pipe_points": {"appurtenance": "附属物", "ground_elevation": "地面高程(m)"}}

ALIASES = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
p = QgsProject.instance()
out = {"read": p.read(sys.argv[1]), "project": [], "by_hand": {}}
for lyr in p.mapLayers().values():
    out["project"].append({"name": lyr.name(), "valid": lyr.isValid(),
                           "table": lyr.dataProvider().uri().table(),
                           "aliases": {f.name(): lyr.attributeDisplayName(i)
                                       for i, f in enumerate(lyr.fields())}})
for table, wkb in json.loads(sys.argv[2]).items():
    lyr = QgsVectorLayer(f"service='{sys.argv[3]}' key='id' type={wkb} "
                         f"table=\"public\".\"{table}\" (geom)", table, "postgres")
    out["by_hand"][table] = {f.name(): lyr.attributeDisplayName(i)
                             for i, f in enumerate(lyr.fields())}
print(json.dumps(out, ensure_ascii=False))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def pdb(jining_profile):
    d = make_db("mapsp10", jining_profile)
    from loaders.buildings import load_buildings

    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    load_network_samples(d, jining_profile)
    yield d
    drop_database(server_url(), d.name)


def test_qgis_names_every_attribute_in_chinese(pdb, tmp_path):
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    env = pdb.env()
    run_cli(["styles", "apply"], env, check=True)
    service = tmp_path / "pg_service.conf"
    run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cimp10",
             "--service-file", str(service), "--no-db"], env, check=True)
    (tmp_path / "aliases.py").write_text(ALIASES)
    by_hand = {"buildings": "MultiPolygon", "pipe_segments": "LineStringZ"}
    proc = subprocess.run([SYSTEM_PYTHON, str(tmp_path / "aliases.py"), str(tmp_path / "p.qgs"),
                           json.dumps(by_hand), "cimp10"], capture_output=True, text=True,
                          env={**os.environ, "PGSERVICEFILE": str(service)}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["read"] and got["project"]
    for lyr in got["project"]:
        assert lyr["valid"], lyr["name"]
        english = [f for f, a in lyr["aliases"].items() if not CJK.search(a)]
        assert not english, (lyr["name"], english)
        for field, zh in KNOWN.get(lyr["table"], {}).items():
            assert lyr["aliases"][field] == zh, (lyr["name"], field, lyr["aliases"][field])
    # a layer a planner adds by hand takes its default style (public.layer_styles), names too
    for table in by_hand:
        names = got["by_hand"][table]
        assert names and all(CJK.search(a) for a in names.values()), (table, names)
        for field, zh in KNOWN[table].items():
            assert names[field] == zh, (table, field, names[field])


@pytest.fixture(scope="module")
def browser(api):
    proxy = RecordingProxy(urllib.parse.urlsplit(api).netloc)
    driver = chromium(proxy)
    yield driver, proxy
    quit_chromium(driver)
    proxy.shutdown()


def info_rows(driver, code: str) -> dict[str, str]:
    """Search ``code`` on /map (the page's own search box); the feature info's rows."""
    box = driver.find_element("id", "code")
    box.clear()
    box.send_keys(code)
    driver.find_element("css selector", "#search button").click()
    wait(driver, "const e = document.getElementById('info-code'); "
                 f"return e && e.textContent === {json.dumps(code)}")
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#info-body tr')]"
        ".map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent]))")


def test_web_feature_info_names_attributes_in_chinese(browser, api, db):
    driver, proxy = browser
    proxy.clear()
    open_map(driver, api)
    for layer, known in KNOWN.items():
        code, *values = db.rows(f"SELECT code, {', '.join(k for k in known if k != 'code')} "
                                f"FROM {layer} WHERE valid_to IS NULL AND "
                                f"{' AND '.join(f'{k} IS NOT NULL' for k in known)} "
                                "ORDER BY code LIMIT 1")[0]
        rows = info_rows(driver, code)
        assert rows["统一编码"] == code, rows
        for (field, zh), value in zip([kv for kv in known.items() if kv[0] != "code"], values):
            assert zh in rows, (layer, zh, rows)
            shown = float(rows[zh]) if isinstance(value, float) else rows[zh]
            assert shown == (value if isinstance(value, float) else str(value)), (zh, rows)
            assert field not in rows, (layer, field, rows)
        assert "[]" not in rows.values()  # an empty list of flags is left out
    assert not [u for u in proxy.external if api.split("//")[1] in u]


def test_the_map_opens_on_the_city_when_a_layer_reaches_far_beyond_it(jining_profile,
                                                                      tmp_path):
    """A road delivered for the whole prefecture, 150 km long: /map still opens on the two
    districts, zoomed in so that the buildings are drawn (1:50 000 and larger)."""
    import geopandas as gpd
    import pyogrio
    import shapely

    from loaders.city_base import load_base

    road = tmp_path / "far_road.gpkg"
    gpd.GeoDataFrame({"name": ["远郊快速路"], "road_class": ["快速路"]},
                     geometry=[shapely.LineString([(116.62, 35.37), (117.4, 35.6),
                                                   (117.9, 36.0)])],
                     crs="EPSG:4490").to_file(road, layer="roads", engine="pyogrio")
    assert pyogrio.read_info(road)["features"] == 1
    d = make_db("mapsfar", jining_profile)
    try:
        assert load_base(d.conninfo, jining_profile, "roads", road).loaded == 1
    except BaseException:
        drop_database(server_url(), d.name)
        raise
    x0, y0, x1, y1 = d.rows("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                            "(SELECT ST_Extent(geom) e FROM admin_divisions "
                            "WHERE valid_to IS NULL) s")[0]
    to = pyproj.Transformer.from_crs(jining_profile.srid, 4326, always_xy=True)
    w, s, e, n = to.transform_bounds(x0, y0, x1, y1)
    with scratch_api(d, tmp_path) as base:
        proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
        driver = chromium(proxy)
        try:
            open_map(driver, base)
            time.sleep(0.5)
            (vw, vs), (ve, vn) = driver.execute_script(
                "return CIM_MAP.map.getBounds().toArray()")
            zoom = driver.execute_script("return CIM_MAP.map.getZoom()")
        finally:
            quit_chromium(driver)
            proxy.shutdown()
    # the districts are in view, and the view is not much larger than they are
    assert vw <= w and vs <= s and ve >= e and vn >= n, ((vw, vs, ve, vn), (w, s, e, n))
    assert (ve - vw) < 3 * (e - w) or (vn - vs) < 3 * (n - s), ((vw, vs, ve, vn), zoom)


def city_with(tmp_path, mutate) -> object:
    """The Jining profile with a styles file of its own: the platform's, changed by
    ``mutate``."""
    raw = copy.deepcopy(yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(
        encoding="utf-8")))
    mutate(raw)
    (tmp_path / "styles.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True),
                                          encoding="utf-8")
    base = load_profile(DEFAULT_PROFILE)
    prof = yaml.safe_load(base.path.read_text(encoding="utf-8"))
    prof.update(boundaries=str(base.boundaries), grid=str(base.grid),
                dictionaries={"styles": str(tmp_path / "styles.yaml")})
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(prof, allow_unicode=True),
                                           encoding="utf-8")
    return load_profile(tmp_path / "profile.yaml")


def _rule_based_green(raw: dict) -> None:
    raw["layers"]["green_spaces"] = {
        "title": "绿地与公园", "kind": "fill", "renderer": "rule-based",
        "rules": [{"title": "综合公园", "filter": {"green_type_code": {"in": ["G11"]}},
                   "symbol": {"fill": "20,140,40", "fill_opacity": 0.8,
                              "outline": "0,80,0", "outline_width": 0.3}},
                  {"title": "防护绿地", "filter": {"green_type_code": {"in": ["G2", "G3"]}},
                   "symbol": {"fill": "150,180,140", "outline": "0,80,0"}},
                  {"title": "其他绿地", "symbol": {"fill": "210,230,200"}}]}
    raw["layers"]["roads"] = {
        "title": "道路", "kind": "line", "renderer": "rule-based",
        "rules": [{"title": "快速路", "filter": {"road_class_code": {"in": ["01"]}},
                   "symbol": {"color": "200,40,40", "width": 1.2}},
                  {"title": "其他道路", "symbol": {"color": "120,120,120", "width": 0.5}}]}


def test_a_citys_rule_based_fills_and_lines_are_drawn_on_both_maps(tmp_path):
    """The web style is made (it raised NotImplementedError: /styles/onemap answered 500),
    and real QGIS and the web style draw each feature in the same colour."""
    from tests.test_maps_style_agreement import _disagreements

    profile = city_with(tmp_path, _rule_based_green)
    bad = _disagreements(profile, tmp_path)
    assert not bad, bad[:10]


def test_the_web_legend_shows_each_rules_own_colour(jining_profile):
    """公共服务设施's legend: each rule's fill as styles.yaml gives it (it listed all grey)."""
    from layers.styles import layer_tree

    raw = yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))
    want = {r["title"]: "#" + "".join(f"{int(p):02x}" for p in r["symbol"]["fill"].split(","))
            for r in raw["layers"]["facilities"]["rules"]}
    child = next(c for g in layer_tree(jining_profile) for c in g["children"]
                 if c["id"] == "facilities")
    assert {x["label"]: x["color"] for x in child["legend"]} == want


def _drop_roads(raw: dict) -> None:
    """A city's file written before the platform had roads: neither styled nor placed."""
    del raw["layers"]["roads"]
    for g in raw["tree"]:
        if "roads" in (g.get("layers") or []):
            g["layers"].remove("roads")


def _unplaced_population(raw: dict) -> None:
    """Styled, but in no group of the tree."""
    for g in raw["tree"]:
        if "population" in (g.get("layers") or []):
            g["layers"].remove("population")


def test_a_layer_a_citys_styles_file_leaves_out_is_still_on_both_maps(pdb, tmp_path):
    """The layer keeps the platform's style and place (it was missing from the QGIS project
    and the web map without a word)."""
    from layers.qgis.project import project_xml
    from layers.styles import layer_tree, maplibre_style

    for mutate, layer, title in ((_drop_roads, "roads", "道路"),
                                 (_unplaced_population, "population", "人口")):
        work = tmp_path / layer
        work.mkdir()
        profile = city_with(work, mutate)
        _, layers = project_xml(pdb.conninfo, profile)
        assert [m.name for m in layers if m.table == layer], (layer, [m.name for m in layers])
        tree = {c["id"]: (g["group"], c["title"]) for g in layer_tree(profile)
                for c in g["children"]}
        assert tree.get(layer) == ("城市基础", title), tree
        style = maplibre_style("http://x", profile)
        assert any(sl.get("source-layer") == layer for sl in style["layers"])


def test_a_style_of_no_layer_or_of_no_column_is_refused_naming_file_and_key(pdb, tmp_path):
    """`cim qgis-project` failed with an internal error (KeyError) on a style of a layer the
    platform does not have; a misspelt field drew everything as 其他值 without a word."""
    def extra(raw):
        raw["layers"]["bus_stops"] = {"title": "公交站", "kind": "point"}
        raw["tree"][0]["layers"].append("bus_stops")

    def misspelt(raw):
        raw["layers"]["buildings"]["label"]["field"] = "nmae"

    for mutate, key, word in ((extra, "layers.bus_stops", "bus_stops"),
                              (misspelt, "layers.buildings", "nmae")):
        work = tmp_path / word
        work.mkdir()
        profile = city_with(work, mutate)
        env = {**pdb.env(), "CIM_PROFILE": str(profile.path)}
        for args in (["qgis-project", str(work / "p.qgs"), "--no-db"],
                     ["styles", "maplibre"]):
            proc = run_cli(args, env)
            assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
            assert str(work / "styles.yaml") in proc.stderr and key in proc.stderr, proc.stderr
            assert word in proc.stderr and "internal error" not in proc.stderr, proc.stderr
        assert not (work / "p.qgs").exists()


def test_the_ogc_api_pages_name_attributes_in_chinese(browser, api, db):
    """The feature info's link, the OGC API item page, and the items page: their attributes
    under the same Chinese names (they showed use_name, floors_above), offline."""
    driver, proxy = browser
    proxy.clear()
    code = db.scalar("SELECT min(code) FROM buildings WHERE valid_to IS NULL "
                     "AND name IS NOT NULL")
    driver.get(f"{api}/collections/buildings/items/{code}?f=html")
    cells = wait(driver, "const c = [...document.querySelectorAll('td[data-field]')]; "
                         "return c.some(e => e.title) && c.map(e => [e.title, e.textContent])")
    shown = dict(cells)
    for field, zh in KNOWN["buildings"].items():
        if field != "code":
            assert shown.get(field) == zh, (field, shown)
    driver.get(f"{api}/collections/pipe_segments/items?f=html&limit=5")
    heads = wait(driver, "const c = [...document.querySelectorAll('th[data-field]')]; "
                         "return c.some(e => e.title) && c.map(e => e.textContent)")
    assert "管径(mm)" in heads and "diameter_mm" not in heads, heads
    assert not [u for u in proxy.external if "127.0.0.1" in u or "localhost" in u]


def test_the_queryables_page_names_properties_in_chinese(browser, api):
    """pygeoapi's queryables page listed the keys alone (use_name): named as the items pages
    name them, the key kept beside."""
    driver, _proxy = browser
    driver.get(f"{api}/collections/buildings/queryables?f=html")
    shown = dict(wait(driver, "const c = [...document.querySelectorAll('[data-field]')]; "
                              "return c.some(e => e.title) && "
                              "c.map(e => [e.title, e.textContent])"))
    for field, zh in KNOWN["buildings"].items():
        if field in shown:
            assert shown[field] == zh, (field, shown)
    assert shown.get("use_name") == KNOWN["buildings"]["use_name"], shown


def test_feature_info_gives_times_on_the_citys_clock(browser, api, db):
    """An alarm's and a case's times in the feature info are the city's (Asia/Shanghai):
    the page cut the API's UTC instants, so a case due at 13:40 in Jining read 05:40."""
    from zoneinfo import ZoneInfo

    driver, proxy = browser
    open_map(driver, api)
    zone = ZoneInfo(db.profile.timezone)
    alarm, opened, case = db.rows("SELECT code, opened_at, case_code FROM alarms "
                                  "WHERE case_code IS NOT NULL ORDER BY opened_at LIMIT 1")[0]
    rows = info_rows(driver, alarm)
    local = opened.astimezone(zone)
    utc = opened.astimezone(ZoneInfo("UTC"))
    assert local.strftime("%H:%M") != utc.strftime("%H:%M")  # the test can tell
    summary = driver.find_element("id", "info-summary").text
    assert local.strftime("%Y-%m-%d %H:%M") in summary, (summary, local)
    assert rows["告警时间"].startswith(local.strftime("%Y-%m-%d %H:%M")), rows
    deadline = db.scalar("SELECT deadline FROM cases WHERE code = %s AND valid_to IS NULL",
                         (case,))
    info_rows(driver, case)
    summary = driver.find_element("id", "info-summary").text
    assert deadline.astimezone(zone).strftime("%Y-%m-%d %H:%M") in summary, summary


def test_a_citys_styles_file_with_a_key_left_out_is_an_error_naming_it(tmp_path, pdb):
    """A label without its field, an opacity that is no number, a group without its name:
    each was an internal error (KeyError, ValueError) with a traceback."""
    def no_label_field(raw):
        del raw["layers"]["buildings"]["label"]["field"]

    def wordy_opacity(raw):
        raw["layers"]["buildings"]["height_classes"]["classes"][0]["opacity"] = "半透明"

    def nameless_group(raw):
        del raw["tree"][0]["group"]

    for mutate, key, word in ((no_label_field, "layers.buildings", "field"),
                              (wordy_opacity, "layers.buildings", "半透明"),
                              (nameless_group, "tree[0]", "group")):
        work = tmp_path / mutate.__name__
        work.mkdir()
        profile = city_with(work, mutate)
        proc = run_cli(["styles", "maplibre"], {**pdb.env(), "CIM_PROFILE": str(profile.path)})
        assert proc.returncode == 2, (mutate.__name__, proc.returncode, proc.stderr)
        assert str(work / "styles.yaml") in proc.stderr and key in proc.stderr, proc.stderr
        assert word in proc.stderr and "internal error" not in proc.stderr, proc.stderr


def test_a_mixed_layers_lines_are_labelled_along_them(jining_profile):
    """控制线 and 城市部件 hold lines beside points and areas: their lines' labels are placed
    along the line as QGIS places them (MapLibre's point placement of a line label repeats it
    at every vertex), the points' and areas' labels as before; each label layer is listed
    under its tree child, so the tree's checkbox hides both."""
    from layers.styles import maplibre_style

    style = maplibre_style("http://x", jining_profile)
    tree_ids = {i for g in style["metadata"]["cim:tree"] for c in g["children"]
                for i in c["layers"]}
    line = ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]]
    for layer in ("control_lines", "components"):
        labels = [sl for sl in style["layers"] if sl.get("source-layer") == layer
                  and (sl.get("metadata") or {}).get("cim:label")]
        along = [sl for sl in labels if sl["layout"].get("symbol-placement") == "line"]
        rest = [sl for sl in labels if sl not in along]
        assert along and rest, (layer, [sl["id"] for sl in labels])
        assert all(line in sl["filter"] for sl in along), along[0]["filter"]
        assert all(["!", line] in sl["filter"] for sl in rest), rest[0]["filter"]
        assert {sl["id"] for sl in labels} <= tree_ids
