"""The case-loop tests' database: a scratch database of the Jining profile for a test module,
and a connection a test's writes are rolled back on."""

from __future__ import annotations

import psycopg
import pytest

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
