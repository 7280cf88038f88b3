"""Geometry arguments of the query library as planners give them: long WKT, areas with holes
and several parts, files (GeoJSON as saved by Chinese tools, Shapefiles), a named CRS — the
expected answers from shapely on the hand-drawn city (tests/query_fixture.py)."""

from __future__ import annotations

import json

import numpy as np
import psycopg
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from cim.errors import InputError
from layers.query.aoi import aoi, run
from layers.query.area import Area
from layers.query.common import READ_FILES
from tests import query_fixture
from tests.conftest import run_cli
from tests.query_fixture import BUILDINGS, PIPES, X0, Y0, to_storage

qdb = query_fixture.qdb  # the hand-drawn city, a database per module
LAYERS = "buildings,pipe_segments"
TO_LONLAT = Transformer.from_crs(4527, 4490, always_xy=True)


def lonlat(g: shapely.Geometry) -> shapely.Geometry:
    """A fixture geometry (metres from the fixture's origin) in CGCS2000 lon/lat."""
    return shapely.transform(to_storage(g), lambda c: np.column_stack(
        TO_LONLAT.transform(c[:, 0], c[:, 1])))


def expected(area: shapely.Geometry) -> dict:
    return {"layers": {
        "buildings": {"count": sum(g.intersects(area) for g, *_r in BUILDINGS.values())},
        "pipe_segments": {"count": sum(g.intersects(area) for g, *_r in PIPES.values())}}}


# an area with a hole around B1, and a two-part area: B1 and B4's corner
HOLED = Polygon(box(-50, -50, 450, 150).exterior.coords, [box(5, 5, 35, 35).exterior.coords])
TWO_PARTS = MultiPolygon([box(5, 5, 35, 35), box(370, -5, 430, 15)])


def test_long_wkt_with_a_hole_or_two_parts_is_a_geometry_not_a_file_name(qdb):
    """A lon/lat WKT longer than 255 characters has a 'suffix' (its first decimal point):
    it was asked of the file system, which raised ENAMETOOLONG — an internal error."""
    for area in (HOLED, TWO_PARTS):
        wkt = lonlat(area).wkt
        assert len(wkt) > 255
        assert aoi(qdb.conninfo, Area(polygon=wkt), LAYERS) == expected(area)
        assert run(qdb.conninfo, {"polygon": wkt, "layers": LAYERS.split(",")}) == \
            expected(area)
    b1 = BUILDINGS["B1"][0]  # the fixture does what it says: B1 in the hole, in a part
    assert not b1.intersects(HOLED) and b1.intersects(TWO_PARTS)


def test_a_served_query_reads_no_file_the_command_line_does(qdb, tmp_path):
    """A path sent as a process's polygon was read on the server, and the WKT parser's error
    echoed the file's first word (a password in a configuration file); on the command line
    a file is the user's own and is read."""
    secret = tmp_path / "server.conf"
    secret.write_text("password=s3cret\n", encoding="utf-8")
    area = box(5, 5, 95, 45)  # B1, B2 and P3
    fc = tmp_path / "aoi.geojson"
    fc.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": mapping(lonlat(area))}]}),
        encoding="utf-8")
    for path in (secret, fc):
        with pytest.raises(InputError, match="reads no files") as err:
            run(qdb.conninfo, {"polygon": str(path), "layers": ["buildings"]})
        assert "s3cret" not in str(err.value).lower()
    got = run_cli(["query", "aoi", "--polygon", str(fc), "--layers", LAYERS, "--json"],
                  qdb.env(), check=True)
    assert json.loads(got.stdout) == expected(area)
    missing = run_cli(["query", "aoi", "--polygon", str(tmp_path / "nope.geojson"),
                       "--json"], qdb.env())
    assert missing.returncode != 0 and "no file" in missing.stderr


def test_the_command_line_reads_files_for_its_command_only(qdb, tmp_path):
    """The ``cim query`` group turned file reading on and never off: after one in-process
    command (click's CliRunner, a served process importing the CLI) every later query of the
    process read the server's files."""
    from click.testing import CliRunner

    from cim.cli import register_rooms

    area = box(5, 5, 95, 45)
    fc = tmp_path / "aoi.geojson"
    fc.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": mapping(lonlat(area))}]}),
        encoding="utf-8")
    assert READ_FILES.get() is False
    got = CliRunner().invoke(register_rooms(), ["query", "aoi", "--polygon", str(fc),
                                                "--layers", LAYERS, "--json"],
                             env=qdb.env(), catch_exceptions=False)
    assert got.exit_code == 0, got.output
    assert json.loads(got.output) == expected(area)  # the file was read on the command line
    assert READ_FILES.get() is False
    with pytest.raises(InputError, match="reads no files"):
        run(qdb.conninfo, {"polygon": str(fc), "layers": ["buildings"]})


