"""A backlog relayed after an outage (session 16, a probe's finding): readings days old but
newer than their sensor's last stored one opened cases registered at the readings' time —
overdue the moment they appeared, charged to the units in 按期处置率 for days the platform
did not have them — while the same readings sent after a newer live one (``late``) were
registered at receipt. With ``readings.backlog_s`` set (iot.yaml; off by default: the demo
replays a past day), a reading received more than that after its time opens its case at
receipt, saying so; one received within it opens at its time as before. Expected times by
construction (the readings' times written here, receipt bracketed by the database's clock);
the gas 四级 band (on 10) and its category's limit read from the dictionaries with csv."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt

from cim.profile import DICTIONARY_DIR
from layers.iot.thresholds import load_config
from tests.iot_fixture import add_sensor, module_db, send, t

d = module_db("iotbacklog16")


def _limit_h(category: str) -> float:
    with open(DICTIONARY_DIR / "case_categories.csv", encoding="utf-8-sig") as f:
        return next(float(r["time_limit_h"]) for r in csv.DictReader(f)
                    if r["code"] == category)


def _case(d, sensor: str) -> tuple:
    return d.rows("SELECT c.reported_at, c.registered_at, c.deadline, c.category_code, "
                  "c.detail, c.description, a.detail FROM alarms a JOIN cases c ON "
                  "c.code = a.case_code AND c.valid_to IS NULL WHERE a.sensor_code = %s",
                  (sensor,))[0]


def test_a_backlog_opens_its_case_at_receipt(d, jining_profile):
    cfg = dataclasses.replace(load_config(jining_profile), backlog_s=900.0)
    s = add_sensor(d, 1, "01", d.gas_pipe, "03")
    before = d.scalar("SELECT now()")
    out = send(d, [(s, t(0), 12.0)], config=cfg)  # days before the platform's clock
    after = d.scalar("SELECT now()")
    assert (out["alarms_opened"], out["cases_opened"], out["late"]) == (1, 1, 0)
    reported, registered, deadline, category, cdetail, desc, adetail = _case(d, s)
    assert reported == t(0) and before <= registered <= after
    assert deadline == registered + dt.timedelta(hours=_limit_h(category))
    assert deadline > after  # not overdue the moment it opened
    for detail in (cdetail, adetail):
        late = detail["reported_late"]
        assert dt.datetime.fromisoformat(late["reading_at"]) == t(0)
        assert before <= dt.datetime.fromisoformat(late["received_at"]) <= after
    assert "迟报" in desc and "2026-12-01 16:00:00" in desc  # 08:00Z on the city's clock


def test_without_the_setting_or_within_it_the_case_opens_at_the_readings_time(
        d, jining_profile):
    assert load_config(jining_profile).backlog_s is None  # the platform's default: off
    s = add_sensor(d, 2, "01", d.gas_pipe, "03")
    send(d, [(s, t(0), 12.0)])
    reported, registered, _deadline, _c, cdetail, desc, _a = _case(d, s)
    assert reported == registered == t(0) and "reported_late" not in cdetail
    assert "迟报" not in desc
    # set, and the reading a minute old: within it
    cfg = dataclasses.replace(load_config(jining_profile), backlog_s=900.0)
    s = add_sensor(d, 3, "01", d.gas_pipe, "03")
    now = d.scalar("SELECT now()")
    at = (now - dt.timedelta(minutes=1)).replace(microsecond=0)
    send(d, [(s, at, 12.0)], config=cfg)
    reported, registered, _deadline, _c, cdetail, _desc, _a = _case(d, s)
    assert reported == registered == at and "reported_late" not in cdetail
