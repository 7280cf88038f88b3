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
import yaml

from tests.risk_fixture import insert_gas_main


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
    with psycopg.connect(fresh_db.conninfo) as conn:
        insert_gas_main(conn)
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
