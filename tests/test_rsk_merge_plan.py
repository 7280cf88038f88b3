"""The assessment's temporary tables keep codes and source keys in the collation of the layers
(``COLLATE "C"``, migration 0010). In the default collation a join of the candidates with
risk_points (``c.code = r.code``) could use neither side's index: retiring the points no rule
finds any more read the whole candidate table once per current point — 50 s for 2,790 gas
pipes' points, quadratic (a second assessment of 18,600 had not finished in ten minutes;
20.7 s now) — and the allocator's registry look-up of the staged keys took 23 s.

Checked on the tables as the assessment makes them, in its own transaction, against the
columns of risk_points and code_registry they are joined with; and the plans of the
retirement and of the grading's look-up of each point's last level (risk_assessments.code is
in the default collation: compared in "C" it read the whole history once a point, 20 s of a
second assessment of 18,600; 4.6 s the whole assessment now) use the indexes."""

from __future__ import annotations

import datetime as dt

import psycopg
import shapely
from shapely.geometry import LineString

X0, Y0 = 39_462_000.0, 3_915_000.0  # in 任城区


def _collation(conn, table: str, column: str) -> str:
    return conn.execute("SELECT collname FROM pg_attribute a JOIN pg_collation c ON "
                        "c.oid = a.attcollation WHERE a.attrelid = %s::regclass AND "
                        "a.attname = %s", (table, column)).fetchone()[0]


def test_candidate_keys_compare_as_the_layers_do(fresh_db):
    from layers.risk import generate, grade
    from layers.risk.assess import assess, code_candidates
    from layers.risk.config import load_config

    cfg = load_config(fresh_db.profile)
    with psycopg.connect(fresh_db.conninfo) as conn:
        for i in range(40):  # 灰口铸铁 1980 gas mains, 100 m apart: 40 risk points
            line = shapely.affinity.translate(LineString([(0, 0), (50, 0)]), X0 + 100 * i, Y0)
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, material_code, year_built, "
                "status_code, geom) VALUES (%s, '03', '燃气', '01', '53000000', 'a', 'b', "
                "'ZT', 1980, '0', ST_GeomFromWKB(%s, 4527))",
                (f"G{i}", shapely.to_wkb(shapely.force_3d(line, 30.0))))
    assess(fresh_db.conninfo, cfg, 2026, dt.date(2026, 12, 5))
    with psycopg.connect(fresh_db.conninfo) as conn:
        generate.create_candidates(conn)
        generate.add_rule_candidates(conn, cfg)
        grade.score_likelihood(conn, cfg, 2026)
        generate.place_candidates(conn)
        grade.measure_exposure(conn, cfg)
        grade.grade(conn, cfg, dt.date(2026, 12, 5))
        code_candidates(conn, cfg)
        layer = _collation(conn, "risk_points", "code")
        assert layer == _collation(conn, "risk_points", "source_key") == \
            _collation(conn, "code_registry", "source_key") == "C"
        for table, column in (("_risk_cand", "code"), ("_risk_cand", "source_key"),
                              ("_risk_stg", "source_key"), ("_risk_stg", "code")):
            assert _collation(conn, table, column) == layer, (table, column)
        # with sequential scans priced out, a join that can use an index uses it
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN UPDATE risk_points r SET valid_to = now() WHERE r.valid_to IS NULL AND "
            "r.source = 'rule' AND NOT EXISTS (SELECT 1 FROM _risk_cand c "
            "WHERE c.code = r.code)"))
        assert "Seq Scan on _risk_cand" not in plan, plan
        # the level of each point's last grading: by the history's (code, run_id) index
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + grade.GRADED))
        assert "using risk_assessments_code_idx on risk_assessments" in plan, plan
        conn.rollback()


def test_an_alarms_raise_finds_the_points_history_by_its_index(fresh_db):
    """An alarm raising a point records it in risk_assessments, numbered after the point's
    last run: that look-up compared the history's code (default collation) with the point's
    (COLLATE "C"), so the (code, run_id) index could not serve it and every raise read the
    whole history."""
    from psycopg.types.json import Jsonb

    from layers.risk.alarm import RECORD

    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute("SET LOCAL enable_seqscan = off")
        cur = psycopg.ClientCursor(conn)
        plan = "\n".join(r[0] for r in cur.execute("EXPLAIN " + RECORD, {
            "at": dt.datetime(2026, 12, 5, tzinfo=dt.UTC), "level": "重大", "color": "红",
            "f": Jsonb({}), "code": "X", "tz": "Asia/Shanghai"}).fetchall())
        assert "risk_assessments_code_idx on risk_assessments" in plan, plan
        conn.rollback()
