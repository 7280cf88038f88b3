"""Park coverage by road: a park is a frontage, not a door. A home across the road from the
middle of a long park is as far from it as the road is wide, not as the park's nearest corner
(a helper's probe: a home 30 m from a 48,000 m² park was not within 500 m of it). Answers by
construction on the hand-built city (tests/health_fixture.py)."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import LineString, box

from cim.db.engine import drop_database
from layers.health.compute import compute
from tests import health_fixture as hf
from tests.conftest import make_db, server_url
from tests.test_health import _by_unit, _ind, _insert


@pytest.fixture()
def city(jining_profile, request):
    d = make_db(f"hd{abs(hash(request.node.name)) % 10**6}", jining_profile, apply_profile=False)
    hf.build(d.conninfo)
    yield d
    drop_database(server_url(), d.name)


def test_a_home_across_the_road_from_a_long_park_is_covered(city):
    """In D1's north, off the fixture's roads: road RN y = 900 (x 300..1900), road RV x = 1900
    south from RN's east end (y 900..100); park PL x 500..1700, y 910..950 (48,000 m²: the
    500 m tier), 10 m north of RN. Homes (20 × 20 m):

    - HX centroid (1100, 870), 20 m south of RN: 10 + 20 = 30 m from PL by road, covered;
    - the nearest way from PL to the RN/RV junction (1900, 900) leaves PL's frontage (the
      part of RN within road_snap_m = 100 m of PL) at its east end s = 1700 + √(100² − 10²),
      a 100 m gap: 100 + (1900 − s) = 200.5 m; HV (1920, 630), 270 m down RV and 20 m off
      it: 490.5 m, covered; HW (1920, 610): 510.5 m, not covered, although 358 m from PL
      in a straight line."""
    _insert(city.conninfo, "roads", [("RN", LineString([(300, 900), (1900, 900)])),
                                     ("RV", LineString([(1900, 900), (1900, 100)]))])
    park = box(500, 910, 1700, 950)
    assert park.area == 48_000
    _insert(city.conninfo, "green_spaces", [("PL", park, hf.D1)])
    homes = {"HX": hf.block(1100, 870), "HV": hf.block(1920, 630), "HW": hf.block(1920, 610)}
    assert homes["HX"].distance(park) == pytest.approx(30)
    assert homes["HW"].distance(park) < 500  # in a straight line: the road decides
    junction = 100 + (1900 - (1700 + math.sqrt(100**2 - 10**2)))
    assert (junction + 270 + 20, junction + 290 + 20) == pytest.approx((490.5, 510.5), abs=0.01)
    for code, g in homes.items():
        hf.add_building(city.conninfo, code, g, hf.D1)
    mine = {c: g for c, (g, d, use) in hf.BUILDINGS.items() if d == hf.D1 and use == "01"}
    mine |= homes
    covered = (hf.COVERED & set(mine)) | {"HX", "HV"}
    expected = 100 * sum(mine[c].area for c in covered) / sum(g.area for g in mine.values())
    assert expected == pytest.approx(100 * 5 / 8)
    park_cov = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                             "park_service_coverage"))
    assert park_cov[hf.D1]["method"] == "network"
    assert park_cov[hf.D1]["value"] == pytest.approx(expected, abs=1e-6)
