"""A batch with a reading in a month without a partition is refused whole (HTTP 409). The
refusal names the first such reading by its index (among up to 50,000 the sender must find
it), and for a month before those `cim iot partitions` creates — a device whose clock was
reset to 1970 — says so instead of only sending the owner to run `cim iot partitions`, which
never creates that month.

By construction: the fixture has partitions for Nov 2026 – Jan 2027 only; the platform keeps
iot.yaml partitions.behind = 1 month before the current one.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from layers.iot.ingest import NoPartition, ingest
from layers.iot.partitions import month_of
from tests.iot_fixture import add_sensor, counts, module_db, t

d = module_db("iotoldmonths")


def test_a_reading_of_1970_is_named_with_its_index_and_the_clock(d):
    s = add_sensor(d, 1, "04", None, None, device_id="OLD-CLOCK")
    batch = [("OLD-CLOCK", t(0), 0.5), ("OLD-CLOCK", t(5), 0.5),
             ("OLD-CLOCK", dt.datetime(1970, 1, 1, 0, 0, 5, tzinfo=dt.UTC), 0.5),
             ("OLD-CLOCK", dt.datetime(1970, 1, 1, 0, 0, 6, tzinfo=dt.UTC), 0.5)]
    with psycopg.connect(d.conninfo) as conn, pytest.raises(NoPartition) as exc:
        ingest(conn, batch)
    text = str(exc.value)
    assert "1970-01" in text and "reading 2 " in text and "OLD-CLOCK" in text
    assert "1970-01-01T00:00:05+00:00" in text and "clock" in text
    assert "cim iot import" in text
    assert counts(d, s)["readings"] == 0


def test_a_month_in_the_window_still_sends_the_owner_to_cim_iot_partitions(d):
    with psycopg.connect(d.conninfo) as conn:
        this = month_of(conn.execute("SELECT now()").fetchone()[0])
        name = f"readings_y{this.year:04d}m{this.month:02d}"
        conn.execute(f"DROP TABLE IF EXISTS {name}")  # this database's own: the last test
    when = dt.datetime(this.year, this.month, 1, 0, 0, 1, tzinfo=dt.UTC)
    with psycopg.connect(d.conninfo) as conn, pytest.raises(NoPartition) as exc:
        ingest(conn, [("OLD-CLOCK", when, 0.5)])
    text = str(exc.value)
    assert "cim iot partitions" in text and "reading 0 " in text and "clock" not in text
    assert this.strftime("%Y-%m") in text


def test_a_reading_before_its_sensor_was_installed_is_refused(d):
    """A sensor installed on 1 Dec 2026 (安装日期, a day on the city's clock: from
    2026-11-30T16:00Z in Jining) cannot have read at 15:59Z: the batch is refused naming the
    reading and the date — a reset clock's 1970 alike — and nothing is stored; a reading from
    the city's midnight on goes in."""
    from layers.iot.ingest import BadReading

    s = add_sensor(d, 2, "04", None, None, device_id="NEW-DEV")
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE sensors SET install_date = '2026-12-01' WHERE code = %s", (s,))
    midnight = dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)
    for early in (midnight - dt.timedelta(minutes=1),
                  dt.datetime(1970, 1, 1, 0, 0, 5, tzinfo=dt.UTC)):
        with psycopg.connect(d.conninfo) as conn, pytest.raises(BadReading) as exc:
            ingest(conn, [("NEW-DEV", midnight + dt.timedelta(minutes=5), 0.5),
                          ("NEW-DEV", early, 0.5)])
        assert exc.value.row == 1 and exc.value.field == "time"
        assert "2026-12-01" in exc.value.message and "installed" in exc.value.message
    assert counts(d, s)["readings"] == 0
    with psycopg.connect(d.conninfo) as conn:
        got = ingest(conn, [("NEW-DEV", midnight, 0.5)])
    assert got["inserted"] == 1


def test_an_import_refused_for_a_reading_before_installation_makes_no_partition(d, tmp_path):
    """`cim iot import` made the months of its file before the ingest refused the 1970
    reading: an empty readings_y1970m01 was left behind. Refused first, nothing is made."""
    from tests.conftest import run_cli

    s = add_sensor(d, 3, "04", None, None, device_id="NEW-IMP")
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE sensors SET install_date = '2026-12-01' WHERE code = %s", (s,))
    f = tmp_path / "r.csv"
    f.write_text("设备编号,监测时间,监测值\nNEW-IMP,2026-12-01T00:10:00+08:00,0.5\n"
                 "NEW-IMP,1970-01-01T00:00:05+00:00,0.5\n", encoding="utf-8")
    p = run_cli(["iot", "import", str(f)], d.env())
    assert p.returncode == 3 and "row 3" in p.stderr and "installed" in p.stderr, p.stderr
    with psycopg.connect(d.conninfo) as conn:
        assert conn.execute("SELECT to_regclass('readings_y1970m01')").fetchone()[0] is None
    assert counts(d, s)["readings"] == 0
