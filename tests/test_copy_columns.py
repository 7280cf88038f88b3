"""Column-wise binary COPY (loaders.engine.copycols.copy_data) stores exactly what psycopg's
row-by-row write_row stores for the same values (real PostGIS, both paths into two tables),
and declines — the writer then goes row by row — the values it would not write alike."""

from __future__ import annotations

import numpy as np
import psycopg
import shapely

from loaders.engine import copycols
from loaders.engine.bulk import JsonText, _register_geometry, _register_json
from loaders.engine.copycols import copy_data
from loaders.geometry import ewkb

COLUMNS = [("i", "int4"), ("b", "int8"), ("f", "float8"), ("t", "text"), ("j", "jsonb"),
           ("a", "text[]"), ("g", "geometry"), ("missing", "text")]


def _values() -> dict[str, list]:
    geoms = np.array([shapely.Point(1.5, 2.25, 3.0), None,
                      shapely.LineString([(0, 0, 1), (2, 3, 4)])], dtype=object)
    wkb = ewkb(geoms[[0, 2]], 4527, with_z=True)
    return {"i": [7, None, -2 ** 31], "b": [2 ** 40, -1, None], "f": [-0.0, None, 1e-300],
            "t": ["中文 \\ 'q'", "", None],
            "j": [JsonText('{"a": 1, "名": "x"}'), None, JsonText("[]")],
            "a": [[], ["outside_area", "no_z"], ["中"]], "g": [wkb[0], None, wkb[1]]}


def _stored(conn, table: str) -> list[tuple]:
    return conn.execute(f"SELECT i, b, f, t, j::text, a, ST_AsEWKB(g), missing FROM {table} "
                        "ORDER BY b DESC NULLS LAST").fetchall()


def test_columns_copied_at_once_store_what_write_row_stores(fresh_db, monkeypatch):
    monkeypatch.setattr(copycols, "SLICE", 2)  # the 3 rows in two slices
    values = _values()
    with psycopg.connect(fresh_db.conninfo) as conn:
        geometry = _register_geometry(conn)
        _register_json(conn)
        cols = ", ".join(f"{n} {t}" for n, t in COLUMNS)
        for table in ("by_rows", "by_columns"):
            conn.execute(f"CREATE TEMP TABLE {table} ({cols})")
        names = ", ".join(n for n, _ in COLUMNS)
        with conn.cursor().copy(f"COPY by_rows ({names}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types([geometry if t == "geometry" else t for _, t in COLUMNS])
            for row in zip(*(values.get(n, [None] * 3) for n, _ in COLUMNS)):
                cp.write_row(row)
        data = copy_data(values, COLUMNS, 3, JsonText)
        assert data is not None
        with conn.cursor().copy(f"COPY by_columns ({names}) FROM STDIN (FORMAT BINARY)") as cp:
            for part in data:
                cp.write(part)
        by_rows, by_columns = _stored(conn, "by_rows"), _stored(conn, "by_columns")
    assert by_columns == by_rows
    # what went in, by construction
    assert [r[0] for r in by_rows] == [7, None, -2 ** 31]
    assert [r[5] for r in by_rows] == [[], ["outside_area", "no_z"], ["中"]]
    assert str(by_rows[0][2]) == "-0.0" and by_rows[1][6] is None and by_rows[0][4] == \
        '{"a": 1, "名": "x"}'
    assert all(r[7] is None for r in by_rows)


def test_values_not_written_alike_are_declined():
    base = _values()
    for name, bad in (("f", [float("nan"), 1.0, None]),      # psycopg: NaN, copybuf: NULL
                      ("i", [2 ** 31, 0, None]),               # out of int4
                      ("i", [True, 0, None]),                  # a bool is no int4 here
                      ("f", [1, 2.0, None]),                   # an int in a float8 column
                      ("t", [1, "x", None]),                   # a number in a text column
                      ("j", ['{"a": 1}', None, None]),         # a plain str, not JsonText
                      ("a", [["x", None], [], []]),            # a NULL item in text[]
                      ("g", ["POINT (1 2)", None, None])):     # WKT, not EWKB
        values = dict(base, **{name: bad})
        assert copy_data(values, COLUMNS, 3, JsonText) is None, (name, bad)
    assert copy_data(base, COLUMNS + [("d", "date")], 3, JsonText) is not None  # missing: NULL
    assert copy_data(dict(base, d=[None] * 3), COLUMNS + [("d", "date")], 3, JsonText) is None
