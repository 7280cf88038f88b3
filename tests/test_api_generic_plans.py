"""The items path's statements are prepared (services.pool), and after a few executions
PostgreSQL may run them with a generic plan, where bound values are no constants: a lon/lat
bbox or CQL2 literal written inline was then densified and projected again for every row
tested (a county-wide bbox: a minute for 1,500 footprints). Each is a scalar subquery now,
made once per statement. Run here with the generic plan forced, under a statement timeout;
expected counts from SQL on the session database."""

from __future__ import annotations

import psycopg
import pytest
from werkzeug.datastructures import MultiDict

from services.items_filter import Cql2Translator
from services.items_query import Column, Limits, crs_info, parse_items
from services.items_sql import Layer, count_statement, page_statement

BOX = (110.6, 17.7, 123.4, 54.8)  # the storage zone's area and more: ~200,000 vertices


@pytest.fixture(scope="module")
def layer(db):
    from layers.catalog import published_columns

    cols = tuple(Column(c.name, c.json_type) for c in published_columns(db.conninfo,
                                                                        "buildings"))
    return Layer("buildings", "buildings", db.profile.srid, "code", cols)


def _query(layer, **args):
    from cim.crs import CRS84_URI, crs_uri

    crs = {u: crs_info(u, layer.srid) for u in (CRS84_URI, crs_uri(4490),
                                                crs_uri(layer.srid))}
    return parse_items(MultiDict(args), {c.name: c for c in layer.columns}, crs,
                       Limits(10, 10000, 100000))


def _run_generic(db, statements):
    with psycopg.connect(db.conninfo) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("SET statement_timeout = '8s'")
        return [conn.execute(text, params, prepare=True).fetchall()
                for text, params in statements]


def test_bbox_in_a_generic_plan(db, layer):
    q = _query(layer, bbox=",".join(map(str, BOX)), limit="10000", skipGeometry="true")
    page, count = _run_generic(db, [page_statement(layer, q), count_statement(layer, q, None)])
    n = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    assert (len(page), count[0][0]) == (n, n)


def test_cql2_literal_in_a_generic_plan(db, layer):
    x0, y0, x1, y1 = BOX
    flt = Cql2Translator()(f"S_INTERSECTS(geometry, BBOX({x0}, {y0}, {x1}, {y1}))",
                           "cql2-text", None, layer)
    q = _query(layer, limit="10000", skipGeometry="true")
    page, count = _run_generic(db, [page_statement(layer, q, flt),
                                    count_statement(layer, q, None, flt)])
    n = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    assert (len(page), count[0][0]) == (n, n)
