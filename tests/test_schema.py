"""Each layer declared once: the migrated schema matches ``cim.layerdefs`` exactly, and a drift
on either side (table or declaration) is named."""

from __future__ import annotations

import dataclasses
import os

import psycopg
import pytest

from cim.db.engine import drop_database, psycopg_conninfo
from cim.db.migrate import fresh_database
from cim.db.schema import layer_drift, schema_drift
from cim.layerdefs import BUILDINGS, LAYERS, Column
from tests.conftest import server_url


@pytest.fixture(scope="module")
def migrated(jining_profile):
    name = f"cim_test_schema_{os.getpid()}"
    url = fresh_database(server_url(), name, jining_profile.srid)
    yield psycopg_conninfo(url), jining_profile.srid
    drop_database(server_url(), name)


def test_migrations_match_the_declarations(migrated):
    conninfo, srid = migrated
    assert srid == 4527  # the Jining profile's storage CRS
    assert schema_drift(conninfo, srid) == []


def test_every_layer_table_has_the_declared_geometry_and_indexes(migrated):
    """Independent of the checker: read the catalog directly."""
    conninfo, srid = migrated
    expected_geom = {"admin_divisions": ("MULTIPOLYGON", 2), "grid_cells": ("MULTIPOLYGON", 2),
                     "buildings": ("MULTIPOLYGON", 2), "pipe_points": ("POINT", 3),
                     "pipe_segments": ("LINESTRING", 3), "components": ("GEOMETRY", 2),
                     "planning_parcels": ("MULTIPOLYGON", 2), "control_lines": ("GEOMETRY", 2),
                     "height_zones": ("MULTIPOLYGON", 2), "roads": ("MULTILINESTRING", 2),
                     "green_spaces": ("MULTIPOLYGON", 2), "facilities": ("POINT", 2),
                     "population": ("GEOMETRY", 2), "risk_points": ("POINT", 2),
                     "sensors": ("POINT", 2)}
    assert set(expected_geom) == set(LAYERS)
    with psycopg.connect(conninfo) as conn:
        for t, (gtype, dims) in expected_geom.items():
            row = conn.execute("SELECT type, srid, coord_dimension FROM geometry_columns "
                               "WHERE f_table_name = %s AND f_geometry_column = 'geom'",
                               (t,)).fetchone()
            assert row == (gtype, 4527, dims), t
            defs = {n: d for n, d in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (t,))}
            assert "USING gist (geom)" in defs[f"{t}_geom_gist"]
            assert defs[f"{t}_code_current_uq"].startswith("CREATE UNIQUE INDEX")
            assert defs[f"{t}_code_current_uq"].endswith("(code) WHERE (valid_to IS NULL)")
            assert defs[f"{t}_source_key_current_idx"].endswith(
                "(source_key) WHERE (valid_to IS NULL)")


def test_drift_in_the_table_is_named(migrated):
    conninfo, srid = migrated
    with psycopg.connect(conninfo) as conn:  # rolled back at the end: the schema stays clean
        conn.execute("ALTER TABLE buildings ADD COLUMN roof text")
        conn.execute("ALTER TABLE buildings ALTER COLUMN structure TYPE varchar(20)")
        conn.execute("ALTER TABLE buildings ALTER COLUMN name SET NOT NULL")
        conn.execute("DROP INDEX buildings_geom_gist")
        conn.execute("CREATE INDEX buildings_name_idx ON buildings (name)")
        conn.execute("DROP INDEX buildings_source_key_current_idx")
        conn.execute("CREATE INDEX buildings_source_key_current_idx ON buildings (source_key)")
        drift = layer_drift(conn, BUILDINGS, srid)
        conn.rollback()
    assert sorted(drift) == sorted([
        "buildings.roof: in the table, not declared",
        "buildings.structure: the table has character varying(20), the declaration text",
        "buildings.name: the table has NOT NULL, the declaration optional",
        "buildings: index buildings_geom_gist is missing",
        "buildings: index buildings_name_idx (btree (name)) is not declared",
        "buildings: index buildings_source_key_current_idx is btree (source_key), the "
        "declaration btree (source_key) WHERE valid_to IS NULL",
    ])
    assert schema_drift(conninfo, srid) == []


def test_drift_in_the_declaration_is_named(migrated):
    conninfo, srid = migrated
    more = dataclasses.replace(BUILDINGS, columns=BUILDINGS.columns + (Column("roof", "text"),))
    other = dataclasses.replace(BUILDINGS, geometry_type="POLYGON")
    with psycopg.connect(conninfo) as conn:
        assert layer_drift(conn, more, srid) == ["buildings.roof: declared, not in the table"]
        assert layer_drift(conn, other, srid) == [
            "buildings.geom: the table has MULTIPOLYGON, the declaration POLYGON"]
        assert layer_drift(conn, BUILDINGS, 4528) == [
            "buildings.geom: SRID 4527, the storage CRS is EPSG:4528"]
