"""A city that edits its grading matrix regrades its points: a point whose level the new
matrix changes gets the new level's deadline. The grading compared the new level with the
old likelihood × consequence read through the *new* matrix — the same cell — so the point
went from 一般 to 重大 keeping its 180-day deadline. The level compared now is the one the
previous assessment gave (risk_assessments, not an alarm's raise).

A 灰口铸铁 1980 gas main alone (published rules: likelihood 1 + 3 + 2 = 6 → 5; consequence
base 1): the published matrix gives 5 × 1 → 一般; the city's second matrix 重大 everywhere.
Deadlines read from the matrices here."""

from __future__ import annotations

import datetime as dt

import psycopg
import shapely
import yaml
from shapely.geometry import LineString

X0, Y0 = 39_462_000.0, 3_915_000.0  # in 任城区


def test_matrix_edit_that_changes_a_level_resets_its_deadline(fresh_db, tmp_path):
    from layers.risk.assess import assess
    from layers.risk.config import load_config

    with open("cim/dictionaries/risk_matrix.yaml", encoding="utf-8") as f:
        published = yaml.safe_load(f)
    first = published["matrix"][5][published["consequence"]["base"] - 1]
    assert first != "重大"
    edited = {**published, "matrix": {k: ["重大"] * 5 for k in range(1, 6)}}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(edited, allow_unicode=True, sort_keys=False),
                                     encoding="utf-8")
    line = shapely.affinity.translate(LineString([(0, 0), (100, 0)]), X0, Y0)
    with psycopg.connect(fresh_db.conninfo) as conn:
        conn.execute(
            "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
            "feature_code, start_point_code, end_point_code, material_code, year_built, "
            "status_code, geom) VALUES ('G1', '03', '燃气', '01', '53000000', 'a', 'b', 'ZT', "
            "1980, '0', ST_GeomFromWKB(%s, 4527))",
            (shapely.to_wkb(shapely.force_3d(line, 30.0)),))
    day1, day2, day3 = dt.date(2026, 1, 5), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    assess(fresh_db.conninfo, load_config(fresh_db.profile), 2026, day1)

    def current():
        return fresh_db.rows("SELECT level, deadline FROM risk_points WHERE valid_to IS NULL")

    days = {lv: spec["deadline_days"] for lv, spec in published["levels"].items()}
    assert current() == [(first, day1 + dt.timedelta(days=days[first]))]
    cfg = load_config(fresh_db.profile, matrix=tmp_path / "m.yaml")
    assess(fresh_db.conninfo, cfg, 2026, day2)
    assert current() == [("重大", day2 + dt.timedelta(days=days["重大"]))]
    assess(fresh_db.conninfo, cfg, 2026, day3)  # unchanged since: the deadline stays
    assert current() == [("重大", day2 + dt.timedelta(days=days["重大"]))]
