"""`--profile FILE` naming no file was ignored by the commands that do not read the profile
(`cim layers`, `cim batches`, `cim db status` … exit 0), refused by those that do: a
mistyped profile went unnoticed. Every command refuses it, before or after its name."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize("args", [["layers", "--profile", "/nonexistent/city.yaml"],
                                  ["--profile", "/nonexistent/city.yaml", "batches"],
                                  ["db", "status", "--profile", "/nonexistent/city.yaml"]])
def test_a_profile_that_is_no_file_is_refused_by_every_command(args, tmp_path):
    out = run_cli(args, {"PATH": "/usr/bin:/bin", "CIM_HOME": str(tmp_path)})
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "/nonexistent/city.yaml" in out.stderr and "does not exist" in out.stderr
