"""CityGML buildings made of BuildingParts load whole: GDAL's GML reader gives a feature the
last geometry it meets, so a building of two parts was loaded as its last part (the other
parts' footprint and height silently lost). Boxes known by construction: each building's
footprint is the union of its own and its parts' boxes, its height the z extent of all."""

from __future__ import annotations

import os

import pytest
import shapely

from cim.db.engine import drop_database
from tests.conftest import make_db, profile_around, server_url

X, Y = 367100.0, 5808000.0  # EPSG:25833 (Potsdam)
SRS = "urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783"


def _solid(x0, y0, x1, y1, z0, z1):
    def face(pts):
        return ('<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>'
                '<gml:posList srsDimension="3">'
                + " ".join(f"{x} {y} {z}" for x, y, z in pts)
                + "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
                "</gml:surfaceMember>")
    c = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    faces = [face([(x, y, z0) for x, y in (c[0], c[3], c[2], c[1], c[0])]),
             face([(x, y, z1) for x, y in (*c, c[0])])]
    for i in range(4):
        (ax, ay), (bx, by) = c[i], c[(i + 1) % 4]
        faces.append(face([(ax, ay, z0), (bx, by, z0), (bx, by, z1), (ax, ay, z1),
                           (ax, ay, z0)]))
    return (f'<bldg:lod1Solid><gml:Solid srsName="{SRS}"><gml:exterior><gml:CompositeSurface>'
            + "".join(faces) + "</gml:CompositeSurface></gml:exterior></gml:Solid>"
            "</bldg:lod1Solid>")


def _part(gid, solid):
    return (f'<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="{gid}">{solid}'
            "</bldg:BuildingPart></bldg:consistsOfBuildingPart>")


def _citygml(version):
    body = [
        # A: two parts, 10 m and 20 m tall, side by side: 20 × 10 m, 20 m
        ("A", _part("A1", _solid(X, Y, X + 10, Y + 10, 40, 50))
         + _part("A2", _solid(X + 10, Y, X + 20, Y + 10, 40, 60))),
        # B: one solid of its own, 8 × 6 m, 12 m
        ("B", _solid(X + 50, Y, X + 58, Y + 6, 41, 53)),
        # C: its own solid (10 × 10, 8 m) and a part beside it (5 × 10, 15 m)
        ("C", _solid(X + 100, Y, X + 110, Y + 10, 40, 48)
         + _part("C1", _solid(X + 110, Y, X + 115, Y + 10, 40, 55))),
    ]
    members = "".join(f'<cityObjectMember><bldg:Building gml:id="{gid}">{inner}'
                      "</bldg:Building></cityObjectMember>\n" for gid, inner in body)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<CityModel xmlns="http://www.opengis.net/citygml/{version}" '
            'xmlns:gml="http://www.opengis.net/gml" '
            f'xmlns:bldg="http://www.opengis.net/citygml/building/{version}">\n'
            + members + "</CityModel>\n")


EXPECTED = {"A": (200.0, 20.0), "B": (48.0, 12.0), "C": (150.0, 15.0)}


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_building_of_parts_loads_with_every_part(tmp_path, version):
    from loaders.buildings import load_buildings

    delivery = tmp_path / "delivery"
    delivery.mkdir()
    src = delivery / "parts.gml"
    src.write_text(_citygml(version), encoding="utf-8")
    before = src.read_bytes()
    work = tmp_path / "profile"
    work.mkdir()
    profile = profile_around(src, None, work, name="Parts", admin_code="990400",
                             crs="EPSG:25833", src_crs="EPSG:25833")
    db = make_db(f"cgparts{version[0]}", profile)
    try:
        r = load_buildings(db.conninfo, profile, src, crs="EPSG:25833", processes=0)
        assert (r.read, r.loaded, r.rejected) == (3, 3, 0), r.rejected_by_reason
        got = {key.split(":", 1)[1]: (shapely.from_wkb(bytes(g)), h, flags)
               for key, g, h, flags in db.rows(
                   "SELECT source_key, ST_AsBinary(geom), height, flags FROM buildings "
                   "WHERE valid_to IS NULL")}
        assert set(got) == set(EXPECTED)
        for gid, (area, height) in EXPECTED.items():
            g, h, flags = got[gid]
            assert g.area == pytest.approx(area, abs=1e-6), gid
            assert h == pytest.approx(height), gid
            assert "footprint_of_solid" in flags
        # the parts' union is the footprint: A covers both boxes
        assert got["A"][0].covers(shapely.box(X + 1, Y + 1, X + 19, Y + 9))
        assert any("2 CityGML building(s) made of BuildingParts" in n for n in r.notes)
    finally:
        drop_database(server_url(), db.name)
    # read-only delivery: nothing written beside it, the file untouched
    assert sorted(os.listdir(delivery)) == ["parts.gml"] and src.read_bytes() == before


def test_a_city_model_with_a_road_first_loads_its_buildings(tmp_path):
    """GDAL lists a city model's layers in the order of their first objects: with a road
    first, the Road layer was the one read — a buildings load stored the road as a building
    (a note said 'read layer Road of 2')."""
    from loaders.buildings import load_buildings

    road = ('<cityObjectMember><tran:Road gml:id="R1"><tran:lod1MultiSurface><gml:MultiSurface>'
            '<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>'
            '<gml:posList srsDimension="3">'
            f"{X} {Y - 50} 40 {X + 200} {Y - 50} 40 {X + 200} {Y - 40} 40 {X} {Y - 40} 40 "
            f"{X} {Y - 50} 40</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
            "</gml:surfaceMember></gml:MultiSurface></tran:lod1MultiSurface></tran:Road>"
            "</cityObjectMember>\n")
    buildings = "".join(
        f'<cityObjectMember><bldg:Building gml:id="B{k}">'
        f"{_solid(X + 30 * k, Y, X + 30 * k + 10, Y + 8, 40, 40 + 5 * k)}</bldg:Building>"
        "</cityObjectMember>\n" for k in (1, 2))
    src = tmp_path / "model.gml"
    src.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<CityModel '
                   'xmlns="http://www.opengis.net/citygml/2.0" '
                   'xmlns:gml="http://www.opengis.net/gml" '
                   'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" '
                   'xmlns:tran="http://www.opengis.net/citygml/transportation/2.0">\n'
                   + road + buildings + "</CityModel>\n", encoding="utf-8")
    work = tmp_path / "profile"
    work.mkdir()
    profile = profile_around(src, "Building", work, name="Model", admin_code="990500",
                             crs="EPSG:25833", src_crs="EPSG:25833")
    db = make_db("cgmodel", profile)
    try:
        r = load_buildings(db.conninfo, profile, src, crs="EPSG:25833", processes=0)
        got = sorted((key.split(":", 1)[1], round(area, 6), h) for key, area, h in db.rows(
            "SELECT source_key, ST_Area(geom), height FROM buildings WHERE valid_to IS NULL"))
        assert got == [("B1", 80.0, 5.0), ("B2", 80.0, 10.0)]
        assert (r.read, r.loaded, r.rejected) == (2, 2, 0)
        assert any("not read: Road" in n for n in r.notes), r.notes
    finally:
        drop_database(server_url(), db.name)
