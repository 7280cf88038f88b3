"""A risk re-assessment that only retires points (a rule the city dropped from risk_rules.yaml)
takes them off the map. It adds no row and no load batch, so the risk tiles' version (max row
id, last load batch) stayed: the served tiles kept the retired point, their ETag unchanged
(304s to every browser). Tiles decoded, the retirement read in SQL."""

from __future__ import annotations

import dataclasses
import time

import psycopg
import pytest
import requests

from loaders.buildings import load_buildings
from tests.conftest import (
    SAMPLE_BUILDINGS,
    assess_risks,
    load_network_samples,
    make_db,
    scratch_api,
)
from tests.test_tiles import TO_LONLAT, decode, lonlat_to_tile

Z = 14


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("mapsrisk", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    load_network_samples(d, jining_profile)
    assess_risks(d, jining_profile)
    with scratch_api(d, tmp_path_factory.mktemp("mapsrisk"), tiles_version_ttl=0) as base:
        yield d, base


def _tile(base: str, col: int, row: int) -> tuple[str, set[str]]:
    r = requests.get(f"{base}/collections/risk_points/tiles/WebMercatorQuad/{Z}/{row}/{col}",
                     timeout=60)
    assert r.status_code in (200, 204), r.text
    codes = set() if r.status_code == 204 else {
        f["properties"]["code"] for f in decode(r.content)["risk_points"]["features"]}
    return r.headers["ETag"], codes


def test_a_retire_only_assessment_leaves_the_tiles(served):
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    d, base = served
    rows = d.rows("SELECT rule_id, code, ST_X(geom), ST_Y(geom) FROM risk_points WHERE "
                  "valid_to IS NULL AND source = 'rule' ORDER BY code")
    by_rule: dict[str, list] = {}
    for rule, code, x, y in rows:
        by_rule.setdefault(rule, []).append((code, x, y))
    rule, points = min(by_rule.items(), key=lambda kv: len(kv[1]))
    code, x, y = points[0]
    col, row = (int(v) for v in lonlat_to_tile(*TO_LONLAT.transform(x, y), Z))
    tag, codes = _tile(base, col, row)
    assert code in codes
    ids = d.scalar("SELECT max(id) FROM risk_points")

    cfg = load_config(d.profile)
    out = assess(d.conninfo, dataclasses.replace(
        cfg, rules=[r for r in cfg.rules if r.id != rule]), 2026)
    assert out["changes"]["retired"] == len(points) and out["changes"]["inserted"] == 0
    assert d.scalar("SELECT max(id) FROM risk_points") == ids  # nothing added
    assert d.scalar("SELECT count(*) FROM risk_points WHERE valid_to IS NULL AND code = %s",
                    (code,)) == 0
    time.sleep(0.2)
    tag2, codes2 = _tile(base, col, row)
    assert code not in codes2 and codes2 == codes - {c for c, _, _ in points}
    assert tag2 != tag
    r = requests.get(f"{base}/collections/risk_points/tiles/WebMercatorQuad/{Z}/{row}/{col}",
                     headers={"If-None-Match": tag}, timeout=60)
    assert r.status_code != 304


def test_a_point_raised_in_place_changes_the_tiles(served):
    """An alarm on its asset raises a risk point's level and colour in place (no new row, no
    batch, no retirement: layers.risk.alarm); the tiles show the new level and their ETag
    changes, so a browser's revalidation gets the new colour instead of a 304."""
    d, base = served
    code, x, y, level = d.rows(
        "SELECT code, ST_X(geom), ST_Y(geom), level FROM risk_points WHERE valid_to IS NULL "
        "AND level <> '重大' ORDER BY code LIMIT 1")[0]
    col, row = (int(v) for v in lonlat_to_tile(*TO_LONLAT.transform(x, y), Z))
    tag, codes = _tile(base, col, row)
    assert code in codes
    ids = d.scalar("SELECT max(id) FROM risk_points")
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE risk_points SET level = '重大', color = '红' WHERE code = %s AND "
                     "valid_to IS NULL", (code,))
    assert d.scalar("SELECT max(id) FROM risk_points") == ids  # in place
    time.sleep(0.2)
    r = requests.get(f"{base}/collections/risk_points/tiles/WebMercatorQuad/{Z}/{row}/{col}",
                     headers={"If-None-Match": tag}, timeout=60)
    assert r.status_code == 200, r.status_code
    assert r.headers["ETag"] != tag
    levels = {f["properties"]["code"]: f["properties"].get("level")
              for f in decode(r.content)["risk_points"]["features"]}
    assert levels[code] == "重大"
