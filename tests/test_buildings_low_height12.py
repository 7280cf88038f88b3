"""A surveyed building lower than its storeys above ground can be (30 storeys at 10 m: below
storeys × field_units.yaml's min_storey_height_m, 2.2 m) is loaded as delivered — which of
the two numbers is wrong the survey must say — but flagged ``height_below_storeys``: the
approval check's spacing and the map's heights rest on that height. The expected flags follow
from the numbers written (2.2 m a storey), not from the loader."""

from __future__ import annotations

import geopandas as gpd
import shapely

from loaders.buildings import load_buildings

X, Y = 39464200.0, 3915200.0


def test_a_building_lower_than_its_storeys_is_flagged_and_kept(fresh_db, tmp_path):
    # (id, storeys above ground, height m): 2.2 m a storey is the lowest
    rows = [("low", 30, 10.0), ("tall", 10, 30.0), ("edge", 10, 22.0), ("under", 10, 21.9),
            ("nofloors", None, 5.0), ("noheight", 12, None), ("zero", 0, 1.5),
            ("shed", 1, 2.0), ("two", 2, 4.3)]
    # one storey is not judged (a shed's eaves height)
    expected = {gid: f is not None and f >= 2 and h is not None and h < f * 2.2
                for gid, f, h in rows}
    assert expected == {"low": True, "tall": False, "edge": False, "under": True,
                        "nofloors": False, "noheight": False, "zero": False, "shed": False,
                        "two": True}
    path = tmp_path / "survey.gpkg"
    gpd.GeoDataFrame({"编号": [r[0] for r in rows],
                      "地上层数": [r[1] for r in rows], "建筑高度": [r[2] for r in rows]},
                     geometry=[shapely.box(X + 20 * k, Y, X + 20 * k + 10, Y + 8)
                               for k in range(len(rows))], crs="EPSG:4527") \
        .to_file(path, driver="GPKG")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path)
    assert (r.loaded, r.rejected) == (len(rows), 0), r.text()
    got = {k.split(":")[-1]: (f, h, "height_below_storeys" in flags)
           for k, f, h, flags in fresh_db.rows(
               "SELECT source_key, floors_above, height, flags FROM buildings "
               "WHERE valid_to IS NULL")}
    assert got == {gid: (f, h, expected[gid]) for gid, f, h in rows}
    assert r.flagged_by_reason.get("height_below_storeys") == 3, r.flagged_by_reason