@pytest.fixture()
def files():
    """Geometry arguments may name files, as on the command line."""
    token = READ_FILES.set(True)
    yield
    READ_FILES.reset(token)


AREA = box(5, 5, 95, 45)  # B1, B2 and P3


def feature_collection(g: shapely.Geometry, **extra) -> dict:
    return {"type": "FeatureCollection", **extra, "features": [
        {"type": "Feature", "properties": {"名称": "老城片区"}, "geometry": mapping(g)}]}


def test_geojson_files_as_windows_and_chinese_tools_save_them(qdb, tmp_path, files):
    """A GeoJSON file with a BOM (Windows tools) was read as WKT and refused; one in GBK (a
    Chinese name among its properties) crashed on UTF-8 decoding (an internal error)."""
    text = json.dumps(feature_collection(lonlat(AREA)), ensure_ascii=False)
    for name, data in (("bom.geojson", b"\xef\xbb\xbf" + text.encode("utf-8")),
                       ("gbk.geojson", text.encode("gbk"))):
        (tmp_path / name).write_bytes(data)
        assert aoi(qdb.conninfo, Area(polygon=str(tmp_path / name)), LAYERS) == \
            expected(AREA), name


def test_a_file_declaring_its_crs_is_read_in_it(qdb, tmp_path, files):
    """A Shapefile (GBK attributes, its .prj) crashed on UTF-8 decoding; a GeoJSON file with
    the crs member QGIS writes for a projected CRS was taken for lon/lat and refused. Their
    coordinates are easting first, as GDAL and QGIS write them, whatever the CRS's axis
    order."""
    import geopandas as gpd

    shp = tmp_path / "aoi.shp"
    gpd.GeoDataFrame({"名称": ["老城片区"]}, geometry=[lonlat(AREA)], crs="EPSG:4490") \
        .to_file(shp, encoding="gbk")
    assert aoi(qdb.conninfo, Area(polygon=str(shp)), LAYERS) == expected(AREA)
    gpkg = tmp_path / "aoi.gpkg"
    gpd.GeoDataFrame({"名称": ["老城片区"]}, geometry=[to_storage(AREA)], crs="EPSG:4527") \
        .to_file(gpkg, layer="aoi")
    assert aoi(qdb.conninfo, Area(polygon=str(gpkg)), LAYERS) == expected(AREA)
    qgis = tmp_path / "qgis.geojson"
    qgis.write_text(json.dumps(feature_collection(to_storage(AREA), crs={
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4527"}}),
        ensure_ascii=False), encoding="utf-8")
    assert aoi(qdb.conninfo, Area(polygon=str(qgis)), LAYERS) == expected(AREA)
    # --crs naming the file's own CRS changes nothing; another one is a clear error
    assert aoi(qdb.conninfo, Area(polygon=str(qgis), crs="EPSG:4527"), LAYERS) == \
        expected(AREA)
    with pytest.raises(InputError, match="declares its CRS"):
        aoi(qdb.conninfo, Area(polygon=str(qgis), crs="EPSG:4490"), LAYERS)
    # and on the command line
    got = run_cli(["query", "aoi", "--polygon", str(shp), "--layers", LAYERS, "--json"],
                  qdb.env(), check=True)
    assert json.loads(got.stdout) == expected(AREA)


def test_a_file_without_a_crs_is_read_as_drawn_in_the_crs_given(qdb, tmp_path, files):
    """A Shapefile without .prj or a DXF red line (红线) in the storage CRS has its x/y as
    drawn — easting first, as GDAL reads every file: --crs EPSG:4527 (northing first) swapped
    them, and the area selected nothing."""
    import geopandas as gpd

    shp = tmp_path / "redline.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # the case in point
        gpd.GeoDataFrame(geometry=[to_storage(AREA)]).to_file(shp)
    assert not shp.with_suffix(".prj").exists()
    dxf = tmp_path / "redline.dxf"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame(geometry=[to_storage(AREA).exterior]).to_file(dxf, driver="DXF")
    for path in (shp, dxf):
        assert aoi(qdb.conninfo, Area(polygon=str(path), crs="EPSG:4527"), LAYERS) == \
            expected(AREA if path is shp else AREA.exterior), path.name


def test_geojson_without_a_crs_member_is_easting_first_in_the_crs_given(qdb, tmp_path,
                                                                        files):
    """GeoJSON is x/y (easting, longitude first) by definition (RFC 7946; QGIS writes a
    projected CRS's easting first): without a ``crs`` member it was read in --crs EPSG:4527's
    authority order (northing first), unlike a Shapefile of the same area, and refused as
    'given in the other axis order'. Inline (a process's polygon) in EPSG:4490 likewise."""
    import geopandas as gpd

    fc = tmp_path / "qgis_no_crs.geojson"
    fc.write_text(json.dumps(feature_collection(to_storage(AREA)), ensure_ascii=False),
                  encoding="utf-8")
    assert '"crs"' not in fc.read_text(encoding="utf-8")
    shp = tmp_path / "same.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame(geometry=[to_storage(AREA)]).to_file(shp)
    for path in (fc, shp):  # one reading for both
        assert aoi(qdb.conninfo, Area(polygon=str(path), crs="EPSG:4527"), LAYERS) == \
            expected(AREA), path.name
    got = run_cli(["query", "aoi", "--polygon", str(fc), "--crs", "EPSG:4527", "--layers",
                   LAYERS, "--json"], qdb.env(), check=True)
    assert json.loads(got.stdout) == expected(AREA)
    for g, crs in ((to_storage(AREA), "EPSG:4527"), (lonlat(AREA), "EPSG:4490")):
        assert run(qdb.conninfo, {"polygon": mapping(g), "crs": crs,
                                  "layers": LAYERS.split(",")}) == expected(AREA), crs
    # GeoJSON written northing first lies nowhere: said, not an empty answer
    with pytest.raises(InputError, match="written northing first\\? GeoJSON"):
        run(qdb.conninfo, {"polygon": mapping(shapely.transform(to_storage(AREA),
                                                                lambda c: c[:, ::-1])),
                           "crs": "EPSG:4527", "layers": LAYERS.split(",")})
    # typed WKT keeps the authority axis order (README): northing first in EPSG:4527
    swapped = shapely.transform(to_storage(AREA), lambda c: c[:, ::-1])
    assert aoi(qdb.conninfo, Area(polygon=swapped.wkt, crs="EPSG:4527"), LAYERS) == \
        expected(AREA)


def test_projected_coordinates_in_the_other_axis_order_are_said_to_be(qdb):
    """X/Y mixed up in a Gauss-Krüger CRS (X the northing) selected nothing, silently."""
    for area in (Area(point=(X0 + 45, Y0 + 20), radius=12, crs="EPSG:4527"),
                 Area(bbox=(X0 + 5, Y0 + 5, X0 + 95, Y0 + 45), crs="EPSG:4527"),
                 Area(polygon=to_storage(AREA).wkt, crs="EPSG:4527")):
        with pytest.raises(InputError, match="other axis order.*EPSG:4527 is northing"):
            aoi(qdb.conninfo, area, LAYERS)
    # in the order EPSG defines: B1, B2 and P3
    swapped = shapely.transform(to_storage(AREA), lambda c: c[:, ::-1])
    assert aoi(qdb.conninfo, Area(polygon=swapped.wkt, crs="EPSG:4527"), LAYERS) == \
        expected(AREA)


def test_an_area_in_another_projected_crs_keeps_its_straight_edges(qdb):
    """An area given in the next Gauss-Krüger zone (EPSG:4547, CM 114°E; the data in zone 39)
    had only its corners transformed, its edges then straight in lon/lat: the middle of a
    10 km edge lay 1.6 m off. Two footprints 0.4 m either side of that middle: shapely on
    the area as given says which is in."""
    to_4547 = Transformer.from_crs(4527, 4547, always_xy=True)
    to_4527 = Transformer.from_crs(4547, 4527, always_xy=True)
    ox, oy = to_4547.transform(X0, Y0)
    quad = Polygon([(ox - 3000, oy - 3000), (ox + 7000, oy + 1000), (ox + 5000, oy + 8000),
                    (ox - 2000, oy + 6000)])  # easting, northing in EPSG:4547
    (ax, ay), (bx, by) = quad.exterior.coords[:2]
    mx, my = (ax + bx) / 2, (ay + by) / 2
    nx, ny = -(by - ay), bx - ax  # left of A→B: inward, the ring being anticlockwise
    nx, ny = nx / np.hypot(nx, ny), ny / np.hypot(nx, ny)
    feet = {}
    with psycopg.connect(qdb.conninfo) as conn:  # added in a transaction rolled back below
        for code, side in (("IN", 0.4), ("OUT", -0.4)):
            cx, cy = to_4527.transform(mx + side * nx, my + side * ny)
            g = box(cx - 0.05, cy - 0.05, cx + 0.05, cy + 0.05)
            feet[code] = shapely.transform(g, lambda c: np.column_stack(
                to_4547.transform(c[:, 0], c[:, 1])))
            conn.execute("INSERT INTO buildings (code, geom) VALUES "
                         "(%s, ST_Multi(ST_GeomFromWKB(%s, 4527)))", (code, shapely.to_wkb(g)))
        authority = shapely.transform(quad, lambda c: c[:, ::-1])  # northing first
        got = aoi(conn, Area(polygon=authority.wkt, crs="EPSG:4547"), "buildings",
                  features=True)
        conn.rollback()
    assert quad.exterior.is_ccw and quad.contains(feet["IN"]) \
        and not quad.intersects(feet["OUT"])  # the fixture does what it says
    fixture = [c for c, (g, *_r) in BUILDINGS.items() if quad.intersects(shapely.transform(
        to_storage(g), lambda c: np.column_stack(to_4547.transform(c[:, 0], c[:, 1]))))]
    assert sorted(f["id"] for f in got["layers"]["buildings"]["features"]) == \
        sorted([*fixture, "IN"])


def test_an_unreadable_geometry_is_named(qdb, tmp_path, files):
    """'cannot read the geometry' did not say which argument (or file) it was."""
    with pytest.raises(InputError, match=r"^polygon: cannot read it .*closed linestring"):
        aoi(qdb.conninfo, Area(polygon="POLYGON((116 35, 117 35, 117 36))"), LAYERS)
    # coordinates typed where a geometry belongs are no file name (their ".6,35.4")
    with pytest.raises(InputError, match=r"^polygon: cannot read it"):
        run(qdb.conninfo, {"polygon": "116.6,35.4", "layers": ["buildings"]})
    bad = tmp_path / "片区.geojson"
    bad.write_text('{"type": "Polygon"}', encoding="utf-8")
    with pytest.raises(InputError, match=r"^polygon \(片区.geojson\): cannot read it"):
        aoi(qdb.conninfo, Area(polygon=str(bad)), LAYERS)


def test_ewkt_is_read_in_its_srid(qdb):
    """EWKT as PostGIS writes it (ST_AsEWKT: SRID=4527;…, x/y) was refused as unreadable."""
    for g in (to_storage(AREA), lonlat(AREA)):
        srid = 4527 if g.bounds[0] > 1000 else 4490
        assert aoi(qdb.conninfo, Area(polygon=f"SRID={srid};{g.wkt}"), LAYERS) == \
            expected(AREA)


def test_a_web_maps_whole_world_box_is_densified_within_bounds(qdb):
    """Densified every 50 m, a whole-world box in Web Mercator had 3.2 million vertices and
    took 4.6 s before it was cut to where the data lie; it selects the whole city."""
    from cim.crs import DENSIFY_MAX_VERTICES, densified, parse_crs

    world = box(-20_000_000, -20_000_000, 20_000_000, 20_000_000)
    assert len(shapely.get_coordinates(densified(world, parse_crs(3857)))) \
        <= DENSIFY_MAX_VERTICES + 5
    ten_km = box(0, 0, 10_000, 10_000)  # an ordinary area keeps its 50 m step
    assert len(shapely.get_coordinates(densified(ten_km, parse_crs(3857)))) == 801
    assert aoi(qdb.conninfo, Area(bbox=world.bounds, crs="EPSG:3857"), LAYERS) == \
        aoi(qdb.conninfo, None, LAYERS)


def test_features_asked_in_crs84_by_its_uri(qdb):
    """out_crs as OGC API clients name CRS84 (its URI) was refused as 'the storage CRS …
    has no EPSG code', a dozen lines of PROJ's description; a CRS without an EPSG code is
    refused as an output CRS, in one line."""
    want = aoi(qdb.conninfo, Area(code="B1"), "buildings", features=True)
    for uri in ("http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                "urn:ogc:def:crs:OGC:1.3:CRS84"):
        assert run(qdb.conninfo, {"code": "B1", "layers": ["buildings"], "features": True,
                                  "out_crs": uri}) == want
    storage = run(qdb.conninfo, {"code": "B1", "layers": ["buildings"], "features": True,
                                 "out_crs": "http://www.opengis.net/def/crs/EPSG/0/4527"})
    g = shapely.geometry.shape(storage["layers"]["buildings"]["features"][0]["geometry"])
    assert g.hausdorff_distance(to_storage(BUILDINGS["B1"][0])) < 1e-6  # x/y: easting first
    with pytest.raises(InputError, match=r"out_crs .*needs an EPSG code"):
        aoi(qdb.conninfo, Area(code="B1"), "buildings", features=True,
            out_crs="+proj=tmerc +lon_0=117 +x_0=500000 +ellps=GRS80")


def test_an_area_in_a_citys_own_crs_without_an_epsg_code(qdb):
    """A city's own CRS (独立坐标系), given as a PROJ string, was refused as 'the storage CRS …
    has no EPSG code'. This one is EPSG:4527 by its definition, easting first."""
    local = "+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m"
    assert aoi(qdb.conninfo, Area(polygon=to_storage(AREA).wkt, crs=local), LAYERS) == \
        expected(AREA)
