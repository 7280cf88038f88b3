"""The web map's feature info in real headless Chromium (review 12): a time inside a JSON
attribute (an alarm's 详情: when a sensor went silent, when an alarm escalated) is on the
city's clock as the other times are — it was the API's UTC instant, eight hours off in
Jining beside the alarm's own times —, and a yes/no attribute (a green space's 公园绿地) reads
是/否, not JavaScript's true/false. Expected values from SQL and zoneinfo."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import yaml

from cim.profile import DICTIONARY_DIR
from tests.test_maps_probe10 import browser, info_rows  # noqa: F401 (the fixture)
from tests.test_webmap import open_map


def test_times_inside_a_json_attribute_are_on_the_citys_clock(browser, api, db):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    rows = db.rows("SELECT code, detail FROM alarms WHERE valid_to IS NULL AND "
                   "detail ?| array['silent_since', 'escalated_at'] ORDER BY code")
    if not rows:
        pytest.skip("the sample day raised no escalated or silent alarm")
    zone = ZoneInfo(db.profile.timezone)
    for code, detail in rows:
        key = "silent_since" if "silent_since" in detail else "escalated_at"
        utc = detail[key]
        at = dt.datetime.fromisoformat(utc)
        local = at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        assert local[11:] != at.strftime("%H:%M")  # the test can tell the two apart
        shown = info_rows(driver, code)["详情"]
        assert utc not in shown, shown
        # the key by its label (value_labels.yaml alarms.detail), its time on the city's clock
        labels = yaml.safe_load((DICTIONARY_DIR / "value_labels.yaml").read_text(
            encoding="utf-8"))["values"]["alarms"]["detail"]
        assert f"{labels[key]}：{local}" in shown, (shown, local)


def test_a_yes_no_attribute_reads_in_chinese(browser, api, db):  # noqa: F811
    driver, _ = browser
    open_map(driver, api)
    for park in (True, False):
        got = db.rows("SELECT code FROM green_spaces WHERE valid_to IS NULL AND is_park = %s "
                      "ORDER BY code LIMIT 1", (park,))
        if not got:
            continue
        shown = info_rows(driver, got[0][0])["公园绿地"]
        assert shown == ("是" if park else "否"), shown
