"""A database for the monitoring tests (issue 14): the Jining profile, the sample pipe survey
(gas and water segments to watch), readings partitions for Nov 2026 – Jan 2027, and sensors
and one risk point written by hand with known codes, so every expected value is known by
construction.

Until ``cim load sensors`` exists the sensors are inserted with SQL here (codes allocated by
hand: district 370811 + layer 92 + type + serial).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from cim.profile import DICTIONARY_DIR
from tests.conftest import SAMPLES, TestDB, drop_database, make_db, server_url

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DISTRICT = "370811"
# the risk point on the watched gas pipe: likelihood 2 × consequence 2 → 低 蓝 (risk_matrix)
RISK_CODE = "370811910100009001"


def t(minutes: float) -> dt.datetime:
    """T0 + minutes."""
    return T0 + dt.timedelta(minutes=minutes)


def iot_db(profile, suffix: str) -> TestDB:
    from layers.iot.partitions import ensure_months
    from loaders.pipes.load import load_pipes_files

    d = make_db(suffix, profile)
    load_pipes_files(d.conninfo, profile, [SAMPLES / "pipes"])
    with psycopg.connect(d.conninfo) as conn:
        ensure_months(conn, [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1)])
        gas, water = (conn.execute(
            "SELECT code FROM pipe_segments WHERE valid_to IS NULL AND pipe_class = %s AND "
            "ST_Intersects(geom, (SELECT geom FROM admin_divisions WHERE code = %s AND "
            "valid_to IS NULL)) ORDER BY code LIMIT 1", (cls, DISTRICT)).fetchone()[0]
            for cls in ("03", "01"))
        conn.execute(
            "INSERT INTO risk_points (code, source_key, geom, risk_type_code, risk_type, "
            "domain_code, domain, asset_layer, asset_code, responsible_unit, likelihood, "
            "consequence, level, color, source, district_code) SELECT %s, 'manual:test', "
            "ST_PointOnSurface(ST_Force2D(geom)), '0101', '燃气管道泄漏燃爆', '01', '城市生命线', "
            "'pipe_segments', code, '燃气公司', 2, 2, '低', '蓝', 'manual', %s "
            "FROM pipe_segments WHERE code = %s AND valid_to IS NULL",
            (RISK_CODE, DISTRICT, gas))
    d.gas_pipe, d.water_pipe = gas, water
    return d


@contextlib.contextmanager
def iot_database(profile, suffix: str) -> Iterator[TestDB]:
    """``iot_db``, dropped when the block ends — also when a module's own set-up inside the
    block fails, so no test database is left behind."""
    d = iot_db(profile, suffix)
    try:
        yield d
    finally:
        drop_database(server_url(), d.name)


def module_db(suffix: str) -> Callable:
    """The module fixture ``d`` of a test file that needs nothing more than ``iot_db`` on the
    sample profile: ``d = module_db("iotgaplate")`` at module level."""

    @pytest.fixture(scope="module", name="d")
    def _d(jining_profile):
        with iot_database(jining_profile, suffix) as db:
            yield db

    return _d


def send(d: TestDB, rows, config=None) -> dict:
    """``ingest`` of ``rows`` on a connection of its own (committed when it returns)."""
    from layers.iot.ingest import ingest

    with psycopg.connect(d.conninfo) as conn:
        return ingest(conn, rows, config=config)


def leak_thresholds(folder: Path) -> Path:
    """A city's copy of sensor_thresholds.csv in ``folder``: gas 一级 and 二级 open (or move a
    case to) 0801 燃气泄漏, where the platform's file says 0102 燃气设施异常; its path."""
    lines = (DICTIONARY_DIR / "sensor_thresholds.csv").read_text(encoding="utf-8").splitlines()
    hit = [i for i, r in enumerate(lines) if r.startswith(("01,,above,1,", "01,,above,2,"))]
    assert len(hit) == 2 and all(",0102," in lines[i] for i in hit), hit
    for i in hit:
        lines[i] = lines[i].replace(",0102,", ",0801,")
    th = folder / "sensor_thresholds.csv"
    th.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return th


def add_sensor(d: TestDB, serial: int, type_code: str, asset: str | None,
               asset_class: str | None, *, interval_s: int | None = 300,
               reading_source: str | None = None, device_id: str | None = None) -> str:
    """A sensor on ``asset`` (its point on surface) with a hand-made code; the code."""
    code = f"{DISTRICT}92{type_code}{serial:08d}"
    device = device_id or f"DEV-{type_code}-{serial}"
    with psycopg.connect(d.conninfo) as conn:
        srid = conn.execute("SELECT Find_SRID('public', 'sensors', 'geom')").fetchone()[0]
        geom = conn.execute(
            "SELECT ST_PointOnSurface(ST_Force2D(geom)) FROM pipe_segments WHERE code = %s "
            "AND valid_to IS NULL", (asset,)).fetchone()[0] if asset else None
        if geom is None:
            geom = conn.execute("SELECT ST_PointOnSurface(geom) FROM admin_divisions "
                                "WHERE code = %s AND valid_to IS NULL", (DISTRICT,)).fetchone()[0]
        conn.execute(
            "INSERT INTO sensors (code, source_key, geom, device_id, name, type_code, "
            "type_name, unit, asset_layer, asset_code, asset_class, status, interval_s, "
            "reading_source, district_code, grid_code, valid_from) "
            "SELECT %(code)s, %(key)s, ST_SetSRID(%(g)s::geometry, %(srid)s), %(dev)s, "
            "%(dev)s, %(type)s::text, n.name, n.unit, %(layer)s, %(asset)s, %(cls)s, '运行', "
            "%(iv)s, %(rs)s, %(district)s, (SELECT code FROM grid_cells WHERE valid_to IS NULL "
            "AND ST_Intersects(geom, %(g)s::geometry) ORDER BY code LIMIT 1), %(vf)s "
            "FROM (VALUES ('01', '燃气浓度', '%%LEL'), ('02', '管网压力', 'MPa'), "
            "('04', '井下液位', 'm')) AS n(code, name, unit) WHERE n.code = %(type)s::text",
            {"code": code, "key": f"sensor:{code}", "g": geom, "srid": srid, "dev": device, "type": type_code,
             "layer": "pipe_segments" if asset else None, "asset": asset, "cls": asset_class,
             "iv": interval_s, "rs": reading_source, "district": DISTRICT,
             "vf": T0 - dt.timedelta(days=1)})
    return code


def counts(d: TestDB, sensor: str) -> dict[str, int]:
    """Readings, alarms (all, active) and cases of ``sensor``."""
    return {
        "readings": d.scalar("SELECT count(*) FROM readings WHERE sensor_code = %s", (sensor,)),
        "alarms": d.scalar("SELECT count(*) FROM alarms WHERE sensor_code = %s", (sensor,)),
        "active": d.scalar("SELECT count(*) FROM alarms WHERE sensor_code = %s AND "
                           "status = 'active'", (sensor,)),
        "cases": d.scalar("SELECT count(*) FROM cases c JOIN alarms a ON a.code = c.alarm_code "
                          "WHERE a.sensor_code = %s", (sensor,)),
    }
