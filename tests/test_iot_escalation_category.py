"""An alarm escalating to a level whose band names another case category (a city's
sensor_thresholds.csv: gas 一级 and 二级 → 0801 燃气泄漏, 1 h, where 四级 and 三级 are 0102
燃气设施异常, 4 h) gives its case that category (layers.cases.workflow.follow_category): the
case had kept the opening category and its 4-hour limit while the gas leak was due in one.

By construction: 12 %LEL at t(0) opens 四级 (on 10) with a 0102 case registered at t(0)
(deadline t(0) + 4 h); 55 at t(5) reaches 一级 (on 50): the case becomes 0801, its deadline
t(5) + 1 h (sooner than t(0) + 4 h), one recategorize event. 30 at t(10) falls back to 二级
and 55 at t(15) is the level reached before: no second recategorization.
"""

from __future__ import annotations

import psycopg

from layers.iot.ingest import ingest
from layers.iot.thresholds import load_config
from tests.iot_fixture import add_sensor, leak_thresholds, module_db, t

d = module_db("iotescalcat")


def test_the_case_takes_the_category_of_the_level_reached(d, tmp_path):
    cfg = load_config(thresholds=leak_thresholds(tmp_path))
    s = add_sensor(d, 1, "01", d.gas_pipe, "03")
    with psycopg.connect(d.conninfo) as conn:
        assert ingest(conn, [(s, t(0), 12.0)], config=cfg)["cases_opened"] == 1
    case = d.scalar("SELECT case_code FROM alarms WHERE sensor_code = %s", (s,))
    assert d.rows("SELECT category_code, deadline FROM cases WHERE code = %s AND valid_to IS "
                  "NULL", (case,)) == [("0102", t(240))]
    with psycopg.connect(d.conninfo) as conn:
        out = ingest(conn, [(s, t(5), 55.0), (s, t(10), 30.0), (s, t(15), 55.0)], config=cfg)
    assert out["alarms_escalated"] == 1
    assert d.rows("SELECT category_code, time_limit_h, deadline FROM cases WHERE code = %s "
                  "AND valid_to IS NULL", (case,)) == [("0801", 1, t(65))]
    assert d.scalar("SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id "
                    "WHERE c.code = %s AND e.action = 'recategorize'", (case,)) == 1
