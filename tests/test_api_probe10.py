"""The OGC API Features serving path, review 10: CQL2 Text identifiers of every script, the CSV
page's geometry as WKT and its header row, the keyset cursor and CRS names read once.

The city is :mod:`tests.query_fixture`'s hand-drawn one (storage EPSG:4527): expected
geometries are its shapes, or what PostGIS holds transformed with pyproj here; expected
filter answers are the predicates evaluated in Python — never the code under test.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import psycopg
import pyproj
import pytest
import requests
import shapely

from cim.cql2 import FilterError, parse_filter, to_sql
from cim.db.engine import drop_database
from tests import query_fixture
from tests.conftest import make_db, server_url, start_api

EPSG4527 = "http://www.opengis.net/def/crs/EPSG/0/4527"


@pytest.fixture(scope="module")
def city(jining_profile, tmp_path_factory):
    """(database, base URL of the real app over HTTP) of the hand-drawn city."""
    d = make_db("p10api", jining_profile, apply_profile=False)
    try:
        query_fixture.build(d.conninfo)
        proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("serve10"))
        try:
            yield d, base
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        drop_database(server_url(), d.name)


def _get(base: str, coll: str, **params) -> requests.Response:
    return requests.get(f"{base}/collections/{coll}/items", params=params, timeout=60)


# -- 1. CQL2 Text identifiers (OGC 21-065 identifierStart / identifierPart) ----------------

UNICODE_ROWS = [  # id, 名称, 高度, Größe, ελληνικά
    (1, "一号楼", 30.0, 3, "α"),
    (2, "二号楼", 12.5, 7, "β"),
    (3, "三号楼", None, 1, "α"),
]
UNICODE_PROPS = {"名称": "string", "高度": "number", "Größe": "integer", "ελληνικά": "string",
                 ":标记": "string"}


@pytest.mark.parametrize("flt,want", [
    ("名称 = '二号楼'", {2}),
    ("高度 > 20 OR 高度 IS NULL", {1, 3}),
    ("Größe BETWEEN 2 AND 10 AND ελληνικά = 'α'", {1}),
    ("名称 LIKE '%号楼' AND NOT 名称 IN ('一号楼')", {2, 3}),
    (":标记 IS NULL", {1, 2, 3}),  # ':' starts an identifier too
])
def test_unquoted_identifiers_of_every_script_filter_in_postgis(city, flt, want):
    """Unquoted 名称 was refused by the lexer ("unexpected character '名'"); CQL2 Text's
    identifiers take the letters of every script. Run against a real table whose columns are
    so named; expected ids from the rows above."""
    d, _ = city
    with psycopg.connect(d.conninfo) as conn:
        conn.execute('CREATE TABLE IF NOT EXISTS p10_unicode (id integer PRIMARY KEY, '
                     '"名称" text, "高度" double precision, "Größe" integer, "ελληνικά" text, '
                     '":标记" text)')
        conn.execute("TRUNCATE p10_unicode")
        for row in UNICODE_ROWS:
            conn.execute("INSERT INTO p10_unicode VALUES (%s, %s, %s, %s, %s, NULL)", row)
        frag, params = to_sql(flt, properties=UNICODE_PROPS, storage_srid=4527)
        got = {r[0] for r in conn.execute(
            psycopg.sql.SQL("SELECT id FROM p10_unicode WHERE {}").format(frag), params)}
    assert got == want


@pytest.mark.parametrize("flt,bad", [
    ("名称×2 = 1", "×"),        # U+00D7 is no identifier character in CQL2
    ("名称 = ‘住宅’", "‘"),      # typographic quotes are not CQL2's
])
def test_characters_outside_the_grammar_are_still_refused(flt, bad):
    with pytest.raises(FilterError, match=f"unexpected character '{bad}'"):
        parse_filter(flt)


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("lang", [None, "cql2-text"])
def test_an_unknown_chinese_property_is_a_400_naming_it(city, fmt, lang):
    _, base = city
    params = {"f": fmt, "filter": "名称 = '一号楼'"}
    if lang:
        params["filter-lang"] = lang
    r = _get(base, "buildings", **params)
    assert r.status_code == 400, r.text[:300]
    msg = r.json()["description"]
    assert "unknown property '名称'" in msg and "use_name" in msg, msg


def test_an_unquoted_chinese_value_is_a_400_saying_to_quote_it(city):
    _, base = city
    r = _get(base, "buildings", f="json", filter="use_name = 住宅")
    assert r.status_code == 400, r.text[:300]
    msg = r.json()["description"]
    assert "unknown property '住宅'" in msg and "single quotes ('住宅')" in msg, msg


@pytest.mark.parametrize("flt,wide,half", [
    ("use_name＝'住宅'", "＝", "="),              # read as the property "use_name＝"
    ("height > 3 AND （use_name = '住宅'）", "（", "("),
    ("use_name IN ('住宅'，'办公')", "，", ","),
])
@pytest.mark.parametrize("lang", [None, "cql2-text"])
def test_full_width_punctuation_is_a_400_saying_what_to_type(city, flt, wide, half, lang):
    """An input method's full-width ＝ （ ， are identifier letters or no token in CQL2 Text:
    without filter-lang such a filter went on to pygeoapi's ECQL parser, whose 400 said only
    "Bad CQL text"; a full-width character inside a quoted text is the text's own."""
    _, base = city
    params = {"f": "json", "filter": flt}
    if lang:
        params["filter-lang"] = lang
    r = _get(base, "buildings", **params)
    assert r.status_code == 400, r.text[:300]
    msg = r.json()["description"]
    assert f"full-width {wide!r}" in msg and f"written with {half!r}" in msg, msg
    r = _get(base, "buildings", f="json", filter="use_name = '（住宅）'")
    assert r.status_code == 200 and r.json()["numberReturned"] == 0, r.text[:300]


