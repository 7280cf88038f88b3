"""Rejects the staged writer's SQL merge decides (duplicate_source_id, outside_area,
already_loaded) keep the geometry as delivered — in the delivery's CRS, unrepaired, an area
not turned into its point, Z kept — like a converter's rejects, and NULL where the row had no
geometry of its own (a population table, a sensor placed at its asset). Expected geometries
are the ones the test wrote; read = loaded + rejected."""

from __future__ import annotations

import numpy as np
import psycopg
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from cim.layerdefs import ROADS
from loaders.city_base import load_base
from loaders.divisions import load_grid
from loaders.engine import bulk
from loaders.engine.rows import RowShapeError, StagedRows
from loaders.geometry import ewkb
from loaders.planning import load_planning
from loaders.population import load_population
from loaders.sensors import load_sensors
from tests.conftest import make_db, server_url

CRS = "EPSG:4527"


@pytest.fixture(scope="module")
def sdb(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("stgrej", jining_profile)
    _cell, d.x0, d.y0 = d.big_cell()
    d.xmax = d.scalar("SELECT ST_XMax(ST_Extent(geom)) FROM admin_divisions "
                      "WHERE valid_to IS NULL AND level = 3")
    yield d
    drop_database(server_url(), d.name)


def write(tmp_path, name, recs, geoms, crs=CRS):
    """A GeoPackage of ``recs`` with ``geoms`` written as given (any type, Z kept)."""
    import geopandas as gpd

    path = tmp_path / f"{name}.gpkg"
    gpd.GeoDataFrame(recs, geometry=gpd.GeoSeries(list(geoms), crs=crs), crs=crs).to_file(
        path, driver="GPKG", layer=name, geometry_type="Unknown")
    return path


def rejects(db, batch_id):
    return db.rows("SELECT row_number, reason, geom_wkt FROM load_rejects WHERE batch_id = %s "
                   "ORDER BY row_number", (batch_id,))


def same(wkt: str | None, delivered) -> bool:
    """The reject's WKT is the delivered geometry: exactly (1e-9 in the delivery's CRS), of
    the same type, with its Z where it had one."""
    got = shapely.from_wkt(wkt)
    return (got.geom_type == delivered.geom_type and got.has_z == delivered.has_z
            and shapely.equals_exact(got, delivered, 1e-9)
            and np.allclose(shapely.get_coordinates(got, include_z=got.has_z),
                            shapely.get_coordinates(delivered, include_z=delivered.has_z),
                            rtol=0, atol=1e-9))


def test_facility_area_duplicate_keeps_the_delivered_polygon(sdb, tmp_path):
    x, y = sdb.x0, sdb.y0
    area = Polygon([(x + 30, y + 8), (x + 130, y + 8), (x + 130, y + 108), (x + 30, y + 108)])
    geoms = [Point(x, y), area, Point(x + 5, y + 5, 37.5)]
    recs = [{"设施编号": "S1", "设施名称": "a", "设施类型": "小学"},
            {"设施编号": "S1", "设施名称": "dup area", "设施类型": "小学"},
            {"设施编号": "S1", "设施名称": "dup 3D", "设施类型": "小学"}]
    r = load_base(sdb.conninfo, sdb.profile, "facilities", write(tmp_path, "fac", recs, geoms))
    assert (r.read, r.loaded, r.rejected) == (3, 1, 2)
    got = rejects(sdb, r.batch_id)
    assert [(n, reason) for n, reason, _w in got] == [(2, "duplicate_source_id"),
                                                     (3, "duplicate_source_id")]
    for n, _reason, wkt in got:
        assert same(wkt, geoms[n - 1]), wkt  # not its point on surface, Z kept


def test_green_bowtie_duplicate_keeps_the_unrepaired_polygon(sdb, tmp_path):
    x, y = sdb.x0 - 150, sdb.y0 + 150
    square = Polygon([(x, y), (x + 100, y), (x + 100, y + 100), (x, y + 100)])
    bowtie = Polygon([(x + 200, y), (x + 300, y + 100), (x + 300, y), (x + 200, y + 100)])
    assert not bowtie.is_valid
    recs = [{"绿地编号": "G1", "名称": "a", "绿地类型": "游园"},
            {"绿地编号": "G1", "名称": "bowtie dup", "绿地类型": "游园"}]
    r = load_base(sdb.conninfo, sdb.profile, "green", write(tmp_path, "g", recs,
                                                            [square, bowtie]))
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1)
    (n, reason, wkt), = rejects(sdb, r.batch_id)
    assert (n, reason) == (2, "duplicate_source_id")
    assert same(wkt, bowtie), wkt  # not its make_valid repair


