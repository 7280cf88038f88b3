"""`cim risk add --point` out of range named no option ("the geometry: …"), as every other
refusal of the command does; `cim risk measure` printed Python's None for a point without a
measure text."""

from __future__ import annotations

import json

from tests.conftest import run_cli

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def test_risk_add_and_measure_say_what_they_mean(fresh_db):
    env = fresh_db.env()
    out = run_cli(["risk", "add", "--type", "0202", "--point", "200,100"], env)
    assert out.returncode == 3 and out.stderr.startswith("error: --point: "), out.stderr
    added = json.loads(run_cli(["risk", "add", "--type", "0105", "--point", f"{N},{E}",
                                "--crs", "EPSG:4527", "--unit", "应急局", "--json"], env,
                               check=True).stdout)
    out = run_cli(["risk", "measure", added["code"], "--status", "落实中"], env, check=True)
    assert "None" not in out.stdout and "(no measure given)" in out.stdout, out.stdout
