"""An alarm open at a level that a city's iot.yaml then drops (issue 12c): the file is refused
when read — a ConfigError naming iot.yaml and the missing level — before a clearing would
look the alarm's level up and fail with a KeyError; the alarm is left as it was. Keys of
another type ('3' for 3) are named too (they were a TypeError from sorting).

A point written while the alarm is active takes the raise the alarm recorded when it opened
(detail.raises_risk, review 13): `cim risk assess` and `cim risk add` read no iot.yaml, so
the file the city edited meanwhile does not stop them."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
import yaml

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR
from layers.iot.thresholds import load_config
from layers.risk.alarm import raise_unraised
from layers.risk.config import load_matrix, matrix_path
from tests.iot_fixture import add_sensor, module_db, send, t

d = module_db("iot12levels")


def _profile_without_level(profile, folder, level, extra=None):
    raw = yaml.safe_load((DICTIONARY_DIR / "iot.yaml").read_text(encoding="utf-8"))
    del raw["levels"][level]
    if extra is not None:
        raw["levels"][extra[0]] = extra[1]
    f = folder / "iot.yaml"
    f.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return dataclasses.replace(profile, dictionaries={**profile.dictionaries, "iot": f}), f


def test_a_dropped_level_with_an_alarm_at_it_is_a_config_error(d, jining_profile, tmp_path):
    pipe = d.scalar("SELECT p.code FROM pipe_segments p WHERE p.valid_to IS NULL AND "
                    "p.pipe_class = '03' AND NOT EXISTS (SELECT 1 FROM risk_points r WHERE "
                    "r.valid_to IS NULL AND r.asset_code = p.code) ORDER BY p.code LIMIT 1")
    s = add_sensor(d, 31, "01", pipe, "03")
    # 22 %LEL: 三级 (sensor_thresholds.csv 01: level 3 on at 20, level 2 at 25)
    assert send(d, [(s, t(0), 22.0)])["alarms_opened"] == 1
    assert d.rows("SELECT level, status FROM alarms WHERE sensor_code = %s", (s,)) == \
        [(3, "active")]
    # what it raises, as iot.yaml said when it opened: 三级 → 一般, the gas type's 0101
    assert d.scalar("SELECT detail->'raises_risk' FROM alarms WHERE sensor_code = %s",
                    (s,)) == {"level": "一般", "type": "0101"}
    profile, path = _profile_without_level(jining_profile, tmp_path, 3)
    with pytest.raises(ConfigError) as err:
        load_config(profile)
    text = str(err.value)
    assert str(path) in text and "'levels'" in text and "3 missing" in text
    assert d.rows("SELECT level, status FROM alarms WHERE sensor_code = %s", (s,)) == \
        [(3, "active")]
    # a point placed on the pipe meanwhile takes the recorded raise, iot.yaml unread
    point = "370811910100009313"
    with psycopg.connect(d.conninfo) as conn:
        conn.execute(
            "INSERT INTO risk_points (code, source_key, geom, risk_type_code, risk_type, "
            "domain_code, domain, asset_layer, asset_code, responsible_unit, likelihood, "
            "consequence, level, color, source, district_code) SELECT %s, 'manual:t12lv', "
            "ST_PointOnSurface(ST_Force2D(geom)), '0101', '燃气管道泄漏燃爆', '01', '城市生命线', "
            "'pipe_segments', code, '燃气公司', 1, 1, '低', '蓝', 'manual', '370811' "
            "FROM pipe_segments WHERE code = %s AND valid_to IS NULL", (point, pipe))
        raised, unknown = raise_unraised(conn, load_matrix(matrix_path(jining_profile)))
    alarm = d.scalar("SELECT code FROM alarms WHERE sensor_code = %s", (s,))
    assert (raised, unknown) == ([(alarm, point)], [])
    assert d.rows("SELECT level, color FROM risk_points WHERE code = %s AND valid_to IS NULL",
                  (point,)) == [("一般", "黄")]


def test_a_level_keyed_as_text_is_named(jining_profile, tmp_path):
    profile, path = _profile_without_level(
        jining_profile, tmp_path, 3, ("3", {"name": "三级", "color": "黄", "risk_level": "一般"}))
    with pytest.raises(ConfigError) as err:
        load_config(profile)
    assert str(path) in str(err.value) and "3 missing" in str(err.value) \
        and "not a level: '3'" in str(err.value)
