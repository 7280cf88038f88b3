"""The published ``cases`` layer describes its ``state`` column with the states the loop has
(case_workflow.yaml): it listed 退回, an action, and a user filtering the OGC API on
state = 退回 found nothing."""

from __future__ import annotations

import re

import yaml

from layers.cases.layer import CASES
from layers.cases.workflow import WORKFLOW_FILE


def test_state_column_lists_the_workflow_states():
    states = yaml.safe_load(WORKFLOW_FILE.read_text(encoding="utf-8"))["states"]
    text = next(c.title for c in CASES.columns if c.name == "state")
    listed = re.search(r"state \(([^;)]*)", text).group(1).split()
    assert listed == states
