"""health_indicators declares the columns its tiles and the web map's 城市体检 selector use
(score, unit_name): real columns of the table, they were carried to the tiles only as
tile_fields, undeclared. Expected: the table's own columns (information_schema) and the
queryables of the served collection."""

from __future__ import annotations

import requests

from layers.health.layer import HEALTH_INDICATORS

PG_TYPES = {"int4": "integer", "text": "text", "float8": "double precision"}


def test_tile_fields_are_declared_columns():
    assert set(HEALTH_INDICATORS.tile_fields) <= set(HEALTH_INDICATORS.column_names())


def test_declared_columns_are_the_tables(db):
    have = dict(db.rows("SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = current_schema() "
                        "AND table_name = 'health_indicators'"))
    for c in HEALTH_INDICATORS.columns:
        assert have.get(c.name) == PG_TYPES[c.pgtype], c.name


def test_queryables_list_score_and_unit_name(api):
    r = requests.get(f"{api}/collections/health_indicators/queryables", params={"f": "json"},
                     timeout=60)
    assert r.status_code == 200, r.text[:300]
    props = r.json()["properties"]
    assert props["score"]["type"] == "number"
    assert props["unit_name"]["type"] == "string"
