"""The tile routes as ``/openapi`` describes them (review 11): every tile route the app serves
(found in its URL map, not in the list the document is made from) is a path of the
document, the document validates, and each documented tile path answers with a status and
media type the document gives. The tile matrix sets listed are those the tiles are served
in, with the zooms they are served at. Expected tile numbers come from the slippy-map
formulas and pyproj (tests/test_tiles), never from the server."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import requests
import shapely
from openapi_spec_validator import validate

from tests.conftest import make_db, scratch_api
from tests.test_tiles import TO_LONLAT, lonlat_to_tile

X0, Y0 = 39464187.5, 3915955.11  # inside 任城区 (EPSG:4527 easting, northing)
Z = 16


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    from loaders.buildings import load_buildings

    work = tmp_path_factory.mktemp("tiles11")
    gpd.GeoDataFrame({"编号": ["T11-1"], "建筑用途": ["住宅"], "建筑名称": ["测试楼"]},
                     geometry=[shapely.box(X0 - 10, Y0 - 10, X0 + 10, Y0 + 10)],
                     crs="EPSG:4527").to_file(work / "b.gpkg")
    d = make_db("tiles11", jining_profile)
    rep = load_buildings(d.conninfo, jining_profile, work / "b.gpkg")
    assert rep.loaded == 1, rep
    with scratch_api(d, work) as base:
        doc = requests.get(f"{base}/openapi?f=json", timeout=60).json()
        yield d, base, doc


def _shape(path: str) -> str:
    """A path with its placeholders blanked: Flask's ``<path:x>`` and OpenAPI's ``{x}``."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _tile() -> tuple[int, int]:
    lon, lat = TO_LONLAT.transform(X0, Y0)
    col, row = lonlat_to_tile(lon, lat, Z)
    return int(col), int(row)


def test_every_tile_route_the_app_serves_is_in_the_document(served, tmp_path, monkeypatch):
    """/openapi left out the tileset metadata route (…/tiles/WebMercatorQuad/metadata) and
    the tile matrix sets (/TileMatrixSets, /TileMatrixSets/{id}): pygeoapi describes them
    only for collections of its own tile providers, and the platform's list was a copy."""
    from services.app import create_app
    from services.settings import ServeSettings

    d, _, doc = served
    validate(doc)
    monkeypatch.setenv("CIM_DATABASE_URL", d.url)
    app = create_app(ServeSettings(home=tmp_path, profile=d.profile.path, host="127.0.0.1",
                                   port=5995))
    rules = [r for r in app.url_map.iter_rules()
             if re.search(r"/tiles(/|$)|/TileMatrixSets|^/styles", r.rule)
             and "GET" in r.methods]
    assert len(rules) >= 10
    documented = {_shape(p): p for p in doc["paths"]}
    missing = [r.rule for r in rules if _shape(r.rule) not in documented]
    assert missing == []
    for r in rules:  # each placeholder of the route is a declared path parameter
        get = doc["paths"][documented[_shape(r.rule)]]["get"]
        declared = [p["name"] for p in get.get("parameters", []) if p.get("in") == "path"]
        assert len(declared) == len(re.findall(r"<[^>]+>", r.rule)), r.rule


def _fill(path: str, **values) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: str(values[m.group(1)]), path)


def test_documented_tile_paths_answer_as_documented(served):
    d, base, doc = served
    col, row = _tile()
    good = {"collectionId": "buildings", "tileMatrixSetId": "WebMercatorQuad",
            "tileMatrix": Z, "tileRow": row, "tileCol": col}
    tile_paths = [p for p, item in doc["paths"].items()
                  if "tiles" in item.get("get", {}).get("tags", [])]
    assert len(tile_paths) >= 10
    for path in tile_paths:
        get = doc["paths"][path]["get"]
        r = requests.get(base + _fill(path, **good), timeout=60)
        assert str(r.status_code) in get["responses"], (path, r.status_code)
        if r.status_code == 200:
            media = list(get["responses"]["200"]["content"])
            assert r.headers["Content-Type"].split(";")[0] in media, (path, r.headers)
        if "{tileMatrix}" in path:  # the building's own tile has it
            assert r.status_code == 200 and r.content, path
        bad = [("collectionId", "nope", 404), ("tileMatrixSetId", "WorldCRS84Quad", 404),
               ("tileMatrix", 25, 404), ("tileRow", 2 ** Z, 404), ("tileCol", "a", 400)]
        for name, value, status in bad:
            if "{" + name + "}" not in path:
                continue
            r = requests.get(base + _fill(path, **{**good, name: value}), timeout=60)
            assert r.status_code == status, (path, name, r.status_code, r.text[:200])
            assert str(status) in get["responses"], (path, status)
            assert r.json()["description"], path


