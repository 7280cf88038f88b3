"""The OGC API names each collection's properties in Chinese, as QGIS and the web map do: the
queryables' and the schema's property titles, over HTTP against the real app.

Expected names are read here from the layer declarations' titles (``建筑名称 name`` →
建筑名称) with this module's own reading, not through the code under test
(:mod:`layers.styles.fields`); the JSON Schema rules are OGC API Features Part 3's
(/req/queryables/get-queryables-response, /rec/filter/queryables-schema) checked with
``jsonschema``'s own meta-schema.
"""

from __future__ import annotations

import re

import jsonschema
import psycopg
import pytest
import requests

from cim.db.engine import drop_database
from cim.layerdefs import BASE_COLUMNS, LAYERS
from layers.catalog import result_layers
from tests.conftest import make_db, server_url, start_api

_HAN = re.compile(r"^([\u4e00-\u9fff][^\s]*)\s")  # a title opening with a Chinese word
DEFS = {d.name: d for d in [*LAYERS.values(), *result_layers()]}


def declared_chinese(layer: str) -> dict[str, str]:
    """{column: the Chinese word its declared title opens with, and the unit the title ends
    with in brackets (建筑高度 height (m) → 建筑高度(m))} of ``layer``."""
    out = {}
    for c in (*BASE_COLUMNS, *DEFS[layer].columns):
        m = _HAN.match(c.title)
        if m:
            unit = re.search(r"\((mm|m|m²|s|h)\)\s*$", c.title)
            out[c.name] = m.group(1) + (f"({unit.group(1)})" if unit else "")
    return out


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    """(database, base URL of the real app over it): a fresh database, every layer's table
    empty."""
    d = make_db("titles10", jining_profile, apply_profile=False)
    try:
        proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("titles10"))
        try:
            yield d, base
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        drop_database(server_url(), d.name)


@pytest.fixture(scope="module")
def api(served) -> str:
    return served[1]


