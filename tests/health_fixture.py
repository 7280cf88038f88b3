"""A hand-built city for the health check's known-answer tests (storage metres, EPSG:4527).

Coordinates are relative to (X0, Y0); everything is inserted directly. The answers follow
from the construction (see ``EXPECTED``), never from the code under test::

    D1 = x 0..2000, y 0..1000        D2 = x 2000..3000, y 0..1000
    road A (100,500)-(1100,500), road B (100,500)-(100,900), road C (1900,100)-(2100,100)
    big park  P1 box(-10,450, 90,550) -> 10,000 m², 10 m west of A's west end (100,500)
    small park P2 box(1110,475,1160,525) -> 2,500 m², 10 m east of A's east end (1100,500)
    residential blocks 20 × 20 m, centroid (xc, 520): 20 m north of road A

Network distance from P1 to a block at xc: 10 + (xc − 100) + 20 = xc − 70 (≤ 500: xc ≤ 570);
from P2: 10 + (1100 − xc) + 20 = 1130 − xc (≤ 300: xc ≥ 830). Blocks at xc = 300, 550, 850
are covered, 590 and 800 are not — although 590 lies 490 m from P1 in a straight line, which
the network method must not count. In D2 no road is within 100 m of anything residential:
straight-line, flagged — a 2,500 m² park P3 box(2500,500,2550,550), blocks 250 m (covered)
and 350 m (not) east of it.
"""

from __future__ import annotations

import psycopg
import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, Point, box

X0, Y0 = 39_500_000.0, 3_920_000.0
D1, D2 = "370811", "370826"
DISTRICTS = {D1: box(0, 0, 2000, 1000), D2: box(2000, 0, 3000, 1000)}
ROADS = {"RA": LineString([(100, 500), (1100, 500)]), "RB": LineString([(100, 500), (100, 900)]),
         "RC": LineString([(1900, 100), (2100, 100)])}
PARKS = {"P1": (box(-10, 450, 90, 550), D1), "P2": (box(1110, 475, 1160, 525), D1),
         "P3": (box(2500, 500, 2550, 550), D2)}


def block(xc: float, yc: float = 520) -> shapely.Polygon:
    return box(xc - 10, yc - 10, xc + 10, yc + 10)


# code: (footprint, district, use_code)
BUILDINGS = {f"H{xc}": (block(xc), D1, "01") for xc in (300, 550, 590, 800, 850)}
BUILDINGS |= {"H2a": (box(2800, 500, 2820, 520), D2, "01"),   # 250 m from P3: covered
              "H2b": (box(2900, 500, 2920, 520), D2, "01"),   # 350 m: not
              "OFFICE": (block(200), D1, "03")}              # not residential: not counted

COVERED = {"H300", "H550", "H850", "H2a"}

# facilities (type_code of facility_types.csv): a kindergarten (300 m) 20 m south of road A
# at x 300 — network 20 + |xc − 300| + 20 ≤ 300 covers H300 and H550 only; a shelter (500 m)
# in D2 off every road: straight-line, covers H2a (90 m) and H2b (190 m), nothing in D1
FACILITIES = {"K1": ((300, 480), "kindergarten", "幼儿园"), "E1": ((2700, 510), "shelter",
                                                                 "应急避难场所")}
KINDERGARTEN_COVERED = {"H300", "H550"}
SHELTER_COVERED = {"H2a", "H2b"}

# pipes in D1 (check year 2026; design lives of the catalog: 排水 02 50 a, 燃气 03 30 a):
# code: (line, class, subclass, year built)
PIPES = {"S1": (LineString([(300, 300), (400, 300)]), "02", "03", 1970),   # 合流, 56 a: aged
         "S2": (LineString([(300, 250), (500, 250)]), "02", "02", 2000),   # 污水, 26 a
         "S3": (LineString([(300, 200), (350, 200)]), "03", "00", 1990),   # gas, 36 a: aged
         "S4": (LineString([(300, 150), (380, 150)]), "01", "00", None)}   # year unknown


