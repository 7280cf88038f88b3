"""Each tiled collection links to its tilesets (review 11): the collections did not (rel
``…/tilesets-vector``), so OGC API clients — GDAL's OGCAPI driver, QGIS — found no vector
tiles. Which collections are tiled is told by the tile routes over HTTP (a collection's
``/tiles`` answers 200 or 404), never by the link under test."""

from __future__ import annotations

import os
import shutil
import subprocess

import requests

REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"


def _collections(api: str) -> list[str]:
    return [c["id"] for c in requests.get(f"{api}/collections?f=json", timeout=30)
            .json()["collections"]]


def test_every_tiled_collection_links_its_tilesets(api):
    tiled = []
    for cid in _collections(api):
        served = requests.get(f"{api}/collections/{cid}/tiles", timeout=30)
        links = [link for link in requests.get(f"{api}/collections/{cid}?f=json", timeout=30)
                 .json()["links"] if link["rel"] == REL]
        if served.status_code == 404:
            assert links == [], cid  # no link to tiles that are not there
            continue
        assert served.status_code == 200, cid
        tiled.append(cid)
        assert [link["type"] for link in links] == ["application/json"], cid
        followed = requests.get(links[0]["href"], timeout=30)
        assert followed.status_code == 200
        assert followed.json() == served.json(), cid
        assert followed.json()["tilesets"][0]["dataType"] == "vector"
    # the sample's loaded layers are among them
    assert {"buildings", "pipe_segments", "components", "grid_cells"} <= set(tiled)
    # the collection list links them too (pygeoapi's configured links)
    listed = {c["id"]: c for c in requests.get(f"{api}/collections?f=json", timeout=30)
              .json()["collections"]}
    for cid in tiled:
        assert any(link["rel"] == REL for link in listed[cid]["links"]), cid


def test_gdal_ogcapi_driver_finds_the_tiles(api):
    """GDAL's OGCAPI driver asked for the tiles (API=TILES) answered "API TILES requested,
    but not available"; now it follows the link to the tilesets and the tileset. (GDAL 3.6
    stops at the tile matrix set, whose 2.0 encoding it does not read: it lists the layer
    from GDAL 3.7.)"""
    if not shutil.which("ogrinfo"):
        import pytest

        pytest.skip("GDAL's ogrinfo is not installed")
    formats = subprocess.run(["ogrinfo", "--formats"], capture_output=True, text=True).stdout
    if "OGCAPI" not in formats:
        import pytest

        pytest.skip("this GDAL has no OGCAPI driver")
    run = subprocess.run(["ogrinfo", "-ro", "-so", "-oo", "API=TILES",
                          f"OGCAPI:{api}/collections/buildings"], capture_output=True,
                         text=True, timeout=300,
                         env={**os.environ, "CPL_DEBUG": "ON", "GDAL_HTTP_TIMEOUT": "60"})
    out = run.stdout + run.stderr
    assert "API TILES requested, but not available" not in out
    assert f"Fetch({api}/collections/buildings/tiles" in out, out[-2000:]
    assert f"Fetch({api}/collections/buildings/tiles/WebMercatorQuad)" in out, out[-2000:]
    version = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True).stdout
    major_minor = tuple(int(v) for v in version.split()[1].rstrip(",").split(".")[:2])
    if major_minor >= (3, 7):
        assert run.returncode == 0, out[-2000:]
        assert "buildings" in run.stdout
