"""The one style definition names every value of the code lists it styles by: a facility type
or a valve-like appurtenance left out is drawn as 其他 without a word."""

from __future__ import annotations

import csv

import yaml

from cim.config import PROJECT_ROOT

DICT = PROJECT_ROOT / "cim" / "dictionaries"


def _rules(layer: str) -> list[dict]:
    styles = yaml.safe_load((DICT / "styles.yaml").read_text(encoding="utf-8"))
    return next(v for k, v in _layers(styles) if k == layer)["rules"]


def _layers(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, dict) and "rules" in v:
                yield k, v
            else:
                yield from _layers(v)


def test_every_facility_type_has_a_rule_of_its_own():
    with open(DICT / "facility_types.csv", encoding="utf-8") as fh:
        types = {r["type_code"] for r in csv.DictReader(fh)}
    named = {t for r in _rules("facilities") if r.get("filter")
             for t in r["filter"]["facility_type_code"]["in"]}
    assert types - named == set()


def test_every_valve_and_gate_of_the_pipe_features_is_drawn_as_one():
    with open(DICT / "pipe_features.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    valves = {r["name"] for r in rows if r["kind"] == "附属物" and r["name"] in ("阀门", "闸门")}
    assert valves == {"阀门", "闸门"}  # both in the dictionary: the test has something to test
    rule = next(r for r in _rules("pipe_points") if r["title"] == "阀门")
    assert valves - set(rule["filter"]["appurtenance"]["in"]) == set()
