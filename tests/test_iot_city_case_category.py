"""A sensor alarm's case follows the city's own case categories (its profile's
case_categories.csv): a category the city added and named in its sensor thresholds
(case_category) passed the thresholds' check, against the city's file, and then failed when
the alarm opened its case, which looked the category up in the platform's file (an alarm
that could never open its case). By construction: the city's category 1001 (2 h) on gas
四级; 12 %LEL at t(0) opens 四级 with a 1001 case, due t(0) + 2 h."""

from __future__ import annotations

import psycopg
import pytest
import yaml

from cim.profile import DICTIONARY_DIR, load_profile
from layers.iot.ingest import ingest
from layers.iot.thresholds import load_config
from tests.iot_fixture import add_sensor, iot_database, t

CITY_ROW = "1001,事件,10,燃气,燃气低浓度告警,2,城市燃气办,,城市新增类别"


@pytest.fixture(scope="module")
def city(tmp_path_factory, jining_profile):
    d = tmp_path_factory.mktemp("city")
    cats = (DICTIONARY_DIR / "case_categories.csv").read_text(encoding="utf-8")
    (d / "case_categories.csv").write_text(cats.rstrip("\n") + "\n" + CITY_ROW + "\n",
                                           encoding="utf-8")
    lines = (DICTIONARY_DIR / "sensor_thresholds.csv").read_text(encoding="utf-8").splitlines()
    hit = [i for i, r in enumerate(lines) if r.startswith("01,,above,4,")]
    assert len(hit) == 1
    lines[hit[0]] = ",".join(lines[hit[0]].split(",")[:6] + ["1001"]
                             + lines[hit[0]].split(",")[7:])
    (d / "sensor_thresholds.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):  # relative to the sample profile's folder
        raw[key] = str((jining_profile.path.parent / raw[key]).resolve())
    raw["dictionaries"] = {"case_categories": "case_categories.csv",
                           "sensor_thresholds": "sensor_thresholds.csv"}
    (d / "profile.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_profile(d / "profile.yaml")


@pytest.fixture(scope="module")
def d(city):
    with iot_database(city, "iotcitycat") as db:
        yield db


def test_an_alarm_opens_its_case_in_the_citys_own_category(d, city):
    cfg = load_config(city)
    assert cfg.rowset("01", None) is not None
    s = add_sensor(d, 1, "01", d.gas_pipe, "03")
    with psycopg.connect(d.conninfo) as conn:
        assert ingest(conn, [(s, t(0), 12.0)], config=cfg)["cases_opened"] == 1
    case = d.scalar("SELECT case_code FROM alarms WHERE sensor_code = %s", (s,))
    assert d.rows("SELECT category_code, time_limit_h, deadline FROM cases WHERE code = %s "
                  "AND valid_to IS NULL", (case,)) == [("1001", 2, t(120))]
