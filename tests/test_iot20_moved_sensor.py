"""A sensor the registry moves (a reload gives it another asset, or another place) while its
alarm is active: the alarm of its former place ends, with the reason — it stayed active on the
old pipe, took the new place's readings as its own (peak and last values) and would have
raised the old pipe's risk point. A reading beyond a threshold at the new place opens an alarm
there; without a reading, the next gap run ends the old one. Thresholds: well level (04)
四级 on 1.5 off 1.3 (sensor_thresholds.csv); readings and moves by construction."""

from __future__ import annotations

import psycopg

from layers.iot.gaps import detect
from tests.iot_fixture import add_sensor, counts, module_db, send, t

d = module_db("iotmoved")


def _move(d, code: str, asset: str | None, dx: float) -> None:
    """The registry's reload: the current version ends, one at another asset and place
    follows (as ``cim load sensors`` writes a changed row)."""
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("UPDATE sensors SET valid_to = now() WHERE code = %s AND valid_to IS NULL",
                     (code,))
        conn.execute(
            "INSERT INTO sensors (code, source_key, geom, device_id, name, type_code, "
            "type_name, unit, asset_layer, asset_code, asset_class, status, interval_s, "
            "reading_source, district_code, grid_code) SELECT code, source_key, "
            "ST_Translate(geom, %s, 0), device_id, name, type_code, type_name, unit, "
            "CASE WHEN %s::text IS NULL THEN NULL ELSE 'pipe_segments' END, %s, asset_class, "
            "status, interval_s, reading_source, district_code, grid_code FROM sensors "
            "WHERE code = %s ORDER BY id DESC LIMIT 1", (dx, asset, asset, code))


def test_a_reading_after_the_move_ends_the_old_alarm_and_opens_one_at_the_new_place(d):
    s = add_sensor(d, 61, "04", None, None, interval_s=None)
    assert send(d, [(s, t(0), 1.6)])["alarms_opened"] == 1
    _move(d, s, d.water_pipe, 0.0)
    out = send(d, [(s, t(5), 1.8)])
    assert (out["alarms_cleared"], out["alarms_opened"]) == (1, 1)
    rows = d.rows("SELECT status, asset_code, peak_value, cleared_at, "
                  "detail->>'cleared_reason' FROM alarms WHERE sensor_code = %s ORDER BY id",
                  (s,))
    assert rows[0][:4] == ("cleared", None, 1.6, t(5))  # the old place's peak kept
    assert rows[0][4].startswith(f"sensor moved from asset — to {d.water_pipe}")
    assert rows[1][:4] == ("active", d.water_pipe, 1.8, None)
    assert counts(d, s)["active"] == 1


def test_a_move_to_another_place_on_the_same_asset_ends_it_too(d):
    s = add_sensor(d, 62, "04", None, None, interval_s=None)
    assert send(d, [(s, t(0), 1.6)])["alarms_opened"] == 1
    _move(d, s, None, 150.0)
    out = send(d, [(s, t(5), 0.2)])  # quiet at the new place: nothing opens
    assert (out["alarms_cleared"], out["alarms_opened"]) == (1, 0)
    assert d.rows("SELECT status, detail->>'cleared_reason' FROM alarms WHERE "
                  "sensor_code = %s", (s,)) == [
        ("cleared", "sensor moved to another place (sensor registry): the alarm was of its "
                    "former place")]


def test_the_gap_run_ends_the_alarm_of_a_moved_sensor_without_a_reading(d):
    s = add_sensor(d, 63, "04", None, None, interval_s=None)
    assert send(d, [(s, t(0), 1.6)])["alarms_opened"] == 1
    _move(d, s, d.water_pipe, 0.0)
    with psycopg.connect(d.conninfo) as conn:
        out = detect(conn, t(1))  # before any gap: silence of 1 min
    code = d.scalar("SELECT code FROM alarms WHERE sensor_code = %s", (s,))
    assert code in out["cleared"]
    assert d.rows("SELECT kind, status, cleared_at FROM alarms WHERE sensor_code = %s",
                  (s,)) == [("threshold", "cleared", t(1))]
    assert d.rows("SELECT alarm_level, alarm_id FROM sensor_state WHERE sensor_code = %s",
                  (s,)) == [(None, None)]


def test_a_point_resurveyed_by_centimetres_is_no_move(d):
    """A registry reload that moves the point by 5 cm (a re-survey; a new version all the
    same) keeps the alarm: it is the same place (layers.iot.gaps.MOVED_M, 1 m)."""
    s = add_sensor(d, 64, "04", None, None, interval_s=None)
    assert send(d, [(s, t(0), 1.6)])["alarms_opened"] == 1
    _move(d, s, None, 0.05)
    out = send(d, [(s, t(5), 1.7)])
    assert (out["alarms_cleared"], out["alarms_opened"]) == (0, 0)
    assert d.rows("SELECT status, peak_value FROM alarms WHERE sensor_code = %s",
                  (s,)) == [("active", 1.7)]
