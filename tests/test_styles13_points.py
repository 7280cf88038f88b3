"""The web-map walkthrough's point findings (session 13): risk points drawn under the pipes
and covered by their own centred label; every pipe class's legend listing 阀门 and 消防栓.

Expected values come from the data files read here (styles.yaml, pipe_features.csv), not from
the renderers under test."""

from __future__ import annotations

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
