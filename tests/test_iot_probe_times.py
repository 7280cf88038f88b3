"""Times of `cim iot import` as a city writes them (review 9): `--tz` takes the city's IANA
zone (Asia/Shanghai) as well as an offset, a wall-clock time a summer-time zone has twice or
never is refused, a fraction of a second below the microsecond is refused (it was cut without
a word), and late readings are said in the printed answer.

Expected instants are written by hand: 08:00 in Asia/Shanghai is 00:00Z (UTC+8, no summer
time); 08:00 in Europe/Berlin is 07:00Z in December (CET, +01:00) and 06:00Z in July (CEST,
+02:00); on 2026-10-25 Berlin's clocks go back from 03:00 CEST to 02:00 CET (02:30 happens
twice), on 2026-03-29 forward from 02:00 to 03:00 (02:30 never happens).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import run_cli
from tests.iot_fixture import add_sensor, counts, module_db

UTC = dt.UTC


d = module_db("iottimes")


def stored(d, sensor):
    return d.rows("SELECT ts, value FROM readings WHERE sensor_code = %s ORDER BY ts", (sensor,))


def write(tmp_path, name, rows):
    f = tmp_path / name
    f.write_text("设备编号,监测时间,监测值\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return f


def test_tz_takes_the_citys_iana_zone(d, tmp_path):
    """`--tz Asia/Shanghai` was refused ('not an offset such as +08:00'): a city writes the
    zone of its profile. Its times without an offset are read on that clock, those with an
    offset as written."""
    s = add_sensor(d, 101, "04", None, None, device_id="TZ-SH")
    f = write(tmp_path, "sh.csv", ["TZ-SH,2026-12-01 08:00:00,0.25",
                                   "TZ-SH,2026-12-01T08:05:00+08:00,0.5",
                                   "TZ-SH,2026-12-01T00:10:00Z,0.75"])
    run_cli(["iot", "import", str(f), "--tz", "Asia/Shanghai"], d.env(), check=True)
    assert stored(d, s) == [(dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC), 0.25),
                            (dt.datetime(2026, 12, 1, 0, 5, tzinfo=UTC), 0.5),
                            (dt.datetime(2026, 12, 1, 0, 10, tzinfo=UTC), 0.75)]


def test_tz_zone_with_summer_time_takes_each_dates_offset(d, tmp_path):
    """A zone is not one offset: Berlin's 08:00 is +01:00 in December, +02:00 in July (a fixed
    --tz +01:00 would put July's readings an hour late)."""
    s = add_sensor(d, 102, "04", None, None, device_id="TZ-BER")  # (import makes July's month)
    f = write(tmp_path, "ber.csv", ["TZ-BER,2026-07-01 08:00,0.5",
                                    "TZ-BER,2026-12-01 08:00,0.25"])
    run_cli(["iot", "import", str(f), "--tz", "Europe/Berlin"], d.env(), check=True)
    assert stored(d, s) == [(dt.datetime(2026, 7, 1, 6, 0, tzinfo=UTC), 0.5),
                            (dt.datetime(2026, 12, 1, 7, 0, tzinfo=UTC), 0.25)]


@pytest.mark.parametrize("cell, words", [
    ("2026-10-25 02:30", "happened twice in Europe/Berlin"),
    ("2026-03-29 02:30", "never happened in Europe/Berlin")])