def test_outside_area_and_already_loaded_keep_delivered_geometry_in_its_crs(sdb, tmp_path):
    """A delivery in CGCS2000 longitude/latitude (EPSG:4490): its rejects keep its own
    coordinates, Z included, not the storage geometry transformed back."""
    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4490", always_xy=True)

    def ll(coords):
        return [(*to_ll.transform(a, b), z) for a, b, z in coords]

    x, y = sdb.x0, sdb.y0
    inside = LineString(ll([(x - 100, y + 40, 35.25), (x + 100, y + 40, 36.5)]))
    outside = LineString(ll([(sdb.xmax + 5000, y, 30.0), (sdb.xmax + 5200, y, 31.0)]))
    recs = [{"编号": "LL1", "道路等级": "支路", "红线宽度": 12.0},
            {"编号": "LL2", "道路等级": "支路", "红线宽度": 12.0}]
    path = write(tmp_path, "ll_roads", recs, [inside, outside], crs="EPSG:4490")
    r = load_base(sdb.conninfo, sdb.profile, "roads", path)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1)
    (n, reason, wkt), = rejects(sdb, r.batch_id)
    assert (n, reason) == (2, "outside_area") and same(wkt, outside), wkt
    # the same road changed, appended: already_loaded keeps the delivered line
    moved = LineString(ll([(x - 100, y + 45, 35.25), (x + 100, y + 45, 36.5)]))
    path = write(tmp_path, "ll_roads", recs[:1], [moved], crs="EPSG:4490")
    r = load_base(sdb.conninfo, sdb.profile, "roads", path, mode="append")
    assert (r.read, r.loaded, r.rejected) == (1, 0, 1)
    (n, reason, wkt), = rejects(sdb, r.batch_id)
    assert (n, reason) == (1, "already_loaded") and same(wkt, moved), wkt
    # exported in the delivery's CRS as recorded (the batch's source_crs)
    assert sdb.scalar("SELECT source_crs FROM load_batches WHERE id = %s",
                      (r.batch_id,)) == "EPSG:4490"


def test_planning_duplicate_keeps_delivered_geometry(sdb, tmp_path):
    # (inside the big cell: 300 m south-west of its centre the first parcel only touched
    # district 370811 from outside — outside_area since an area that touches holds none)
    x, y = sdb.x0 - 120, sdb.y0 - 120
    a = Polygon([(x, y, 1.0), (x + 50, y, 1.0), (x + 50, y + 50, 1.0), (x, y + 50, 1.0)])
    b = Polygon([(x + 60, y), (x + 110, y), (x + 110, y + 50), (x + 60, y + 50)])
    recs = [{"地块编码": "P-1", "用地代码": "0701", "容积率": "2.5"},
            {"地块编码": "P-1", "用地代码": "0701", "容积率": "2.0"}]
    r = load_planning(sdb.conninfo, sdb.profile, write(tmp_path, "parcels", recs, [a, b]),
                      kind="parcels")
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1)
    (n, reason, wkt), = rejects(sdb, r.batch_id)
    assert (n, reason) == (2, "duplicate_source_id") and same(wkt, b), wkt


def test_grid_duplicate_code_keeps_delivered_polygon(sdb, tmp_path):
    code, wkb = sdb.rows("SELECT code, ST_AsBinary(geom) FROM grid_cells WHERE valid_to IS "
                         "NULL ORDER BY code LIMIT 1")[0]
    cell = shapely.from_wkb(bytes(wkb))
    shifted = shapely.force_3d(shapely.affinity.translate(cell, 0.125, 0.25), 12.5)
    recs = [{"code": code, "name": "kept"}, {"code": code, "name": "dup"}]
    r = load_grid(sdb.conninfo, sdb.profile, write(tmp_path, "grid", recs, [cell, shifted]))
    assert r.read == r.loaded + r.rejected and r.rejected == 1
    (n, reason, wkt), = rejects(sdb, r.batch_id)
    assert (n, reason) == (2, "duplicate_source_id") and same(wkt, shifted), wkt


