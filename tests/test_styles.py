"""The one map's styles: `cim styles apply` writes one default QML per layer (and geometry
type) into public.layer_styles; the QML and the MapLibre style carry the data files' colours.

Expected colours are read here straight from the data files (pipe_classes.csv, styles.yaml)
with csv/yaml, not through layers.styles.
"""

from __future__ import annotations

import csv
import dataclasses
import xml.etree.ElementTree as ET

import pytest
import yaml

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR
from tests.conftest import run_cli

QGIS_TYPES = {"MULTIPOLYGON": ["Polygon"], "POINTZ": ["Point"], "LINESTRINGZ": ["Line"],
              "MULTILINESTRING": ["Line"], "POINT": ["Point"],
              "GEOMETRY": ["Point", "Line", "Polygon"]}


def pipe_colours() -> dict[str, str]:
    with open(DICTIONARY_DIR / "pipe_classes.csv", encoding="utf-8") as fh:
        return {r["code"]: r["colour"] for r in csv.DictReader(fh)}


def styles_yaml() -> dict:
    return yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))


def options(symbol: ET.Element) -> dict[str, str]:
    return {o.get("name"): o.get("value") for o in symbol.iter("Option") if o.get("name")}


def symbols(root: ET.Element) -> dict[str, ET.Element]:
    return {s.get("name"): s for s in root.find("renderer-v2/symbols")}


@pytest.fixture()
def applied(fresh_db):
    run_cli(["styles", "apply"], fresh_db.env(), check=True)
    return fresh_db


def test_layer_styles_one_default_row_per_layer(applied):
    from cim.layerdefs import LAYERS

    rows = applied.rows("SELECT f_table_catalog, f_table_schema, f_table_name, "
                        "f_geometry_column, type, useasdefault FROM public.layer_styles")
    expected = {(t, g) for t, d in LAYERS.items() for g in QGIS_TYPES[d.geometry_type.upper()]}
    expected.add(("health_indicators", "Polygon"))  # a result table, styled too
    expected |= {("alarms", "Point"), ("cases", "Point")}  # the operations' (issue 14)
    assert {(r[2], r[4]) for r in rows} == expected
    assert len(rows) == len(expected)
    assert all(r[0] == applied.name and r[1] == "public" and r[3] == "geom" and r[5]
               for r in rows)
    # a planner's own style survives a second apply, no longer the default; no duplicates
    applied.rows("INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, "
                 "f_table_name, f_geometry_column, stylename, styleqml, useasdefault, type) "
                 "VALUES (current_database(), 'public', 'buildings', 'geom', 'mine', "
                 "XMLPARSE(DOCUMENT '<qgis/>'), true, 'Polygon') RETURNING id")
    run_cli(["styles", "apply"], applied.env(), check=True)
    rows = applied.rows("SELECT stylename, useasdefault FROM public.layer_styles "
                        "WHERE f_table_name = 'buildings'")
    assert sorted(rows) == [("cim buildings", True), ("mine", False)]
    assert applied.scalar("SELECT count(*) FROM public.layer_styles") == len(expected) + 1


def qml_of(db, table: str, gtype: str) -> ET.Element:
    text = db.scalar("SELECT styleqml::text FROM public.layer_styles WHERE f_table_name = %s "
                     "AND type = %s AND useasdefault", (table, gtype))
    return ET.fromstring(text)


def test_qml_renderers_and_colours_from_the_data_files(applied):
    colours = pipe_colours()
    data = styles_yaml()["layers"]

    seg = qml_of(applied, "pipe_segments", "Line")
    r = seg.find("renderer-v2")
    assert (r.get("type"), r.get("attr")) == ("categorizedSymbol", "pipe_class")
    syms = symbols(seg)
    got = {c.get("value"): options(syms[c.get("symbol")])["line_color"]
           for c in r.find("categories")}
    # "" is QGIS's "all other values" (also NULL): grey, as the web map's match fallback
    assert got == {**{k: v + ",255" for k, v in colours.items()}, "": "136,136,136,255"}
    assert seg.get("minScale") == str(data["pipe_segments"]["max_scale"])

    pts = qml_of(applied, "pipe_points", "Point")
    r = pts.find("renderer-v2")
    assert r.get("type") == "RuleRenderer"
    syms = symbols(pts)
    classes = r.find("rules").findall("rule")
    assert [c.get("filter") for c in classes] == [f"\"pipe_class\" = '{k}'" for k in colours]
    for parent, colour in zip(classes, colours.values()):
        wells = parent.find("rule")  # the first rule: wells, outlined in the class colour
        assert wells.get("label") == "窨井" and "'窨井'" in wells.get("filter")
        assert options(syms[wells.get("symbol")])["outline_color"] == colour + ",255"
        assert parent.findall("rule")[-1].get("filter") == "ELSE"

    b = qml_of(applied, "buildings", "Polygon")
    r = b.find("renderer-v2")
    assert (r.get("type"), r.get("attr")) == ("categorizedSymbol", "use_code")
    syms = symbols(b)
    got = {c.get("value"): options(syms[c.get("symbol")])["color"] for c in r.find("categories")}
    assert got == {**{k: v + ",255" for k, v in data["buildings"]["colors"].items()},
                   "": "136,136,136,255"}

    for gtype, symbol_type in (("Point", "marker"), ("Line", "line"), ("Polygon", "fill")):
        comp = qml_of(applied, "components", gtype)
        assert comp.find("renderer-v2").get("attr") == "major_code"
        assert {s.get("type") for s in symbols(comp).values()} == {symbol_type}

    admin = qml_of(applied, "admin_divisions", "Polygon")
    assert admin.find("renderer-v2").get("type") == "singleSymbol"
    # a district by its name (任城区), not its code, for planners
    assert admin.find("labeling/settings/text-style").get("fieldName") == "name"


