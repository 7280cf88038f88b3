"""What `cim load buildings` prints for real deliveries.

A polygon ring that is not closed is read closed and flagged ``ring_closed``; GDAL's own
"Non closed ring detected. To avoid accepting it, set the OGR_GEOMETRY_ACCEPT_UNCLOSED_RING
configuration option to NO" was printed beside the report as a Python RuntimeWarning with a
line of the loader's code. The flag is the message now; any other GDAL warning is one line
naming the file (a GeoJSON geometry of a type GDAL does not know, whose row is rejected as
having none). A GeoPackage whose first layer is of roads loaded the road as a building and
left its polygon layer unread; the first polygon layer is read now, the others named.

Files written with GDAL (pyogrio); expected values by construction: a 10 × 10 m square
drawn with four corners is 100 m²."""

from __future__ import annotations

import json
import struct

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyogrio.raw import write as write_raw

from tests.conftest import run_cli, scratch_db

X, Y = 39464200.0, 3915800.0  # inside 任城区 (EPSG:4527)


@pytest.fixture(scope="module")
def db(jining_profile):
    with scratch_db("li13del", jining_profile) as d:
        yield d


def _polygon_wkb(points) -> bytes:
    return struct.pack("<BIII", 1, 3, 1, len(points)) + b"".join(
        struct.pack("<dd", *p) for p in points)


def test_an_open_ring_is_the_flag_and_gdal_says_nothing_raw(db, tmp_path):
    path = tmp_path / "open_ring.shp"
    open_ring = [(X, Y), (X + 10, Y), (X + 10, Y + 10), (X, Y + 10)]  # last ≠ first
    closed = [(X + 20, Y), (X + 30, Y), (X + 30, Y + 10), (X + 20, Y + 10), (X + 20, Y)]
    write_raw(path, np.array([_polygon_wkb(open_ring), _polygon_wkb(closed)], dtype=object),
              [np.array(["U1", "C1"], dtype=object)], ["编号"], driver="ESRI Shapefile",
              geometry_type="Polygon", crs="EPSG:4527", encoding="UTF-8")
    proc = run_cli(["load", "buildings", str(path), "--json"], db.env())
    assert proc.returncode == 0, proc.stderr
    assert "Non closed ring" not in proc.stderr and "RuntimeWarning" not in proc.stderr, \
        proc.stderr
    report = json.loads(proc.stdout)
    assert report["loaded"] == 2 and report["flagged_by_reason"].get("ring_closed") == 1
    got = {k.rsplit(":", 1)[-1]: (round(a, 6), f) for k, a, f in db.rows(
        "SELECT source_key, ST_Area(geom), flags FROM buildings WHERE valid_to IS NULL "
        "AND source_key LIKE %s", ("open_ring:%",))}
    assert got == {"U1": (100.0, ["ring_closed", "use_missing"]),
                   "C1": (100.0, ["use_missing"])}


def test_another_gdal_warning_is_one_line_naming_the_file(db, tmp_path):
    path = tmp_path / "odd.geojson"
    square = [[X, Y], [X + 10, Y], [X + 10, Y + 10], [X, Y + 10], [X, Y]]
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4527"}},
        "features": [
            {"type": "Feature", "properties": {"编号": "G1"},
             "geometry": {"type": "Polygon", "coordinates": [square]}},
            {"type": "Feature", "properties": {"编号": "G2"},
             "geometry": {"type": "Blob", "coordinates": [X, Y]}}]}, ensure_ascii=False),
        encoding="utf-8")
    proc = run_cli(["load", "buildings", str(path), "--json"], db.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["loaded"], report["rejected_by_reason"]) == (1, {"empty_geometry": 1})
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"warning: {path}: Unsupported geometry type detected. Feature gets "
                     "NULL geometry assigned."], proc.stderr


def test_a_geopackage_of_roads_first_loads_its_polygon_layer(db, tmp_path):
    path = tmp_path / "地形.gpkg"
    crs = "EPSG:4527"
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        {"道路名称": ["建设路"]}, geometry=[shapely.LineString([(X, Y - 50), (X + 200, Y - 50)])],
        crs=crs), path, layer="道路")
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        {"名称": ["注1", "注2"]}, geometry=[shapely.Point(X, Y - 60), shapely.Point(X, Y - 70)],
        crs=crs), path, layer="注记", append=True)
    houses = {"F1": shapely.box(X, Y + 40, X + 10, Y + 50),
              "F2": shapely.box(X + 20, Y + 40, X + 35, Y + 50)}
    pyogrio.write_dataframe(gpd.GeoDataFrame(
        {"建筑编号": list(houses)}, geometry=list(houses.values()), crs=crs), path,
        layer="房屋", append=True)
    proc = run_cli(["load", "buildings", str(path), "--json"], db.env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["read"], report["loaded"], report["rejected"]) == (2, 2, 0), report
    got = {k.rsplit(":", 1)[-1]: round(a, 6) for k, a in db.rows(
        "SELECT source_key, ST_Area(geom) FROM buildings WHERE valid_to IS NULL "
        "AND source_key LIKE %s", ("地形:%",))}
    assert got == {k: round(g.area, 6) for k, g in houses.items()}
    assert any("read layer '房屋'" in n and "'道路' (1 feature)" in n
               and "'注记' (2 features)" in n for n in report["notes"]), report["notes"]
