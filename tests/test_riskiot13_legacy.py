"""Alarms opened before alarms recorded what they raise (no ``detail.raises_risk``, review 13)
meet a point written while they are active: one whose raise the point history records
raises it at that level; one that never raised is named, not guessed (the risk list reads no
iot.yaml); a gap alarm that never raised raises nothing (iot.yaml gap.raise_risk: false).

By construction: 60 %LEL is 一级, whose risk level is 重大 (iot.yaml); the fixture's point on
the gas pipe is 低 蓝."""

from __future__ import annotations

import psycopg

from layers.iot.gaps import detect
from layers.iot.thresholds import load_config
from layers.risk.alarm import raise_unraised
from layers.risk.config import load_matrix, matrix_path
from tests.iot_fixture import RISK_CODE, add_sensor, module_db, send, t

d = module_db("riskiot13legacy")


def test_alarms_without_their_raise_recorded(d, jining_profile):
    pipe = d.scalar("SELECT p.code FROM pipe_segments p WHERE p.valid_to IS NULL AND "
                    "p.pipe_class = '03' AND p.code <> %s ORDER BY p.code LIMIT 1",
                    (d.gas_pipe,))
    never = add_sensor(d, 1501, "01", pipe, "03")      # its pipe has no point: raises none
    raised = add_sensor(d, 1502, "01", d.gas_pipe, "03")  # raises the fixture's point
    silent = add_sensor(d, 1503, "04", d.gas_pipe, None, interval_s=300)
    send(d, [(never, t(0), 60.0), (raised, t(0), 60.0), (silent, t(0), 0.5)])
    with psycopg.connect(d.conninfo) as conn:
        assert len(detect(conn, t(20), load_config(jining_profile))["opened"]) >= 1
    code = dict(d.rows("SELECT sensor_code, code FROM alarms WHERE (sensor_code = ANY(%s) "
                       "AND kind = 'threshold') OR (sensor_code = %s AND kind = 'gap')",
                       ([never, raised], silent)))
    assert len(code) == 3
    assert d.scalar("SELECT risk_code FROM alarms WHERE code = %s", (code[raised],)) == RISK_CODE
    with psycopg.connect(d.conninfo) as conn:
        # as the platform wrote them before: no raises_risk; the point lost the raise (a
        # version written without it) and a point is placed on the other pipe
        conn.execute("UPDATE alarms SET detail = detail - 'raises_risk' WHERE sensor_code = "
                     "ANY(%s)", ([never, raised, silent],))
        conn.execute("UPDATE risk_points SET level = '低', color = '蓝', flags = '{}' "
                     "WHERE code = %s AND valid_to IS NULL", (RISK_CODE,))
        conn.execute(
            "INSERT INTO risk_points (code, source_key, geom, risk_type_code, risk_type, "
            "domain_code, domain, asset_layer, asset_code, responsible_unit, likelihood, "
            "consequence, level, color, source, district_code) SELECT '370811910100009501', "
            "'manual:legacy', ST_PointOnSurface(ST_Force2D(geom)), '0101', '燃气管道泄漏燃爆', "
            "'01', '城市生命线', 'pipe_segments', code, '燃气公司', 1, 1, '低', '蓝', 'manual', "
            "'370811' FROM pipe_segments WHERE code = %s AND valid_to IS NULL", (pipe,))
        got = raise_unraised(conn, load_matrix(matrix_path(jining_profile)))
    assert got == ([(code[raised], RISK_CODE)], [code[never]])
    assert d.rows("SELECT level, color, flags FROM risk_points WHERE code = %s AND "
                  "valid_to IS NULL", (RISK_CODE,)) == [("重大", "红", [f"alarm:{code[raised]}"])]
    assert d.rows("SELECT level FROM risk_points WHERE code = '370811910100009501' AND "
                  "valid_to IS NULL") == [("低",)]
