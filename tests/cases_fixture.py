"""The case-loop tests' database: a scratch database of the Jining profile for a test module,
and a connection a test's writes are rolled back on."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from cim.profile import CityProfile, load_profile
from tests.conftest import scratch_db


def case_fixtures(name: str):
    """(sdb, conn) fixtures for a module: ``sdb`` the module's scratch database ``name``,
    ``conn`` a connection to it rolled back after each test. Assign both in the module:
    ``sdb, conn = case_fixtures("cases_times")``."""

    @pytest.fixture(scope="module")
    def sdb(jining_profile):
        with scratch_db(name, jining_profile) as d:
            yield d

    @pytest.fixture()
    def conn(sdb):
        with psycopg.connect(sdb.conninfo) as c:
            yield c
            c.rollback()

    return sdb, conn


def zoned_profile(base: CityProfile, zone: str, folder: Path) -> CityProfile:
    """``base`` (the Jining sample) keeping the clock ``zone`` instead of China's, written in
    ``folder``: a city whose offset is not +08:00 tells a time shown on the city's clock from
    one shown in UTC or on China's clock hard-wired."""
    raw = yaml.safe_load(base.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):
        raw[key] = str((base.path.parent / raw[key]).resolve())
    raw["timezone"] = zone
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_profile(path)
