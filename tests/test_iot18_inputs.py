"""The readings API and import at their edges (probe of 2026-12-07).

- ``POST /iot/readings`` takes the 50,000 readings it advertises (the server's 1 MiB body limit
  took ~15,000: a 413);
- a NUL in a sensor code of the path or a parameter, or in a reading's sensor, is a 400 naming
  it (each was a 500);
- a bucket of ~19,000 years is a 400 naming ``bucket`` (its widened range passed year 10000:
  a 500);
- ``cim iot import`` makes no partition for a file it refuses for a reading ahead of the clock,
  nor for the readings of unknown sensors (it left readings_y2099m02 and readings_y1970m01).
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import requests

from layers.iot.sources import add_source
from tests.conftest import run_cli, start_api
from tests.iot_fixture import add_sensor, counts, iot_database, t


@pytest.fixture(scope="module")
def env(jining_profile, tmp_path_factory):
    with iot_database(jining_profile, "iot18") as d:
        with psycopg.connect(d.conninfo) as conn:
            d.key = add_source(conn, "vendor-18")
        d.s = add_sensor(d, 18, "01", d.gas_pipe, "03", device_id="IOT18")
        proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("iot18serve"))
        d.base = base
        yield d
        proc.terminate()
        proc.wait(10)


def test_a_batch_of_fifty_thousand_readings_is_taken(env):
    n = 50_000
    start = t(0)
    body = {"readings": [{"sensor": "IOT18", "time": (start + dt.timedelta(seconds=i))
                          .isoformat(), "value": 0.25} for i in range(n)]}
    raw = requests.models.complexjson.dumps(body, indent=2).encode()
    assert len(raw) > 1 << 20  # over the server's general limit
    r = requests.post(env.base + "/iot/readings", data=raw, timeout=300,
                      headers={"X-API-Key": env.key, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["inserted"] == n
    assert counts(env, env.s)["readings"] == n
    # one more is refused by count, naming readings
    body["readings"].append(body["readings"][0])
    r = requests.post(env.base + "/iot/readings", json=body, timeout=300,
                      headers={"X-API-Key": env.key})
    assert r.status_code == 400 and "at most 50000 readings" in r.json()["description"]


@pytest.mark.parametrize("path,field", [
    ("/iot/sensors/%00/latest", "code"),
    ("/iot/sensors/IOT18%00/readings", "code"),
    ("/iot/alarms?sensor=%00", "sensor"),
    ("/iot/sensors/IOT18/readings?bucket=1h%00", "bucket"),
])
def test_a_nul_in_a_code_or_parameter_is_400_naming_it(env, path, field):
    r = requests.get(env.base + path, timeout=30)
    assert r.status_code == 400, r.text[:300]
    assert f"field {field!r}" in r.json()["description"] and "NUL" in r.json()["description"]


def test_a_nul_in_a_reading_is_400_naming_the_item(env):
    r = requests.post(env.base + "/iot/readings", headers={"X-API-Key": env.key}, timeout=30,
                      json={"readings": [{"sensor": "IOT18", "time": t(1).isoformat(),
                                          "value": 1.0},
                                         {"sensor": "IOT\u000018", "time": t(2).isoformat(),
                                          "value": 1.0}]})
    assert r.status_code == 400, r.text[:300]
    assert "field 'readings[1].sensor'" in r.json()["description"]


@pytest.mark.parametrize("bucket", ["999999w", "3654d", "523w"])
def test_a_bucket_over_ten_years_is_400_naming_it(env, bucket):
    r = requests.get(env.base + "/iot/sensors/IOT18/readings", timeout=30, params={
        "start": "2026-11-30T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00",
        "bucket": bucket})
    assert r.status_code == 400, r.text[:300]
    assert "field 'bucket'" in r.json()["description"] and "ten years" in r.text
    # ten years is the longest, and answers
    r = requests.get(env.base + "/iot/sensors/IOT18/readings", timeout=30, params={
        "start": "2026-11-30T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00",
        "bucket": "3653d"})
    assert r.status_code == 200, r.text[:300]


def _partitions(env) -> set[str]:
    with psycopg.connect(env.conninfo) as conn:
        return {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'readings'")}


def test_an_import_refused_ahead_of_the_clock_makes_no_partition(env, tmp_path):
    before = _partitions(env)
    f = tmp_path / "ahead.csv"
    f.write_text("设备编号,监测时间,监测值\nIOT18,2025-03-01T04:30:00+08:00,0.5\n"
                 "IOT18,2099-03-01T00:00:00+08:00,0.5\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], env.env())
    assert p.returncode == 3 and "row 3" in p.stderr and "ahead" in p.stderr, p.stderr
    assert _partitions(env) == before


def test_readings_of_unknown_sensors_make_no_partition(env, tmp_path):
    before = _partitions(env)
    f = tmp_path / "unknown.csv"
    f.write_text("设备编号,监测时间,监测值\nNOPE-1,1970-01-01T00:00:00Z,1\n"
                 f"IOT18,{t(3000).isoformat()},0.5\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], env.env())
    assert p.returncode == 0, p.stderr
    assert "1 of unknown sensors" in p.stdout and "1 inserted" in p.stdout, p.stdout
    assert _partitions(env) == before
