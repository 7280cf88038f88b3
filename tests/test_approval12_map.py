"""The report's map draws a polygon's holes as holes whatever the rings' orientation: a
courtyard building (回字形), a green ring around a pond or a parcel around another came out
filled over the hole when the hole ran the same way round as the outline — GeoJSON,
GeoPackage and CAD do not fix the orientation, and matplotlib fills by the nonzero rule.
Expected: the building's blue covers its area, the outline less the courtyard (shapely
areas), in the proportion of a solid building's pixels; pixels counted on the PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from layers.approval.data import Context
from layers.approval.mapdraw import NEW_BUILDING, draw_map
from layers.approval.project import Building, Project
from tests.approval_fixture import SRID, to_storage

SITE = box(0, 0, 100, 100)
OUTLINE = [(20, 20), (80, 20), (80, 80), (20, 80)]   # counter-clockwise
COURT_SAME_WAY = [(35, 35), (65, 35), (65, 65), (35, 65)]  # counter-clockwise too
ALPHA = 0.75  # the new buildings' fill (mapdraw)


def _blue_pixels(footprint) -> int:
    pytest.importorskip("matplotlib")
    from PIL import Image

    p = Project("m", "m", f"EPSG:{SRID}", to_storage(SITE),
                [Building("B", "建筑", 1, to_storage(footprint), 10, None, 30.0)])
    png = draw_map(p, Context(SRID), {"results": []}, None)
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    rgb = np.array([int(NEW_BUILDING[i:i + 2], 16) for i in (1, 3, 5)])
    want = ALPHA * rgb + (1 - ALPHA) * np.array([0xfb, 0xfb, 0xf8])  # over the map's ground
    return int((np.abs(a - want).max(axis=2) <= 8).sum())


def test_a_courtyard_drawn_the_same_way_round_is_a_hole_on_the_map():
    court = Polygon(OUTLINE, [COURT_SAME_WAY])
    assert court.exterior.is_ccw and court.interiors[0].is_ccw and court.is_valid  # premise
    solid = Polygon(OUTLINE)
    expected = court.area / solid.area  # 2,700 of 3,600 m²
    got = _blue_pixels(court) / _blue_pixels(solid)
    assert got == pytest.approx(expected, abs=0.03), got


def test_the_map_has_a_north_arrow():
    """A filed site map carries its north (指北针, GB/T 50103's 总平面图): the report's map had
    a scale bar only. Up is grid north of the storage CRS; the arrow stands in the top right
    corner, where nothing else is drawn for this project (site, building and the map's
    margin lie farther in): dark pixels there."""
    pytest.importorskip("matplotlib")
    from PIL import Image

    p = Project("m", "m", f"EPSG:{SRID}", to_storage(SITE),
                [Building("B", "建筑", 1, to_storage(box(10, 10, 30, 30)), 10, None, 30.0)])
    png = draw_map(p, Context(SRID), {"results": []}, None)
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)
    h, w = a.shape
    corner = a[int(h * 0.01):int(h * 0.10), int(w * 0.90):int(w * 0.99)]
    assert (corner < 100).sum() > 50
