"""POST /iot/readings quotes a client's long values cut (issue 12c): an unknown sensor id of
900,000 characters (the body limit is 1 MB) came back whole in the answer's ``unknown`` list,
a sensor of another source with a long device id whole in the 403, a long time text whole in
the 400. The real app under gunicorn; the expected texts are written out here, not computed by
the platform's helper."""

from __future__ import annotations

import psycopg
import pytest
import requests

from layers.iot.sources import add_source
from tests.conftest import start_api
from tests.iot_fixture import add_sensor, counts, iot_database, t

HUGE = 900_000


@pytest.fixture(scope="module")
def env(jining_profile, tmp_path_factory):
    with iot_database(jining_profile, "iot12shown") as d:
        with psycopg.connect(d.conninfo) as conn:
            d.key = add_source(conn, "vendor-a")
            add_source(conn, "vendor-b")
        d.gas = add_sensor(d, 11, "01", d.gas_pipe, "03", device_id="S12-GAS")
        d.long_id = "B" * 5000
        add_sensor(d, 12, "01", None, None, reading_source="vendor-b", device_id=d.long_id)
        add_sensor(d, 13, "01", None, None, reading_source="vendor-b", device_id="S12-BOUND")
        proc, base = start_api(d.url, d.profile, tmp_path_factory.mktemp("iot12serve"))
        d.base = base
        yield d
        proc.terminate()
        proc.wait(10)


def post(env, body):
    return requests.post(env.base + "/iot/readings", json=body,
                         headers={"X-API-Key": env.key}, timeout=60)


def test_a_huge_unknown_sensor_is_listed_cut(env):
    ref = "x" * HUGE
    r = post(env, {"readings": [{"sensor": ref, "time": t(0).isoformat(), "value": 1.0},
                                {"sensor": "NOBODY", "time": t(0).isoformat(), "value": 1.0}]})
    assert r.status_code == 200, r.text[:500]
    assert len(r.content) < 5000
    c = r.json()
    assert c["unknown_sensor"] == 2
    # a short reference is listed as sent; the huge one as its first 80 characters and length
    assert c["unknown"] == ["NOBODY", "'" + "x" * 80 + "'…(900000 characters)"]


def test_the_403_names_another_sources_sensors_cut(env):
    r = post(env, {"readings": [
        {"sensor": "S12-GAS", "time": t(0).isoformat(), "value": 1.0},
        {"sensor": env.long_id, "time": t(0).isoformat(), "value": 1.0},
        {"sensor": "S12-BOUND", "time": t(0).isoformat(), "value": 1.0}]})
    assert r.status_code == 403, r.text[:500]
    text = r.json()["description"]
    assert len(text) < 1000, text[:300]
    assert "'" + "B" * 80 + "'…(5000 characters)" in text and "S12-BOUND" in text
    assert counts(env, env.gas)["readings"] == 0


@pytest.mark.parametrize("field,value", [("time", "2026-12-01T08:00:00" + "9" * HUGE),
                                         ("time", "2026-12-01T08:00:00." + "1" * HUGE + "Z"),
                                         ("sensor", ["S12-GAS"] * 50_000)])
def test_a_huge_bad_value_is_quoted_cut(env, field, value):
    item = {"sensor": "S12-GAS", "time": t(0).isoformat(), "value": 1.0, field: value}
    r = post(env, {"readings": [item]})
    assert r.status_code == 400, r.text[:500]
    text = r.json()["description"]
    assert f"readings[0].{field}" in text and len(text) < 1000, text[:300]
    assert "characters)" in text


def test_a_huge_unknown_field_is_named_cut(env):
    r = post(env, {"readings": [], "k" * HUGE: 1})
    assert r.status_code == 400, r.text[:500]
    assert len(r.content) < 1000
    assert "'" + "k" * 80 + "'…(900000 characters)" in r.json()["description"]


@pytest.mark.parametrize("line", ["S12-GAS,2026-12-01 08:00:00" + "9" * 100_000 + ",0.5",
                                  "S12-GAS,2026-12-01T08:00:00+08:00,0.5," + "7" * 100_000])
def test_a_huge_cell_of_an_imported_file_is_quoted_cut(env, tmp_path, line):
    """`cim iot import`: a time cell or a cell beyond the header is quoted cut too (100,000
    characters: a CSV cell is read up to 131,072)."""
    from tests.conftest import run_cli

    f = tmp_path / "readings.csv"
    f.write_text("设备编号,监测时间,监测值\n" + line + "\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f), "--tz", "+08:00"], env.env())
    assert p.returncode != 0
    assert len(p.stderr) < 2000 and "characters)" in p.stderr, p.stderr[:300]
