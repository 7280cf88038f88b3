"""The OGC process risk-assess grades with the city's rules and matrix — its profile's
overrides (``dictionaries: {risk_matrix: FILE}``), as ``cim risk assess`` does — not with
the platform's defaults."""

from __future__ import annotations

import psycopg
import yaml

from tests.conftest import SAMPLES
from tests.risk_fixture import insert_gas_main

# the city's matrix: every cell 重大, so any point it grades is 红
CITY_MATRIX = """
consequence: {radius_m: 100, base: 1, max: 5}
levels:
  重大: {color: 红, rgb: "230,0,18", deadline_days: 30}
  较大: {color: 橙, rgb: "255,128,0", deadline_days: 90}
  一般: {color: 黄, rgb: "245,200,0", deadline_days: 180}
  低: {color: 蓝, rgb: "0,112,192", deadline_days: 365}
matrix:
  1: [重大, 重大, 重大, 重大, 重大]
  2: [重大, 重大, 重大, 重大, 重大]
  3: [重大, 重大, 重大, 重大, 重大]
  4: [重大, 重大, 重大, 重大, 重大]
  5: [重大, 重大, 重大, 重大, 重大]
"""


def test_risk_assess_process_reads_the_city_profile(fresh_db, tmp_path, monkeypatch):
    from layers.risk.process import PROCESSES

    (tmp_path / "matrix.yaml").write_text(CITY_MATRIX, encoding="utf-8")
    prof = yaml.safe_load((SAMPLES / "profile.yaml").read_text(encoding="utf-8"))
    prof["boundaries"] = str(SAMPLES / prof["boundaries"])
    prof["grid"] = str(SAMPLES / prof["grid"])
    prof["dictionaries"] = {"risk_matrix": str(tmp_path / "matrix.yaml")}
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(prof, allow_unicode=True),
                                           encoding="utf-8")
    monkeypatch.setenv("CIM_PROFILE", str(tmp_path / "profile.yaml"))
    with psycopg.connect(fresh_db.conninfo) as conn:
        # 灰口铸铁 1980 gas main: a risk point by the platform's rules (1 + 3 + 2 = 6 → 5)
        insert_gas_main(conn)
    run = next(p["run"] for p in PROCESSES if p["id"] == "risk-assess")
    out = run(fresh_db.conninfo, {"year": 2026})
    assert out["matrix_file"] == str(tmp_path / "matrix.yaml")
    assert out["by_level"]["重大"] == out["total"] == 1
    assert fresh_db.rows("SELECT level, color FROM risk_points WHERE valid_to IS NULL") == [
        ("重大", "红")]
