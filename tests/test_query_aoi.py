"""Area of interest and the catalog on the hand-drawn city: counts from shapely on the fixture."""

from __future__ import annotations

import json

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box, shape

from cim.errors import InputError
from layers.query.aoi import aoi, run
from layers.query.area import Area
from tests import query_fixture
from tests.conftest import run_cli
from tests.query_fixture import (
    BUILDINGS,
    D2,
    DISTRICTS,
    G1,
    GRID,
    PIPES,
    X0,
    Y0,
    to_storage,
)

qdb = query_fixture.qdb  # the hand-drawn city, a database per module
LAYERS = "buildings,pipe_segments"
TO_LONLAT = Transformer.from_crs(4527, 4490, always_xy=True)


def expected(area: shapely.Geometry, floors_min: int | None = None) -> dict:
    b = [c for c, (g, *_r, floors) in BUILDINGS.items() if g.intersects(area)
         and (floors_min is None or floors >= floors_min)]
    p = [c for c, (g, *_r) in PIPES.items() if g.intersects(area)]
    return {"buildings": {"count": len(b)}, "pipe_segments": {"count": len(p)}}


def cli_json(qdb, *args) -> dict:
    return json.loads(run_cli(["query", *args, "--json"], qdb.env(), check=True).stdout)


def test_bbox_in_storage_crs_northing_first(qdb):
    area = box(5, 5, 95, 45)  # B1, B2 and P3 only
    # EPSG:4527 in its authority order: northing, easting
    bbox = f"{Y0 + 5},{X0 + 5},{Y0 + 45},{X0 + 95}"
    got = cli_json(qdb, "aoi", "--bbox", bbox, "--crs", "EPSG:4527", "--layers", LAYERS)
    assert got == {"layers": expected(area)}
    assert got["layers"]["buildings"]["count"] == 2  # the fixture does what it says


def test_bbox_crs84_and_whole_city(qdb):
    x0, y0 = TO_LONLAT.transform(X0 + 185, Y0 + 5)
    x1, y1 = TO_LONLAT.transform(X0 + 395, Y0 + 95)
    # a lon/lat box is not a storage box: compare with the box's curved image in storage
    ll = box(x0, y0, x1, y1).segmentize(1e-5)
    area = shapely.transform(ll, lambda c: __import__("numpy").column_stack(
        Transformer.from_crs(4490, 4527, always_xy=True).transform(c[:, 0], c[:, 1]))
        - [X0, Y0])
    got = aoi(qdb.conninfo, Area(bbox=(x0, y0, x1, y1)), LAYERS)
    assert got == {"layers": expected(area)}
    everything = aoi(qdb.conninfo, None, LAYERS)
    assert everything == {"layers": {"buildings": {"count": len(BUILDINGS)},
                                     "pipe_segments": {"count": len(PIPES)}}}


def test_grid_district_and_feature_code(qdb):
    assert aoi(qdb.conninfo, Area(grid=G1), LAYERS) == {"layers": expected(GRID[G1])}
    assert aoi(qdb.conninfo, Area(district=D2), LAYERS) == {"layers": expected(DISTRICTS[D2])}
    assert aoi(qdb.conninfo, Area(code="B3"), LAYERS) == \
        {"layers": expected(BUILDINGS["B3"][0])}
    with pytest.raises(InputError, match="no current grid cell has code '999'"):
        aoi(qdb.conninfo, Area(grid="999"), LAYERS)
    bad = run_cli(["query", "aoi", "--district", "000000", "--json"], qdb.env())
    assert bad.returncode != 0 and "no current district has code '000000'" in bad.stderr


def test_point_radius_in_crs84(qdb):
    # 12 m around (45, 20): reaches P3 (10 m) and B1 (15 m away? no: 15 > 12)
    lon, lat = TO_LONLAT.transform(X0 + 45, Y0 + 20)
    got = aoi(qdb.conninfo, Area(point=(lon, lat), radius=12), LAYERS)
    assert got == {"layers": expected(Point(45, 20).buffer(12))}
    assert got["layers"]["pipe_segments"]["count"] == 1
    assert got["layers"]["buildings"]["count"] == 0


