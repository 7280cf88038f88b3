"""A 运管服 operator follows sensors whose vendor ids hold '/' over real HTTP (review 9).

The registry is loaded by `cim load sensors`' loader with device ids JN/RQ/0001 (a vendor's
district/class/serial) and JN//RQ/0002/ (a doubled and a trailing '/'). Every route of a
sensor answered 404 for them (the server decodes %2F before the routing and '<code>' matches
no '/'; an id with '//' was redirected to one '/'), so an operator could not see the latest
value or series of such a sensor. Readings over HTTP with a time to the nanosecond were
stored cut to the microsecond without a word; they are a 400 naming the item.

Expected values are the readings sent here and the thresholds' numbers (gas %LEL 四级 on 10
off 8, 二级 on 25).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import psycopg
import pytest
import requests

from layers.iot.sources import add_source
from tests.conftest import start_api
from tests.iot_fixture import iot_database, t

SLASHED = "JN/RQ/0001"
DOUBLED = "JN//RQ/0002/"


@pytest.fixture(scope="module")
def env(jining_profile, tmp_path_factory):
    from loaders.sensors import load_sensors

    with iot_database(jining_profile, "iotslash") as d:
        reg = tmp_path_factory.mktemp("registry") / "sensors.csv"
        reg.write_text(
            "设备编号,设备名称,监测类型,计量单位,监测对象编码,安装日期,状态,上报周期(秒),数据来源\n"
            f"{SLASHED},阀门井可燃气体探测器1,燃气浓度,%LEL,pipes:RQ:RQ0147,2024-11-06,运行,300,\n"
            f"{DOUBLED},阀门井可燃气体探测器2,燃气浓度,%LEL,pipes:RQ:RQ0094,2024-11-06,运行,300,\n",
            encoding="utf-8")
        report = load_sensors(d.conninfo, jining_profile, reg)
        assert (report.loaded, report.rejected) == (2, 0)
        d.codes = dict(d.rows("SELECT device_id, code FROM sensors WHERE valid_to IS NULL"))
        with psycopg.connect(d.conninfo) as conn:
            d.key = add_source(conn, "vendor-slash")
        proc, d.base = start_api(d.url, d.profile, tmp_path_factory.mktemp("iotslash"))
        yield d
        proc.terminate()
        proc.wait(10)


def post(env, rows):
    body = {"readings": [{"sensor": s, "time": ts, "value": v} for s, ts, v in rows]}
    return requests.post(env.base + "/iot/readings", json=body,
                         headers={"X-API-Key": env.key}, timeout=30)


def stored(env, device):
    return env.rows("SELECT ts, value FROM readings WHERE sensor_code = %s ORDER BY ts",
                    (env.codes[device],))


def test_a_device_id_with_slashes_is_a_sensor_over_http(env):
    r = post(env, [(SLASHED, t(0).isoformat(), 4.0), (SLASHED, t(5).isoformat(), 27.0),
                   (DOUBLED, t(0).isoformat(), 1.5)])
    assert r.status_code == 200, r.text
    assert (r.json()["inserted"], r.json()["alarms_opened"]) == (3, 1)
    for device in (SLASHED, DOUBLED):
        code = env.codes[device]
        # percent-encoded (as a client library writes a path segment) and as typed
        for written in (quote(device, safe=""), device):
            r = requests.get(f"{env.base}/iot/sensors/{written}/latest", timeout=10,
                             allow_redirects=False)
            assert r.status_code == 200, (written, r.status_code, r.text)
            assert (r.json()["sensor_code"], r.json()["device_id"]) == (code, device)
            r = requests.get(f"{env.base}/iot/sensors/{written}/readings", timeout=10,
                             params={"start": t(0).isoformat(), "end": t(10).isoformat()},
                             allow_redirects=False)
            assert r.status_code == 200, (written, r.status_code, r.text)
            assert r.json()["sensor_code"] == code
    r = requests.get(f"{env.base}/iot/sensors/{quote(SLASHED, safe='')}/readings",
                     params={"start": t(0).isoformat(), "end": t(10).isoformat()}, timeout=10)
    assert [x["value"] for x in r.json()["readings"]] == [4.0, 27.0]
    r = requests.get(f"{env.base}/iot/sensors/{quote(SLASHED, safe='')}/readings",
                     params={"start": t(0).isoformat(), "end": t(60).isoformat(),
                             "bucket": "1h"}, timeout=10)
    assert r.status_code == 200 and [b["max"] for b in r.json()["buckets"]] == [27.0], r.text
    # the alarm it opened is followed by its device id, as the operator knows it
    alarms = requests.get(f"{env.base}/iot/alarms", params={"sensor": SLASHED},
                          timeout=10).json()["alarms"]
    assert [(a["device_id"], a["level_name"], a["status"]) for a in alarms] == \
        [(SLASHED, "二级", "active")]
    # a sensor that is not there is a 404 naming it, not the router's page
    r = requests.get(f"{env.base}/iot/sensors/{quote('JN/RQ/9999', safe='')}/latest",
                     timeout=10)
    assert r.status_code == 404 and "'JN/RQ/9999'" in r.json()["description"], r.text
    # the routes are still told apart by their last segment
    assert requests.get(f"{env.base}/iot/sensors/latest", timeout=10).status_code == 404


def test_a_time_to_the_nanosecond_is_a_400_naming_the_item(env):
    r = post(env, [(SLASHED, t(20).isoformat(), 4.0),
                   (SLASHED, "2026-12-01T08:25:00.000000001+00:00", 4.0)])
    assert r.status_code == 400, r.text
    assert r.json()["description"].startswith(
        "field 'readings[1].time': time '2026-12-01T08:25:00.000000001+00:00' has a fraction "
        "of a second to 9 digits"), r.text
    assert dt.datetime(2026, 12, 1, 8, 20, tzinfo=dt.UTC) not in [x[0] for x in
                                                                  stored(env, SLASHED)]
    # zeros below the microsecond are the time as written
    r = post(env, [(SLASHED, "2026-12-01T08:25:00.000001000+00:00", 4.0)])
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    assert (dt.datetime(2026, 12, 1, 8, 25, 0, 1, tzinfo=dt.UTC), 4.0) in stored(env, SLASHED)
    # a time without an offset is ISO 8601 all the same: the sender is told what is missing
    r = post(env, [(SLASHED, "2026-12-01 08:30:00", 4.0)])
    assert r.status_code == 400, r.text
    assert r.json()["description"] == (
        "field 'readings[0].time': '2026-12-01 08:30:00' has no UTC offset: write the instant "
        "with its offset (2026-12-01T08:00:00+08:00, or Z for UTC)")
    # a query bound too
    r = requests.get(f"{env.base}/iot/sensors/{quote(SLASHED, safe='')}/readings",
                     params={"start": "2026-12-01T08:25:00.0000001+00:00"}, timeout=10)
    assert r.status_code == 400 and "field 'start'" in r.json()["description"], r.text


def test_alarms_of_a_mistyped_sensor_are_refused_not_an_empty_list(env):
    """`?sensor=JN/RQ/001` (for JN/RQ/0001) listed no alarms with a 200, which an operator
    reads as a quiet sensor; a reference no sensor has is a 400 naming `sensor`, and `cim iot
    alarms --sensor` exits 3. A sensor without alarms is still an empty list."""
    from tests.conftest import run_cli

    r = requests.get(f"{env.base}/iot/alarms", params={"sensor": "JN/RQ/001"}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["description"] == ("field 'sensor': no sensor has code or device id "
                                       "'JN/RQ/001'")
    r = requests.get(f"{env.base}/iot/alarms", params={"sensor": DOUBLED}, timeout=10)
    assert (r.status_code, r.json()["alarms"]) == (200, []), r.text
    p = run_cli(["iot", "alarms", "--sensor", "JN/RQ/001"], env.env())
    assert p.returncode == 3 and "no sensor has code or device id 'JN/RQ/001'" in p.stderr, \
        p.stdout + p.stderr
    p = run_cli(["iot", "alarms", "--sensor", DOUBLED], env.env(), check=True)
    assert p.stdout.strip() == "0 alarms"


def test_a_device_id_no_one_can_see_or_type_is_refused_at_load(env, tmp_path):
    """A device id with a line break (Alt+Enter in an Excel cell), a tab or a zero-width space
    was loaded: printed it looks like another id, no reading sent as it is printed matches
    it, and its HTTP routes reached no sensor (a 404 of the router). Rejected naming row and
    field; the registry's other rows load, an id with '/' among them."""
    from loaders.sensors import load_sensors

    reg = tmp_path / "sensors.csv"
    tail = "燃气浓度,%LEL,pipes:RQ:RQ0147,2024-11-06,运行,300,"
    reg.write_text(
        "设备编号,设备名称,监测类型,计量单位,监测对象编码,安装日期,状态,上报周期(秒),数据来源\n"
        f"JN/RQ/0003,好的,{tail}\n"              # row 2
        f"JN/RQ/\u200b0004,零宽空格,{tail}\n"    # row 3
        f"JN/RQ/\t0005,制表符,{tail}\n"           # row 4
        f'"JN/RQ/\n0006",换行,{tail}\n',         # row 5 (one record over two lines)
        encoding="utf-8")
    rep = load_sensors(env.conninfo, env.profile, reg, mode="append")
    assert (rep.read, rep.loaded, rep.rejected) == (4, 1, 3)
    got = env.rows("SELECT row_number, reason, field, message FROM load_rejects WHERE "
                   "batch_id = %s ORDER BY row_number", (rep.batch_id,))
    assert [r[:3] for r in got] == [(n, "bad_value", "设备编号") for n in (3, 4, 5)]
    got = [r[1:] for r in got]
    assert ["ZERO WIDTH SPACE (U+200B)" in got[0][2], "TAB (U+0009)" in got[1][2],
            "LINE FEED (U+000A)" in got[2][2]] == [True] * 3, got
    assert env.rows("SELECT device_id FROM sensors WHERE valid_to IS NULL AND device_id LIKE "
                    "'JN/RQ/%%' ORDER BY 1") == [("JN/RQ/0001",), ("JN/RQ/0003",)]
