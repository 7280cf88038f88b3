"""CityGML as a 3D city database exports it (Potsdam's LOD1 delivery is one such):

- the srsName is written once, on the Envelope (``urn:ogc:def:crs,crs:EPSG:6.12:25833,
  crs:EPSG:6.12:5783``, ETRS89 / UTM 33N + DHHN92 height), not on each geometry: GDAL took
  no CRS from it and the load asked for --crs although the file names its CRS;
- ``storeysAboveGround`` 0 is the exporter's "unknown" on a building metres tall: it was
  stored as 0 storeys;
- ``measuredHeight uom="mm"`` on a building that is no solid was read as metres.

Buildings known by construction: boxes at known coordinates of EPSG:25833 (the storage CRS,
so stored coordinates are the file's), heights and units written by the test."""

from __future__ import annotations

import json

import pytest
import shapely

from cim.db.engine import drop_database
from tests.conftest import make_db, profile_around, run_cli, server_url

X, Y = 367100.0, 5808000.0  # EPSG:25833 (Potsdam)
COMPOUND = "urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783"
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<CityModel '
        'xmlns="http://www.opengis.net/citygml/1.0" xmlns:gml="http://www.opengis.net/gml" '
        'xmlns:bldg="http://www.opengis.net/citygml/building/1.0">\n')


def _ring(pts):
    return ('<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList srsDimension="3">'
            + " ".join(f"{x} {y} {z}" for x, y, z in pts)
            + "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>")


def _solid(x0, y0, x1, y1, z0, z1):
    c = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    faces = [[(x, y, z0) for x, y in (c[0], c[3], c[2], c[1], c[0])],
             [(x, y, z1) for x, y in (*c, c[0])]]
    for i in range(4):
        (ax, ay), (bx, by) = c[i], c[(i + 1) % 4]
        faces.append([(ax, ay, z0), (bx, by, z0), (bx, by, z1), (ax, ay, z1), (ax, ay, z0)])
    return ("<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>"
            + "".join(f"<gml:surfaceMember>{_ring(f)}</gml:surfaceMember>" for f in faces)
            + "</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>")


def _flat(x0, y0, x1, y1, z=40.0):
    """A footprint at ground level: no solid, its height is only its measuredHeight."""
    pts = [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z), (x0, y0, z)]
    return ("<bldg:lod1MultiSurface><gml:MultiSurface><gml:surfaceMember>" + _ring(pts)
            + "</gml:surfaceMember></gml:MultiSurface></bldg:lod1MultiSurface>")


def _building(gid, geometry, x0, y0, x1, y1, srs=COMPOUND, height=None, uom="m",
              storeys=None):
    env = (f'<gml:boundedBy><gml:Envelope srsName="{srs}" srsDimension="3">'
           f"<gml:lowerCorner>{x0} {y0} 40</gml:lowerCorner>"
           f"<gml:upperCorner>{x1} {y1} 60</gml:upperCorner></gml:Envelope></gml:boundedBy>"
           if srs else "")
    h = (f'<bldg:measuredHeight uom="{uom}">{height}</bldg:measuredHeight>'
         if height is not None else "")
    s = f"<bldg:storeysAboveGround>{storeys}</bldg:storeysAboveGround>" \
        if storeys is not None else ""
    return (f'<cityObjectMember><bldg:Building gml:id="{gid}">{env}{h}{s}{geometry}'
            "</bldg:Building></cityObjectMember>\n")