def expected_coverage(buildings: dict = BUILDINGS) -> dict[str, float]:
    """Per district and city: covered residential area / residential area × 100."""
    res = {c: (g, d) for c, (g, d, use) in buildings.items() if use == "01"}
    out = {}
    for unit in (D1, D2, "city"):
        mine = {c: g for c, (g, d) in res.items() if unit in ("city", d)}
        out[unit] = 100 * sum(g.area for c, g in mine.items() if c in COVERED) / \
            sum(g.area for g in mine.values())
    return out


def expected_road_density() -> dict[str, float]:
    """km of road inside each district (clipped) per km² of district; city: totals."""
    lengths = {d: sum(r.intersection(p).length for r in ROADS.values()) / 1000
               for d, p in DISTRICTS.items()}
    areas = {d: p.area / 1e6 for d, p in DISTRICTS.items()}
    return {**{d: lengths[d] / areas[d] for d in DISTRICTS},
            "city": sum(lengths.values()) / sum(areas.values())}


def _wkb(g) -> bytes:
    return shapely.to_wkb(shapely.affinity.translate(g, X0, Y0), include_srid=False)


def add_building(conninfo: str, code: str, geom, district: str, use: str = "01") -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute("INSERT INTO buildings (code, district_code, use_code, geom) VALUES "
                     "(%s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                     (code, district, use, _wkb(geom)))


def build(conninfo: str) -> None:
    with psycopg.connect(conninfo) as conn:
        for code, g in DISTRICTS.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, f"区{code}", _wkb(g)))
        for code, g in ROADS.items():
            conn.execute("INSERT INTO roads (code, road_class, road_class_code, geom) VALUES "
                         "(%s, '支路', '04', ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, _wkb(g)))
        for code, (g, d) in PARKS.items():
            conn.execute("INSERT INTO green_spaces (code, green_type, green_type_code, area_m2,"
                         " is_park, district_code, geom) VALUES (%s, '社区公园', 'G12', %s,"
                         " true, %s, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, g.area, d, _wkb(g)))
        # a retired version of a residential block next to P1: never counted
        conn.execute("INSERT INTO buildings (code, district_code, use_code, valid_to, geom) "
                     "VALUES ('OLD', %s, '01', now(), ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                     (D1, _wkb(block(150))))
    for code, (g, d, use) in BUILDINGS.items():
        add_building(conninfo, code, g, d, use)
    with psycopg.connect(conninfo) as conn:
        for code, (xy, tc, name) in FACILITIES.items():
            conn.execute("INSERT INTO facilities (code, facility_type, facility_type_code, geom)"
                         " VALUES (%s, %s, %s, ST_GeomFromWKB(%s, 4527))",
                         (code, name, tc, _wkb(Point(xy))))
        for code, (g, cls, sub, year) in PIPES.items():
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code,"
                " feature_code, start_point_code, end_point_code, year_built, length_m,"
                " district_code, geom) VALUES (%s, %s, %s, %s, '54000000', 'a', 'b', %s, %s,"
                " %s, ST_Force3D(ST_GeomFromWKB(%s, 4527)))",
                (code, cls, cls, sub, year, g.length, D1, _wkb(g)))


def stored(d, year: int, indicator: str, unit: str) -> tuple | None:
    """(value, previous_year, previous_value, change, trend, flags) of the current stored row
    of ``indicator`` for ``unit`` in ``year``; ``None``: no such row."""
    with psycopg.connect(d.conninfo) as conn:
        return conn.execute(
            "SELECT value, previous_year, previous_value, change, trend, flags"
            " FROM health_indicators WHERE valid_to IS NULL AND year = %s"
            " AND indicator_id = %s AND unit_code = %s", (year, indicator, unit)).fetchone()


@pytest.fixture(name="city")
def city_db(jining_profile, request):
    """``city``: a fresh database of the hand-built city (:func:`build`), dropped after the
    test (a test module takes it with ``from tests.health_fixture import city_db``)."""
    from cim.db.engine import drop_database
    from tests.conftest import make_db, server_url

    d = make_db("h" + request.module.__name__.rsplit("_", 1)[-1][:10], jining_profile,
                apply_profile=False)
    build(d.conninfo)
    yield d
    drop_database(server_url(), d.name)