def test_population_duplicate_keeps_the_files_geometry_not_the_units(sdb, tmp_path):
    from loaders.buildings import load_buildings

    x, y = sdb.x0 + 60, sdb.y0 - 150
    foot = Polygon([(x, y), (x + 20, y), (x + 20, y + 12), (x, y + 12)])
    bpath = write(tmp_path, "pblds", [{"编号": "B1", "建筑用途": "住宅", "地上层数": 6}], [foot])
    assert load_buildings(sdb.conninfo, sdb.profile, bpath).loaded == 1
    b1 = sdb.scalar("SELECT code FROM buildings WHERE source_key = 'pblds:B1' "
                    "AND valid_to IS NULL")
    recs = [{"建筑编码": b1, "常住人口": 120, "年份": 2025},
            {"建筑编码": b1, "常住人口": 130, "年份": 2025}]
    pts = [Point(x + 5, y + 5), Point(x + 12.5, y + 6.25)]
    r = load_population(sdb.conninfo, sdb.profile, write(tmp_path, "pop", recs, pts))
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1)
    (n, reason, wkt), = rejects(sdb, r.batch_id)
    assert (n, reason) == (2, "duplicate_source_id") and same(wkt, pts[1]), wkt
    # a statistics table without geometry: the reject has none (not the footprint); its
    # empty WKT column makes it a table, numbered as the file shows it: the header is line 1,
    # the first row line 2, the duplicate line 3
    csv = tmp_path / "pop.csv"
    csv.write_text(f"WKT,建筑编码,常住人口,年份\n,\"{b1}\",10,2024\n,\"{b1}\",11,2024\n",
                   encoding="utf-8")
    r = load_population(sdb.conninfo, sdb.profile, csv)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1)
    assert rejects(sdb, r.batch_id) == [(3, "duplicate_source_id", None)]


def test_sensor_duplicate_keeps_the_typed_xy_or_none(sdb, tmp_path):
    x, y = sdb.x0 + 200, sdb.y0 + 200
    fac = write(tmp_path, "sfac", [{"设施编号": "W1", "设施类型": "小学"}], [Point(x, y)])
    assert load_base(sdb.conninfo, sdb.profile, "facilities", fac).loaded == 1
    asset = sdb.scalar("SELECT code FROM facilities WHERE source_key = 'sfac:W1' "
                       "AND valid_to IS NULL")
    head = "设备编号,设备名称,监测类型,计量单位,监测对象编码,安装日期,状态,上报周期(秒),数据来源,X,Y\n"
    n1, e1 = y + 3.125, x + 1.5  # X = northing, Y = easting, as typed
    n2, e2 = y + 7.75, x + 2.25
    rows = [f"D1,a,燃气浓度,%LEL,,2024-11-06,运行,300,p,{n1!r},{e1!r}",
            f"D1,b,燃气浓度,%LEL,,2024-11-06,运行,300,p,{n2!r},{e2!r}",
            f"D2,c,燃气浓度,%LEL,{asset},2024-11-06,运行,300,p,,",
            f"D2,d,燃气浓度,%LEL,{asset},2024-11-06,运行,300,p,,"]
    path = tmp_path / "sensors.csv"
    path.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    r = load_sensors(sdb.conninfo, sdb.profile, path)
    assert (r.read, r.loaded, r.rejected) == (4, 2, 2)
    got = rejects(sdb, r.batch_id)
    assert [(n, reason) for n, reason, _w in got] == [(3, "duplicate_source_id"),
                                                     (5, "duplicate_source_id")]
    assert same(got[0][2], Point(e2, n2)), got  # easting first, as GIS files hold it
    assert got[1][2] is None  # placed at its asset: no geometry of its own


def test_rows_without_their_delivered_geometry_are_not_merged(sdb):
    """A staged converter that gives no delivered geometry is a bug: the merge refuses it
    rather than record its rejects without (or with the converted) geometry."""
    x, y = sdb.x0, sdb.y0
    geom = ewkb(np.array([LineString([(x, y), (x + 10, y)])], dtype=object), sdb.profile.srid)
    row = dict(row_no=1, source_key="t:1", row_hash="h", attrs=None, flags=[],
               geom=bulk.EWKB(geom[0]), class_code="04", name=None, road_class="支路",
               road_class_code="04", red_line_width_m=None, lanes=None)
    with pytest.raises(RowShapeError, match="missing delivered_wkt"):
        StagedRows(ROADS, delivered=True).append(**row)
    with psycopg.connect(sdb.conninfo) as conn:
        w = bulk.BulkWriter(conn, ROADS, sdb.profile.srid, batch_id=0,
                            scope=bulk.RetireScope(conn, 0), layer_code="87")
        w.create_staging()
        rows = StagedRows(ROADS)
        rows.append(**row)
        w.copy_rows(rows)
        with pytest.raises(RowShapeError, match="1 staged without delivered_wkt"):
            w.finalize("update", dataset="t")
        conn.rollback()
    # with it, the staged row carries the text as given
    with psycopg.connect(sdb.conninfo) as conn:
        w = bulk.BulkWriter(conn, ROADS, sdb.profile.srid, batch_id=0,
                            scope=bulk.RetireScope(conn, 0), layer_code="87")
        w.create_staging()
        rows = StagedRows(ROADS, delivered=True)
        rows.append(**row, delivered_wkt="LINESTRING Z (1 2 3, 4 5 6)")
        assert w.copy_rows(rows) == 1
        assert conn.execute("SELECT delivered_wkt FROM stg_roads").fetchone() == (
            "LINESTRING Z (1 2 3, 4 5 6)",)
        conn.rollback()
