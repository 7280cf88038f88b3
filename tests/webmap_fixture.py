"""The live one map the review-12 tests watch (tests/test_webmap12_live_map.py,
tests/test_webmap12b_live_risk.py): a database of the sample network and its assessed risk
points — and the sample buildings, for a test that reloads them —, served by the real app with
the layers' versions read afresh at each poll (``tiles_version_ttl=0``), and real headless
Chromium behind the recording proxy (tests/browser.py). Each test module builds its own (a
module-scoped fixture around :func:`live_map`) and raises its own points through the alarm
path (:func:`raise_risk`), read back by :func:`drawn_at_level` in the page."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import psycopg
import shapely

from cim.profile import CityProfile
from tests.browser import RecordingProxy, chromium, quit_chromium
from tests.conftest import (
    SAMPLE_BUILDINGS,
    TestDB,
    assess_risks,
    load_network_samples,
    make_db,
    scratch_api,
)
from tests.test_webmap import TO_LONLAT, wait


class LiveMap(NamedTuple):
    d: TestDB
    base: str
    driver: object  # selenium's Chrome driver
    proxy: RecordingProxy


@contextmanager
def live_map(profile: CityProfile, home: Path, name: str, *,
             buildings: bool = False) -> Iterator[LiveMap]:
    """The served live map (database ``cim_test_<name>_…``, dropped afterwards)."""
    d = make_db(name, profile)
    if buildings:
        from loaders.buildings import load_buildings

        load_buildings(d.conninfo, profile, SAMPLE_BUILDINGS)
    load_network_samples(d, profile)
    assess_risks(d, profile)
    with scratch_api(d, home, tiles_version_ttl=0) as base:
        proxy = RecordingProxy(urllib.parse.urlsplit(base).netloc)
        driver = chromium(proxy)
        try:
            yield LiveMap(d, base, driver, proxy)
        finally:
            quit_chromium(driver)
            proxy.shutdown()


def open_live(driver, base: str) -> None:
    """/map polling the layers' versions every second."""
    driver.get(base + "/map?live=1")
    wait(driver, "return !!(window.CIM_STATE && CIM_STATE.ready)")


def lonlat(d: TestDB, table: str, code: str) -> tuple[float, float]:
    """A lon/lat on the current feature ``code`` of ``table`` (shapely + pyproj on its WKB)."""
    wkb = d.scalar(f"SELECT ST_AsBinary(ST_Force2D(geom)) FROM {table} WHERE code = %s "  # noqa: S608
                   "AND valid_to IS NULL", (code,))
    p = shapely.from_wkb(bytes(wkb)).point_on_surface()
    return TO_LONLAT.transform(p.x, p.y)


def raise_risk(d: TestDB, code: str, alarm_code: str, level: str = "重大") -> None:
    """Raise risk point ``code`` to ``level`` as an alarm on its asset does (the alarm path's
    own raise, committed), and check the table holds it."""
    from layers.risk.alarm import raise_for_alarm
    from layers.risk.config import load_config

    with psycopg.connect(d.conninfo) as conn:
        got = raise_for_alarm(conn, load_config(d.profile).matrix, asset_code=None,
                              alarm_code=alarm_code, level=level, risk_code=code)
    assert got == code
    assert d.scalar("SELECT level FROM risk_points WHERE code = %s AND valid_to IS NULL",
                    (code,)) == level


def drawn_at_level(driver, code: str, level: str, timeout: float = 30) -> bool:
    """Whether the open map's live source draws risk point ``code`` at ``level`` within
    ``timeout`` seconds (without the page being reloaded)."""
    return bool(wait(driver, "return CIM_MAP.map.querySourceFeatures('live', {sourceLayer: "
                             f"'risk_points'}}).some(f => f.properties.code === '{code}' && "
                             f"f.properties.level === '{level}')", timeout))
