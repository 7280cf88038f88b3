"""A catalog's computation parameters are checked when it is read, naming the file, the
indicator and the parameter: a city's copy with a facility type its dictionary lacks, a tier
without its distance, '500m' for a distance or 'x' for years ran until the computation met
it and stopped as an internal error (KeyError: 'distance_m'; ValueError: could not convert
string to float: '500m'), the run half done (a helper's probe)."""

from __future__ import annotations

import os

import pytest

from cim.config import DEFAULT_PROFILE
from cim.errors import ConfigError
from cim.profile import load_profile
from layers.health.catalog import catalog_path, load_catalog
from tests.conftest import run_cli

CASES = [
    ("{source: facilities, facility_type: shelter}", "{source: facilities, facility_type: 避难所X}",
     ["shelter_service_coverage", "tier 1", "'facility_type'", "避难所X", "facility_types.csv"]),
    ("{source: parks, min_area_m2: 5000, distance_m: 500}", "{source: parks, min_area_m2: 5000}",
     ["park_service_coverage", "tier 1", "'distance_m' is required"]),
    ("{source: parks, min_area_m2: 2000, max_area_m2: 5000, distance_m: 300}",
     "{source: parks, min_area_m2: 2000, max_area_m2: 5000, distance_m: 300m}",
     ["park_service_coverage", "tier 2", "'distance_m'", "'300m'"]),
    ("params: {min_height_m: 80, window_years: 1}", "params: {min_height_m: 80, window_years: x}",
     ["new_high_rise_residential", "'window_years'", "'x'"]),
    ("{source: parks, min_area_m2: 5000, distance_m: 500}", "{source: park, distance_m: 500}",
     ["park_service_coverage", "'source'", "'park'"]),
    ('pipe_design_life_years: {"01": 50,', 'pipe_design_life_years: {"01": fifty,',
     ["'pipe_design_life_years'", "'01'", "'fifty'"]),
    # unquoted codes: YAML reads 01 as the number 1, which matches no class or use
    ('pipe_design_life_years: {"01": 50, "02": 50,', 'pipe_design_life_years: {01: 50, 02: 50,',
     ["'pipe_design_life_years'", "the class 1 ", '"01", not 01']),
    ('params: {drainage_class: "02", combined_subclass: "03"}',
     "params: {drainage_class: 02, combined_subclass: \"03\"}",
     ["combined_sewer_share", "'drainage_class'", '"02", not 02', "not 2"]),
    # the homes are building_use.csv's (one list with the population loader): a catalog
    # naming its own is told where they are
    ('pipe_design_life_years: {"01": 50,', 'residential_uses: ["01"]\npipe_design_life_years: {"01": 50,',
     ["'residential_uses'", "building_use.csv", "residential"]),
]


def _bad(tmp_path, old: str, new: str):
    text = catalog_path(None).read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    return bad


@pytest.mark.parametrize("old, new, words", CASES)
def test_a_bad_parameter_is_refused_when_the_catalog_is_read(tmp_path, old, new, words):
    bad = _bad(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_catalog(load_profile(DEFAULT_PROFILE), bad)
    msg = str(err.value)
    assert str(bad) in msg
    for w in words:
        assert w in msg, (w, msg)


def test_the_platform_catalog_passes():
    assert len(load_catalog(load_profile(DEFAULT_PROFILE)).indicators) == 12


def test_the_cli_names_it_as_an_error_not_an_internal_one(tmp_path):
    old, new, words = CASES[1]
    bad = _bad(tmp_path, old, new)
    env = {**os.environ, "CIM_PROFILE": str(DEFAULT_PROFILE)}
    r = run_cli(["health", "compute", "--year", "2026", "--indicators", str(bad)], env)
    assert r.returncode == 2  # a configuration error (README's exit codes), not 1: a bug
    assert r.stderr.startswith("error:") and "internal error" not in r.stderr, r.stderr
    assert str(bad) in r.stderr and "'distance_m' is required" in r.stderr