def test_a_wall_clock_time_the_zone_had_twice_or_never_is_refused(d, tmp_path, cell, words):
    """Read with one of its two offsets (or a skipped time moved by an hour), a reading would
    be an hour off, or two readings of the hour the clocks go back one key: refused naming
    file, row and field, nothing stored."""
    dev = f"TZ-DST-{cell[5:7]}"
    s = add_sensor(d, 103 if "10-25" in cell else 104, "04", None, None, device_id=dev)
    f = write(tmp_path, "dst.csv", [f"{dev},2026-12-01T08:00:00+08:00,0.25",
                                    f"{dev},{cell},0.5"])
    p = run_cli(["iot", "import", str(f), "--tz", "Europe/Berlin"], d.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert f"{f}, row 3, field '监测时间': time {cell}:00 {words}" in p.stderr, p.stderr
    assert "write it with its UTC offset" in p.stderr
    assert stored(d, s) == []


@pytest.mark.parametrize("serial, tz, words", [
    (110, "Asia/Beijing", "neither a UTC offset such as +08:00 nor an IANA time zone"),
    (111, "asia/shanghai", "did you mean Asia/Shanghai?"),
    (112, "Asia", "neither a UTC offset"),  # a directory of the zone database: an OSError
    (113, "+8", "is no UTC offset")])
def test_an_unknown_zone_is_a_bad_option_and_nothing_is_stored(d, tmp_path, serial, tz, words):
    """Refused as the bad option it is (exit 2, `--tz` named), before anything is read."""
    s = add_sensor(d, serial, "04", None, None, device_id=f"TZ-BAD-{serial}")
    f = write(tmp_path, "bad.csv", [f"TZ-BAD-{serial},2026-12-01 08:00,0.25"])
    p = run_cli(["iot", "import", str(f), "--tz", tz], d.env())
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.startswith(f"error: field '--tz': {tz!r} "), p.stderr
    assert words in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert stored(d, s) == []


def test_nanoseconds_are_refused_naming_row_and_field_not_cut(d, tmp_path):
    """…08:00:00.123456789 was stored as …08:00:00.123456 without a word (Python's
    fromisoformat cuts the digits): two readings a nanosecond apart became one key. Non-zero
    digits below the microsecond stop the file naming its row and field, nothing stored;
    zeros there (a whole microsecond written to 9 digits) are the time written."""
    s = add_sensor(d, 106, "04", None, None, device_id="NS-CSV")
    f = write(tmp_path, "ns.csv", ["NS-CSV,2026-12-01T08:00:00.123456+08:00,0.25",
                                   "NS-CSV,2026-12-01T08:00:00.123456789+08:00,0.5"])
    p = run_cli(["iot", "import", str(f)], d.env())
    assert p.returncode == 3, p.stdout + p.stderr
    assert (f"{f}, row 3, field '监测时间': time '2026-12-01T08:00:00.123456789+08:00' has a "
            "fraction of a second to 9 digits") in p.stderr, p.stderr
    assert stored(d, s) == []
    f = write(tmp_path, "ns0.csv", ["NS-CSV,2026-12-01T08:00:00.123456000+08:00,0.25",
                                    "NS-CSV,2026-12-01 08:05:00.5000000,0.5"])
    run_cli(["iot", "import", str(f), "--tz", "+08:00"], d.env(), check=True)
    assert stored(d, s) == [(dt.datetime(2026, 12, 1, 0, 0, 0, 123456, tzinfo=UTC), 0.25),
                            (dt.datetime(2026, 12, 1, 0, 5, 0, 500000, tzinfo=UTC), 0.5)]
    # a range bound too: cut, --start would take in the reading at .123456
    p = run_cli(["iot", "series", s, "--start", "2026-12-01T08:00:00.1234561+08:00",
                 "--end", "2026-12-01T09:00+08:00"], d.env())
    assert p.returncode == 3 and "field '--start'" in p.stderr, p.stderr


def test_ingest_refuses_a_table_with_nanoseconds(d):
    """A pandas table of nanosecond times (an InfluxDB export): to_pydatetime() cut them
    with only a warning; refused naming the reading's index and field, nothing stored."""
    import pandas as pd
    import psycopg

    from layers.iot.ingest import BadReading, ingest

    s = add_sensor(d, 107, "04", None, None, device_id="NS-TABLE")
    frame = pd.DataFrame({"sensor": ["NS-TABLE", "NS-TABLE"],
                          "time": pd.to_datetime(["2026-12-01T00:00:00.000001Z",
                                                  "2026-12-01T00:00:00.000001001Z"]),
                          "value": [0.25, 0.5]})
    with psycopg.connect(d.conninfo) as conn, pytest.raises(BadReading) as exc:
        ingest(conn, frame)
    assert (exc.value.row, exc.value.field) == (1, "time")
    assert "nanoseconds" in exc.value.message
    assert stored(d, s) == []


def test_late_readings_are_said_in_the_printed_answer(d, tmp_path):
    """A reading older than its sensor's latest: the printed answer says so (only --json had
    `late`) and how many alarms late readings opened for the past — the late 80 %LEL opens one
    (一级), cleared by the stored 1.0 after it (tests/test_iot_late_probe10.py)."""
    s = add_sensor(d, 108, "01", None, None, device_id="LATE-GAS")
    f = write(tmp_path, "now.csv", ["LATE-GAS,2026-12-01T08:10:00+08:00,1.0"])
    run_cli(["iot", "import", str(f)], d.env(), check=True)
    f = write(tmp_path, "late.csv", ["LATE-GAS,2026-12-01T08:05:00+08:00,80",
                                     "LATE-GAS,2026-12-01T08:00:00+08:00,1.0"])
    p = run_cli(["iot", "import", str(f)], d.env(), check=True)
    assert "2 late readings (older than their sensor's latest reading): evaluated at their " \
        "own time, 1 alarms opened for the past" in p.stdout, p.stdout
    assert counts(d, s) == {"readings": 3, "alarms": 1, "active": 0, "cases": 1}
    p = run_cli(["iot", "import", str(f), "--json"], d.env(), check=True)
    assert (json.loads(p.stdout)["late"], json.loads(p.stdout)["duplicates"]) == (0, 2)
