"""The queryables and schema describe every property their titles name: a result table's
columns its LayerDef leaves out (declared beside it, ``OTHER_COLUMNS``: an indicator's
``unit``, ``direction``, ``method``; an alarm's ``detail``) were titled in Chinese but had no
description, as the descriptions were read from a walk of their own over the LayerDefs'
columns only. Over HTTP against the real app; the expected descriptions are read here from
the declarations with this module's own reading of a title (its words after the Chinese
name)."""

from __future__ import annotations

import re

import pytest
import requests

from cim.db.engine import drop_database
from layers.health.layer import HEALTH_INDICATORS
from layers.health.layer import OTHER_COLUMNS as HEALTH_OTHER
from layers.iot.layer import ALARMS
from layers.iot.layer import OTHER_COLUMNS as ALARM_OTHER
from tests.conftest import make_db, server_url, start_api

_HAN = re.compile(r"^[\u4e00-\u9fff]\S*\s+(.+)$")  # a title opening with a Chinese word


@pytest.fixture(scope="module")
def api(jining_profile, tmp_path_factory) -> str:
    """The real app over a fresh database, every layer's table empty."""
    d = make_db("struct11_desc", jining_profile, apply_profile=False)
    try:
        proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("struct11_desc"))
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        drop_database(server_url(), d.name)


@pytest.mark.parametrize("what", ["queryables", "schema"])
@pytest.mark.parametrize("layer,columns", [(HEALTH_INDICATORS.name, HEALTH_OTHER),
                                           (ALARMS.name, ALARM_OTHER)])
def test_a_result_tables_other_columns_are_described(api, what, layer, columns):
    r = requests.get(f"{api}/collections/{layer}/{what}", params={"f": "json"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    props = r.json()["properties"]
    want = {c.name: _HAN.match(c.title).group(1).strip() for c in columns}
    published = {k: v for k, v in want.items() if k in props}
    assert published, (layer, sorted(props))  # the case this test is about is served
    got = {k: props[k].get("description") for k in published}
    assert got == published
    if layer == HEALTH_INDICATORS.name:
        assert props["unit"]["description"] == "unit of the value"
