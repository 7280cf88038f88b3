"""A city's YAML settings files (health indicators, approval rules, IoT settings, styles, risk rules and matrix) are read by
the one reader, ``cim.profile.read_yaml_mapping``: a copy a city edited into something that is
no mapping (a list, a bare text) or no YAML at all is a configuration error naming the file —
the health catalog once raised ``AttributeError`` ('list' object has no attribute 'get'),
which the CLI shows as an internal error."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cim.errors import ConfigError

BAD = {"a list": "- 一\n- 二\n", "a text": "仅一行文字\n", "no YAML": "a: [1, 2\nb: }\n"}


@pytest.fixture(params=sorted(BAD))
def bad_file(request, tmp_path):
    f = tmp_path / "城市副本.yaml"
    f.write_text(BAD[request.param], encoding="utf-8")
    return f


def _refused(call, f) -> str:
    with pytest.raises(ConfigError) as e:
        call()
    assert str(f) in str(e.value), e.value
    return str(e.value)


def test_health_catalog(bad_file):
    from layers.health.catalog import load_catalog

    msg = _refused(lambda: load_catalog(None, bad_file), bad_file)
    assert "indicator catalog" in msg


def test_approval_rules(bad_file):
    from layers.approval.config import load_config

    msg = _refused(lambda: load_config(None, bad_file), bad_file)
    assert "approval rules" in msg


def test_iot_settings(bad_file, jining_profile):
    from layers.iot.thresholds import load_config

    profile = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                    "iot": bad_file})
    msg = _refused(lambda: load_config(profile), bad_file)
    assert "IoT settings" in msg


def test_styles(bad_file, jining_profile):
    from layers.styles.model import load_styles

    profile = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                    "styles": bad_file})
    msg = _refused(lambda: load_styles(profile), bad_file)
    assert "styles" in msg


def test_risk_rules_and_matrix(bad_file):
    from layers.risk.config import load_matrix, load_rules

    assert "risk rules" in _refused(lambda: load_rules(bad_file, {}), bad_file)
    assert "risk matrix" in _refused(lambda: load_matrix(bad_file), bad_file)


def test_the_shipped_files_still_read(jining_profile):
    """The platform's own files pass the same reader (a regression guard for the change)."""
    from layers.approval.config import load_config as approval
    from layers.health.catalog import load_catalog
    from layers.iot.thresholds import load_config as iot

    assert load_catalog(None).indicators
    assert approval(None).rules
    assert iot(jining_profile).end_statuses == ("停用",)
