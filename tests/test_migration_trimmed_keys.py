"""Migration 0014: keys stored with the blanks their ids were delivered with are trimmed as
the loaders read ids now, so that the next load finds their features (the same codes, no
second current feature); a trimmed key some feature already holds is left alone. The padded
keys are written here as an older loader stored them."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from cim.db.migrate import downgrade, upgrade
from loaders.buildings import load_buildings
from tests.conftest import scratch_db


def test_padded_keys_are_trimmed_and_the_next_load_finds_them(jining_profile, tmp_path):
    with scratch_db("trimkeys", jining_profile) as d:
        _code, x, y = d.big_cell()
        path = tmp_path / "pd.gpkg"
        ids = ["PD-01", "PD-02", "C1", "C1x"]
        gpd.GeoDataFrame({"编号": ids, "建筑用途": ["住宅"] * 4},
                         geometry=[box(x + 20 * i, y, x + 20 * i + 10, y + 10) for i in range(4)],
                         crs="EPSG:4527").to_file(path, engine="pyogrio")
        r = load_buildings(d.conninfo, d.profile, path, processes=0, dataset="pd")
        assert r.loaded == 4
        codes = dict(d.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL"))
        # as an older loader stored them: "PD-01 ", " PD-02"; "C1x" padded onto C1's key
        for old, padded in (("pd:PD-01", "pd:PD-01 "), ("pd:PD-02", "pd: PD-02"),
                            ("pd:C1x", "pd:C1 ")):
            for t in ("buildings", "code_registry"):
                d.rows(f"UPDATE {t} SET source_key = %s WHERE source_key = %s RETURNING 1",
                       (padded, old))
        downgrade(d.url, d.profile.srid, "0013_conversion_records")
        upgrade(d.url, d.profile.srid)
        for t in ("buildings", "code_registry"):
            keys = {k for k, in d.rows(f"SELECT source_key FROM {t} WHERE source_key LIKE 'pd:%%'")}
            assert keys == {"pd:PD-01", "pd:PD-02", "pd:C1", "pd:C1 "}, (t, keys)
        # the delivery again: its features found, codes kept, nothing new for PD-01, PD-02
        r2 = load_buildings(d.conninfo, d.profile, path, processes=0, dataset="pd")
        got = dict(d.rows("SELECT source_key, code FROM buildings WHERE valid_to IS NULL "
                          "AND source_key IN ('pd:PD-01', 'pd:PD-02')"))
        assert got == {"pd:PD-01": codes["pd:PD-01"], "pd:PD-02": codes["pd:PD-02"]}
        assert r2.unchanged >= 3, r2.text()
