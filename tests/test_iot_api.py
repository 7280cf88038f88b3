"""The readings API over HTTP (issue 14): the real app under gunicorn, as the read-only role.

Keys: none → 401, unknown → 401, revoked → 403; a sensor bound to another source → 403; a
bad item → 400 naming its index and field; a good batch → the ingest's counts (an alarm and
its case written by the served role); the same batch again → nothing new; a month without a
partition → 409 naming `cim iot partitions`; latest, series and alarms read back what was sent.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import requests

from layers.iot.sources import add_source, revoke_source
from tests.conftest import start_api
from tests.iot_fixture import add_sensor, counts, iot_database, t


@pytest.fixture(scope="module")
def env(jining_profile, tmp_path_factory):
    with iot_database(jining_profile, "iotapi") as d:
        with psycopg.connect(d.conninfo) as conn:
            d.key = add_source(conn, "vendor-a")
            d.other_key = add_source(conn, "vendor-b")
            d.revoked_key = add_source(conn, "vendor-old")
            revoke_source(conn, "vendor-old")
        d.gas = add_sensor(d, 11, "01", d.gas_pipe, "03", device_id="API-GAS")
        d.bound = add_sensor(d, 12, "01", None, None, reading_source="vendor-b",
                             device_id="API-BOUND")
        proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("iotserve"))
        d.base = base
        yield d
        proc.terminate()
        proc.wait(10)


def post(env, body, key=None):
    headers = {"X-API-Key": key} if key else {}
    return requests.post(env.base + "/iot/readings", json=body, headers=headers, timeout=30)


def items(*rows):
    return {"readings": [{"sensor": s, "time": ts.isoformat(), "value": v} for s, ts, v in rows]}


def test_keys(env):
    body = items(("API-GAS", t(0), 1.0))
    r = post(env, body)
    assert r.status_code == 401 and "X-API-Key" in r.json()["description"]
    assert post(env, body, "not-a-key").status_code == 401
    # the key is judged before the body: a bad key with a bad body is a 401, not a 400
    r = requests.post(env.base + "/iot/readings", data=b"not json",
                      headers={"X-API-Key": "not-a-key"}, timeout=30)
    assert r.status_code == 401
    r = post(env, body, env.revoked_key)
    assert r.status_code == 403 and "revoked" in r.json()["description"]
    # a sensor bound to vendor-b refuses vendor-a's readings, and nothing is written
    r = post(env, items(("API-GAS", t(0), 1.0), ("API-BOUND", t(0), 1.0)), env.key)
    assert r.status_code == 403 and "API-BOUND" in r.json()["description"]
    assert counts(env, env.gas)["readings"] == 0
    assert post(env, items(("API-BOUND", t(0), 1.0)), env.other_key).status_code == 200


def test_bad_items_name_index_and_field(env):
    body = items(("API-GAS", t(0), 1.0), ("API-GAS", t(5), 2.0))
    body["readings"][1]["time"] = "2026-12-01 08:05"  # no offset
    r = post(env, body, env.key)
    assert r.status_code == 400 and "readings[1].time" in r.json()["description"]
    body = items(("API-GAS", t(0), 1.0))
    del body["readings"][0]["value"]
    r = post(env, body, env.key)
    assert r.status_code == 400 and "readings[0].value" in r.json()["description"]
    r = post(env, {"readings": [{"sensor": "API-GAS", "time": t(0).isoformat(),
                                 "value": "high"}]}, env.key)
    assert r.status_code == 400 and "readings[0].value" in r.json()["description"]
    r = post(env, items(("API-GAS", t(0), 1.0), ("API-GAS", dt.datetime(2100, 1, 1,
                                                                       tzinfo=dt.UTC), 1.0)),
             env.key)
    assert r.status_code == 400 and "ahead" in r.json()["description"]
    assert counts(env, env.gas)["readings"] == 0


def test_reading_from_the_future_names_its_item(env):
    """A reading too far ahead of the platform's clock is a 400 naming its item and field,
    as every other bad item is (readings[i].time), not a row of a batch."""
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    r = post(env, items(("API-GAS", t(0), 1.0), ("API-GAS", t(5), 1.0),
                        ("API-GAS", future, 1.0)), env.key)
    assert r.status_code == 400, r.text
    assert r.json()["description"].startswith(
        "field 'readings[2].time': sensor API-GAS: time "), r.text
    assert "more than 300 s ahead" in r.json()["description"]
    assert counts(env, env.gas)["readings"] == 0


def test_batch_alarm_case_idempotent_and_reads(env):
    batch = items(("API-GAS", t(0), 4.0), ("API-GAS", t(5), 27.0), (env.gas, t(10), 28.0),
                  ("NOBODY", t(0), 1.0))
    r = post(env, batch, env.key)
    assert r.status_code == 200, r.text
    c = r.json()
    # 27 ≥ 25: 二级 opened at once (one alarm, one case), 28 repeats it
    assert (c["received"], c["inserted"], c["unknown_sensor"], c["alarms_opened"],
            c["cases_opened"], c["unknown"]) == (4, 3, 1, 1, 1, ["NOBODY"])
    assert counts(env, env.gas) == {"readings": 3, "alarms": 1, "active": 1, "cases": 1}
    assert env.scalar("SELECT source FROM readings WHERE sensor_code = %s LIMIT 1",
                      (env.gas,)) == "vendor-a"
    again = post(env, batch, env.key).json()
    assert (again["inserted"], again["duplicates"], again["alarms_opened"]) == (0, 3, 0)
    assert counts(env, env.gas) == {"readings": 3, "alarms": 1, "active": 1, "cases": 1}

    latest = requests.get(f"{env.base}/iot/sensors/API-GAS/latest", timeout=10).json()
    assert (latest["sensor_code"], latest["value"], latest["readings"],
            latest["alarm_level"]) == (env.gas, 28.0, 3, 2)
    r = requests.get(f"{env.base}/iot/sensors/{env.gas}/readings",
                     params={"start": t(0).isoformat(), "end": t(10).isoformat()}, timeout=10)
    assert [x["value"] for x in r.json()["readings"]] == [4.0, 27.0]  # end is exclusive
    alarms = requests.get(f"{env.base}/iot/alarms", params={"status": "active"},
                          timeout=10).json()["alarms"]
    mine = [a for a in alarms if a["sensor_code"] == env.gas]
    assert len(mine) == 1 and mine[0]["level"] == 2 and mine[0]["case_code"]
    assert requests.get(f"{env.base}/iot/sensors/NOBODY/latest", timeout=10).status_code == 404
    r = requests.get(f"{env.base}/iot/alarms", params={"colour": "red"}, timeout=10)
    assert r.status_code == 400 and "colour" in r.json()["description"]


def test_times_typed_in_the_address_bar(env):
    """Operations staff type a Beijing time into the browser's address bar: the '+' of
    +08:00, unencoded, arrives as a space (form decoding). The readings between 16:00 and
    16:10 +08:00 (08:00–08:10 Z: t(0) and t(5)) are listed, and the case evaluation of a
    Beijing day takes the period as typed; both were 400s naming '… 08:00'."""
    add_sensor(env, 13, "04", None, None, device_id="API-TYPED")
    assert post(env, items(("API-TYPED", t(0), 0.4), ("API-TYPED", t(5), 0.5),
                           ("API-TYPED", t(10), 0.6)), env.key).status_code == 200
    r = requests.get(f"{env.base}/iot/sensors/API-TYPED/readings?"
                     "start=2026-12-01T16:00:00+08:00&end=2026-12-01T16:10+08:00", timeout=10)
    assert r.status_code == 200, r.text
    assert [x["value"] for x in r.json()["readings"]] == [0.4, 0.5]
    r = requests.get(f"{env.base}/cases/evaluation?"
                     "from=2026-12-01T00:00:00+08:00&to=2026-12-02T00:00:00+08:00", timeout=10)
    assert r.status_code == 200, r.text
    assert (dt.datetime.fromisoformat(r.json()["from"]),
            dt.datetime.fromisoformat(r.json()["to"])) == (
        dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 16, tzinfo=dt.UTC))
    # a time without an offset is the city's clock (as the case evaluation's period is)
    r = requests.get(f"{env.base}/iot/sensors/API-TYPED/readings?"
                     "start=2026-12-01T16:00:00&end=2026-12-01T16:10", timeout=10)
    assert r.status_code == 200, r.text
    assert [x["value"] for x in r.json()["readings"]] == [0.4, 0.5]
    # a time that is no time is refused, naming the field
    r = requests.get(f"{env.base}/iot/sensors/API-TYPED/readings?start=2026-12-01 4pm",
                     timeout=10)
    assert r.status_code == 400 and "start" in r.json()["description"]


RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"


def test_times_in_answers_are_rfc3339(env):
    """Every time an operator's browser reads (a reading, an alarm, its case and trail) is
    RFC 3339 text with its 'T' (str() wrote '2026-12-01 08:00:00+00:00', which a browser's
    Date need not parse), and is the instant sent."""
    import re

    add_sensor(env, 14, "01", None, None, device_id="API-TIMES")
    assert post(env, items(("API-TIMES", t(0), 12.0)), env.key).json()["alarms_opened"] == 1
    latest = requests.get(f"{env.base}/iot/sensors/API-TIMES/latest", timeout=10).json()
    series = requests.get(f"{env.base}/iot/sensors/API-TIMES/readings",
                          params={"start": t(0).isoformat(), "end": t(1).isoformat()},
                          timeout=10).json()
    alarm, = requests.get(f"{env.base}/iot/alarms", params={"sensor": "API-TIMES"},
                          timeout=10).json()["alarms"]
    case = requests.get(f"{env.base}/cases/{alarm['case_code']}", timeout=10).json()
    times = [latest["time"], series["start"], series["end"], series["readings"][0]["time"],
             alarm["opened_at"], case["reported_at"], case["registered_at"], case["deadline"],
             *(e["at"] for e in case["events"])]
    for x in times:
        assert re.fullmatch(RFC3339, x), x
    assert {dt.datetime.fromisoformat(x) for x in times[3:7]} == {t(0)}


def test_month_without_partition_is_409(env):
    r = post(env, {"readings": [{"sensor": "API-GAS", "time": "2020-05-01T00:00:00+00:00",
                                 "value": 1.0}]}, env.key)
    assert r.status_code == 409 and "cim iot partitions" in r.json()["description"]


def test_a_broken_registry_row_is_a_server_error_not_bad_input(env):
    """A sensor lying in no district and naming none cannot get an alarm coded: that is the
    platform's fault (500, logged), not the sender's (400), and nothing is written."""
    s = add_sensor(env, 16, "01", None, None, device_id="API-NOWHERE")
    with psycopg.connect(env.conninfo) as conn:
        conn.execute("UPDATE sensors SET district_code = NULL, geom = ST_Translate(geom, 1e7, "
                     "1e7) WHERE code = %s", (s,))
    r = post(env, items(("API-NOWHERE", t(0), 60.0)), env.key)
    assert r.status_code == 500 and "internal error" in r.json()["description"]
    assert counts(env, s) == {"readings": 0, "alarms": 0, "active": 0, "cases": 0}


def test_a_batch_aborted_in_a_deadlock_runs_again(env):
    """Another transaction holds the alarm code counter this batch needs and then waits for
    the sensor's state row the batch holds: PostgreSQL aborts the batch (its deadlock check
    fires first: the other one's deadlock_timeout is 10 s). The app runs it again once the
    other has finished — one alarm, one case, a 200 — instead of a 500."""
    import threading
    import time

    s = add_sensor(env, 22, "01", None, None, device_id="API-DEADLOCK")
    assert post(env, items(("API-DEADLOCK", t(0), 1.0)), env.key).status_code == 200
    prefix = s[:6] + "94" + "01"  # district + alarms layer + sensor type (the alarm's code)
    out: dict[str, requests.Response] = {}
    with psycopg.connect(env.conninfo) as x, psycopg.connect(env.conninfo,
                                                             autocommit=True) as watch:
        x.execute("SET deadlock_timeout = '10s'")
        x.execute("INSERT INTO code_counters (prefix, last_serial) VALUES (%s, 0) ON CONFLICT "
                  "(prefix) DO UPDATE SET last_serial = code_counters.last_serial", (prefix,))
        th = threading.Thread(target=lambda: out.setdefault(
            "r", post(env, items(("API-DEADLOCK", t(5), 60.0)), env.key)))
        th.start()
        for _ in range(200):  # until the batch waits for the counter row
            if watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                             "'Lock' AND datname = current_database()").fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the batch never waited for the counter")
        x.execute("UPDATE sensor_state SET updated_at = now() WHERE sensor_code = %s", (s,))
        x.rollback()
        th.join(60)
    r = out["r"]
    assert r.status_code == 200, r.text
    assert r.json()["alarms_opened"] == 1
    assert counts(env, s) == {"readings": 2, "alarms": 1, "active": 1, "cases": 1}


def test_conflicting_items_are_listed_by_index_and_not_stored(env):
    """5 and 60 %LEL for one sensor and time: neither is stored (60 had opened a 一级 alarm and
    a case, or been dropped, at random by the batch's order) and both are listed by their item
    index; another value than the stored one is listed with it and changes nothing."""
    s = add_sensor(env, 30, "01", None, None, device_id="API-CONFLICT")
    r = post(env, items(("API-CONFLICT", t(0), 5.0), ("API-CONFLICT", t(0), 60.0),
                        ("API-CONFLICT", t(5), 4.0), (s, t(5), 4.0)), env.key)
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["received"], c["inserted"], c["duplicates"], c["conflicting"],
            c["alarms_opened"], c["cases_opened"]) == (4, 1, 1, 2, 0, 0)
    assert c["conflicts"] == [
        {"index": 0, "sensor": "API-CONFLICT", "time": t(0).isoformat(), "value": 5.0,
         "with": [1], "stored": None},
        {"index": 1, "sensor": "API-CONFLICT", "time": t(0).isoformat(), "value": 60.0,
         "with": [0], "stored": None}]
    c = post(env, items(("API-CONFLICT", t(5), 61.0)), env.key).json()
    assert (c["inserted"], c["duplicates"], c["conflicting"]) == (0, 0, 1)
    assert [(x["index"], x["stored"]) for x in c["conflicts"]] == [(0, 4.0)]
    assert env.rows("SELECT ts, value FROM readings WHERE sensor_code = %s", (s,)) == \
        [(t(5), 4.0)]
    assert counts(env, s) == {"readings": 1, "alarms": 0, "active": 0, "cases": 0}


@pytest.mark.parametrize("value", ["1_5", "1.5", 10 ** 400, True])
def test_a_value_is_a_finite_json_number(env, value):
    """A text is never read as a number (1_5 would be 15 through float()); an integer beyond
    a double's range is a 400 naming the item, not a server error."""
    r = post(env, {"readings": [{"sensor": "API-GAS", "time": t(0).isoformat(),
                                 "value": value}]}, env.key)
    assert r.status_code == 400, r.text
    assert "readings[0].value" in r.json()["description"]