def test_tile_matrix_sets_are_those_served(served):
    """/TileMatrixSets listed WorldCRS84Quad (its tiles a 404) and linked to
    /tileMatrixSets (a 404); WebMercatorQuad listed zooms 0–29 where tiles stop at 24."""
    _, base, _ = served
    sets = requests.get(f"{base}/TileMatrixSets?f=json", timeout=30).json()
    ids = [s["id"] for s in sets["tileMatrixSets"]]
    assert ids == ["WebMercatorQuad"]
    for link in [lk for s in sets["tileMatrixSets"] for lk in s["links"]] + sets["links"]:
        assert requests.get(link["href"], timeout=30).status_code == 200, link
    tms = requests.get(f"{base}/TileMatrixSets/WebMercatorQuad", timeout=30).json()
    zs = [int(m["id"]) for m in tms["tileMatrices"]]
    assert zs == list(range(len(zs)))
    assert all(m["matrixWidth"] == m["matrixHeight"] == 2 ** int(m["id"])
               for m in tms["tileMatrices"])
    last = zs[-1]
    url = base + "/collections/buildings/tiles/WebMercatorQuad/{}/0/0"
    assert requests.get(url.format(last), timeout=30).status_code in (200, 204)
    assert requests.get(url.format(last + 1), timeout=30).status_code == 404
    r = requests.get(f"{base}/TileMatrixSets/WorldCRS84Quad", timeout=30)
    assert r.status_code == 404 and "WebMercatorQuad" in r.json()["description"]


def test_empty_tile_is_no_html_and_unknown_collection_is_404(served):
    """An empty tile's 204 said ``Content-Type: text/html``; an unknown collection's tile
    was pygeoapi's 400 "Invalid format requested"."""
    _, base, _ = served
    r = requests.get(f"{base}/collections/buildings/tiles/WebMercatorQuad/{Z}/0/0", timeout=30)
    assert r.status_code == 204 and r.content == b""
    assert "html" not in r.headers.get("Content-Type", "")
    again = requests.get(r.url, headers={"If-None-Match": r.headers["ETag"]}, timeout=30)
    assert again.status_code == 304 and "html" not in again.headers.get("Content-Type", "")
    for path in ("/collections/nope/tiles", "/collections/nope/tiles/WebMercatorQuad",
                 "/collections/nope/tiles/WebMercatorQuad/1/0/0"):
        r = requests.get(base + path, timeout=30)
        assert r.status_code == 404, (path, r.status_code, r.text[:200])
        assert "'nope'" in r.json()["description"] and "buildings" in r.json()["description"]


def test_tile_attributes_as_the_items_path_writes_them(served):
    """Chinese values as delivered; times in RFC 3339 and arrays as JSON, as the items path
    (and README) give them: the tiles said '2026-06-15 01:40:00+00' and '{}'."""
    import datetime as dt

    from tests.test_tiles import decode

    d, base, _ = served
    col, row = _tile()
    r = requests.get(f"{base}/collections/buildings/tiles/WebMercatorQuad/{Z}/{row}/{col}",
                     timeout=60)
    assert r.status_code == 200
    (props,) = [f["properties"] for f in decode(r.content)["buildings"]["features"]]
    assert props["use_name"] == "住宅" and "测试楼" in props.values()
    item = requests.get(f"{base}/collections/buildings/items/{props['code']}?f=json",
                        timeout=30).json()["properties"]
    stored = d.scalar("SELECT valid_from FROM buildings WHERE code = %s", (props["code"],))
    assert dt.datetime.fromisoformat(props["valid_from"]) == stored
    assert props["valid_from"] == item["valid_from"]
    assert props["valid_from"].endswith("+00:00") and "T" in props["valid_from"]
    assert props["flags"] == "[]"
