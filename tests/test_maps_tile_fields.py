"""The tiles carry what the web map's styles read. The 城市体检 selector colours a chosen
indicator by its `score` (styles.yaml `select`); the health tiles had only the result table's
declared columns, without `score`, so every indicator but the index was drawn transparent.
Values come from the hand-built city (tests/health_fixture.py) as stored, positions from pyproj
and the slippy-map formulas (tests/test_tiles)."""

from __future__ import annotations

import pytest
import requests

from layers.health.compute import compute
from layers.styles import load_styles, style_fields
from tests import health_fixture as hf
from tests.conftest import make_db, scratch_api
from tests.test_tiles import TO_LONLAT, decode, lonlat_to_tile

Z = 14


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("mapsf", jining_profile, apply_profile=False)
    hf.build(d.conninfo)
    compute(d.conninfo, 2026, d.profile)
    with scratch_api(d, tmp_path_factory.mktemp("mapsf")) as base:
        yield d, base


def test_health_tiles_carry_each_indicators_score(served):
    d, base = served
    lon, lat = TO_LONLAT.transform(hf.X0 + 1000, hf.Y0 + 500)  # D1's centre
    col, row = (int(v) for v in lonlat_to_tile(lon, lat, Z))
    r = requests.get(f"{base}/collections/health_indicators/tiles/WebMercatorQuad/"
                     f"{Z}/{row}/{col}", timeout=60)
    assert r.status_code == 200, r.text
    got = {f["properties"]["indicator_id"]: f["properties"].get("score")
           for f in decode(r.content)["health_indicators"]["features"]
           if f["properties"]["unit_code"] == hf.D1}
    stored = dict(d.rows("SELECT indicator_id, score FROM health_indicators WHERE "
                         "valid_to IS NULL AND year = 2026 AND unit_code = %s AND score IS "
                         "NOT NULL", (hf.D1,)))
    assert len(stored) >= 2
    for ind, score in stored.items():
        assert got.get(ind) == pytest.approx(score), ind


def test_every_field_a_style_reads_is_in_its_tiles(served):
    """For every served layer, each attribute its style reads that the table has is one of
    the tile's fields (TileJSON vector_layers)."""
    d, base = served
    tj = requests.get(f"{base}/tiles/WebMercatorQuad?f=tilejson", timeout=30).json()
    fields = {v["id"]: set(v["fields"]) for v in tj["vector_layers"]}
    reads = style_fields(load_styles(d.profile))
    assert "health_indicators" in fields
    for layer, have in fields.items():
        table = {r[0] for r in d.rows("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = %s", (layer,))}
        missing = (set(reads[layer]) & table) - have
        assert not missing, (layer, missing)