def test_point_radius_is_the_distance_not_a_polygon(qdb):
    """A footprint 5 cm inside a 600 m radius is in it, 5 cm outside it is not. B1's
    lower-left corner is seen from the centre at 1.40625° — between two vertices of a
    32-segments-a-quarter circle (every 2.8125°), where such a polygon falls short of the
    circle by 600 m × (1 − cos(π/128)) = 18 cm."""
    import math

    theta = math.radians(90 / 32 / 2)
    cx, cy = 10 - 600 * math.cos(theta), 10 - 600 * math.sin(theta)
    d = Point(cx, cy).distance(BUILDINGS["B1"][0])
    assert abs(d - 600) < 1e-6  # the corner is B1's nearest point
    centre = to_storage(Point(cx, cy))
    counts = []
    for radius in (d + 0.05, d - 0.05):
        # the storage CRS in its authority order: northing, easting
        got = aoi(qdb.conninfo, Area(point=(centre.y, centre.x), radius=radius,
                                     crs="EPSG:4527"), "buildings")
        want = sum(g.distance(Point(cx, cy)) <= radius for g, *_r in BUILDINGS.values())
        assert got["layers"]["buildings"]["count"] == want
        counts.append(want)
    assert counts == [1, 0]  # B1 in, then out


def test_where_filter_and_features(qdb, tmp_path):
    area = box(0, 0, 400, 100)
    bad = run_cli(["query", "aoi", "--polygon", to_storage(area).wkt, "--crs", "EPSG:4527",
                   "--layers", LAYERS, "--json"], qdb.env())
    # the polygon was given easting first in a northing-first CRS: it lies nowhere the CRS
    # is used (it selected nothing, silently), and the other way round it would
    assert bad.returncode != 0 and "given in the other axis order? EPSG:4527 is northing " \
        "(X) first" in bad.stderr
    swapped = shapely.transform(to_storage(area), lambda c: c[:, ::-1])
    out = tmp_path / "aoi.geojson"
    got = cli_json(qdb, "aoi", "--polygon", swapped.wkt, "--crs", "EPSG:4527",
                   "--layers", LAYERS, "--where", "buildings:floors_above >= 10",
                   "--features", "--geojson", str(out))
    want = expected(area, floors_min=10)
    assert {n: {"count": v["count"]} for n, v in got["layers"].items()} == want
    feats = got["layers"]["buildings"]["features"]
    assert sorted(f["id"] for f in feats) == ["B1", "B3"]
    b1 = next(f for f in feats if f["id"] == "B1")
    assert b1["properties"]["floors_above"] == 12 and "attrs" not in b1["properties"]
    # geometry in CRS84: back to storage it is B1
    g = shapely.transform(shape(b1["geometry"]), lambda c: __import__("numpy").column_stack(
        Transformer.from_crs(4490, 4527, always_xy=True).transform(c[:, 0], c[:, 1])))
    assert g.hausdorff_distance(to_storage(BUILDINGS["B1"][0])) < 1e-3
    written = json.loads(out.read_text())
    assert len(written["features"]) == want["buildings"]["count"] + \
        want["pipe_segments"]["count"]
    assert {f["properties"]["layer"] for f in written["features"]} == {"buildings",
                                                                       "pipe_segments"}


def test_where_errors_and_process(qdb):
    with pytest.raises(InputError, match="unknown property 'nope'"):
        aoi(qdb.conninfo, None, LAYERS, ["buildings:nope = 1"])
    with pytest.raises(InputError, match="not queried"):
        aoi(qdb.conninfo, None, "buildings", ["pipe_segments:pipe_class = '01'"])
    with pytest.raises(InputError, match="unknown layer"):
        aoi(qdb.conninfo, None, "no_such_layer")
    # a stray comma names no layer '' (it was refused as one)
    assert aoi(qdb.conninfo, None, "buildings,,pipe_segments,") == aoi(qdb.conninfo, None,
                                                                        LAYERS)
    got = run(qdb.conninfo, {"grid": G1, "layers": ["pipe_segments"],
                             "where": {"pipe_segments": "pipe_class = '01'"}})
    want = [c for c, (g, cls, *_r) in PIPES.items() if cls == "01" and g.intersects(GRID[G1])]
    assert got == {"layers": {"pipe_segments": {"count": len(want)}}}


