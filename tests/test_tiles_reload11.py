"""Tiles after the tables are made anew under a running server (review 11): `cim db downgrade
base`, `upgrade` and the same loads give the rows the same ids and batches the same numbers,
so the data version (max id, max batch) was the old one: the server's tile cache kept serving
the old building's tile and a browser's If-None-Match was answered 304. The building's use
is set here, so which tile is current is known by construction."""

from __future__ import annotations

import geopandas as gpd
import requests
import shapely

from tests.conftest import make_db, run_cli, scratch_api
from tests.test_tiles import TO_LONLAT, decode, lonlat_to_tile

X0, Y0 = 39464187.5, 3915955.11  # inside 任城区 (EPSG:4527 easting, northing)
Z = 17


def _delivery(path, use: str):
    gpd.GeoDataFrame({"编号": ["RL-1"], "建筑用途": [use]},
                     geometry=[shapely.box(X0 - 12, Y0 - 8, X0 + 12, Y0 + 8)],
                     crs="EPSG:4527").to_file(path)
    return path


def test_tables_made_anew_give_new_tiles(jining_profile, tmp_path):
    from loaders.buildings import load_buildings
    from loaders.divisions import load_districts, load_grid

    d = make_db("tilesrl", jining_profile)
    rep = load_buildings(d.conninfo, jining_profile, _delivery(tmp_path / "a.gpkg", "住宅"))
    assert rep.loaded == 1, rep
    lon, lat = TO_LONLAT.transform(X0, Y0)
    col, row = (int(v) for v in lonlat_to_tile(lon, lat, Z))
    with scratch_api(d, tmp_path, tiles_version_ttl=0) as base:
        url = f"{base}/collections/buildings/tiles/WebMercatorQuad/{Z}/{row}/{col}"
        first = requests.get(url, timeout=60)
        assert first.status_code == 200
        assert [f["properties"]["use_name"] for f in
                decode(first.content)["buildings"]["features"]] == ["住宅"]

        run_cli(["db", "downgrade", "base"], d.env(), check=True)
        run_cli(["db", "upgrade"], d.env(), check=True)
        load_districts(d.conninfo, jining_profile, mode="replace")
        load_grid(d.conninfo, jining_profile, mode="replace")
        rep = load_buildings(d.conninfo, jining_profile, _delivery(tmp_path / "b.gpkg", "商业"))
        assert rep.loaded == 1, rep

        again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=60)
        assert again.status_code == 200, again.status_code
        assert again.headers["ETag"] != first.headers["ETag"]
        assert [f["properties"]["use_name"] for f in
                decode(again.content)["buildings"]["features"]] == ["商业"]
