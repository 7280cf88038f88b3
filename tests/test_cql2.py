"""CQL2 Text and CQL2 JSON filters run against the real PostGIS.

A small table of hand-placed features (storage CRS EPSG:4527, x = easting); every filter's
expected ids come from the same predicate evaluated in Python with shapely on the same
features (for lon/lat literals: on the features projected to lon/lat with pyproj), never from
the code under test. Features sit at least 50 m from every literal's edge, so the answer does
not hinge on how an edge is densified.
"""

from __future__ import annotations

import json

import psycopg
import pytest
import shapely
from psycopg import sql

from cim.cql2 import FilterCompiler, FilterError, filter_lang, parse_filter, to_sql
from cim.crs import crs_uri, transformer
from cim.db.engine import drop_database
from tests.conftest import make_db, server_url

E0, N0 = 39462760.0, 3920157.0  # near Jining's centre, EPSG:4527 (x = easting)
PROPS = {"name": "string", "kind": "string", "height": "number", "floors": "integer",
         "public": "boolean", "tags": "array"}


def _at(g):
    return shapely.affinity.translate(g, E0, N0)


FEATURES = [  # id, name, kind, height, floors, public, geometry (metres from E0, N0)
    (1, "Alpha", "house", 10.5, 3, True, shapely.box(0, 0, 100, 100)),
    (2, "Beta", "shop", 25.0, 8, False, shapely.box(200, 0, 300, 100)),
    (3, "Gamma", "house", 4.0, 1, True, shapely.box(1000, 1000, 1100, 1100)),
    (4, "Delta", "well", None, None, None, shapely.Point(50, 500)),
    (5, "Epsilon", "road", None, None, False, shapely.LineString([(0, 200), (400, 200)])),
    (6, "O'Neil", "house", 30.0, 10, True, shapely.box(5000, 5000, 5100, 5100)),
    (7, "100% Park", "park", 0.0, 0, True, shapely.box(-500, -500, -400, -400)),
    (8, "Mu", "house", 12.0, 4, False, shapely.MultiPolygon(
        [shapely.box(2000, 0, 2050, 50), shapely.box(2100, 0, 2150, 50)])),
    (9, "Nu_1", None, 7.5, 2, None, shapely.box(150, 400, 250, 450)),
]
ROWS = [dict(zip(("id", "name", "kind", "height", "floors", "public"), f[:6]),
             geom=_at(f[6])) for f in FEATURES]
TO_LONLAT = transformer(4527, "OGC:CRS84")


def _lonlat(g):
    return shapely.transform(g, lambda c: __import__("numpy").column_stack(
        TO_LONLAT.transform(c[:, 0], c[:, 1])))