def test_maplibre_style_and_tree_share_the_colours(jining_profile):
    from layers.styles import layer_tree, load_styles, maplibre_style

    style = maplibre_style("http://h:1/", jining_profile)
    assert style["version"] == 8
    # the one map's source names its collections: every styled layer but the live ones
    # (issue 14), which have a source of their own, reloaded when they change
    cim_url, _, picked = style["sources"]["cim"]["url"].partition("&collections=")
    assert cim_url == "http://h:1/tiles/WebMercatorQuad?f=tilejson"
    assert set(picked.split(",")) == set(load_styles(jining_profile).layers) - {
        "risk_points", "sensors", "alarms", "cases"}
    assert style["sources"] == {
        "cim": {"type": "vector", "url": style["sources"]["cim"]["url"]},
        "live": {"type": "vector", "url": "http://h:1/tiles/WebMercatorQuad?f=tilejson"
                 "&collections=risk_points,sensors,alarms,cases"}}
    assert {sl["source-layer"] for sl in style["layers"] if sl.get("source") == "live"} \
        == {"risk_points", "sensors", "alarms", "cases"}
    assert style["glyphs"] == "http://h:1/map/fonts/{fontstack}/{range}.pbf"
    by_id = {sl["id"]: sl for sl in style["layers"]}
    tree = layer_tree(jining_profile)
    assert [g["group"] for g in tree] == ["城市运行监测", "城市部件", "城市治理风险", "地下管线",
                                         "建筑", "规划管控", "城市基础", "城市体检", "规划底图"]
    pipes = {c["title"]: c for c in tree[3]["children"]}
    for code, colour in pipe_colours().items():
        hexc = "#" + "".join(f"{int(p):02x}" for p in colour.split(","))
        with open(DICTIONARY_DIR / "pipe_classes.csv", encoding="utf-8") as fh:
            name = next(r["name"] for r in csv.DictReader(fh) if r["code"] == code)
        child = pipes[name + "管线"]
        lines = [by_id[i] for i in child["layers"] if by_id[i]["type"] == "line"]
        assert [sl["paint"]["line-color"] for sl in lines] == [hexc]
        assert lines[0]["source-layer"] == "pipe_segments"
        assert child["legend"][0] == {"label": name, "color": hexc, "kind": "line"}
    for g in tree:
        for child in g["children"]:
            for i in child["layers"]:
                assert by_id[i]["metadata"]["cim:group"] == g["group"]
    assert len(by_id) == len(style["layers"])  # unique ids


def test_bad_colour_names_file_and_key(jining_profile, tmp_path):
    from layers.styles import load_styles

    data = styles_yaml()
    data["layers"]["buildings"]["colors"]["02"] = "232,110"
    bad = tmp_path / "styles.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    profile = dataclasses.replace(jining_profile,
                                  dictionaries={**jining_profile.dictionaries, "styles": bad})
    with pytest.raises(ConfigError) as e:
        load_styles(profile)
    assert str(bad) in str(e.value) and "layers.buildings.colors.02" in str(e.value)


def test_graduated_qml_ranges_and_colours_from_the_data_file(applied):
    spec = styles_yaml()["layers"]["health_indicators"]
    root = qml_of(applied, "health_indicators", "Polygon")
    r = root.find("renderer-v2")
    assert (r.get("type"), r.get("attr")) == ("graduatedSymbol", spec["field"])
    ranges = r.find("ranges").findall("range")
    breaks = spec["breaks"]
    assert [(float(x.get("lower")), float(x.get("upper"))) for x in ranges] == \
        list(zip(breaks, breaks[1:]))
    assert [x.get("label") for x in ranges] == spec["labels"]
    alpha = round(spec["symbol"]["fill_opacity"] * 255)
    syms = symbols(root)
    assert [options(syms[x.get("symbol")])["color"] for x in ranges] == \
        [f"{c},{alpha}" for c in spec["colors"]]


