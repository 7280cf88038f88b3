"""A delivery in Xian 1980 or Beijing 1954 (older Chinese surveys) reaches CGCS2000 only by
PROJ's ballpark — no datum shift, an error PROJ cannot bound (tens of metres): it was loaded
shifted without a word. It is refused naming the file and what to do, nothing written; the
approval check refuses such a project alike (one rule: cim.crs.to_storage)."""

from __future__ import annotations

import geopandas as gpd
import pytest

from cim.crs import to_storage
from cim.errors import InputError
from loaders.buildings import load_buildings
from tests.conftest import SAMPLE_BUILDINGS


def test_a_xian_1980_delivery_is_refused_naming_the_file(fresh_db, tmp_path):
    gdf = gpd.read_file(SAMPLE_BUILDINGS, engine="pyogrio", encoding="GBK").head(20)
    # Xian 1980 / 3-degree GK zone 39: the same numbers a ballpark would give, declared
    xian = gdf.set_crs("EPSG:2363", allow_override=True)
    path = tmp_path / "xian80.gpkg"
    xian.to_file(path, engine="pyogrio")
    with pytest.raises(InputError) as exc:
        load_buildings(fresh_db.conninfo, fresh_db.profile, path)
    assert exc.value.path == str(path)
    assert "Xian 1980" in exc.value.message and "ballpark" in exc.value.message
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    # declared wrongly (the numbers are CGCS2000's): --crs says so, and it loads
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, path, crs="EPSG:4527")
    assert r.loaded == 20


@pytest.mark.parametrize("crs", ["EPSG:4214", "EPSG:2363", "EPSG:2056"])
def test_datums_without_a_transformation_to_cgcs2000_are_refused(crs):
    from cim.crs import parse_crs

    with pytest.raises(InputError, match="ballpark"):
        to_storage(parse_crs(crs), 4527, "f")


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:32650", "EPSG:4490", "EPSG:4548"])
def test_wgs84_and_cgcs2000_reach_the_storage(crs):
    from cim.crs import parse_crs

    assert to_storage(parse_crs(crs), 4527, "f") is not None
    assert to_storage(parse_crs("EPSG:4527"), 4527, "f") is None


# CGCS2000 as an ESRI .prj names it (D_CGCS2000), and a city's own PROJ string on GRS 1980:
# the same ellipsoid, alike to decimetres — never refused (a datum told by its name refused
# them)
ESRI_CGCS2000 = (
    'PROJCS["CGCS2000_3_Degree_GK_Zone_39",GEOGCS["GCS_CGCS2000",DATUM["D_CGCS2000",'
    'SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],'
    'PARAMETER["False_Easting",39500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')
GRS80_CITY = ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 "
              "+units=m +no_defs")


@pytest.mark.parametrize("crs", [ESRI_CGCS2000, GRS80_CITY])
def test_cgcs2000_by_another_name_reaches_the_storage(crs):
    from cim.crs import parse_crs

    to_storage(parse_crs(crs), 4527, "f")  # no refusal


def test_a_shapefile_whose_prj_names_d_cgcs2000_loads(fresh_db, tmp_path):
    gdf = gpd.read_file(SAMPLE_BUILDINGS, engine="pyogrio", encoding="GBK").head(10)
    shp = tmp_path / "esri.shp"
    gdf.to_file(shp, engine="pyogrio", encoding="GBK")
    shp.with_suffix(".prj").write_text(ESRI_CGCS2000, encoding="ascii")
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, shp)
    assert r.loaded == 10, r.text()

