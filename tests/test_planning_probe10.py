"""Planning parcels as an institute delivers them (review 10):

- a parcel layer whose land-use field the aliases do not know (地块性质) loaded every parcel
  with no land use, each merely flagged: the load is refused naming the file and its fields,
  and a mapping file naming the field loads it;
- under a header that says % (建筑密度(%), 绿地率（%）) every parcel was flagged
  ``percent_assumed`` although the header says so; a number up to 1 there goes against the
  header and is the one flagged.

Files written with GDAL (a GBK Shapefile, a GeoPackage), loaded through the real CLI on a real
PostGIS; expected values by construction."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box

from loaders.planning_values import DENSITY, FRACTION_ASSUMED, GREEN, parse_limit
from tests.conftest import run_cli, scratch_db

CRS = "EPSG:4527"


@pytest.fixture(scope="module")
def pdb(jining_profile):
    with scratch_db("plan10", jining_profile) as d:
        yield d


def _squares(d, n, row=0):
    """Squares of 20 m inside the district's big grid cell (centroid x0, y0)."""
    x, y = d.x0 - 150, d.y0 - 150 + row * 30
    return [box(x + 25 * i, y, x + 25 * i + 20, y + 20) for i in range(n)]


def test_parcels_without_a_land_use_field_are_refused_naming_the_fields(pdb, tmp_path):
    path = tmp_path / "控规地块.shp"
    df = gpd.GeoDataFrame({"地块编码": ["N1", "N2"], "地块性质": ["二类居住用地", "B1"],
                           "容积率": ["2.5", "3.0"]}, geometry=_squares(pdb, 2), crs=CRS)
    pyogrio.write_dataframe(df, path, encoding="GBK")
    before = pdb.rows("SELECT (SELECT count(*) FROM planning_parcels), "
                      "(SELECT count(*) FROM load_batches)")
    p = run_cli(["load", "planning", str(path), "--kind", "parcels"], pdb.env())
    assert p.returncode == 3, (p.stdout, p.stderr)  # input: the delivery lacks its field
    assert str(path) in p.stderr and "no land-use field" in p.stderr
    assert "地块性质" in p.stderr  # its fields, read in GBK, listed
    assert pdb.rows("SELECT (SELECT count(*) FROM planning_parcels), "
                    "(SELECT count(*) FROM load_batches)") == before
    mapping = tmp_path / "map.yaml"
    mapping.write_text("land_use: 地块性质\n", encoding="utf-8")
    p = run_cli(["load", "planning", str(path), "--kind", "parcels", "--mapping",
                 str(mapping), "--json"], pdb.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"], r["rejected"]) == (2, 2, 0)
    got = dict(pdb.rows("SELECT parcel_code, land_use_code FROM planning_parcels "
                        "WHERE valid_to IS NULL AND batch_id = %s", (r["batch_id"],)))
    assert got == {"N1": "0701", "N2": "0901"}  # land_use.csv: 二类居住用地 ∈ 0701, B1 = 0901


def test_a_percent_header_is_the_unit_of_its_bare_numbers(pdb, tmp_path):
    path = tmp_path / "pct.gpkg"
    df = gpd.GeoDataFrame({"地块编码": ["P1", "P2", "P3", "P4"], "用地代码": ["0701"] * 4,
                           "建筑密度(%)": ["30", "35%", "0.4", "0"],
                           "绿地率（%）": [35, 30.0, 0.35, 40]},
                          geometry=_squares(pdb, 4, 2), crs=CRS)
    df.to_file(path, layer="parcels", driver="GPKG")
    p = run_cli(["load", "planning", str(path), "--json"], pdb.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"]) == (4, 4)
    got = {c: (d, g, f) for c, d, g, f in pdb.rows(
        "SELECT parcel_code, max_density, min_green_ratio, flags FROM planning_parcels "
        "WHERE valid_to IS NULL AND batch_id = %s", (r["batch_id"],))}
    assert got == {"P1": (0.30, 0.35, []), "P2": (0.35, 0.30, []),
                   "P3": (0.4, 0.35, [FRACTION_ASSUMED]), "P4": (0.0, 0.40, [])}


def test_without_the_header_a_bare_percentage_is_still_flagged():
    assert parse_limit("30", DENSITY) == (0.3, "percent_assumed")
    assert parse_limit("30", DENSITY, header_percent=True) == (0.3, None)
    assert parse_limit(0.35, GREEN, header_percent=True) == (0.35, FRACTION_ASSUMED)
    assert parse_limit("30%", GREEN, header_percent=True) == (0.3, None)


def test_parcels_overlapping_in_a_delivery_are_flagged_and_named(pdb, tmp_path):
    # P1 and P2 (20 m squares) overlap by half of each; P3 overlaps P1 by a 0.1 m sliver
    # along its edge (2 m², 0.5 % of it: digitising, not an overlap); P4 stands apart
    x, y = pdb.x0 - 150, pdb.y0 + 60
    geoms = [box(x, y, x + 20, y + 20), box(x + 10, y, x + 30, y + 20),
             box(x - 19.9, y, x + 0.1, y + 20), box(x + 60, y, x + 80, y + 20)]
    path = tmp_path / "overlap.shp"
    df = gpd.GeoDataFrame({"地块编码": ["O1", "O2", "O3", "O4"], "用地性质": ["二类居住用地"] * 4,
                           "容积率": ["2.0"] * 4}, geometry=geoms, crs=CRS)
    pyogrio.write_dataframe(df, path, encoding="GBK")
    p = run_cli(["load", "planning", str(path), "--kind", "parcels", "--json"], pdb.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"], r["rejected"]) == (4, 4, 0)
    assert any("rows 1 and 2" in n and "parcel_overlap" in n for n in r["notes"]), r["notes"]
    got = dict(pdb.rows("SELECT parcel_code, flags FROM planning_parcels WHERE valid_to IS NULL "
                        "AND batch_id = %s", (r["batch_id"],)))
    assert got == {"O1": ["parcel_overlap"], "O2": ["parcel_overlap"], "O3": [], "O4": []}


def test_a_control_line_file_named_for_its_type_tells_its_kind(pdb, tmp_path):
    # 编号 and 名称 alone tell no kind; 蓝线.shp names its type (the loader read the type from
    # the name with --kind, but refused to tell the kind without it)
    path = tmp_path / "蓝线.shp"
    x, y = pdb.x0 - 150, pdb.y0 + 100
    df = gpd.GeoDataFrame({"编号": ["B1", "B2"], "名称": ["洸府河", "老运河"]},
                          geometry=[box(x, y, x + 100, y + 20), box(x, y + 40, x + 100, y + 60)],
                          crs=CRS)
    pyogrio.write_dataframe(df, path, encoding="GBK")
    p = run_cli(["load", "planning", str(path), "--json"], pdb.env())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert (r["layer"], r["read"], r["loaded"]) == ("control_lines", 2, 2)
    got = dict(pdb.rows("SELECT name, line_type FROM control_lines WHERE valid_to IS NULL "
                        "AND batch_id = %s", (r["batch_id"],)))
    assert got == {"洸府河": "蓝线", "老运河": "蓝线"}


def test_a_parcel_with_a_nan_coordinate_is_rejected_and_the_overlaps_still_found(pdb, tmp_path):
    import numpy as np
    from shapely.geometry import Polygon

    x, y = pdb.x0 - 150, pdb.y0 + 170
    geoms = [box(x, y, x + 20, y + 20),
             Polygon([(x, y), (x + 10, y), (x + 10, np.nan), (x, y)]),
             box(x + 10, y, x + 30, y + 20)]
    path = tmp_path / "nan.gpkg"
    gpd.GeoDataFrame({"地块编码": ["Q1", "Q2", "Q3"], "用地代码": ["0701"] * 3},
                     geometry=geoms, crs=CRS).to_file(path, layer="parcels", driver="GPKG")
    p = run_cli(["load", "planning", str(path), "--json"], pdb.env())
    assert p.returncode == 0, p.stderr  # the overlap check's make_valid raised on the NaN
    r = json.loads(p.stdout)
    assert (r["read"], r["loaded"], r["rejected"]) == (3, 2, 1)
    assert r["rejected_by_reason"] == {"invalid_coordinates": 1}
    assert any("rows 1 and 3" in n for n in r["notes"]), r["notes"]
