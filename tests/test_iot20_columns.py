"""A SCADA export's columns (cim iot import): of two headers that read as the value only
without their brackets (监测值(最小), 监测值(最大)) neither is guessed — the leftmost was taken
and a maximum past the threshold never opened its alarm; of an upload time and a sampling
time (上报时间, 采集时间) the sampling time is read whatever their order, and the command says
which columns it read; a workbook is told to be saved as CSV (it was told to pass --encoding)."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from cim.errors import InputError
from layers.iot.csv_readings import read_csv_rows

TZ = dt.timezone(dt.timedelta(hours=8))


def test_two_value_columns_are_refused_naming_both(tmp_path):
    f = tmp_path / "minmax.csv"
    f.write_text("设备编号,监测时间,监测值(最小),监测值(最大)\n"
                 "WL-003,2026-12-06 10:00:00,0.01,0.30\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_csv_rows(f, TZ)
    e = exc.value
    assert (e.path, e.row) == (str(f), 1)
    assert "'监测值(最小)'" in e.message and "'监测值(最大)'" in e.message


def test_a_header_as_written_wins_over_one_read_without_brackets(tmp_path):
    f = tmp_path / "plain.csv"
    f.write_text("设备编号,监测时间,监测值(最小),监测值\n"
                 "WL-003,2026-12-06 10:00:00,0.01,0.30\n", encoding="utf-8")
    got = read_csv_rows(f, TZ)
    assert got.fields["value"] == "监测值" and [v for *_, v in got.readings] == [0.30]


@pytest.mark.parametrize("header,row", [
    ("设备编号,上报时间,采集时间,监测值", "WL-003,2026-12-06 09:30:00,2026-12-06 08:10:00,0.05"),
    ("设备编号,采集时间,上报时间,监测值", "WL-003,2026-12-06 08:10:00,2026-12-06 09:30:00,0.05"),
])
def test_the_sampling_time_is_read_whatever_the_order(tmp_path, header, row):
    f = tmp_path / "times.csv"
    f.write_text(f"{header}\n{row}\n", encoding="utf-8")
    got = read_csv_rows(f, TZ)
    assert got.fields["time"] == "采集时间"
    assert [t for _, t, _ in got.readings] == [dt.datetime(2026, 12, 6, 8, 10, tzinfo=TZ)]


def test_a_workbook_is_told_to_be_saved_as_csv(tmp_path):
    f = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["设备编号", "监测时间", "监测值"])
    wb.active.append(["WL-003", "2026-12-06 10:00:00", 0.3])
    wb.save(f)
    with pytest.raises(InputError) as exc:
        read_csv_rows(f, TZ)
    assert exc.value.path == str(f)
    assert "Excel workbook" in exc.value.message and "--encoding" not in exc.value.message


def test_a_bare_value_beside_one_naming_its_unit_is_refused(tmp_path):
    """监测值 beside 监测值(kPa): the bare one was taken and the kPa column's unit never
    checked against the sensor's; which column holds the readings is not guessed."""
    f = tmp_path / "two_values.csv"
    f.write_text("设备编号,监测时间,监测值,监测值(kPa)\n"
                 "WL-003,2026-12-06 10:00:00,0.30,300\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_csv_rows(f, TZ)
    assert "'监测值'" in e.value.message and "'监测值(kPa)'" in e.value.message
    assert e.value.row == 1
