"""The web map's one-map source leaves the live layers to their own source. Its TileJSON named
every collection, so its tiles also carried sensors, alarms and cases (drawn from the `live`
source, never from these) and their ETags were made of the live layers' versions too: every
alarm raised or case moved changed the ETag of every one-map tile, and a browser revalidating
the whole map was sent all of it again. A case is written here as the case loop writes one
(a row of `cases`); the tiles are decoded with mapbox-vector-tile."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import make_db, scratch_api
from tests.test_tiles import TO_LONLAT, decode, lonlat_to_tile

LIVE = {"risk_points", "sensors", "alarms", "cases"}


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("mapslive", jining_profile)
    with scratch_api(d, tmp_path_factory.mktemp("mapslive"), tiles_version_ttl=0) as base:
        yield d, base


def test_a_live_change_leaves_the_one_map_tiles_alone(served):
    d, base = served
    style = requests.get(f"{base}/styles/onemap?f=mapbox", timeout=30).json()
    drawn = {sl["source-layer"] for sl in style["layers"] if sl.get("source") == "cim"}
    assert drawn and not drawn & LIVE
    tj = requests.get(style["sources"]["cim"]["url"], timeout=30).json()
    assert {v["id"] for v in tj["vector_layers"]} == drawn
    live_tj = requests.get(style["sources"]["live"]["url"], timeout=30).json()

    x, y = d.rows("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM "
                  "admin_divisions WHERE code = '370811') s")[0]
    lon, lat = TO_LONLAT.transform(x, y)
    col, row = (int(v) for v in lonlat_to_tile(lon, lat, 12))

    def url(template: str) -> str:
        return template.replace("{z}", "12").replace("{x}", str(col)).replace("{y}", str(row))

    one = requests.get(url(tj["tiles"][0]), timeout=60)
    assert one.status_code == 200
    assert "admin_divisions" in decode(one.content) and not set(decode(one.content)) & LIVE
    live = requests.get(url(live_tj["tiles"][0]), timeout=60)
    assert live.status_code == 204  # no case, risk point, sensor or alarm yet

    d.rows("INSERT INTO cases (code, source, category_code, state, reported_at, geom) "
           "VALUES ('370811930100000001', '12345', '0102', '上报', now(), "
           "ST_SetSRID(ST_MakePoint(%s, %s), 4527)) RETURNING 1", (x, y))
    again = requests.get(url(tj["tiles"][0]), headers={"If-None-Match": one.headers["ETag"]},
                         timeout=60)
    assert again.status_code == 304
    live = requests.get(url(live_tj["tiles"][0]), timeout=60)
    assert live.status_code == 200
    assert [f["properties"]["code"] for f in decode(live.content)["cases"]["features"]] == \
        ["370811930100000001"]