@pytest.fixture(scope="module")
def fx(jining_profile):
    assert jining_profile.srid == 4527
    d = make_db("cql", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("CREATE TABLE cql_features (id integer PRIMARY KEY, name text, kind text, "
                     "height double precision, floors integer, public boolean, tags text[], "
                     "geom geometry(Geometry, 4527) NOT NULL)")
        for r in ROWS:
            conn.execute("INSERT INTO cql_features VALUES (%s, %s, %s, %s, %s, %s, NULL, "
                         "ST_GeomFromWKB(%s, 4527))",
                         (r["id"], r["name"], r["kind"], r["height"], r["floors"], r["public"],
                          shapely.to_wkb(r["geom"])))
    yield d
    drop_database(server_url(), d.name)


def select_ids(fx, filter_, lang="cql2-text", filter_crs=None) -> set[int]:
    frag, params = to_sql(filter_, lang, properties=PROPS, storage_srid=4527,
                          filter_crs=filter_crs)
    with psycopg.connect(fx.conninfo) as conn:
        rows = conn.execute(sql.SQL("SELECT id FROM cql_features WHERE {}").format(frag),
                            params).fetchall()
    return {r[0] for r in rows}


def expect(pred) -> set[int]:
    return {r["id"] for r in ROWS if pred(r)}


def _ne(a, b):  # SQL three-valued logic: a comparison with NULL selects nothing
    return a is not None and a != b


ATTRIBUTE_CASES = [
    ("name = 'Alpha'", {"op": "=", "args": [{"property": "name"}, "Alpha"]},
     lambda r: r["name"] == "Alpha"),
    ("kind <> 'house'", {"op": "<>", "args": [{"property": "kind"}, "house"]},
     lambda r: _ne(r["kind"], "house")),
    ("height > 10", {"op": ">", "args": [{"property": "height"}, 10]},
     lambda r: r["height"] is not None and r["height"] > 10),
    ("height >= 10.5 AND floors <= 8",
     {"op": "and", "args": [{"op": ">=", "args": [{"property": "height"}, 10.5]},
                            {"op": "<=", "args": [{"property": "floors"}, 8]}]},
     lambda r: r["height"] is not None and r["height"] >= 10.5 and r["floors"] <= 8),
    ("floors < 2 OR name = 'Beta'",
     {"op": "or", "args": [{"op": "<", "args": [{"property": "floors"}, 2]},
                           {"op": "=", "args": [{"property": "name"}, "Beta"]}]},
     lambda r: (r["floors"] is not None and r["floors"] < 2) or r["name"] == "Beta"),
    ("name LIKE 'A%'", {"op": "like", "args": [{"property": "name"}, "A%"]},
     lambda r: r["name"].startswith("A")),
    ("name LIKE '100\\%%'", {"op": "like", "args": [{"property": "name"}, "100\\%%"]},
     lambda r: r["name"].startswith("100%")),
    ("name LIKE 'Nu\\__'", {"op": "like", "args": [{"property": "name"}, "Nu\\__"]},
     lambda r: r["name"].startswith("Nu_") and len(r["name"]) == 4),
    ("name NOT LIKE '%a'", {"op": "not", "args": [{"op": "like",
                                                    "args": [{"property": "name"}, "%a"]}]},
     lambda r: not r["name"].endswith("a")),
    ("name = 'O''Neil'", {"op": "=", "args": [{"property": "name"}, "O'Neil"]},
     lambda r: r["name"] == "O'Neil"),
    ("kind IN ('shop', 'park', 'well')",
     {"op": "in", "args": [{"property": "kind"}, ["shop", "park", "well"]]},
     lambda r: r["kind"] in ("shop", "park", "well")),
    ("floors NOT IN (1, 3)",
     {"op": "not", "args": [{"op": "in", "args": [{"property": "floors"}, [1, 3]]}]},
     lambda r: r["floors"] is not None and r["floors"] not in (1, 3)),
    ("height BETWEEN 4 AND 12", {"op": "between", "args": [{"property": "height"}, 4, 12]},
     lambda r: r["height"] is not None and 4 <= r["height"] <= 12),
    ("height NOT BETWEEN 4 AND 12",
     {"op": "not", "args": [{"op": "between", "args": [{"property": "height"}, 4, 12]}]},
     lambda r: r["height"] is not None and not 4 <= r["height"] <= 12),
    ("height IS NULL", {"op": "isNull", "args": [{"property": "height"}]},
     lambda r: r["height"] is None),
    ("kind IS NOT NULL AND public = true",
     {"op": "and", "args": [{"op": "not", "args": [{"op": "isNull",
                                                     "args": [{"property": "kind"}]}]},
                            {"op": "=", "args": [{"property": "public"}, True]}]},
     lambda r: r["kind"] is not None and r["public"] is True),
    ("NOT (public = FALSE) AND (kind = 'house' OR (height < 1))",
     {"op": "and", "args": [
         {"op": "not", "args": [{"op": "=", "args": [{"property": "public"}, False]}]},
         {"op": "or", "args": [{"op": "=", "args": [{"property": "kind"}, "house"]},
                               {"op": "<", "args": [{"property": "height"}, 1]}]}]},
     lambda r: r["public"] is True and (r["kind"] == "house"
                                         or (r["height"] is not None and r["height"] < 1))),
    ('"floors" = 3 and NAME = \'x\' or floors = 10',
     None, None),  # properties are case-sensitive: NAME is unknown (checked below)
]


@pytest.mark.parametrize("text,js,pred", [c for c in ATTRIBUTE_CASES if c[1]],
                         ids=[c[0] for c in ATTRIBUTE_CASES if c[1]])
def test_attribute_filters_text_and_json(fx, text, js, pred):
    want = expect(pred)
    assert select_ids(fx, text) == want
    assert select_ids(fx, js, "cql2-json") == want
    assert select_ids(fx, json.dumps(js), "cql2-json") == want  # as a GET parameter


def test_property_names_are_case_sensitive(fx):
    with pytest.raises(FilterError, match="unknown property 'NAME'"):
        select_ids(fx, ATTRIBUTE_CASES[-1][0])


# -- spatial ------------------------------------------------------------------------------
def _wkt_flipped(g) -> str:
    """WKT in a northing-first CRS's axis order (EPSG:4527 and EPSG:4490 are)."""
    return shapely.to_wkt(shapely.transform(g, lambda c: c[:, ::-1]), rounding_precision=-1)


AREA = shapely.box(E0 - 50, N0 - 50, E0 + 350, N0 + 150)  # holds Alpha and Beta
ALPHA_PART = shapely.box(E0 + 50, N0 + 50, E0 + 150, N0 + 150)  # overlaps Alpha only
SPATIAL_OPS = {
    "S_INTERSECTS": shapely.intersects, "S_WITHIN": shapely.within,
    "S_CONTAINS": shapely.contains, "S_DISJOINT": shapely.disjoint,
}


@pytest.mark.parametrize("op", sorted(SPATIAL_OPS))
@pytest.mark.parametrize("literal", ["AREA", "ALPHA_PART", "INNER"])
def test_spatial_in_storage_crs(fx, op, literal):
    g = {"AREA": AREA, "ALPHA_PART": ALPHA_PART,
         "INNER": shapely.box(E0 + 20, N0 + 20, E0 + 60, N0 + 60)}[literal]
    want = expect(lambda r: SPATIAL_OPS[op](r["geom"], g))
    storage = crs_uri(4527)
    assert select_ids(fx, f"{op}(geometry, {_wkt_flipped(g)})", filter_crs=storage) == want
    flipped = shapely.transform(g, lambda c: c[:, ::-1])
    js = {"op": op.lower(), "args": [{"property": "geometry"},
                                     shapely.geometry.mapping(flipped)]}
    assert select_ids(fx, js, "cql2-json", filter_crs=storage) == want
    if op in ("S_INTERSECTS", "S_DISJOINT"):  # the literal splits the features
        assert want and want != {r["id"] for r in ROWS}
    if literal == "INNER" and op == "S_CONTAINS":
        assert want == {1}
    if literal == "AREA" and op == "S_WITHIN":
        assert want == {1, 2}


def test_spatial_crs84_and_epsg4490_literals(fx):
    ll = _lonlat(AREA.segmentize(10))
    want = expect(lambda r: shapely.within(_lonlat(r["geom"]), ll))
    assert want == {1, 2}
    assert select_ids(fx, f"S_WITHIN(geom, {shapely.to_wkt(ll)})") == want
    assert select_ids(fx, f"S_WITHIN(geom, {_wkt_flipped(ll)})",
                      filter_crs=crs_uri(4490)) == want
    minx, miny, maxx, maxy = ll.bounds
    want_bbox = expect(lambda r: shapely.intersects(_lonlat(r["geom"]),
                                                    shapely.box(minx, miny, maxx, maxy)))
    assert select_ids(fx, f"S_INTERSECTS(geom, BBOX({minx}, {miny}, {maxx}, {maxy}))") \
        == want_bbox
    assert select_ids(fx, {"op": "s_intersects", "args": [
        {"property": "geom"}, {"bbox": [minx, miny, maxx, maxy]}]}, "cql2-json") == want_bbox
    # EPSG:4490 BBOX corners are lat/lon
    assert select_ids(fx, f"S_INTERSECTS(geom, BBOX({miny}, {minx}, {maxy}, {maxx}))",
                      filter_crs="EPSG:4490") == want_bbox
    # the same numbers read as lon/lat put the city at latitude 116°: a clear error, not a
    # failure of PROJ in the middle of the query
    with pytest.raises(FilterError, match="out of range for longitude, latitude"):
        select_ids(fx, f"S_INTERSECTS(geom, BBOX({miny}, {minx}, {maxy}, {maxx}))")
    with pytest.raises(FilterError, match="out of range for latitude, longitude"):
        select_ids(fx, f"S_INTERSECTS(geom, POINT({minx} {miny}))", filter_crs="EPSG:4490")


def test_multi_geometry_literals(fx):
    pts = shapely.MultiPoint([(E0 + 50, N0 + 50), (E0 + 1050, N0 + 1050)])
    want = expect(lambda r: shapely.intersects(r["geom"], pts))
    assert want == {1, 3}
    assert select_ids(fx, f"S_INTERSECTS(geom, {_wkt_flipped(pts)})",
                      filter_crs=crs_uri(4527)) == want
    ll = _lonlat(pts)
    assert select_ids(fx, {"op": "s_intersects", "args": [
        {"property": "geometry"}, shapely.geometry.mapping(ll)]}, "cql2-json") == want
    lines = shapely.MultiLineString([[(E0 + 100, N0 - 100), (E0 + 100, N0 + 300)]])
    want = expect(lambda r: shapely.intersects(r["geom"], lines))
    assert want == {1, 5}  # touches Alpha's east edge, crosses the road
    assert select_ids(fx, f"S_INTERSECTS(geom, {_wkt_flipped(lines)})",
                      filter_crs=crs_uri(4527)) == want


@pytest.mark.parametrize("dist,units", [(150, "meters"), (0.6, "kilometers"), (105, "m")])
def test_dwithin_metres(fx, dist, units):
    p = shapely.Point(E0 + 100, N0 + 300)
    metres = dist * (1000 if units == "kilometers" else 1)
    want = expect(lambda r: shapely.dwithin(r["geom"], p, metres))
    lon, lat = TO_LONLAT.transform(p.x, p.y)
    assert select_ids(fx, f"S_DWITHIN(geometry, POINT({lon} {lat}), {dist}, {units})") == want
    js = {"op": "s_dwithin", "args": [{"property": "geometry"},
                                      {"type": "Point", "coordinates": [lon, lat]}, dist, units]}
    assert select_ids(fx, js, "cql2-json") == want
    assert want and want != {r["id"] for r in ROWS}


def test_combined_attribute_and_spatial(fx):
    ll = _lonlat(AREA.segmentize(10))
    want = expect(lambda r: shapely.intersects(_lonlat(r["geom"]), ll) and r["kind"] == "house")
    assert want == {1}
    assert select_ids(fx, f"kind = 'house' AND S_INTERSECTS(geometry, {shapely.to_wkt(ll)})") \
        == want


def test_fragment_binds_every_value_and_quotes_identifiers():
    frag, params = to_sql("name = 'x'' OR 1=1 --' AND S_INTERSECTS(geom, POINT(116 35))",
                          properties=PROPS, storage_srid=4527, table_alias="t")
    text = frag.as_string(None)
    assert "OR 1=1" not in text and "'x" not in text
    assert '"t"."name" = %s' in text and '"t"."geom"' in text
    assert params[0] == "x' OR 1=1 --"


def test_filter_lang():
    assert filter_lang(None) == "cql2-text"
    assert filter_lang("cql2-json") == "cql2-json"
    with pytest.raises(FilterError, match="unsupported filter-lang"):
        filter_lang("ecql")


HOSTILE_TEXT = [
    ("name; DROP TABLE cql_features", "unexpected character ';'"),
    ('"name; DROP TABLE cql_features" = 1', "unknown property"),
    ("secret = 1", "unknown property 'secret'"),
    ("(name = 'a'", "unbalanced '\\('"),
    ("name = 'a')", "unbalanced '\\)'"),
    ("((((name = 'a')))", "unbalanced"),
    ("foo(name) = 1", "unknown function foo"),
    ("pg_sleep(10) = 1", "unknown function pg_sleep"),
    ("S_BUFFER(geom, POINT(1 2))", "unknown function S_BUFFER"),
    ("name = 'unterminated", "unterminated string"),
    ("height > 1e999", "out of range"),
    ("floors = 99999999999999999999999999", "out of range"),
    ("name = '" + "x" * 5000 + "'", "longer than"),
    ("x" * 30000, "longer than"),
    ("(" * 200 + "name = 'a'" + ")" * 200, "nested too deeply"),
    ("NOT " * 200 + "name = 'a'", "nested too deeply"),
    ("floors IN (" + ", ".join(["1"] * 1500) + ")", "IN list longer"),
    ("height = 'ten'", "is a number"),
    ("name > 3", "is a string"),
    ("name LIKE 3", "pattern"),
    ("height LIKE 'a%'", "not a string"),
    ("tags = 'a'", "array"),
    ("geometry = 'a'", "spatial functions"),
    ("S_INTERSECTS(name, POINT(1 2))", "not the geometry"),
    ("S_INTERSECTS(geom, POINT(1 2)", "expected '\\)'"),
    ("S_INTERSECTS(geom, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "invalid geometry"),
    ("S_INTERSECTS(geom, POINT(1))", "invalid POINT"),
    ("S_INTERSECTS(geom, POINT EMPTY)", "unbalanced parentheses"),
    ("S_INTERSECTS(geom, BBOX(1, 2, 3))", "4 or 6"),
    ("S_DWITHIN(geom, POINT(1 2), 10, parsecs)", "unknown distance unit"),
    ("S_DWITHIN(geom, POINT(1 2), 1e9, meters)", "between 0 and"),
    ("S_INTERSECTS(geom, LINESTRING(" + ", ".join(f"{i} {i}" for i in range(20000)) + "))",
     "longer than|more than"),
    ("name = 'a' AND", "expected a property"),
    ("name == 'a'", "expected a property"),
    ("", "empty filter"),
    ("name = 'a\x00'", "NUL"),
    ("TRUE AND name", "expected a comparison"),
    ("name NOT 'a'", "after NOT"),
]


@pytest.mark.parametrize("text,message", HOSTILE_TEXT, ids=[str(i) for i in range(len(HOSTILE_TEXT))])
def test_hostile_text_is_a_filter_error(text, message):
    with pytest.raises(FilterError, match=message) as err:
        to_sql(text, properties=PROPS, storage_srid=4527)
    if text and len(text) <= 20_000:
        assert err.value.position is not None or "longer" in str(err.value)


HOSTILE_JSON = [
    ("{", "not valid JSON"),
    ('{"op": "=", "args": [{"property": "name; DROP TABLE x"}, 1]}', "unknown property"),
    ('{"op": "pg_sleep", "args": [10]}', "unknown operator"),
    ('{"op": "=", "args": [{"property": "name"}]}', "takes 2 arguments"),
    ('{"op": "=", "args": "name"}', "must be an array"),
    ('{"op": "and", "args": [{"op": "=", "args": [{"property": "name"}, "a"]}]}', "at least 2"),
    ('{"op": "=", "args": [{"property": "height"}, NaN]}', "not a valid JSON number"),
    ('{"op": "=", "args": [{"property": "height"}, 1e999]}', "out of range"),
    ('{"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Point", '
     '"coordinates": ["a", "b"]}]}', "invalid GeoJSON"),
    ('{"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Blob"}]}',
     "expected a geometry"),
    ('{"op": "in", "args": [{"property": "kind"}, "house"]}', "array of values"),
    ('{"op": "=", "args": [{"op": "=", "args": [1, 1]}, 1]}', "not the expression"),
    ('[1, 2]', "expected an expression"),
    ('{"op": "not", "args": [' * 100 + "true" + "]}" * 100, "nested too deeply"),
]


@pytest.mark.parametrize("text,message", HOSTILE_JSON, ids=[str(i) for i in range(len(HOSTILE_JSON))])
def test_hostile_json_is_a_filter_error(text, message):
    with pytest.raises(FilterError, match=message):
        to_sql(text, "cql2-json", properties=PROPS, storage_srid=4527)


def test_json_error_names_the_member():
    with pytest.raises(FilterError) as err:
        to_sql({"op": "and", "args": [{"op": "=", "args": [{"property": "name"}, "a"]},
                                      {"op": ">", "args": [{"property": "nope"}, 1]}]},
               "cql2-json", properties=PROPS, storage_srid=4527)
    assert err.value.position == "$.args[1].args[0]"


def test_unknown_filter_crs():
    with pytest.raises(FilterError, match="unknown filter-crs"):
        to_sql("S_INTERSECTS(geom, POINT(1 2))", properties=PROPS, storage_srid=4527,
               filter_crs="EPSG:999999")


def test_compiler_is_reusable():
    c = FilterCompiler(PROPS, 4527)
    a = c.compile(parse_filter("name = 'a'"))
    b = c.compile(parse_filter("name = 'b'"))
    assert a[1] == ["a"] and b[1] == ["b"]


# -- literals reaching far beyond the storage CRS's area ------------------------------------
# A lon/lat literal reaching across the world, projected whole into the Gauss-Krüger zone, is
# no polygon around the data any more (a whole-world BBOX selected nothing). Expected: the
# predicate in lon/lat on the features projected with pyproj (straight lon/lat edges).
WORLD = shapely.box(-180, -90, 180, 90)


def _alpha_lonlat():
    return TO_LONLAT.transform(E0 + 50, N0 + 25)


@pytest.mark.parametrize("op,literal", [
    ("S_INTERSECTS", "WORLD"), ("S_WITHIN", "WORLD"), ("S_CONTAINS", "WORLD"),
    ("S_DISJOINT", "WORLD"), ("S_EQUALS", "WORLD"), ("S_OVERLAPS", "WORLD"),
    ("S_INTERSECTS", "FAR"), ("S_DISJOINT", "FAR"), ("S_WITHIN", "FAR"),
    ("S_OVERLAPS", "EAST_OF_ALPHA_MID"), ("S_WITHIN", "EAST_OF_ALPHA_MID"),
    ("S_INTERSECTS", "EAST_OF_ALPHA_MID"), ("S_TOUCHES", "EAST_OF_ALPHA_MID"),
    ("S_CROSSES", "LINE"), ("S_INTERSECTS", "LINE"), ("S_DISJOINT", "LINE"),
    ("S_OVERLAPS", "LINE"), ("S_CROSSES", "WORLD"),
])
def test_world_spanning_literals(fx, op, literal):
    lon, lat = _alpha_lonlat()
    g = {"WORLD": WORLD, "FAR": shapely.box(-10, -10, 10, 10),
         "EAST_OF_ALPHA_MID": shapely.box(lon, -80, 179, 80),
         "LINE": shapely.LineString([(0, lat), (179, lat)])}[literal]
    fn = getattr(shapely, op[2:].lower())
    want = expect(lambda r: fn(_lonlat(r["geom"]), g))
    got = select_ids(fx, f"{op}(geometry, {shapely.to_wkt(g)})")
    assert got == want
    mirrored = {"S_WITHIN": "S_CONTAINS", "S_CONTAINS": "S_WITHIN"}.get(op, op)
    assert select_ids(fx, f"{mirrored}({shapely.to_wkt(g)}, geometry)") == want
    assert select_ids(fx, {"op": op.lower(), "args": [{"property": "geometry"},
                                                      shapely.geometry.mapping(g)]},
                      "cql2-json") == want
    if literal == "WORLD" and op in ("S_INTERSECTS", "S_WITHIN"):
        assert want == {r["id"] for r in ROWS}
    if literal == "EAST_OF_ALPHA_MID" and op == "S_OVERLAPS":
        assert 1 in want
    if literal == "LINE" and op == "S_CROSSES":
        assert {1, 2} <= want


def test_world_spanning_literal_in_epsg4490_and_dwithin(fx):
    want = {r["id"] for r in ROWS}
    assert select_ids(fx, "S_INTERSECTS(geometry, BBOX(-90, -180, 90, 180))",
                      filter_crs=crs_uri(4490)) == want
    lon, lat = _alpha_lonlat()
    line = shapely.LineString([(-170, lat), (170, lat)])
    p = shapely.Point(lon, lat)
    want = expect(lambda r: shapely.dwithin(r["geom"], shapely.Point(E0 + 50, N0 + 25), 1))
    assert want == {1}
    assert select_ids(fx, f"S_DWITHIN(geometry, {shapely.to_wkt(line)}, 1, meters) AND "
                          f"S_DWITHIN(geometry, {shapely.to_wkt(p)}, 1, meters)") == want
    # the axes swapped are still refused, not cut away
    with pytest.raises(FilterError, match="out of range for longitude, latitude"):
        select_ids(fx, f"S_INTERSECTS(geometry, BBOX({lat}, {lon}, 100, 179))")


def test_a_date_against_a_date_time_property_is_the_citys_day():
    """DATE('2020-06-01') against valid_from (date-time) is midnight in the city's zone when one
    is given (as the datetime parameter's date), the date itself against a date property."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    c = FilterCompiler({"valid_from": "date-time", "initial_date": "date"}, 4527)
    tree = parse_filter("valid_from >= DATE('2020-06-01') AND "
                        "initial_date >= DATE('2020-06-01')", "cql2-text")
    _, values = c.compile(tree, zone="Asia/Shanghai")
    assert values[0] == dt.datetime(2020, 5, 31, 16, tzinfo=dt.UTC)
    assert values[0].tzinfo == ZoneInfo("Asia/Shanghai")
    assert values[1] == dt.date(2020, 6, 1) and not isinstance(values[1], dt.datetime)
    _, values = c.compile(tree)  # no city: the database's zone reads it, as before
    assert values[0] == dt.date(2020, 6, 1)
    # a timestamp without an offset is the city's time; with one, itself
    tree = parse_filter("valid_from > TIMESTAMP('2020-06-01T02:00:00') AND "
                        "valid_from < TIMESTAMP('2020-06-01T02:00:00Z')", "cql2-text")
    _, values = c.compile(tree, zone="Asia/Shanghai")
    assert values == [dt.datetime(2020, 5, 31, 18, tzinfo=dt.UTC),
                      dt.datetime(2020, 6, 1, 2, tzinfo=dt.UTC)]


RELATION_LITERALS = {  # metres from E0, N0; edges on features' edges on purpose
    "TOUCH_ALPHA": shapely.box(100, 0, 150, 100),  # shares Alpha's east edge
    "HALF_ALPHA": shapely.box(50, -50, 150, 150),  # overlaps Alpha
    "OVER_ROAD": shapely.box(100, 150, 150, 250),  # the road crosses it
    "EDGE_ON_DELTA": shapely.box(50, 450, 100, 550),  # Delta (a point) on its west edge
    "ALL": shapely.box(-1000, -1000, 6000, 6000),  # holds every feature
    "ALPHA_EAST_EDGE": shapely.LineString([(100, -50), (100, 150)]),
}


@pytest.mark.parametrize("op", ["S_TOUCHES", "S_OVERLAPS", "S_CROSSES", "S_DISJOINT"])
@pytest.mark.parametrize("literal", sorted(RELATION_LITERALS))
def test_relations_asked_through_prepared_tests_keep_their_meaning(fx, op, literal):
    """Touches, overlaps, crosses and disjoint are compiled as a prepared test of the
    literal first (a China-sized literal timed out); the answers are shapely's."""
    g = _at(RELATION_LITERALS[literal])
    fn = getattr(shapely, op[2:].lower())
    want = expect(lambda r: fn(r["geom"], g))
    storage = crs_uri(4527)
    assert select_ids(fx, f"{op}(geometry, {_wkt_flipped(g)})", filter_crs=storage) == want
    assert select_ids(fx, f"{op}({_wkt_flipped(g)}, geometry)", filter_crs=storage) == want
    assert select_ids(fx, f"NOT {op}(geometry, {_wkt_flipped(g)})", filter_crs=storage) == (
        {r["id"] for r in ROWS} - want)
    if (op, literal) in (("S_TOUCHES", "TOUCH_ALPHA"), ("S_OVERLAPS", "HALF_ALPHA"),
                         ("S_CROSSES", "OVER_ROAD"), ("S_TOUCHES", "EDGE_ON_DELTA"),
                         ("S_TOUCHES", "ALPHA_EAST_EDGE")):
        assert want and want != {r["id"] for r in ROWS}, want  # the case is not empty


def test_relations_against_a_china_sized_literal_answer_at_once(fx):
    """A box over much of China, in CRS84: cut to the storage CRS's zone and densified for
    its projection, it was 172,001 vertices, tested against each feature (the probe's 503s
    on 1,500 buildings). Every feature lies inside it: it touches, overlaps and crosses
    none, and none is disjoint from it."""
    box = "BBOX(100, 20, 130, 50)"
    for op in ("S_DISJOINT", "S_TOUCHES", "S_OVERLAPS", "S_CROSSES"):
        assert select_ids(fx, f"{op}(geometry, {box})") == set(), op
    assert select_ids(fx, f"S_INTERSECTS(geometry, {box})") == {r["id"] for r in ROWS}
