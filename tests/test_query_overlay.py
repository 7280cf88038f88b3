"""Overlay on the hand-drawn city: each piece's area/length from shapely on the fixture."""

from __future__ import annotations

import json

import pytest
import shapely

from cim.errors import InputError
from layers.query.common import Area
from layers.query.overlay import overlay, run
from tests import query_fixture
from tests.conftest import run_cli
from tests.query_fixture import BUILDINGS, D2, DISTRICTS, GRID, PIPES, X0, Y0

qdb = query_fixture.qdb  # the hand-drawn city, a database per module


def pieces(a: dict, b: dict, measure: str, clip: shapely.Geometry | None = None) -> dict:
    """(a_code, b_code) → area or length of a ∩ b (∩ clip), pieces of positive size only."""
    out = {}
    for ac, (ag, *_r) in a.items():
        for bc, bg in b.items():
            g = ag.intersection(bg)
            if clip is not None:
                g = g.intersection(clip)
            m = g.area if measure == "area" else g.length
            if m > 0:
                out[(ac, bc)] = m
    return out


def test_buildings_by_grid_cells(qdb, tmp_path):
    want = pieces(BUILDINGS, GRID, "area")
    out = tmp_path / "pieces.geojson"
    res = json.loads(run_cli(["query", "overlay", "buildings", "grid_cells", "--json",
                              "--geojson", str(out)], qdb.env(), check=True).stdout)
    got = {(r["a_code"], r["b_code"]): r["area_m2"] for r in res["rows"]}
    assert got == pytest.approx(want, abs=1e-6)
    # B7 only touches G4 along an edge: no piece; B2 and B3 are cut in two
    assert not any(a == "B7" for a, _ in got) and len(want) == 6
    assert res["pieces"] == 6 and "length_m" not in res["rows"][0]
    # the areas sum to the area of the buildings inside the grid
    inside = shapely.union_all(list(GRID.values()))
    assert res["total_area_m2"] == pytest.approx(
        sum(g.intersection(inside).area for g, *_r in BUILDINGS.values()), abs=1e-6)
    assert "features" not in res
    feats = json.loads(out.read_text())["features"]
    assert len(feats) == 6
    f = next(f for f in feats if f["properties"]["a_code"] == "B3"
             and f["properties"]["b_code"] == sorted(GRID)[2])
    assert f["properties"]["a_floors_above"] == 15
    assert f["properties"]["b_district_code"] == D2
    assert f["properties"]["area_m2"] == pytest.approx(100.0)


def test_pipes_by_districts_in_plan(qdb):
    res = overlay(qdb.conninfo, "pipe_segments", "admin_divisions")
    got = {(r["a_code"], r["b_code"]): r["length_m"] for r in res["rows"]}
    # shapely's length is planar: the 3D pipes measured in plan
    want = pieces(PIPES, DISTRICTS, "length")
    assert got == pytest.approx(want, abs=1e-6)
    assert got[("P1", D2)] == pytest.approx(200.0)  # not the sloping 3D length
    assert res["total_length_m"] == pytest.approx(sum(want.values()))
    assert res["total_area_m2"] == 0.0 and "area_m2" not in res["rows"][0]


def test_area_clips_the_pieces(qdb):
    clip = shapely.box(50, 0, 350, 100)
    wkt = shapely.affinity.translate(clip, X0, Y0)
    wkt = shapely.transform(wkt, lambda c: c[:, ::-1]).wkt  # EPSG:4527 is northing first
    res = run(qdb.conninfo, {"a": "pipe_segments", "b": "grid_cells", "polygon": wkt,
                             "crs": "EPSG:4527"})
    want = pieces(PIPES, GRID, "length", clip)
    assert {(r["a_code"], r["b_code"]): r["length_m"] for r in res["rows"]} == \
        pytest.approx(want, abs=1e-6)
    assert res["total_length_m"] == pytest.approx(sum(want.values()), abs=1e-6)
    res = overlay(qdb.conninfo, "buildings", "grid_cells", Area(district=D2))
    want = pieces(BUILDINGS, GRID, "area", DISTRICTS[D2])
    assert {(r["a_code"], r["b_code"]): r["area_m2"] for r in res["rows"]} == \
        pytest.approx(want, abs=1e-6)


def test_b_must_have_polygons(qdb):
    with pytest.raises(InputError, match="has no polygons"):
        overlay(qdb.conninfo, "buildings", "pipe_segments")
