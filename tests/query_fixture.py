"""A hand-drawn city for the query library's known-answer tests.

Everything is placed in storage metres (EPSG:4527, Jining) relative to (X0, Y0), inserted
directly (the loaders are not the point here), and kept beside as shapely geometries, so a
test computes its expected answer with shapely on these, never with the library.

    y=100 +------+------+------+------+
          |  G1  |  G2  |  G3  |  G4  |     districts: D1 = x 0..200, D2 = x 200..400
    y=0   +------+------+------+------+     grid cells G1..G4 of 100 m × 100 m
          x=0    100    200    300    400
"""

from __future__ import annotations

import psycopg
import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, box

X0, Y0 = 39_500_000.0, 3_920_000.0
SRID = 4527
D1, D2 = "370811", "370826"
GRID = {f"37081100100100{i}" if i <= 2 else f"37082600100100{i}": box(100 * (i - 1), 0, 100 * i,
                                                                        100)
        for i in range(1, 5)}
G1, G2, G3, G4 = sorted(GRID)
DISTRICTS = {D1: box(0, 0, 200, 100), D2: box(200, 0, 400, 100)}

# code: (geometry, grid_code, district_code, floors_above)
BUILDINGS = {
    "B1": (box(10, 10, 30, 30), G1, D1, 12),       # inside G1
    "B2": (box(90, 40, 110, 60), G1, D1, 3),       # straddles G1/G2
    "B3": (box(190, 80, 210, 90), G2, D1, 15),     # straddles G2/G3 and D1/D2
    "B4": (box(380, 0, 420, 10), G4, D2, 1),       # half outside every unit
    "B5": (box(500, 500, 510, 510), None, None, 2),  # outside everything
    "B7": (box(400, 20, 420, 30), None, None, 4),  # touches G4 along an edge only
}
RETIRED_BUILDING = ("B9", box(20, 60, 40, 80), G1, D1)  # an old version: never counted

# code: (line with z, pipe_class, grid_code, district_code)
PIPES = {
    "P1": (LineString([(0, 50, 30), (400, 50, 20)]), "01", G1, D1),  # crosses G1..G4
    "P2": (LineString([(150, 90, 10), (250, 90, 8)]), "04", G2, D1),  # G2/G3, D1/D2
    "P3": (LineString([(35, 0, 40), (35, 40, 40)]), "01", G1, D1),    # 5 m east of B1
    "P4": (LineString([(390, 20, 5), (450, 20, 5)]), "01", G4, D2),   # 50 m outside
}


def to_storage(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.affinity.translate(g, X0, Y0)  # keeps z


def build(conninfo: str) -> None:
    """Insert the districts, grid cells, buildings and pipes above."""
    def wkb(g):
        return shapely.to_wkb(to_storage(g), include_srid=False)

    with psycopg.connect(conninfo) as conn:
        for code, g in DISTRICTS.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))", (code, code, wkb(g)))
        for code, g in GRID.items():
            conn.execute("INSERT INTO grid_cells (code, district_code, geom) VALUES "
                         "(%s, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, code[:6], wkb(g)))
        for code, (g, grid, district, floors) in BUILDINGS.items():
            conn.execute("INSERT INTO buildings (code, grid_code, district_code, floors_above, "
                         "geom) VALUES (%s, %s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, grid, district, floors, wkb(g)))
        code, g, grid, district = RETIRED_BUILDING
        conn.execute("INSERT INTO buildings (code, grid_code, district_code, valid_to, geom) "
                     "VALUES (%s, %s, %s, now(), ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                     (code, grid, district, wkb(g)))
        for code, (g, cls, grid, district) in PIPES.items():
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, grid_code, district_code, geom) "
                "VALUES (%s, %s, %s, '00', '54000000', %s, %s, %s, %s, "
                "ST_GeomFromWKB(%s, 4527))",
                (code, cls, cls, code + "a", code + "b", grid, district, wkb(g)))
        conn.execute("ANALYZE")


@pytest.fixture(scope="module")
def qdb(jining_profile, request):
    """A fresh database (Jining storage CRS, no profile applied) holding the city above."""
    from cim.db.engine import drop_database
    from tests.conftest import make_db, server_url

    d = make_db("q" + request.module.__name__.rsplit("_", 1)[-1], jining_profile,
                apply_profile=False)
    build(d.conninfo)
    yield d
    drop_database(server_url(), d.name)
