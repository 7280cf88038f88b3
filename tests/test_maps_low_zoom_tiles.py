"""The world-scale tiles (z0–z6) over a Gauss-Krüger storage CRS: the tile holding the city has
its districts, the others are empty (204), none fails. The tile envelope was transformed whole
to EPSG:4527, and PROJ refused the z1 tile holding China ("Point outside of projection
domain": a 500, the zoomed-out web map empty). Districts' positions: pyproj and the slippy-map
formulas (tests/test_tiles)."""

from __future__ import annotations

import pytest
import requests
import shapely

from tests.conftest import make_db, scratch_api
from tests.test_tiles import EXTENT, TO_LONLAT, decode, lonlat_to_tile


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("mapslow", jining_profile)
    with scratch_api(d, tmp_path_factory.mktemp("mapslow")) as base:
        yield d, base


@pytest.mark.parametrize("z", range(0, 7))
def test_world_tiles_hold_the_city(served, z):
    """Every district at least two tile units wide (a smaller one may be dropped, as
    documented) is in the tile holding its centre; tiles elsewhere are empty; no tile fails."""
    d, base = served
    districts = {code: shapely.from_wkb(bytes(wkb)) for code, wkb in d.rows(
        "SELECT code, ST_AsBinary(geom) FROM admin_divisions WHERE valid_to IS NULL")}
    assert districts
    tiles: dict[tuple[int, int], set[str]] = {}
    for code, g in districts.items():
        x0, y0, x1, y1 = g.bounds
        (ax, ay), (bx, by) = (lonlat_to_tile(*TO_LONLAT.transform(x, y), z)
                              for x, y in ((x0, y0), (x1, y1)))
        c = g.representative_point()
        col, row = lonlat_to_tile(*TO_LONLAT.transform(c.x, c.y), z)
        want = tiles.setdefault((int(col), int(row)), set())
        if max(abs(bx - ax), abs(by - ay)) * EXTENT >= 2:
            want.add(code)
    n = 2 ** z
    for (col, row), codes in tiles.items():
        r = requests.get(f"{base}/collections/admin_divisions/tiles/WebMercatorQuad/"
                         f"{z}/{row}/{col}", timeout=120)
        assert r.status_code in (200, 204), (z, row, col, r.status_code, r.text[:200])
        got = {f["properties"]["code"] for f in decode(r.content)["admin_divisions"]["features"]
               } if r.status_code == 200 else set()
        assert codes <= got, (z, codes, got)
        r = requests.get(f"{base}/tiles/WebMercatorQuad/{z}/{row}/{col}", timeout=120)
        assert r.status_code == (200 if codes else r.status_code) and r.status_code != 500
    for col, row in {(0, 0), (n - 1, n - 1), (0, n - 1), (n - 1, 0)} - set(tiles):
        r = requests.get(f"{base}/tiles/WebMercatorQuad/{z}/{row}/{col}", timeout=120)
        assert r.status_code == 204, (z, row, col, r.status_code, r.text[:200])
