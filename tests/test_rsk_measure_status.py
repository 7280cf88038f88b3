"""cim risk measure --status took any text: a typo (已落时 for 已落实) became the point's
status, which every count by status then missed. The states are data
(risk_matrix.yaml measure_statuses); another text is an error naming them, and the point
keeps its version."""

from __future__ import annotations

import json

import pyproj
import yaml

from tests.conftest import run_cli

X, Y = 39_465_000.0, 3_917_000.0  # in 任城区


def test_measure_status_is_one_of_the_matrix_states(fresh_db):
    with open("cim/dictionaries/risk_matrix.yaml", encoding="utf-8") as f:
        states = yaml.safe_load(f)["measure_statuses"]
    assert "已落实" in states and "已落时" not in states
    lon, lat = pyproj.Transformer.from_crs("EPSG:4527", "EPSG:4490",
                                           always_xy=True).transform(X, Y)
    env = fresh_db.env()
    added = json.loads(run_cli(["risk", "add", "--type", "0301", "--point", f"{lon},{lat}",
                                "--unit", "区住建局", "--json"], env, check=True).stdout)
    code = added["code"]
    proc = run_cli(["risk", "measure", code, "--status", "已落时"], env)
    assert proc.returncode != 0 and "已落时" in proc.stderr and "已落实" in proc.stderr
    assert fresh_db.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (code,)) == 1
    out = json.loads(run_cli(["risk", "measure", code, "--status", "已落实", "--json"], env,
                             check=True).stdout)
    assert out["measure_status"] == "已落实"