@pytest.fixture(scope="module")
def collections(api) -> list[str]:
    r = requests.get(f"{api}/collections", params={"f": "json"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    ids = [c["id"] for c in r.json()["collections"]]
    assert {"buildings", "pipe_segments", "components", "cases"} <= set(ids)
    return ids


def _doc(api: str, coll: str, what: str) -> dict:
    r = requests.get(f"{api}/collections/{coll}/{what}", params={"f": "json"}, timeout=60)
    assert r.status_code == 200, (coll, what, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/schema+json")
    return r.json()


@pytest.mark.parametrize("what", ["queryables", "schema"])
def test_property_titles_are_the_declared_chinese_names(served, collections, what):
    """pygeoapi titled every queryable by its key ("title": "use_name"); each is now titled
    by the Chinese name its layer declares (建筑用途), the key kept (the table's column); a
    property whose declared title is English (valid_from, flags) or that a result layer
    leaves undeclared (an indicator's unit) gets a Chinese name too, never its key."""
    d, api = served
    checked = 0
    for coll in collections:
        if coll not in DEFS:  # a collection the platform does not declare: nothing to name
            continue
        want = declared_chinese(coll)
        with psycopg.connect(d.conninfo) as conn:
            columns = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND table_schema = current_schema()", (coll,))}
        props = _doc(api, coll, what)["properties"]
        assert set(props) - {"geometry"} <= columns, coll  # the keys are the columns
        for key, prop in props.items():
            title = prop.get("title")
            assert isinstance(title, str) and title != key, (coll, key, prop)
            assert re.search(r"[\u4e00-\u9fff]", title), (coll, key, title)
            if key in want:
                assert title == want[key], (coll, key, title, want[key])
                checked += 1
    assert checked > 100  # every declared layer's own columns, not a handful


def test_buildings_queryables_by_name(api):
    props = _doc(api, "buildings", "queryables")["properties"]
    assert (props["use_name"]["title"], props["height"]["title"],
            props["code"]["title"]) == ("建筑用途", "建筑高度(m)", "统一编码")
    assert props["code"]["x-ogc-role"] == "id"
    assert props["geometry"]["x-ogc-role"] == "primary-geometry"
    assert re.search(r"[\u4e00-\u9fff]", props["geometry"]["title"])
    # the rest of the declared title, its unit or range, is the property's description
    declared = {c.name: c.title for c in DEFS["buildings"].columns}
    for key in ("height", "floors_above", "use_code"):
        want = _HAN.sub("", declared[key]).strip()
        assert props[key]["description"] == want, (key, props[key])
    assert props["height"]["description"].endswith("(m)")
    assert props["height"]["type"] == "number" and props["floors_above"]["type"] == "integer"


def test_queryables_are_part3_json_schema(api, collections):
    """/req/queryables/get-queryables-response B: ``$schema`` the 2019-09 (or 2020-12)
    meta-schema's https URI — pygeoapi wrote http://, which jsonschema does not take for
    2019-09 — and ``$id`` the resource's URI without query parameters (pygeoapi kept
    ``?f=json``); the document a valid schema of that draft; an array property has string
    items (/rec/filter/queryables-schema G: pygeoapi dropped them)."""
    for coll in collections:
        for what in ("queryables", "schema"):
            doc = _doc(api, coll, what)
            assert doc["$schema"] == "https://json-schema.org/draft/2019-09/schema"
            assert doc["$id"] == f"{api}/collections/{coll}/{what}", doc["$id"]
            cls = jsonschema.validators.validator_for(doc, default=None)
            assert cls is jsonschema.Draft201909Validator, (coll, doc["$schema"])
            cls.check_schema(doc)
            assert doc["type"] == "object"
            for key, prop in doc["properties"].items():
                if key == "geometry":
                    assert prop["x-ogc-role"] == "primary-geometry"
                    continue
                assert prop["type"] in ("string", "number", "integer", "boolean", "array",
                                        "object"), (coll, key, prop)
                if prop["type"] == "array":
                    assert prop["items"] == {"type": "string"}, (coll, key, prop)


def test_keys_still_filter(api):
    """Clients filter by the keys the queryables list: unchanged by the titles."""
    props = _doc(api, "buildings", "queryables")["properties"]
    assert "use_name" in props
    for f in ("json", "html"):
        r = requests.get(f"{api}/collections/buildings/items", timeout=60, params={
            "f": f, "filter": "use_name = '办公' AND height > 10"})
        assert r.status_code == 200, r.text[:300]


def test_schema_html_shows_the_titles(api):
    r = requests.get(f"{api}/collections/buildings/schema", params={"f": "html"}, timeout=60)
    assert r.status_code == 200
    page = r.content.decode("utf-8")  # as its <meta charset> says
    for name in ("建筑用途", "建筑高度(m)", "地上层数"):
        assert f"<td>{name}</td>" in page, name


def test_queryables_html_marks_each_property_for_its_name(api):
    """The page names the properties in Chinese in the browser (pygeoapi-fields.js, as the
    items pages; tests/test_maps_probe10.py renders it): each is marked with its key."""
    r = requests.get(f"{api}/collections/buildings/queryables", params={"f": "html"},
                     timeout=60)
    assert r.status_code == 200
    html = r.content.decode("utf-8")
    assert 'data-field="use_name"' in html and "pygeoapi-fields.js" in html


def test_collections_titled_in_chinese_and_english(api, collections):
    """The collection's title and description in Chinese (the default language), in
    English for ``lang=en``, from the layer's declared titles."""
    zh = {c["id"]: c for c in requests.get(f"{api}/collections", params={"f": "json"},
                                           timeout=60).json()["collections"]}
    en = {c["id"]: c for c in requests.get(f"{api}/collections",
                                           params={"f": "json", "lang": "en"},
                                           timeout=60).json()["collections"]}
    for coll in collections:
        if coll not in DEFS:
            continue
        d = DEFS[coll]
        assert zh[coll]["title"] == d.title_zh and d.title_zh in zh[coll]["description"]
        assert en[coll]["title"] == d.title_en and d.title_en in en[coll]["description"]


def test_openapi_lists_only_what_queryables_accept(api):
    """/openapi listed ``properties`` on every queryables GET (pygeoapi's document) while
    the server answers it with a 400 "unknown query parameter": each parameter the document
    gives a collection's queryables and schema is one the server takes, and each item
    property the document titles carries the property's Chinese name."""
    doc = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=60).json()
    params = doc["components"]["parameters"]
    checked = 0
    for path, item in doc["paths"].items():
        if not path.startswith("/collections/") or \
                not path.endswith(("/queryables", "/schema")):
            continue
        for p in item["get"].get("parameters", []):
            p = params[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
            value = (p["schema"].get("enum") or p["schema"].get("default") or ["json"])
            value = value[0] if isinstance(value, list) else value
            if p["name"] == "f":
                value = "json"
            r = requests.get(f"{api}{path}", params={p["name"]: value}, timeout=60)
            assert r.status_code == 200, (path, p["name"], value, r.text[:200])
            checked += 1
    assert checked >= 2 * 18
    use = [p for p in doc["paths"]["/collections/buildings/items"]["get"]["parameters"]
           if p.get("name") == "use_name"]
    assert use and use[0]["schema"]["title"] == declared_chinese("buildings")["use_name"]


def test_html_items_of_a_layer_without_name_link_by_code(served):
    """pygeoapi's items page links each feature by the configured ``title_field``, ``name``
    for every layer: a risk point (no such column) was listed as a link reading "None".
    A point of known code, written here, is linked by its code."""
    d, api = served
    code = "370811910000000001"
    with psycopg.connect(d.conninfo) as conn:
        conn.execute(
            "INSERT INTO risk_points (code, valid_from, flags, attrs, geom, risk_type_code, "
            "domain_code, likelihood, consequence, level, color, source) VALUES (%s, now(), "
            "'{}', '{}', ST_SetSRID(ST_MakePoint(39500000, 3910000), 4527), 'X1', '01', 3, 3, "
            "'较大', '橙', 'manual')", (code,))
    r = requests.get(f"{api}/collections/risk_points/items", params={"f": "html"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    page = r.content.decode("utf-8")
    link = re.search(rf'<a href="[^"]*/items/{code}"[^>]*>\s*([^<]*?)\s*</a>', page)
    assert link is not None, page[-2000:]
    assert link.group(1) == code
    # a layer with names keeps them: the districts' page links by 名称
    assert DEFS["admin_divisions"].column_names()[0] == "name"
