"""A city's copy of pipe_qa_rules.yaml is read by the platform's one YAML reader
(``cim.profile.read_yaml_mapping``): a copy edited into a list was an internal error
(AttributeError: 'list' object has no attribute 'get'); now it, a 'rules' that is no list of
rules and a tolerance that is no number are configuration errors naming the file — through
the CLI too (exit 2, one line, no traceback)."""

from __future__ import annotations

import os

import pytest
import yaml

from cim.errors import ConfigError
from loaders.pipes.qa_rules import Rules
from tests.conftest import run_cli

BAD = {
    "a list": "- id: missing_value\n  severity: error\n",
    "rules a mapping": "rules:\n  missing_value: {severity: error}\n",
    "rules of texts": "rules:\n  - missing_value\n",
    "a tolerance text": "tolerances: {elevation: 五厘米}\nrules: []\n",
    "tolerances a list": "tolerances: [0.05]\nrules: []\n",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_rules_copy_of_the_wrong_shape_is_a_configuration_error(kind, tmp_path):
    f = tmp_path / "城市规则.yaml"
    f.write_text(BAD[kind], encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        Rules.load(path=f)
    assert str(f) in str(e.value), e.value


def test_the_cli_names_the_file_of_a_list(jining_profile, tmp_path):
    rules = tmp_path / "qa.yaml"
    rules.write_text(BAD["a list"], encoding="utf-8")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):  # relative to the sample profile's folder
        raw[key] = str((jining_profile.path.parent / raw[key]).resolve())
    raw["dictionaries"] = {**(raw.get("dictionaries") or {}), "pipe_qa_rules": str(rules)}
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    pts = tmp_path / "给水管线点.csv"
    pts.write_text("物探点号,X,Y,地面高程\nJS1,3917200,39460300,40\n", encoding="utf-8")
    proc = run_cli(["qa", "pipes", str(pts), "--profile", str(profile)], dict(os.environ))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert str(rules) in proc.stderr and "QA rules" in proc.stderr, proc.stderr
