"""CSV pages as a planner downloads them (review 9): a point layer's CSV with
``skipGeometry=true`` was a 500 (pygeoapi's formatter reads the first geometry's type), and an
array or object cell (a feature's ``flags``, an alarm's ``detail``) was Python's repr
(``['position_from_asset']``, ``{'escalated_at': …}``), which no CSV reader reads back. Expected
values come from SQL on the session database."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests


def _csv(api: str, coll: str, **params) -> list[dict]:
    r = requests.get(f"{api}/collections/{coll}/items", params={"f": "csv", **params},
                     timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.content.decode())))


@pytest.mark.parametrize("layer", ["sensors", "pipe_points", "alarms", "buildings"])
def test_csv_without_geometry_lists_every_feature(api, db, layer):
    codes = [c for c, in db.rows(f"SELECT code FROM {layer} WHERE valid_to IS NULL "
                                 "ORDER BY id")]
    assert codes
    rows = _csv(api, layer, skipGeometry="true", limit=len(codes))
    assert [r["code"] for r in rows] == codes
    assert "x" not in rows[0] and "y" not in rows[0]


def test_array_and_object_cells_are_json(api, db):
    flags = dict(db.rows("SELECT code, flags FROM sensors WHERE valid_to IS NULL"))
    assert any(flags.values()) and not all(flags.values())  # some flagged, some not
    rows = _csv(api, "sensors", properties="flags", limit=len(flags))
    assert {r["code"]: json.loads(r["flags"]) for r in rows} == \
        {c: list(f) for c, f in flags.items()}
    detail = dict(db.rows("SELECT code, detail FROM alarms WHERE valid_to IS NULL"))
    assert any(detail.values())
    rows = _csv(api, "alarms", properties="detail", limit=len(detail))
    assert {r["code"]: json.loads(r["detail"]) for r in rows} == detail


def test_a_mixed_layers_csv_has_x_y_of_its_points_on_every_page(api, db):
    """Components are points, lines and polygons: a CSV page whose first feature was a point
    and a later one a polygon was a 500 (the formatter read the polygon as a point). Every
    page has x, y: a point's lon/lat (SQL's), blank for a line or a polygon."""
    want = {c: (x, y) for c, x, y in db.rows(
        "SELECT code, CASE WHEN GeometryType(geom) = 'POINT' THEN ST_X(ST_Transform(geom, "
        "4490)) END, CASE WHEN GeometryType(geom) = 'POINT' THEN ST_Y(ST_Transform(geom, "
        "4490)) END FROM components WHERE valid_to IS NULL")}
    assert {x is None for x, _ in want.values()} == {True, False}  # points and others
    url, params, got = f"{api}/collections/components/items", {"f": "csv", "limit": 50}, {}
    while url:
        r = requests.get(url, params=params, timeout=60)
        params = None
        assert r.status_code == 200, r.text[:300]
        rows = list(csv.DictReader(io.StringIO(r.content.decode())))
        assert rows and "x" in rows[0] and "y" in rows[0]
        got.update({row["code"]: (float(row["x"]) if row["x"] else None,
                                  float(row["y"]) if row["y"] else None) for row in rows})
        url = r.links.get("next", {}).get("url")
    assert got.keys() == want.keys()
    for code, (x, y) in want.items():
        if x is None:
            assert got[code] == (None, None)
        else:
            assert abs(got[code][0] - x) < 1e-8 and abs(got[code][1] - y) < 1e-8
