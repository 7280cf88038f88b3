"""The gap detector (layers/iot/gaps.py) reads since when each watched sensor is silent —
including its return to a watched status, the end of its last retired version in an
unwatched one — in one pass: a sub-query per sensor for that return had no index to use (the
code's index is of current versions only) and read the whole sensor registry once a sensor,
quadratic: 1.4 s a run for 3,000 sensors, 17 s for 12,000 (0.1 s now).

The plan of the detector's query has no sub-plan; and on 200 sensors back in service (停用
until 00:00, 运行 since) the answer is the rule's: silent since their return, so at 00:14
(< 3 × 300 s) none is a gap and at 00:16 all are."""

from __future__ import annotations

import datetime as dt

import psycopg

UTC = dt.UTC
BACK = dt.datetime(2026, 11, 20, tzinfo=UTC)


def test_silence_read_in_one_pass(fresh_db):
    from layers.iot.gaps import SILENCE, detect
    from layers.iot.partitions import ensure_months
    from layers.iot.thresholds import load_config

    cfg = load_config(fresh_db.profile)
    assert cfg.gap_factor * cfg.type_intervals["04"] == 900
    with psycopg.connect(fresh_db.conninfo) as conn:
        ensure_months(conn, [dt.date(2026, 11, 1)])
        for retired in (True, False):
            conn.execute(
                "INSERT INTO sensors (code, source_key, geom, device_id, name, type_code, "
                "type_name, unit, status, district_code, valid_from, valid_to) "
                "SELECT '37081192040' || lpad(i::text, 7, '0'), 'sensor:' || i, "
                "ST_SetSRID(ST_MakePoint(39462000 + i, 3915000), 4527), 'D' || i, 'D' || i, "
                "'04', '井下液位', 'm', %s, '370811', %s, %s FROM generate_series(1, 200) i",
                ("停用" if retired else "运行", BACK - dt.timedelta(days=30),
                 BACK if retired else None))
        conn.execute("ANALYZE sensors")
        watched, types = list(cfg.gap_statuses), list(cfg.type_intervals)
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN " + SILENCE.replace(" FOR UPDATE OF st", ""),
            (watched, types, [cfg.type_intervals[t] for t in types], watched)))
        assert "SubPlan" not in plan, plan
        conn.commit()
        assert detect(conn, BACK + dt.timedelta(minutes=14), cfg)["opened"] == []
    with psycopg.connect(fresh_db.conninfo) as conn:
        out = detect(conn, BACK + dt.timedelta(minutes=16), cfg)
    assert len(out["opened"]) == 200
    assert {o["silent_since"] for o in out["opened"]} == {BACK}
