"""A city's indicator catalog with numbers that are no numbers (session 12).

``float()`` read "nan", ".nan" and negative weights: a dimension weighted -1 or nan was left
out of the city health index without a word (the sample city's index rose from 70.5 to 82.8
with ecological and healthy dropped), a target of nan judged every value "not met", a scale
of 0 made every value 0. Refused, naming the file, the dimension or indicator and the field.
"""

from __future__ import annotations

import pytest

from cim.errors import ConfigError
from layers.health.catalog import catalog_path, load_catalog

ECO = "name_en: Ecological and liveable, weight: 0.15"
PARK_TARGET = "    target: 90\n"  # park_service_coverage, the first indicator
PARK_SCALE = "    scale: 100\n"


@pytest.mark.parametrize("old, new, words", [
    (ECO, ECO.replace("0.15", "-1"), ["dimension ecological", "'weight'", "-1", "≥ 0"]),
    (ECO, ECO.replace("0.15", "nan"), ["dimension ecological", "'weight'", "finite"]),
    (ECO, ECO.replace("0.15", ".inf"), ["dimension ecological", "'weight'", "finite"]),
    (ECO, ECO.replace("0.15", "true"), ["dimension ecological", "'weight'", "not a number"]),
    (PARK_TARGET, "    target: .nan\n", ["park_service_coverage", "'target'", "finite"]),
    (PARK_TARGET, "    target: ninety\n", ["park_service_coverage", "'target'",
                                            "not a number"]),
    (PARK_SCALE, "    scale: 0\n", ["park_service_coverage", "'scale'", "> 0"]),
    (PARK_SCALE, "    scale: -100\n", ["park_service_coverage", "'scale'", "> 0"]),
])
def test_a_number_that_is_no_number_is_refused(tmp_path, old, new, words):
    text = catalog_path(None).read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "city_indicators.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_catalog(None, bad)
    msg = str(exc.value)
    assert str(bad) in msg, msg
    for w in words:
        assert w in msg, msg


def test_the_platform_catalog_and_a_weight_of_0_load(tmp_path):
    """A weight of 0 leaves a dimension out on purpose (the index takes weights above 0)."""
    cat = load_catalog(None)
    assert sum(d.weight for d in cat.dimensions) == pytest.approx(1.0)
    text = catalog_path(None).read_text(encoding="utf-8")
    zero = tmp_path / "zero.yaml"
    zero.write_text(text.replace(ECO, ECO.replace("0.15", "0"), 1), encoding="utf-8")
    assert load_catalog(None, zero).dimension("ecological").weight == 0.0


def test_a_park_tier_of_no_size_is_refused(tmp_path):
    """min_area_m2 at or above max_area_m2 (the two swapped) takes no park at all: the tier
    covered nothing and the coverage fell without a word."""
    tier = "{source: parks, min_area_m2: 2000, max_area_m2: 5000, distance_m: 300}"
    text = catalog_path(None).read_text(encoding="utf-8")
    assert tier in text
    for lo, hi in (("5000", "2000"), ("5000", "5000")):
        bad = tmp_path / f"tier_{lo}_{hi}.yaml"
        bad.write_text(text.replace(tier, tier.replace("2000", "LO").replace("5000", "HI")
                                    .replace("LO", lo).replace("HI", hi), 1), encoding="utf-8")
        with pytest.raises(ConfigError) as exc:
            load_catalog(None, bad)
        msg = str(exc.value)
        for w in (str(bad), "park_service_coverage", "tier 2", "'min_area_m2'",
                  "'max_area_m2'"):
            assert w in msg, msg


@pytest.mark.parametrize("new, words", [
    # a typo: the shelters (应急避难场所, 10-minute circle) counted in the mean
    ("{life_circles: [5, 10, 15], exclude_types: [shleter]}",
     ["'exclude_types'", "'shleter'", "type_code"]),
    # the name, not the type_code: compared with type_code, it excluded nothing
    ("{life_circles: [5, 10, 15], exclude_types: [应急避难场所]}",
     ["'exclude_types'", "'应急避难场所'", "type_code"]),
    # no facility type of a 20-minute circle: no value anywhere, no word why
    ("{life_circles: [20], exclude_types: [shelter]}", ["'life_circles'", "[20]"]),
])
def test_life_circle_types_that_measure_nothing_are_refused(tmp_path, new, words):
    old = "{life_circles: [5, 10, 15], exclude_types: [shelter]}"
    text = catalog_path(None).read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "circles.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_catalog(None, bad)
    msg = str(exc.value)
    for w in (str(bad), "community_facility_walk_coverage", *words):
        assert w in msg, msg
