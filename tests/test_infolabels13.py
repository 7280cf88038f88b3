"""The web map's feature info in real headless Chromium (review 13): a list attribute (a
sensor's 标记 ``["position_from_asset"]``) and a JSON object (an alarm's 详情, keyed
silent_since, escalated_at, raises_risk…) showed as raw JSON in English; each item, each key
now reads through its column's labels. Expected words are read from value_labels.yaml with
PyYAML, the values from SQL and zoneinfo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.test_maps_probe10 import browser, info_rows  # noqa: F401 (the fixture)
from tests.test_webmap import open_map

WORDS = yaml.safe_load((Path(__file__).resolve().parent.parent / "cim" / "dictionaries"
                        / "value_labels.yaml").read_text(encoding="utf-8"))
LABELS = WORDS["values"]
FLAGS = WORDS["flags"]  # every layer's flags' words (session 16)


def test_a_sensors_flags_read_in_chinese(browser, api, db):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    assert FLAGS["position_from_asset"] == "位置取自设施"
    rows = db.rows("SELECT code, flags FROM sensors WHERE valid_to IS NULL AND "
                   "'position_from_asset' = ANY(flags) ORDER BY code LIMIT 1")
    if not rows:
        pytest.skip("no sample sensor took its position from its asset")
    code, flags = rows[0]
    shown = info_rows(driver, code)["标记"]
    labels = FLAGS
    assert shown == "、".join(labels.get(f, f) for f in flags), (shown, flags)
    assert "位置取自设施" in shown and "position_from_asset" not in shown


def test_an_alarms_detail_reads_key_by_key_in_chinese(browser, api, db):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    rows = db.rows("SELECT code, detail FROM alarms WHERE valid_to IS NULL AND "
                   "detail ?| array['silent_since', 'escalated_at'] ORDER BY code LIMIT 3")
    if not rows:
        pytest.skip("the sample day raised no escalated or silent alarm")
    zone = ZoneInfo(db.profile.timezone)
    words = LABELS["alarms"]["detail"]
    for code, detail in rows:
        shown = info_rows(driver, code)["详情"]
        key = "silent_since" if "silent_since" in detail else "escalated_at"
        local = dt.datetime.fromisoformat(detail[key]).astimezone(zone).strftime(
            "%Y-%m-%d %H:%M")
        assert f"{words[key]}：{local}" in shown, (shown, detail)
        for k in detail:
            assert k not in shown, (k, shown)  # every key the platform writes is labelled
        assert "{" not in shown, shown


def test_an_unlabelled_item_or_key_shows_as_it_is(browser, api, db):  # noqa: F811
    """A flag or key with no label stays as written: the page's labels (window.CIM_STATE, read
    from the style) lose the sensor flag's and the alarm key's, and the info is shown again."""
    driver, _ = browser
    open_map(driver, api)
    sensor = db.rows("SELECT code, flags FROM sensors WHERE valid_to IS NULL AND "
                     "'position_from_asset' = ANY(flags) ORDER BY code LIMIT 1")
    alarm = db.rows("SELECT code, detail FROM alarms WHERE valid_to IS NULL AND "
                    "detail ? 'silent_since' ORDER BY code LIMIT 1")
    if not sensor or not alarm:
        pytest.skip("no sample sensor placed at its asset or silent alarm")
    driver.execute_script(
        "const v = window.CIM_STATE.info.values; delete window.CIM_STATE.info.flags"
        ".position_from_asset;"
        "delete v.alarms.detail.silent_since;")
    try:
        shown = info_rows(driver, sensor[0][0])["标记"]
        assert "position_from_asset" in shown.split("、"), shown
        shown = info_rows(driver, alarm[0][0])["详情"]
        assert "silent_since：" in shown, shown
        if "raises_risk" in alarm[0][1]:
            assert LABELS["alarms"]["detail"]["raises_risk"] + "：" in shown, shown
    finally:
        open_map(driver, api)  # the page's labels as the server gives them, for the next test
