"""A city whose layers are not loaded yet (districts only) has no health value anywhere: each
indicator is no_data flagged no_<layer>, never a 0 (README, City health check). The count of
new residential buildings over 80 m read 0, status met, with no building loaded (a helper's
probe); the pipe and component rates were no_data without saying why."""

from __future__ import annotations

import psycopg
import pytest

from cim.db.engine import drop_database
from layers.health.compute import compute
from tests import health_fixture as hf
from tests.conftest import make_db, server_url

# the layer each computation reads first (cim/dictionaries/health_indicators.yaml)
LAYER = {"park_service_coverage": "green_spaces", "park_area_per_capita": "green_spaces",
         "road_network_density": "roads", "green_space_ratio": "green_spaces",
         "development_intensity": "planning_parcels", "building_density": "buildings",
         "new_high_rise_residential": "buildings",
         "community_facility_walk_coverage": "facilities", "pipe_aging_rate": "pipe_segments",
         "combined_sewer_share": "pipe_segments", "component_intact_rate": "components",
         "shelter_service_coverage": "facilities"}


@pytest.fixture()
def districts_only(jining_profile):
    d = make_db("hempty", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        for code, g in hf.DISTRICTS.items():
            conn.execute("INSERT INTO admin_divisions (code, name, level, geom) VALUES "
                         "(%s, %s, 3, ST_Multi(ST_GeomFromWKB(%s, 4527)))",
                         (code, f"区{code}", hf._wkb(g)))
    yield d
    drop_database(server_url(), d.name)


def test_nothing_loaded_is_no_data_flagged_by_layer(districts_only):
    result = compute(districts_only.conninfo, 2026, districts_only.profile, store=False)
    assert {i["id"] for i in result["indicators"]} == set(LAYER)
    for ind in result["indicators"]:
        for e in [ind["city"], *ind["districts"]]:
            assert e["value"] is None and e["status"] == "no_data", (ind["id"], e)
            assert f"no_{LAYER[ind['id']]}" in e["flags"], (ind["id"], e["flags"])
    assert result["index"]["units"]["city"]["value"] is None
