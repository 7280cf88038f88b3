"""Rows are built by column name: a converter that misses or invents a column is stopped with
the column named, and what is staged lands in the column it names."""

from __future__ import annotations

import dataclasses

import numpy as np
import psycopg
import pytest
import shapely

from cim.layerdefs import ADMIN_DIVISIONS, BUILDINGS, PIPE_POINTS, Column
from loaders.engine import bulk
from loaders.engine.bulk import EWKB
from loaders.engine.rows import RowShapeError, StagedRows, given_columns, layer_values
from loaders.geometry import ewkb

BUILDING_VALUES = {"name": "A", "use_code": "01", "use_name": "住宅", "structure": "砖混",
                   "floors_above": 3, "floors_below": 0, "height": 9.5, "year_built": 1998}


def _base(**over):
    row = {"row_no": 1, "source_key": "d:1", "row_hash": "h", "attrs": "{}", "flags": [],
           "geom": b"", "class_code": "01"}
    row.update(over)
    return row


def test_the_writer_fills_code_district_and_grid_cell():
    assert "code" not in given_columns(BUILDINGS)
    assert {"district_code", "grid_code"}.isdisjoint(given_columns(BUILDINGS))
    # official codes come with the data; there is no class part
    assert "code" in given_columns(ADMIN_DIVISIONS)
    assert "class_code" not in given_columns(ADMIN_DIVISIONS)


def test_a_missing_or_unknown_column_is_named():
    rows = StagedRows(BUILDINGS)
    vals = dict(BUILDING_VALUES)
    del vals["height"]
    with pytest.raises(RowShapeError, match=r"layer buildings: missing height$"):
        rows.append(**_base(), **vals)
    with pytest.raises(RowShapeError, match="unknown hieght"):
        rows.append(**_base(), **vals, hieght=9.5)
    with pytest.raises(RowShapeError, match=r"unknown grid_code \(filled by the writer\)"):
        rows.append(**_base(), **BUILDING_VALUES, grid_code="x")
    assert len(rows) == 0
    with pytest.raises(RowShapeError, match="missing height"):
        layer_values(BUILDINGS, vals)
    with pytest.raises(RowShapeError, match="unknown roof"):
        layer_values(BUILDINGS, {**BUILDING_VALUES, "roof": "flat"})


def test_columns_of_different_lengths_are_refused():
    cols = {k: [v] for k, v in {**_base(), **BUILDING_VALUES}.items()}
    cols["height"] = [1.0, 2.0]
    with pytest.raises(RowShapeError, match="different lengths"):
        StagedRows.from_columns(BUILDINGS, cols)


def test_tuples_follow_the_staging_order_whatever_the_order_given():
    rows = StagedRows(BUILDINGS)
    rows.append(**dict(reversed(list({**_base(), **BUILDING_VALUES}.items()))))
    (t,) = list(rows.tuples())
    # staging order: row_no, source_key, row_hash, attrs, flags, geom, class_code, code, then
    # the layer's declared columns (district_code and grid_code last, left to the writer)
    assert t == (1, "d:1", "h", "{}", [], b"", "01", None, "A", "01", "住宅", "砖混", 3, 0,
                 9.5, 1998, None, None)


def test_layer_values_follow_the_declaration():
    vals = {c: f"v_{c}" for c in PIPE_POINTS.column_names()
            if c not in ("district_code", "grid_code")}
    assert layer_values(PIPE_POINTS, vals) == tuple(
        vals.get(c) for c in [c.name for c in PIPE_POINTS.columns])
    # a column added to the declaration is missing from a converter that does not give it
    more = dataclasses.replace(PIPE_POINTS, columns=PIPE_POINTS.columns + (Column("x", "text"),))
    with pytest.raises(RowShapeError, match="missing x"):
        layer_values(more, vals)


def test_staged_values_land_in_their_named_columns(fresh_db):
    """COPY through the writer; read the staging table back column by column."""
    geom = ewkb(np.array([shapely.Point(39_470_000.0, 3_914_000.0)]).astype(object), 4527)
    with psycopg.connect(fresh_db.conninfo) as conn:
        w = bulk.BulkWriter(conn, BUILDINGS, 4527, batch_id=0,
                            scope=bulk.RetireScope(conn, 0))
        w.create_staging()
        rows = StagedRows(BUILDINGS)
        rows.append(**_base(geom=EWKB(geom[0]), attrs=None), **BUILDING_VALUES)
        assert w.copy_rows(rows) == 1
        got = conn.execute("SELECT row_no, use_code, use_name, structure, floors_above, height, "
                           "year_built, code, district_code, ST_AsText(geom) FROM stg_buildings"
                           ).fetchone()
        with pytest.raises(TypeError, match="StagedRows of layer buildings"):
            w.copy_rows([(1, "d:1")])
        conn.rollback()
    assert got == (1, "01", "住宅", "砖混", 3, 9.5, 1998, None, None, "POINT(39470000 3914000)")
