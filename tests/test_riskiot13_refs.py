"""A sensor named with blanks around it — a device id pasted from a spreadsheet cell, 'GAS-001 '
— was "no sensor has code or device id" in `cim iot latest/series/alarms` and the HTTP
routes, while the risk commands take codes pasted so (review 13). A registry's device ids are
stored without blanks (`cim load sensors`), so the reference is stripped; a blank one is
refused, not read as every sensor."""

from __future__ import annotations

import psycopg
import pytest

from cim.errors import InputError
from layers.iot.alarms import list_alarms
from layers.iot.series import latest, series
from tests.iot_fixture import add_sensor, module_db, send, t

d = module_db("riskiot13refs")


def test_a_pasted_sensor_reference(d):
    s = add_sensor(d, 1601, "01", d.gas_pipe, "03", device_id="GAS-PASTE")
    send(d, [(s, t(0), 60.0), (s, t(5), 0.5)])  # one alarm, opened and cleared
    with psycopg.connect(d.conninfo) as conn:
        for ref in ("GAS-PASTE ", "\tGAS-PASTE", f" {s} "):
            assert [r["sensor_code"] for r in latest(conn, ref)] == [s]
            assert [r["value"] for r in series(conn, ref, t(0), t(10))["readings"]] == \
                [60.0, 0.5]
            assert [(a["sensor_code"], a["status"]) for a in list_alarms(conn, sensor=ref)] \
                == [(s, "cleared")]
        for blank in ("", "  "):
            with pytest.raises(InputError) as err:
                list_alarms(conn, sensor=blank)
            assert err.value.field == "sensor" and "blank" in str(err.value)
