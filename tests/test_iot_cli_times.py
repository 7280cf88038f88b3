"""`cim iot` listings print times in the city's clock with their offset. `cim iot alarms`
printed an alarm's opening in the database session's zone (UTC) without an offset — an alarm
of 16:05 in Jining read as 08:05 — and `gaps`, `latest` and `series` printed UTC.

By construction: the gas alarm opens at t(5) = 2026-12-01 08:05 UTC = 16:05 +08:00
(Asia/Shanghai, the Jining profile's timezone); the sensor is silent from t(10).
"""

from __future__ import annotations

import psycopg

from layers.iot.ingest import ingest
from tests.conftest import run_cli
from tests.iot_fixture import add_sensor, module_db, t

d = module_db("iotclitimes")


def test_listings_print_the_citys_clock(d):
    s = add_sensor(d, 1, "01", d.gas_pipe, "03", device_id="CLI-TIMES")
    with psycopg.connect(d.conninfo) as conn:
        assert ingest(conn, [(s, t(0), 5.0), (s, t(5), 12.0), (s, t(10), 13.0)])[
            "alarms_opened"] == 1
    env = d.env()
    out = run_cli(["iot", "alarms", "--sensor", "CLI-TIMES"], env, check=True).stdout
    assert "2026-12-01T16:05+08:00" in out and "08:05" not in out
    out = run_cli(["iot", "latest", "--sensor", "CLI-TIMES"], env, check=True).stdout
    assert "2026-12-01T16:10:00+08:00" in out
    out = run_cli(["iot", "series", "CLI-TIMES", "--start", t(0).isoformat(), "--end",
                   t(60).isoformat()], env, check=True).stdout
    assert out.splitlines()[:3] == ["2026-12-01T16:00:00+08:00  5",
                                    "2026-12-01T16:05:00+08:00  12",
                                    "2026-12-01T16:10:00+08:00  13"]
    out = run_cli(["iot", "gaps", "--now", t(120).isoformat()], env, check=True).stdout
    assert "silent since 2026-12-01T16:10:00+08:00" in out
