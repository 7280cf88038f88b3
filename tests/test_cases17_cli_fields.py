"""The case loop's CLI named its options as the HTTP body names them: an --at in the future
said field 'at' (an unreadable one '--at')."""

from __future__ import annotations

import json

from tests.conftest import run_cli

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def test_an_action_at_a_time_to_come_names_the_option(fresh_db):
    env = fresh_db.env()
    for name, role in (("i17", "监督员"), ("a17", "受理员")):
        run_cli(["ops", "user", "add", name, "--role", role], env, check=True)
    case = json.loads(run_cli(["case", "report-problem", "--source", "巡查上报", "--category",
                               "0501", "--point", f"{N},{E}", "--crs", "EPSG:4527",
                               "--user", "i17", "--json"], env, check=True).stdout)
    out = run_cli(["case", "register", case["code"], "--at", "2099-01-01T08:00+08:00",
                   "--user", "a17"], env)
    assert out.returncode == 3 and "field '--at'" in out.stderr, out.stderr
