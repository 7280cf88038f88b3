"""An alarm open at a level that a city's iot.yaml then drops (issue 12c): the file is refused
when read — a ConfigError naming iot.yaml and the missing level — before `cim risk assess`'s
raise of unraised alarms (or a clearing) would look the alarm's level up and fail with a
KeyError; the alarm is left as it was. Keys of another type ('3' for 3) are named too (they
were a TypeError from sorting)."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
import yaml

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR
from layers.iot.alarms import raise_unraised
from layers.iot.thresholds import load_config
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
    profile, path = _profile_without_level(jining_profile, tmp_path, 3)
    with psycopg.connect(d.conninfo) as conn, pytest.raises(ConfigError) as err:
        raise_unraised(conn, profile=profile)
    text = str(err.value)
    assert str(path) in text and "'levels'" in text and "3 missing" in text
    assert d.rows("SELECT level, status FROM alarms WHERE sensor_code = %s", (s,)) == \
        [(3, "active")]


def test_a_level_keyed_as_text_is_named(jining_profile, tmp_path):
    profile, path = _profile_without_level(
        jining_profile, tmp_path, 3, ("3", {"name": "三级", "color": "黄", "risk_level": "一般"}))
    with pytest.raises(ConfigError) as err:
        load_config(profile)
    assert str(path) in str(err.value) and "3 missing" in str(err.value) \
        and "not a level: '3'" in str(err.value)
