"""The web map's feature info in real headless Chromium (review 12b): values stored as English
codes read in Chinese (an alarm's 状态 read ``active``, its 告警类型 ``gap``), and numbers to
their unit's decimals (a pipe's 长度, computed from the geometry, printed 14). The labels are
read from cim/dictionaries/value_labels.yaml with PyYAML, the numbers from SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.test_maps_probe10 import browser, info_rows  # noqa: F401 (the fixture)
from tests.test_webmap import open_map

LABELS = yaml.safe_load((Path(__file__).resolve().parent.parent / "cim" / "dictionaries"
                         / "value_labels.yaml").read_text(encoding="utf-8"))["values"]


def test_an_alarms_status_and_kind_read_in_chinese(browser, api, db):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    rows = db.rows("SELECT DISTINCT ON (kind, status) code, kind, status FROM alarms "
                   "WHERE valid_to IS NULL ORDER BY kind, status, code")
    kinds = {k for _, k, _ in rows}
    assert "gap" in kinds, rows  # the sample day has a silent sensor
    for code, kind, status in rows:
        shown = info_rows(driver, code)
        assert shown["告警类型"] == LABELS["alarms"]["kind"][kind], (code, shown)
        assert shown["状态"] == LABELS["alarms"]["status"][status], (code, shown)
        assert not {kind, status} & set(shown.values())


def test_a_risk_points_source_and_asset_layer_read_in_chinese(browser, api, db):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    code, source = db.rows("SELECT code, source FROM risk_points WHERE valid_to IS NULL AND "
                           "asset_layer = 'pipe_segments' ORDER BY code LIMIT 1")[0]
    shown = info_rows(driver, code)
    assert shown["来源"] == LABELS["risk_points"]["source"][source]
    assert shown["关联图层"] == "管线段"  # the catalog's title of pipe_segments


def test_lengths_and_elevations_to_their_units_decimals(browser, api, db):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    code, length, elevation = db.rows(
        "SELECT code, length_m, start_elevation::text FROM pipe_segments WHERE valid_to IS "
        "NULL AND length_m IS NOT NULL AND start_elevation IS NOT NULL AND "
        "length(split_part(length_m::text, '.', 2)) > 3 ORDER BY code LIMIT 1")[0]
    shown = info_rows(driver, code)
    decimals = shown["长度(m)"].partition(".")[2]
    assert len(decimals) <= 2, shown["长度(m)"]
    assert float(shown["长度(m)"]) == pytest.approx(length, abs=0.0051)
    # a surveyed elevation keeps its millimetres
    assert float(shown["起点高程(m)"]) == float(elevation), (shown["起点高程(m)"], elevation)
    got = db.rows("SELECT code, area_m2 FROM green_spaces WHERE valid_to IS NULL "
                  "ORDER BY code LIMIT 1")
    if got:
        area = info_rows(driver, got[0][0])["面积(m²)"]
        assert len(area.partition(".")[2]) <= 2 and \
            float(area) == pytest.approx(got[0][1], abs=0.0051), area
