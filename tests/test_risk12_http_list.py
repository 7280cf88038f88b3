"""The risk-list process over HTTP: an unknown type is a 400 naming the process's input
``type``, which the caller sent — not the command line's ``--type``, which it has not got.
The command line keeps naming its option."""

from __future__ import annotations

import requests

from tests.conftest import make_db, run_cli, scratch_api


def test_unknown_type_names_the_http_input(jining_profile, tmp_path):
    d = make_db("risk12_http", jining_profile, apply_profile=False)
    proc = run_cli(["risk", "list", "--type", "101"], d.env())
    assert proc.returncode == 3 and "field '--type'" in proc.stderr, proc.stderr
    with scratch_api(d, tmp_path) as base:
        for inputs in ({"type": "101"}, {"type": "101", "by": "grid"}):
            r = requests.post(f"{base}/processes/risk-list/execution",
                              json={"inputs": inputs}, timeout=60)
            assert r.status_code == 400, r.text
            text = r.json()["description"]
            assert "field 'type'" in text and "unknown risk type '101'" in text, text
            assert "--" not in text, text
        # a known type with no point: an empty list, no error
        r = requests.post(f"{base}/processes/risk-list/execution",
                          json={"inputs": {"type": "0101"}}, timeout=60)
        assert r.status_code == 200 and r.json() == {"points": []}, r.text
