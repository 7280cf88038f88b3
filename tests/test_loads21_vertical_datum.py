"""Heights in another vertical datum than the 1985 national height datum (a compound CRS
EPSG:4527+5736, Yellow Sea 1956; +3855, EGM2008) loaded as 1985 heights without a word
(session 21's CRS probe); an ellipsoidal one was said, twice for one GeoPackage. Each is said
once a file, the Z kept as delivered. Files written by GDAL (pyogrio) with the compound CRS."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from loaders.pipes.load import load_pipes_files

E, N = 39_460_300.0, 3_917_200.0


@pytest.mark.parametrize("vertical,name", [(5736, "Yellow Sea 1956"), (3855, "EGM2008")])
def test_heights_of_another_datum_are_said_once(fresh_db, tmp_path, vertical, name):
    crs = f"EPSG:4527+{vertical}"
    path = tmp_path / "net.gpkg"
    gpd.GeoDataFrame({"管段编号": ["P1"], "起点号": ["K1"], "终点号": ["K2"]},
                     geometry=[shapely.LineString([(E, N, 34.0), (E + 30, N, 33.9)])],
                     crs=crs).to_file(path, layer="pipes")
    gpd.GeoDataFrame({"点号": ["K1", "K2"], "地面高程": [36.3, 36.2]},
                     geometry=[shapely.Point(E, N, 36.3), shapely.Point(E + 30, N, 36.2)],
                     crs=crs).to_file(path, layer="nodes")
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{path}:pipes",
                              points=f"{path}:nodes", class_opt="给水", dataset="vd")
    said = [n for n in r.notes if "1985 national height datum" in n]
    assert len(said) == 1 and name in said[0] and "net.gpkg" in said[0], r.notes
    assert fresh_db.rows("SELECT ST_Z(geom) FROM pipe_points WHERE batch_id = %s "
                         "ORDER BY point_no", (r.batch_id,)) == [(36.3,), (36.2,)]