def test_catalog(qdb):
    rows = json.loads(run_cli(["layers", "--json"], qdb.env(), check=True).stdout)
    by = {r["name"]: r for r in rows}
    b = by["buildings"]
    assert b["count"] == len(BUILDINGS) and b["srid"] == 4527 and b["dimension"] == 2
    assert by["pipe_segments"]["dimension"] == 3
    assert b["title_zh"] == "建筑物" and b["code_scheme"] == "feature"
    x0, y0, x1, y1 = shapely.union_all([to_storage(g) for g, *_ in BUILDINGS.values()]).bounds
    assert b["extent_storage"] == pytest.approx([x0, y0, x1, y1], abs=1e-6)
    lon0, lat0 = TO_LONLAT.transform(x0, y0)
    assert b["extent_crs84"][0] == pytest.approx(lon0, abs=1e-3)
    assert b["last_batch"] is None  # inserted without a load batch


def test_filter_on_a_chinese_value_typed_with_a_chinese_colon(qdb):
    """A filter on a Chinese value, its layer followed by the colon a Chinese input method
    types (：): it was refused as not LAYER:CQL2."""
    import psycopg

    homes = {"B1", "B3"}
    with psycopg.connect(qdb.conninfo) as conn:  # changed in a transaction rolled back below
        conn.execute("UPDATE buildings SET use_name = '住宅' WHERE code = ANY(%s)",
                     (sorted(homes),))
        got = [aoi(conn, None, "buildings", [w], features=True)["layers"]["buildings"]
               for w in ("buildings:use_name = '住宅'", "buildings：use_name = '住宅'",
                         "buildings ： use_name LIKE '住%'")]
        conn.rollback()
    for g in got:
        assert g["count"] == len(homes) and {f["id"] for f in g["features"]} == homes


def test_a_polygon_file_with_a_self_crossing_feature_overlapping_another(qdb, tmp_path):
    """A file's features are unioned (README): a self-crossing footprint overlapping another
    feature — as a survey delivery holds — was an internal error (GEOS cannot union it). Each
    feature is repaired first: the bow tie's two triangles and the square, by shapely here."""
    import geopandas as gpd

    bowtie = shapely.Polygon([(0, 0), (400, 100), (400, 0), (0, 100)])
    square = box(150, 20, 250, 80)
    assert not bowtie.is_valid and shapely.intersects(shapely.make_valid(bowtie), square)
    area = shapely.union(shapely.make_valid(bowtie), square)
    path = tmp_path / "bowtie.gpkg"
    gpd.GeoDataFrame(geometry=[to_storage(bowtie), to_storage(square)],
                     crs="EPSG:4527").to_file(path)
    got = cli_json(qdb, "aoi", "--polygon", str(path), "--layers", LAYERS)
    assert {n: {"count": v["count"]} for n, v in got["layers"].items()} == expected(area)


@pytest.mark.parametrize("args,words", [
    # Xian 1980's 3° zone 40 (CM 120°E), Beijing 1954 lon/lat: PROJ has no datum shift to
    # CGCS2000 — the loads and the approval check refuse them; the queries took them
    (["--bbox", "3910000,190000,3920000,193000", "--crs", "EPSG:2385"], "Xian 1980"),
    (["--district", "370811", "--features", "--out-crs", "EPSG:4214"], "Beijing 1954"),
    (["--district", "370811", "--features", "--out-crs", "EPSG:4479"], "is geocentric"),
])
def test_crss_reached_by_a_ballpark_only_are_refused(qdb, args, words):
    p = run_cli(["query", "aoi", "--layers", "buildings", *args, "--json"], qdb.env())
    assert p.returncode == 3 and words in p.stderr, p.stderr
    assert "ballpark" in p.stderr or "geocentric" in p.stderr