def _eval(e, props: dict):
    """The few MapLibre expression operators a graduated colour uses, written out here."""
    if not isinstance(e, list):
        return e
    op, *a = e
    if op == "get":
        return props.get(a[0])
    if op == "typeof":
        v = _eval(a[0], props)
        return "number" if isinstance(v, (int, float)) else "null" if v is None else "string"
    if op == "to-number":
        return float(_eval(a[0], props))
    if op in ("<", "<=", "!=", "=="):
        x, y = _eval(a[0], props), _eval(a[1], props)
        return {"<": lambda: x < y, "<=": lambda: x <= y, "!=": lambda: x != y,
                "==": lambda: x == y}[op]()
    if op == "case":
        for cond, out in zip(a[0:-1:2], a[1:-1:2]):
            if _eval(cond, props):
                return _eval(out, props)
        return _eval(a[-1], props)
    raise AssertionError(f"unexpected operator {op}")


def test_graduated_web_colours_match_the_qgis_classes(jining_profile):
    from layers.styles import maplibre_style

    spec = styles_yaml()["layers"]["health_indicators"]
    hexes = ["#" + "".join(f"{int(p):02x}" for p in c.split(",")) for c in spec["colors"]]
    fill = next(sl for sl in maplibre_style("http://h/", jining_profile)["layers"]
                if sl["id"] == "health_indicators-fill")
    colour = fill["paint"]["fill-color"]
    lo, b1, hi = spec["breaks"][0], spec["breaks"][1], spec["breaks"][-1]
    # QGIS: the first range with lower <= value <= upper; outside every range: not drawn
    cases = {lo: hexes[0], b1 - 0.01: hexes[0], b1: hexes[0], b1 + 0.01: hexes[1],
             hi: hexes[-1], hi + 1: "rgba(0,0,0,0)", lo - 1: "rgba(0,0,0,0)",
             None: "rgba(0,0,0,0)"}
    for value, want in cases.items():
        assert _eval(colour, {"value": value}) == want, value
    assert fill["filter"] == ["in", ["coalesce", ["get", "indicator_id"], ""],
                              ["literal", ["health_index"]]]


@pytest.mark.parametrize("key, value, words", [
    ("breaks", [0, 70, 60, 80, 90, 100], "ascending"),
    ("colors", ["1,2,3"], "5 classes need 5 colours"),
    ("breaks", [0, "x"], "are not numbers")])
def test_bad_graduated_classes_name_file_and_key(jining_profile, tmp_path, key, value, words):
    from layers.styles import load_styles

    data = styles_yaml()
    data["layers"]["health_indicators"][key] = value
    bad = tmp_path / "styles.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    profile = dataclasses.replace(jining_profile,
                                  dictionaries={**jining_profile.dictionaries, "styles": bad})
    with pytest.raises(ConfigError) as e:
        load_styles(profile)
    assert str(bad) in str(e.value) and f"layers.health_indicators.{key}" in str(e.value)
    assert words in str(e.value)


def test_health_selector_offers_the_index_and_every_catalog_indicator(jining_profile):
    from layers.styles import layer_tree

    cat = yaml.safe_load((DICTIONARY_DIR / "health_indicators.yaml").read_text(encoding="utf-8"))
    child = next(g for g in layer_tree(jining_profile) if g["group"] == "城市体检")["children"][0]
    opts = child["select"]["options"]
    assert [(o["value"], o["label"]) for o in opts] == \
        [("health_index", styles_yaml()["layers"]["health_indicators"]["title"])] + \
        [(i["id"], i["name_zh"]) for i in cat["indicators"]]
    park = next(o for o in opts if o["value"] == "park_service_coverage")
    assert _eval(park["fill-color"], {"score": 0.65}) == _eval(opts[0]["fill-color"],
                                                               {"value": 65})
    assert park["filter"] == ["in", ["coalesce", ["get", "indicator_id"], ""],
                              ["literal", ["park_service_coverage"]]]


def test_web_legend_lists_the_other_values_as_qgis_does(jining_profile):
    """A categorized layer draws a feature of no listed value (NULL use) grey on both maps;
    the web legend lists that grey entry as the QGIS layer's "all other values" category
    does. Expected: the building uses of the dictionary in their order, then 其他值 in
    #888888 (the QML's grey), then the height classes."""
    from layers.styles import layer_tree

    with open(DICTIONARY_DIR / "building_use.csv", encoding="utf-8") as fh:
        uses = [r["name"] for r in csv.DictReader(fh)]
    child = next(c for g in layer_tree(jining_profile) for c in g["children"]
                 if c["id"] == "buildings")
    labels = [item["label"] for item in child["legend"]]
    assert labels[:len(uses) + 1] == [*uses, "其他值 (未分类)"], labels
    assert child["legend"][len(uses)]["color"] == "#888888"
    roads = next(c for g in layer_tree(jining_profile) for c in g["children"]
                 if c["id"] == "roads")
    assert roads["legend"][-1] == {"label": "其他值 (未分类)", "color": "#888888",
                                   "kind": "line"}
