"""A hand-drawn planning situation for the approval check's known-answer tests.

Storage metres (EPSG:4527, Jining) relative to (X0, Y0), inserted directly; the shapely
geometries here are what the tests compute their expected answers from.

    y=100 +-----------+-----------+          parcels: A x 0..100 (FAR 2.0, density 0.40,
          |     A     |     B     |   blue        green 0.30, 80 m), B x 100..200 (FAR 3.0,
          |  zone 45m |           |   line        density 0.30, green 0.20, 60 m);
          |     |pipe |    E1     |   230..250    setbacks: road 5, site 3, blue 10
    y=0   +-----+-----+-----------+
          |   road red line (y -20..0)|          pipe: DN300 water main along x = 61.15
          x=0   61.15 100         200            height zone x 0..50: 机场净空 45 m
"""

from __future__ import annotations

import os

import psycopg
import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, box

X0, Y0 = 39_500_000.0, 3_920_000.0
SRID = 4527
PARCELS = {
    # code: (geometry, parcel_code, max_far, max_density, min_green, max_height)
    "PA": (box(0, 0, 100, 100), "JN-A-01", 2.0, 0.40, 0.30, 80.0),
    "PB": (box(100, 0, 200, 100), "JN-B-02", 3.0, 0.30, 0.20, 60.0),
}
SETBACKS = {"setback_road_m": 5.0, "setback_site_m": 3.0, "setback_blue_m": 10.0}
LINES = {
    # code: (geometry, line_type, type code, width)
    "L-ROAD": (box(0, -20, 200, 0), "道路红线", "HX", None),
    "L-BLUE": (box(230, 0, 250, 100), "蓝线", "LX", None),
    "L-GREEN": (box(0, 150, 50, 170), "绿线", "LVX", None),
}
ZONES = {"Z-AIR": (box(0, 0, 50, 100), "机场净空", 45.0)}
PIPE_X = 61.15
PIPES = {"W1": (LineString([(PIPE_X, 0, 30), (PIPE_X, 100, 30)]), "01", "给水", 300.0)}
EXISTING = {"E1": box(150, 60, 170, 80), "E2": box(10, 60, 20, 70)}


def to_storage(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.affinity.translate(g, X0, Y0)


def wkb(g: shapely.Geometry) -> bytes:
    return shapely.to_wkb(to_storage(g), include_srid=False)


def build(conninfo: str, parcels: bool = True) -> None:
    with psycopg.connect(conninfo) as conn:
        if parcels:
            for code, (g, pc, far, dens, green, h) in PARCELS.items():
                conn.execute(
                    "INSERT INTO planning_parcels (code, parcel_code, land_use_code, "
                    "land_use_name, max_far, max_density, min_green_ratio, max_height, "
                    "setback_road_m, setback_site_m, setback_blue_m, geom) VALUES (%s, %s, "
                    "'0701', '城镇住宅用地', %s, %s, %s, %s, %s, %s, %s, "
                    "ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                    (code, pc, far, dens, green, h, SETBACKS["setback_road_m"],
                     SETBACKS["setback_site_m"], SETBACKS["setback_blue_m"], wkb(g)))
        for code, (g, lt, ltc, w) in LINES.items():
            conn.execute("INSERT INTO control_lines (code, line_type, line_type_code, name, "
                         "width_m, geom) VALUES (%s, %s, %s, %s, %s, ST_GeomFromWKB(%s, 4527))",
                         (code, lt, ltc, code, w, wkb(g)))
        for code, (g, zt, h) in ZONES.items():
            conn.execute("INSERT INTO height_zones (code, zone_type, name, max_height, geom) "
                         "VALUES (%s, %s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, zt, code, h, wkb(g)))
        for code, (g, cls, name, dn) in PIPES.items():
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, diameter_mm, geom) VALUES "
                "(%s, %s, %s, '00', '54000000', %s, %s, %s, ST_GeomFromWKB(%s, 4527))",
                (code, cls, name, code + "a", code + "b", dn, wkb(g)))
        for code, g in EXISTING.items():
            conn.execute("INSERT INTO buildings (code, height, geom) VALUES "
                         "(%s, 20, ST_Multi(ST_GeomFromWKB(%s, 4527)))", (code, wkb(g)))
        conn.execute("ANALYZE")


@pytest.fixture(scope="module")
def adb(jining_profile, request):
    """A fresh database (Jining storage CRS) holding the planning situation above."""
    from cim.db.engine import drop_database
    from tests.conftest import make_db, server_url

    d = make_db("ap" + request.module.__name__.rsplit("_", 1)[-1], jining_profile,
                apply_profile=False)
    build(d.conninfo)
    yield d
    drop_database(server_url(), d.name)


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory, request):
    """The platform's app (gunicorn) serving a fresh database of the module's own, the
    profile's districts applied (no planning situation): (database, base URL). Without the
    writer URL, so the approval-check process files its record as the server's read-only role
    does in production (its INSERT grant on approval_checks). The database is dropped also
    when the server does not start."""
    from cim.db.engine import drop_database
    from services.processes import WRITER_URL_ENV
    from tests.conftest import make_db, server_url, start_api

    suffix = "sv" + request.module.__name__.rsplit("_", 1)[-1]
    d = make_db(suffix, jining_profile)
    saved = os.environ.pop(WRITER_URL_ENV, None)
    try:
        proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp(suffix))
    except BaseException:
        drop_database(server_url(), d.name)
        raise
    finally:
        if saved is not None:
            os.environ[WRITER_URL_ENV] = saved
    try:
        yield d, base
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


def feature(role: str, g: shapely.Geometry, **props) -> dict:
    """A GeoJSON feature in the storage CRS (EPSG:4527, easting first as GeoJSON writes)."""
    return {"type": "Feature", "properties": {"role": role, **props},
            "geometry": shapely.geometry.mapping(to_storage(g))}


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}