# -- 2. CSV: the geometry as WKT for every type, a header row always ------------------------

def _csv(r: requests.Response) -> tuple[list[str] | None, list[dict]]:
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(r.content.decode()))
    rows = list(reader)
    return reader.fieldnames, rows


def _coords(g: shapely.Geometry) -> np.ndarray:
    return shapely.get_coordinates(g, include_z=True)


@pytest.mark.parametrize("coll,kind", [("buildings", "MultiPolygon"),
                                       ("pipe_segments", "LineString")])
def test_csv_carries_each_geometry_as_wkt_in_crs84(city, coll, kind):
    """Footprints and pipes had no geometry in CSV (pygeoapi's formatter writes a point's
    x, y only). Each row's WKT, lon/lat, equals the stored geometry (read from PostGIS in the
    storage CRS) projected with pyproj here, z kept."""
    d, base = city
    to_lonlat = pyproj.Transformer.from_crs(4527, 4490, always_xy=True)
    with psycopg.connect(d.conninfo) as conn:
        stored = {c: shapely.from_wkb(bytes(w)) for c, w in conn.execute(
            f"SELECT code, ST_AsEWKB(geom) FROM {coll} WHERE valid_to IS NULL")}
    header, rows = _csv(_get(base, coll, f="csv", limit=100))
    assert header[-1] == "wkt" and "x" not in header
    assert {r["code"] for r in rows} == stored.keys()
    for row in rows:
        got = shapely.from_wkt(row["wkt"])
        want = shapely.transform(stored[row["code"]], lambda c: np.column_stack(
            to_lonlat.transform(c[:, 0], c[:, 1])))
        assert got.geom_type == want.geom_type == kind
        assert np.allclose(_coords(got)[:, :2], _coords(want)[:, :2], rtol=0, atol=1e-8)
        assert np.array_equal(_coords(got)[:, 2:], _coords(stored[row["code"]])[:, 2:],
                              equal_nan=True)


@pytest.mark.parametrize("crs", [EPSG4527, "EPSG:4527", "[EPSG:4527]"])
def test_csv_wkt_in_the_storage_crs_is_northing_first(city, crs):
    """EPSG:4527's first axis is northing: the WKT is (northing, easting), as the GeoJSON's
    coordinates are; expected from the city's own shapes."""
    _, base = city
    want = {c: shapely.MultiPolygon([query_fixture.to_storage(g)])
            for c, (g, *_rest) in query_fixture.BUILDINGS.items()}
    want |= {c: query_fixture.to_storage(g) for c, (g, *_rest) in query_fixture.PIPES.items()}
    got = {}
    for coll in ("buildings", "pipe_segments"):
        _, rows = _csv(_get(base, coll, f="csv", limit=100, crs=crs))
        got |= {r["code"]: shapely.from_wkt(r["wkt"]) for r in rows}
    assert got.keys() == want.keys()
    for code, g in want.items():
        flipped = _coords(g)[:, [1, 0, 2]]
        assert np.allclose(_coords(got[code]), flipped, rtol=0, atol=1e-3, equal_nan=True), code


