"""城市道路网密度 where district polygons do not meet exactly. Surveyed boundaries leave
slivers: a road digitised along the boundary of D2 and D3, which are 2 cm apart, lay in
neither polygon and counted in no district (600 m lost: a helper's probe). A stretch of road
outside every district that lies within ``district_gap_m`` (default 1 m) of districts is
shared equally among them; a road in a true gap (100 m between D3 and D4) still counts
nowhere, and a road crossing a boundary is split by length.

Expected by construction (metres, the fixture's D1 = x 0..2000, D2 = 2000..3000, y 0..1000):

    D3 = x 3000.02..4000, D4 = x 4100..5000
    RG (3000.01, 200)-(3000.01, 800): in the sliver, 300 to D2 and 300 to D3
    RX (2900, 300)-(3100, 300): 100 in D2, 0.02 in the sliver (half each), 99.98 in D3
    RF (3950, 600)-(4150, 600): 50 in D3, 100 in the true gap (nowhere), 50 in D4
    base roads (tests/health_fixture.py): D1 1,500 m, D2 100 m
"""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import LineString, box

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind, _insert

D3, D4 = "370828", "370829"
EXTRA_DISTRICTS = {D3: box(3000.02, 0, 4000, 1000), D4: box(4100, 0, 5000, 1000)}
EXTRA_ROADS = {"RG": LineString([(3000.01, 200), (3000.01, 800)]),
               "RX": LineString([(2900, 300), (3100, 300)]),
               "RF": LineString([(3950, 600), (4150, 600)])}


def test_a_road_in_a_sliver_between_districts_counts_half_in_each(city):
    with psycopg.connect(city.conninfo) as conn:
        for code, g in EXTRA_DISTRICTS.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, f"区{code}", hf._wkb(g)))
    _insert(city.conninfo, "roads", list(EXTRA_ROADS.items()))
    districts = {**hf.DISTRICTS, **EXTRA_DISTRICTS}
    lines = {**hf.ROADS, **EXTRA_ROADS}
    # shapely: each road clipped to each district, the sliver pieces added half each
    inside = {d: sum(r.intersection(p).length for r in lines.values())
              for d, p in districts.items()}
    sliver = box(3000, 0, 3000.02, 1000)
    in_sliver = sum(r.intersection(sliver).length for r in lines.values())
    assert in_sliver == pytest.approx(600.02)
    m = {**inside, hf.D2: inside[hf.D2] + in_sliver / 2, D3: inside[D3] + in_sliver / 2}
    assert (m[hf.D1], m[hf.D2], m[D3], m[D4]) == pytest.approx((1500, 500.01, 449.99, 50))
    result = compute(city.conninfo, 2026, city.profile, store=False)
    roads = _by_unit(_ind(result, "road_network_density"))
    for d, p in districts.items():
        assert roads[d]["value"] == pytest.approx(m[d] / 1000 / (p.area / 1e6), abs=1e-6), d
    area_km2 = sum(p.area for p in districts.values()) / 1e6
    assert roads["city"]["value"] == pytest.approx(sum(m.values()) / 1000 / area_km2,
                                                   abs=1e-6)
