"""The tiles' TileJSON bounds and /codes follow the city's districts in the database (review 13).

The tiles' city extent was the configuration's, read at start: a district `cim profile apply`
added while the server ran lay outside every TileJSON's ``bounds``, so MapLibre requested none
of its tiles and its features stayed off /map until a restart; /codes named a district that
`cim profile apply` renamed by the start's profile's old name. Over real HTTP with the real
app (two workers, each its own copy) and the real CLI; expected boxes from shapely and pyproj
on the district squares the test wrote (tests/test_webmap13_city_extent.py's city).
"""

from __future__ import annotations

import math

import pyproj
import pytest
import requests

from tests.conftest import make_db, run_cli, scratch_api
from tests.test_webmap13_city_extent import SQUARES, _city, _expected

ONE_MAP = "/tiles/WebMercatorQuad?f=tilejson"
ADMIN = "/collections/admin_divisions/tiles/WebMercatorQuad?f=tilejson"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    work = tmp_path_factory.mktemp("ext13city")
    first = _city(work / "first", ["370811", "370812"])
    d = make_db("ext13city", first, apply_profile=False)
    run_cli(["profile", "apply", "--quiet"], d.env(), check=True)
    with scratch_api(d, work, workers=2, tiles_version_ttl=0) as base:
        yield d, base, work


def _bounds(base: str, path: str) -> list[float]:
    return requests.get(base + path, timeout=30).json()["bounds"]


def _tile_of(code: str, z: int) -> tuple[int, int]:
    """(row, column) of the WebMercatorQuad tile at the centre of district ``code``."""
    x0, y0, x1, y1 = SQUARES[code][1]
    lon, lat = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490", always_xy=True) \
        .transform((x0 + x1) / 2, (y0 + y1) / 2)
    n = 2 ** z
    col = int((lon + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return row, col


def test_a_district_applied_while_serving_is_inside_the_tiles_bounds(city):
    d, base, work = city
    before, after = _expected(["370811", "370812"]), _expected(["370811", "370812", "370813"])
    assert after[2] > before[2] + 0.05  # the new district reaches well east of the old box
    for _ in range(6):  # both workers
        for path in (ONE_MAP, ADMIN):
            assert _bounds(base, path) == pytest.approx(before, abs=1e-6)
    assert requests.get(base + "/codes/370813", timeout=30).json().get("district_name") is None

    second = _city(work / "second", ["370811", "370812", "370813"])
    run_cli(["profile", "apply", "--quiet"], {**d.env(), "CIM_PROFILE": str(second.path)},
            check=True)

    for _ in range(6):
        for path in (ONE_MAP, ADMIN):
            assert _bounds(base, path) == pytest.approx(after, abs=1e-6)
        # the code of the new district is named from the database, not the start's profile
        got = requests.get(base + "/codes/370813", timeout=30).json()
        assert (got.get("district_name"), got["exists"]) == ("丙区", True), got
    # and its tile (which MapLibre now requests) carries it
    tj = requests.get(base + ADMIN, timeout=30).json()
    z = max(12, tj["vector_layers"][0]["minzoom"])
    row, col = _tile_of("370813", z)
    lon_c = (col + 0.5) / 2 ** z * 360 - 180
    assert tj["bounds"][0] <= lon_c <= tj["bounds"][2]
    tile = requests.get(f"{base}/collections/admin_divisions/tiles/WebMercatorQuad/"
                        f"{z}/{row}/{col}", timeout=30)
    assert tile.status_code == 200 and b"370813" in tile.content




def test_a_district_renamed_while_serving_is_named_as_the_database_has_it(city):
    d, base, work = city
    renamed = dict(SQUARES)
    renamed["370811"] = ("甲新区", SQUARES["370811"][1])
    import tests.test_webmap13_city_extent as wm

    saved, wm.SQUARES = wm.SQUARES, renamed
    try:
        third = _city(work / "third", ["370811", "370812", "370813"])
    finally:
        wm.SQUARES = saved
    run_cli(["profile", "apply", "--quiet"], {**d.env(), "CIM_PROFILE": str(third.path)},
            check=True)
    assert d.scalar("SELECT name FROM admin_divisions WHERE code = '370811' "
                    "AND valid_to IS NULL") == "甲新区"
    for _ in range(6):
        got = requests.get(base + "/codes/370811", timeout=30).json()
        assert got.get("district_name") == "甲新区", got
