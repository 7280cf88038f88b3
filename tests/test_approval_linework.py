"""layers.approval.linework on its own: open pieces joined into the areas they close. Every
expected area is drawn here (shapely), known by construction."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, box

from layers.approval.linework import areas

OUTER = [LineString([(0, 0), (100, 0), (100, 100)]), LineString([(100, 100), (0, 100), (0, 0)])]
INNER = [LineString([(40, 40), (60, 40), (60, 60)]), LineString([(60, 60), (40, 60), (40, 40)])]


def test_a_ring_within_a_ring_of_one_feature_is_a_hole():
    rings, loose = areas([("F", OUTER + INNER)], 0.001)
    assert loose == [] and len(rings) == 1 and rings[0][0] == ["F"]
    assert rings[0][1].area == pytest.approx(100 * 100 - 20 * 20)


def test_rings_of_different_features_are_separate_areas():
    rings, _ = areas([("A", OUTER), ("B", INNER)], 0.001)
    assert sorted(a.area for _, a in rings) == pytest.approx([400.0, 10000.0])


def test_a_node_where_three_ends_meet_joins_nothing():
    spur = LineString([(100, 100), (150, 150)])
    rings, loose = areas([("A", OUTER), ("B", [spur])], 0.001)
    assert rings == [] and len(loose) == 3


def test_pieces_across_features_close_one_area_named_by_all():
    rings, loose = areas([("A", OUTER[:1]), ("B", OUTER[1:])], 0.001)
    assert loose == [] and rings[0][0] == ["A", "B"]
    assert rings[0][1].equals(box(0, 0, 100, 100))

