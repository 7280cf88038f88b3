"""The web-map walkthrough's point findings (session 13): risk points drawn under the pipes
and covered by their own centred label; every pipe class's legend listing 阀门 and 消防栓.

Expected values come from the data files read here (styles.yaml, pipe_features.csv), not from
the renderers under test."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import pytest
import yaml

from cim.profile import DICTIONARY_DIR


def _styles_yaml() -> dict:
    return yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def style(jining_profile) -> dict:
    from layers.styles import maplibre_style

    return maplibre_style("http://h:1/", jining_profile)


def test_risk_points_drawn_above_every_pipe_layer_and_label(style):
    layers = style["layers"]
    at = {sl["id"]: i for i, sl in enumerate(layers)}
    risk = [at[sl["id"]] for sl in layers if sl.get("source-layer") == "risk_points"]
    pipes = [sl for sl in layers if sl.get("source-layer") in ("pipe_segments", "pipe_points")]
    risk_body = [at[sl["id"]] for sl in layers if sl.get("source-layer") == "risk_points"
                 and not sl["metadata"].get("cim:label")]
    assert risk and pipes and risk_body
    # MapLibre draws the list bottom first: a later layer is on top
    assert min(risk_body) > max(at[sl["id"]] for sl in pipes
                                if not sl["metadata"].get("cim:label"))
    risk_label = at["risk_points-label"]
    assert risk_label > max(at[sl["id"]] for sl in pipes if sl["metadata"].get("cim:label"))


def test_point_labels_stand_beside_their_point(style, jining_profile):
    spec = _styles_yaml()["layers"]
    points = {n for n, s in spec.items() if s.get("kind") == "point" and s.get("label")}
    assert {"risk_points", "facilities", "pipe_points", "sensors"} <= points
    labels = [sl for sl in style["layers"] if sl.get("metadata", {}).get("cim:label")
              and sl["source-layer"] in points]
    assert {sl["source-layer"] for sl in labels} == points
    for sl in labels:
        lay = sl["layout"]
        assert "center" not in lay.get("text-variable-anchor", ["center"]), sl["id"]
        assert lay["text-radial-offset"] > 0, sl["id"]
    # the risk point's label clears its circle: half its 3.2 mm plus the QML's 0.5 mm gap,
    # at 3.78 px/mm, in ems of its 11 px text (2.0 mm = 7.56 px, raised to 11)
    risk = next(sl for sl in labels if sl["id"] == "risk_points-label")
    size = spec["risk_points"]["symbol"]["size"]
    assert risk["layout"]["text-radial-offset"] == pytest.approx((size / 2 + 0.5) * 3.78 / 11,
                                                                 abs=0.01)
    # the same placement in QGIS: around the point, not over it
    from layers.styles.qml import qml

    for name in points:
        root = ET.fromstring(qml(name, jining_profile).split("\n", 1)[1])
        assert root.find("labeling/settings/placement").get("placement") == "0", name


def _class_names() -> dict[str, set[str]]:
    with open(DICTIONARY_DIR / "pipe_features.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["class"], set()).add(r["name"])
    common = out.pop("*")
    return {k: v | common for k, v in out.items()}


def test_pipe_legend_lists_a_point_kind_only_for_classes_that_have_it(jining_profile):
    from layers.styles import layer_tree
    from layers.styles.qml import qml

    rules = _styles_yaml()["layers"]["pipe_points"]["rules"]
    kinds = {r["title"]: set(r["filter"]["appurtenance"]["in"]) for r in rules
             if r.get("filter") and "in" in r["filter"]["appurtenance"]}
    assert set(kinds) == {"阀门", "消防栓"}
    names = _class_names()
    # 电力 has neither valves nor hydrants; 给水 has both (pipe_features.csv)
    assert not names["05"] & (kinds["阀门"] | kinds["消防栓"])
    assert {"阀门", "消防栓"} <= names["01"]
    pipes = next(g for g in layer_tree(jining_profile) if g["group"] == "地下管线")
    with open(DICTIONARY_DIR / "pipe_classes.csv", encoding="utf-8") as fh:
        by_name = {r["name"] + "管线": r["code"] for r in csv.DictReader(fh)}
    seen = set()
    for child in pipes["children"]:
        code = by_name[child["title"]]
        labels = {i["label"] for i in child["legend"]}
        for title, values in kinds.items():
            assert (title in labels) == bool(names.get(code, set()) & values), (code, title)
        assert {"窨井", "其他管线点"} <= labels  # every class has wells and other points
        root = ET.fromstring(qml("pipe_points", jining_profile, category=code)
                             .split("\n", 1)[1])
        qlabels = {r.get("label") for r in root.iter("rule")}
        for title, values in kinds.items():
            assert (title in qlabels) == bool(names.get(code, set()) & values), (code, title)
        seen.add(code)
    assert {"01", "05"} <= seen
