"""The query library as a notebook user calls it (a probe's findings, session 21): the
platform's own database URL, a connection of the caller's on another time zone, a caller's
transaction keeping its settings, ``history`` on an open connection and its position read back,
Python-typed areas (a GeoJSON mapping, a GeoSeries; a bbox of three numbers, a radius typed as
text) and one filter given as a string. Expected counts come from shapely on the hand-drawn
city (tests/query_fixture.py) or from the same query given in the CLI's form."""

from __future__ import annotations

import re

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import box, mapping

from cim.errors import InputError
from layers.features import history
from layers.query.aoi import aoi
from layers.query.area import Area
from layers.query.stats import stats
from tests import query_fixture
from tests.query_fixture import BUILDINGS, to_storage

qdb = query_fixture.qdb  # the hand-drawn city, a database per module
# a box of the hand-drawn city (its own coordinates) and in EPSG:4527 x/y (easting first)
LOCAL_BOX = box(5, 5, 95, 45)
BOX = to_storage(LOCAL_BOX)
IN_BOX = sum(1 for g, *_ in BUILDINGS.values() if LOCAL_BOX.intersects(g))
ISO_UTC = re.compile(r"\+00:00$")


def _count(conninfo, area, where=None) -> int:
    return aoi(conninfo, area, layers=["buildings"], where=where)["layers"]["buildings"]["count"]


def test_the_platform_url_is_a_connection_string(qdb):
    """``postgresql+psycopg://…`` (CIM_DATABASE_URL, `cim db url`) was libpq's 'missing "="'."""
    assert qdb.url.startswith("postgresql+psycopg://")
    assert _count(qdb.url, Area(polygon=BOX.wkt.replace("POLYGON", "SRID=4527;POLYGON"))) \
        == IN_BOX > 0


def test_times_are_utc_whatever_the_session_zone(qdb, monkeypatch):
    """A server or database on Asia/Shanghai (usual in China) gave ``+08:00`` times unless
    cim.db.engine had been imported (its PGTZ); a caller's connection on that zone too."""
    monkeypatch.delenv("PGTZ", raising=False)
    shanghai = qdb.conninfo + " options='-c TimeZone=Asia/Shanghai'"
    with psycopg.connect(shanghai) as conn:
        assert conn.execute("SHOW TimeZone").fetchone()[0] == "Asia/Shanghai"  # premise
    for given in (shanghai, None):
        with psycopg.connect(shanghai, autocommit=True) as conn:
            res = aoi(given or conn, None, layers=["buildings"], features=True)
        times = [f["properties"]["valid_from"] for f in res["layers"]["buildings"]["features"]]
        assert times and all(ISO_UTC.search(t) for t in times), times[:3]


def test_a_callers_transaction_keeps_its_settings(qdb):
    """stats and aoi inside the caller's open transaction: its jit and TimeZone as they were
    (a query's SET LOCAL jit = off outlived it to the caller's commit)."""
    with psycopg.connect(qdb.conninfo) as conn:
        conn.execute("SET LOCAL jit = on")
        conn.execute("SET LOCAL TimeZone = 'Asia/Shanghai'")
        stats(conn, "buildings", by="grid")
        aoi(conn, None, layers=["buildings"])
        assert conn.execute("SELECT current_setting('jit'), current_setting('TimeZone')"
                            ).fetchone() == ("on", "Asia/Shanghai")


def test_history_on_an_open_connection_and_its_position_read_back(db):
    """The loaded sample (the session database): history took a conninfo only, and its
    position was plain WKT easting first, which the library reads northing first."""
    code = db.scalar("SELECT code FROM buildings WHERE valid_to IS NULL ORDER BY code LIMIT 1")
    with psycopg.connect(db.conninfo) as conn:
        rows = history(conn, code)
        assert not conn.closed
    assert rows and rows[-1]["code"] == code
    pos = rows[-1]["position"]
    assert pos.startswith("SRID=4527;POINT(")
    got = aoi(db.conninfo, Area(polygon=pos, crs="EPSG:4527"), layers=["buildings"],
              features=True)["layers"]["buildings"]["features"]
    assert code in {f["properties"]["code"] for f in got}


def test_python_typed_areas(qdb):
    wkt = BOX.wkt.replace("POLYGON", "SRID=4527;POLYGON")
    as_text = _count(qdb.conninfo, Area(polygon=wkt))
    assert as_text == IN_BOX
    # a GeoJSON mapping, as the HTTP process takes it, and a GeoSeries, both x/y in --crs
    assert _count(qdb.conninfo, Area(polygon=mapping(BOX), crs="EPSG:4527")) == IN_BOX
    series = gpd.GeoSeries([BOX])
    assert _count(qdb.conninfo, Area(polygon=series, crs="EPSG:4527")) == IN_BOX
    with pytest.raises(InputError) as e:
        Area(bbox=(116.62, 35.34, 116.60))
    assert e.value.field == "bbox"
    with pytest.raises(InputError) as e:
        Area(point=(116.61, 35.35), radius="100")
    assert e.value.field == "radius"
    with pytest.raises(InputError) as e:
        Area(polygon=42)
    assert e.value.field == "polygon"


def test_one_filter_as_a_string(qdb):
    """``where="buildings:…"`` was read character by character ("--where 'b'")."""
    tall = "buildings:floors_above >= 3"
    assert _count(qdb.conninfo, None, tall) == _count(qdb.conninfo, None, [tall])


def test_geometries_carry_no_crs_member(qdb):
    """Each feature's geometry said EPSG:4490 beside a collection in EPSG:4326 (or CRS84,
    which RFC 7946 gives no crs member)."""
    for out, said in ((None, None), ("EPSG:4326", "urn:ogc:def:crs:EPSG::4326"),
                      ("EPSG:4527", "urn:ogc:def:crs:EPSG::4527")):
        res = aoi(qdb.conninfo, None, layers=["buildings"], features=True, out_crs=out)
        feats = res["layers"]["buildings"]["features"]
        assert feats and not any("crs" in f["geometry"] for f in feats)
        # the answer says its CRS once (RFC 7946's CRS84: none)
        assert (res.get("crs") or {}).get("properties", {}).get("name") == said


def test_a_dict_row_connection_in_a_transaction(qdb):
    """The library read tuples off a caller's connection: a dict_row connection failed every
    query (a KeyError, and the settings given back were no parameters); its row factory and
    settings are the caller's again after the call."""
    from psycopg.rows import dict_row

    with psycopg.connect(qdb.conninfo, row_factory=dict_row) as conn:
        conn.execute("SET LOCAL jit = on")  # a transaction of the caller's is open
        assert _count(conn, Area(polygon=mapping(BOX), crs="EPSG:4527")) == IN_BOX
        stats(conn, "buildings", by="grid")
        history(conn, "B1")
        assert conn.execute("SELECT current_setting('jit') AS j").fetchone() == {"j": "on"}
