"""Heights of a delivery above the ellipsoid are said to be so (probe of 2026-12-07): a
GeoPackage in EPSG:4480 (CGCS2000 3D geographic: ellipsoidal heights, ~tens of metres from the
1985 national height datum of survey heights) loaded its Z as 地面高程 without a word; a
compound CRS (EPSG:4527 + 5737) was recorded and printed as its whole WKT."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pyproj
import shapely

from cim.crs import crs_label, crs_text, parse_crs
from tests.conftest import run_cli
from tests.test_pipes2_above_ground import E, N


def _in_4480(path, layer_rows):
    to = pyproj.Transformer.from_crs(4527, 4490, always_xy=True)
    for i, (layer, rows, geoms) in enumerate(layer_rows):
        g3 = [shapely.transform(g, lambda xy: list(zip(*to.transform(xy[:, 0], xy[:, 1]),
                                                           strict=True)))
              for g in geoms]
        g3 = [shapely.force_3d(g, 40.0) for g in g3]
        pyogrio.write_dataframe(gpd.GeoDataFrame(rows, geometry=g3, crs="EPSG:4480"), path,
                                layer=layer, append=i > 0)
    return path


def test_a_network_of_ellipsoidal_heights_is_said_so(fresh_db, tmp_path):
    path = _in_4480(tmp_path / "g.gpkg", [
        ("pipes", [{"管段编号": "P1", "起点号": "K1", "终点号": "K2"}],
         [shapely.LineString([(E, N), (E + 30, N)])]),
        ("nodes", [{"点号": "K1"}, {"点号": "K2"}],
         [shapely.Point(E, N), shapely.Point(E + 30, N)])])
    p = run_cli(["load", "pipes", "--lines", f"{path}:pipes", "--points", f"{path}:nodes",
                 "--class", "给水"], fresh_db.env())
    assert p.returncode == 0, p.stderr
    assert "above the ellipsoid" in p.stdout and "1985" in p.stdout, p.stdout


def test_a_compound_crs_is_named_by_its_codes():
    c = pyproj.CRS("EPSG:4527+5737")
    assert crs_text(c) == "EPSG:4527+5737"
    assert parse_crs(crs_text(c)).equals(c)
    assert crs_label(c).startswith("EPSG:4527+5737 (")
