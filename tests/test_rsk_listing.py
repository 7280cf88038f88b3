"""cim risk list --type of a code not in risk_types.csv (a typo: 101 for 0101) printed
"0 risk points" and exited 0, as if the city had no such risk; it is an error naming the
types now, on the command line and in the risk-list process. A known type with no point is
still an empty list."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli


def test_unknown_risk_type_is_an_error(fresh_db):
    from cim.errors import InputError
    from layers.risk.process import PROCESSES

    proc = run_cli(["risk", "list", "--type", "101"], fresh_db.env())
    assert proc.returncode != 0
    assert "unknown risk type '101'" in proc.stderr and "0101" in proc.stderr
    proc = run_cli(["risk", "list", "--type", "0101"], fresh_db.env(), check=True)
    assert proc.stdout.strip().endswith("0 risk points")
    run = next(p["run"] for p in PROCESSES if p["id"] == "risk-list")
    with pytest.raises(InputError, match="unknown risk type"):
        run(fresh_db.conninfo, {"type": "101"})
    assert run(fresh_db.conninfo, {"type": "0101"}) == {"points": []}
