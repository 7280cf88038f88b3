"""Listing cases by state (``GET /cases?state=``, ``cim case list --state``): a state the case
loop does not have (a typo, 退回 which is an action, an English name) is refused naming the
loop's states, where it listed no case — an empty list an operator reads as "nothing
waiting". The states are case_workflow.yaml's, read here from the file. So is a grid cell
code the grid never had."""

from __future__ import annotations

import psycopg
import pytest
import yaml

from cim.errors import InputError
from layers.cases import store
from layers.cases.listing import list_cases
from layers.cases.workflow import WORKFLOW_FILE
from tests.conftest import scratch_db


def test_unknown_state_refused_known_state_listed(jining_profile):
    states = yaml.safe_load(WORKFLOW_FILE.read_text(encoding="utf-8"))["states"]
    with scratch_db("opslist", jining_profile) as d, psycopg.connect(d.conninfo) as conn:
        case = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                               role="监督员", grid_code=d.cell)
        assert [c["code"] for c in list_cases(conn, state="上报")] == [case["code"]]
        assert list_cases(conn, state="立案") == []
        for bad in ("退回", "registered", "已结案"):
            with pytest.raises(InputError) as exc:
                list_cases(conn, state=bad)
            assert exc.value.field == "state"
            assert all(s in exc.value.message for s in states), exc.value.message
        # a grid cell: listed by its code; a code the grid never had is refused, not empty
        assert [c["code"] for c in list_cases(conn, grid=d.cell)] == [case["code"]]
        with pytest.raises(InputError) as exc:
            list_cases(conn, grid=d.cell + "9")
        assert exc.value.field == "grid"
