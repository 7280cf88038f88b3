"""Tile parameters that name nothing are refused (probe of 2026-12-07): ``collections=,,,``
answered an empty tile (and ``{}`` of versions), a repeated ``collections`` kept the first
unsaid, and a tileset's metadata answered JSON to ``f=xml``."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize("path", ["/tiles/WebMercatorQuad/14/6655/13418", "/tiles/versions",
                                  "/tiles/WebMercatorQuad?f=tilejson"])
def test_collections_naming_nothing_or_given_twice_is_400(api, path):
    sep = "&" if "?" in path else "?"
    r = requests.get(f"{api}{path}{sep}collections=,,,", timeout=30)
    assert r.status_code == 400 and "names no collection" in r.json()["description"], r.text
    r = requests.get(f"{api}{path}{sep}collections=buildings&collections=pipe_segments",
                     timeout=30)
    assert r.status_code == 400 and "given twice" in r.json()["description"], r.text
    r = requests.get(f"{api}{path}{sep}collections=buildings", timeout=30)
    assert r.status_code in (200, 204), r.text[:200]


@pytest.mark.parametrize("path", ["/tiles/WebMercatorQuad",
                                  "/collections/buildings/tiles/WebMercatorQuad",
                                  "/collections/buildings/tiles/WebMercatorQuad/metadata"])
def test_a_tileset_metadata_format_it_has_not_is_400(api, path):
    r = requests.get(f"{api}{path}?f=xml", timeout=30)
    assert r.status_code == 400 and "f='xml'" in r.json()["description"], r.text[:300]
    for f in ("json", "tilejson"):
        assert requests.get(f"{api}{path}?f={f}", timeout=30).status_code == 200
    assert requests.get(f"{api}{path}", timeout=30).status_code == 200


def test_the_tileset_lists_take_collections_and_their_formats(api):
    """``/tiles`` answered its whole list to ``collections=foo`` and to ``f=tilejson`` (README
    says it takes both), and the lists answered JSON to any ``f`` (probe of session 19)."""
    r = requests.get(f"{api}/tiles?collections=foo", timeout=30)
    assert r.status_code == 400 and "foo" in r.json()["description"], r.text[:300]
    tj = requests.get(f"{api}/tiles?f=tilejson&collections=buildings", timeout=30).json()
    assert tj["tilejson"] == "3.0.0" and "collections=buildings" in tj["tiles"][0], tj
    assert [v["id"] for v in tj["vector_layers"]] == ["buildings"], tj["vector_layers"]
    for path in ("/tiles", "/collections/buildings/tiles"):
        r = requests.get(f"{api}{path}?f=xml", timeout=30)
        assert r.status_code == 400 and "f='xml'" in r.json()["description"], r.text[:300]
        assert requests.get(f"{api}{path}?f=json", timeout=30).json()["tilesets"]