def test_an_empty_csv_still_has_its_header_row(city):
    """A filter that matches nothing gave a 0-byte file: no columns for a CSV reader (or a
    spreadsheet) to show. Expected columns: the GeoJSON page's properties, then wkt."""
    _, base = city
    props = list(_get(base, "buildings", f="json", limit=1).json()["features"][0]["properties"])
    header, rows = _csv(_get(base, "buildings", f="csv", filter="code = 'none'"))
    assert rows == [] and header == props + ["wkt"]
    header, rows = _csv(_get(base, "buildings", f="csv", filter="code = 'none'",
                             skipGeometry="true", properties="name,height"))
    assert rows == [] and header == ["code", "name", "height"]
    # a layer that can hold points (components: none in this city): x, y first, as its
    # pages with features have them
    header, rows = _csv(_get(base, "components", f="csv"))
    assert rows == [] and header[:3] == ["x", "y", "code"] and header[-1] == "wkt"
    header, _ = _csv(_get(base, "buildings", f="csv", resulttype="hits"))
    assert header == props + ["wkt"]


# -- 3. one keyset condition, CRS names by cim.crs ------------------------------------------

@pytest.mark.parametrize("interval", [None, "../.."])
def test_sorted_csv_pages_walk_every_feature_once_in_order(city, interval):
    """pygeoapi's pages (CSV here) go on by the items path's one keyset condition
    (services.items_sql.keyset_after), over the table or, with an interval, over the
    subquery of each feature's latest version. Ties and an empty value on purpose; the
    expected order from the city's values, sorted here."""
    d, base = city
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE buildings SET floors_above = 12 WHERE code = 'B2'")
        conn.execute("UPDATE buildings SET floors_above = NULL WHERE code = 'B5'")
        rows = conn.execute("SELECT code, floors_above, id FROM buildings WHERE "
                            + ("valid_to IS NULL" if interval is None else "TRUE")).fetchall()
    # floors descending, empty ones last, ties by id
    want = [c for c, _, _ in sorted(rows, key=lambda r: (r[1] is None, -(r[1] or 0), r[2]))]
    params = {"f": "csv", "sortby": "-floors_above", "limit": 2, "skipGeometry": "true"}
    if interval:
        params["datetime"] = interval
    url, got = f"{base}/collections/buildings/items", []
    while url:
        r = requests.get(url, params=params, timeout=60)
        params = None
        _, page = _csv(r)
        got += [row["code"] for row in page]
        url = r.links.get("next", {}).get("url")
    assert got == want
    assert ("B9" in got) == (interval is not None)  # the retired one, only in the interval


@pytest.mark.parametrize("name,advertised", [
    ("EPSG:4527", EPSG4527), ("epsg:4527", EPSG4527), ("[EPSG:4527]", EPSG4527),
    ("urn:ogc:def:crs:EPSG::4527", EPSG4527), ("urn:ogc:def:crs:EPSG:9.8.15:4527", EPSG4527),
    ("https://www.opengis.net/def/crs/EPSG/0/4527/", EPSG4527),
    ("EPSG:4527]", None), ("[EPSG:4527", None), ("EPSG:45270", None),
    ("EPSG:4326", None),  # a CRS the collection does not advertise
    # the same projection with easting first is another CRS, not EPSG:4527
    ("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=39500000 +y_0=0 +ellps=GRS80 +units=m "
     "+no_defs", None),
])
def test_an_advertised_crs_by_another_of_its_names(name, advertised):
    from services.items_query import advertised_uri

    allowed = {EPSG4527: 1, "http://www.opengis.net/def/crs/OGC/1.3/CRS84": 1}
    assert advertised_uri(name, allowed) == (advertised or name)


def test_the_serving_path_keeps_one_copy_of_each_rule():
    """The keyset condition had a SQLAlchemy copy in the provider, the CRS names a regex of
    their own beside cim.crs.parse_crs; providers.py was 549 lines of four concerns."""
    from pathlib import Path

    import services.items_query as items_query
    import services.providers as providers

    assert not hasattr(providers, "_after") and not hasattr(items_query, "_EPSG_NAME")
    assert len(Path(providers.__file__).read_text().splitlines()) < 500


@pytest.mark.parametrize("params,name", [
    ([("filter", "floors_above > 10"), ("filter", "floors_above < 3")], "filter"),
    ([("limit", "1"), ("limit", "2")], "limit"),
    ([("use_name", "住宅"), ("use_name", "商业")], "use_name"),
])
def test_a_parameter_given_twice_is_a_400_naming_it(city, params, name):
    """Each was read as its first value, the others dropped: half the answer, status 200."""
    _d, base = city
    r = requests.get(f"{base}/collections/buildings/items", params=[("f", "json"), *params],
                     timeout=60)
    assert r.status_code == 400 and f"parameter {name} given 2 times" in r.text, r.text


@pytest.mark.parametrize("name,value", [("filter-lang", "foo"), ("filter-crs", "EPSG:99999")])
def test_filter_lang_or_crs_without_a_filter_is_a_400(city, name, value):
    _d, base = city
    r = _get(base, "buildings", f="json", **{name: value})
    assert r.status_code == 400 and f"{name} given without filter" in r.text, r.text