def _write(path, *members):
    path.write_text(HEAD + "".join(members) + "</CityModel>\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    work = tmp_path_factory.mktemp("cgsrs")
    box = _write(work / "box.gml", _building("B", _solid(X, Y, X + 10, Y + 8, 40, 52),
                                             X, Y, X + 10, Y + 8))
    profile = profile_around(box, None, work, name="Potsdam (test)", admin_code="990600",
                             crs="EPSG:25833", src_crs="EPSG:25833")
    d = make_db("cgsrs", profile)
    yield d
    drop_database(server_url(), d.name)


def test_a_compound_srsname_on_the_envelope_is_the_files_crs(db, tmp_path):
    src = _write(tmp_path / "one.gml", _building(
        "B1", _solid(X, Y, X + 10, Y + 8, 40, 52), X, Y, X + 10, Y + 8, height=12,
        storeys=4))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["source_crs"] == "EPSG:25833"
    assert any("read from its srsName" in n and "compound" in n for n in report["notes"])
    g, h = db.rows("SELECT ST_AsBinary(geom), height FROM buildings "
                   "WHERE source_key = 'one:B1' AND valid_to IS NULL")[0]
    # EPSG:25833 is the storage CRS: the footprint lies where the file's coordinates say
    assert shapely.equals_exact(shapely.normalize(shapely.from_wkb(bytes(g))),
                                shapely.normalize(shapely.MultiPolygon(
                                    [shapely.box(X, Y, X + 10, Y + 8)])), 1e-6)
    assert h == pytest.approx(12.0)


@pytest.mark.parametrize("srs", [None, "urn:adv:crs:ETRS89_UTM33*DE_DHHN92_NH",
                                 "urn:ogc:def:crs:EPSG::5783"])  # none, unknown, height only
def test_a_missing_or_unresolvable_srsname_still_asks_for_crs(db, tmp_path, srs):
    src = _write(tmp_path / "nocrs.gml", _building(
        "B1", _solid(X, Y, X + 10, Y + 8, 40, 52), X, Y, X + 10, Y + 8, srs=srs))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 3 and "--crs" in p.stderr and "nocrs.gml" in p.stderr, p.stderr


def test_a_northing_first_srsname_whose_order_coordinates_do_not_tell_asks_for_crs(
        db, tmp_path):
    """urn:ogc:def:crs:EPSG::4326 writes latitude first; GDAL swaps only where a geometry
    names it: read as written the buildings would land at lon 52, lat 13. Both orders are
    degrees of the world-wide CRS: nothing is loaded, --crs is asked for."""
    lat, lon = 52.40, 13.06
    src = _write(tmp_path / "latlon.gml", _building(
        "B1", _solid(lat, lon, lat + 0.0001, lon + 0.0001, 40, 52), lat, lon, lat + 0.0001,
        lon + 0.0001, srs="urn:ogc:def:crs:EPSG::4326"))
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 3 and "latlon.gml" in p.stderr and "--crs" in p.stderr, p.stderr
    assert db.scalar("SELECT count(*) FROM buildings WHERE source_key LIKE 'latlon:%%'") == 0


# (gid, measuredHeight, its uom, the height in metres or None: refused)
UNITS = [("mm", 12000, "mm", 12.0), ("ucum", 9, "urn:ogc:def:uom:UCUM::m", 9.0),
         ("hash", 7.5, "#m", 7.5), ("cm", 850, "cm", 8.5),
         ("epsg", 6, "urn:ogc:def:uom:EPSG::9001", 6.0), ("ucummm", 15000,
                                                          "urn:ogc:def:uom:UCUM::mm", 15.0),
         # the international foot is 0.3048 m exactly (UCUM [ft_i], EPSG:9002 "foot"); the
         # US survey foot (EPSG:9003, 1200/3937 m) is another unit no spelling names
         ("ft", 30, "ft", 30 * 0.3048), ("ucumft", 40, "urn:ogc:def:uom:UCUM::[ft_i]",
                                          40 * 0.3048),
         ("epsgft", 50, "urn:ogc:def:uom:EPSG::9002", 50 * 0.3048),
         ("usft", 10, "urn:ogc:def:uom:EPSG::9003", None), ("furlong", 1, "furlong", None),
         # EPSG 1025 millimetre, 9036 kilometre: field_units.yaml's mm and km by their size
         ("epsgmm", 12500, "urn:ogc:def:uom:EPSG::1025", 12.5),
         ("epsgkm", 0.02, "urn:ogc:def:uom:EPSG::9036", 20.0)]


def test_a_measured_height_is_read_in_its_unit(db, tmp_path):
    members = [_building(gid, _flat(X + 20 * k, Y, X + 20 * k + 10, Y + 8),
                         X + 20 * k, Y, X + 20 * k + 10, Y + 8, height=v, uom=uom)
               for k, (gid, v, uom, _m) in enumerate(UNITS)]
    src = _write(tmp_path / "units.gml", *members)
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    batch = json.loads(p.stdout)["batch_id"]
    got = dict(db.rows("SELECT split_part(source_key, ':', 2), height FROM buildings "
                       "WHERE source_key LIKE 'units:%%' AND valid_to IS NULL"))
    assert got == pytest.approx({gid: m for gid, _v, _u, m in UNITS if m is not None})
    rejects = db.rows("SELECT field, message FROM load_rejects WHERE batch_id = %s "
                      "ORDER BY row_number", (batch,))
    assert [f for f, _ in rejects] == ["measuredHeight", "measuredHeight"]
    assert "EPSG::9003" in rejects[0][1] and "'furlong'" in rejects[1][1]


def test_zero_storeys_above_ground_on_a_tall_building_is_unknown(db, tmp_path):
    cases = [("tall0", 12, 0), ("low0", 1.5, 0), ("four", 12, 4), ("noheight", None, 0)]
    members = [_building(gid, _flat(X + 20 * k, Y + 100, X + 20 * k + 10, Y + 108),
                         X + 20 * k, Y + 100, X + 20 * k + 10, Y + 108, height=h, storeys=s)
               for k, (gid, h, s) in enumerate(cases)]
    members.append(_building("solid0", _solid(X, Y + 200, X + 10, Y + 208, 40, 58),
                             X, Y + 200, X + 10, Y + 208, height=56890.0, storeys=0))
    src = _write(tmp_path / "storeys.gml", *members)
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    got = {k.split(":")[1]: (f, "floors_above_unknown" in flags, a)
           for k, f, flags, a in db.rows(
               "SELECT source_key, floors_above, flags, attrs->>'storeysAboveGround' "
               "FROM buildings WHERE source_key LIKE 'storeys:%%' AND valid_to IS NULL")}
    assert got == {"tall0": (None, True, "0"), "solid0": (None, True, "0"),
                   "low0": (0, False, None), "four": (4, False, None),
                   "noheight": (0, False, None)}


def test_zero_floors_in_a_shapefile_is_read_as_in_citygml(db, tmp_path):
    """地上层数 0 in a Shapefile (ArcGIS writes a missing number so) on a 15 m building is
    unknown as well; 0 storeys above ground on a 0 m underground garage stays 0."""
    import geopandas as gpd

    src = tmp_path / "survey.shp"
    gpd.GeoDataFrame({"编号": ["S1", "S2", "S3"], "地上层数": [0, 0, 5],
                      "地下层数": [0, 2, 1], "高度": [15.0, 0.0, 18.0]},
                     geometry=[shapely.box(X + 20 * k, Y + 300, X + 20 * k + 10, Y + 308)
                               for k in range(3)], crs="EPSG:25833") \
        .to_file(src, encoding="GBK")
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    got = {k.split(":")[1]: (f, "floors_above_unknown" in flags)
           for k, f, flags in db.rows(
               "SELECT source_key, floors_above, flags FROM buildings "
               "WHERE source_key LIKE 'survey:%%' AND valid_to IS NULL")}
    assert got == {"S1": (None, True), "S2": (0, False), "S3": (5, False)}


def test_zero_floors_above_with_storeys_below_ground_stays_zero(db, tmp_path):
    """A basement-only structure (地上层数 0, 地下层数 2) whose height (7.5 m) is its depth has
    0 storeys above ground indeed: kept 0, not flagged; the same 0 with no storey below on a
    7.5 m building is the exporter's unknown (NULL, flagged)."""
    import geopandas as gpd

    src = tmp_path / "basement.shp"
    gpd.GeoDataFrame({"编号": ["G1", "G2", "G3"], "地上层数": [0, 0, 0],
                      "地下层数": [2, 0, None], "高度": [7.5, 7.5, 7.5]},
                     geometry=[shapely.box(X + 20 * k, Y + 400, X + 20 * k + 10, Y + 408)
                               for k in range(3)], crs="EPSG:25833") \
        .to_file(src, encoding="GBK")
    p = run_cli(["load", "buildings", str(src), "--json"], db.env())
    assert p.returncode == 0, p.stderr
    got = {k.split(":")[1]: (f, "floors_above_unknown" in flags)
           for k, f, flags in db.rows(
               "SELECT source_key, floors_above, flags FROM buildings "
               "WHERE source_key LIKE 'basement:%%' AND valid_to IS NULL")}
    assert got == {"G1": (0, False), "G2": (None, True), "G3": (None, True)}

