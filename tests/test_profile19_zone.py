"""A storage CRS whose zone is nowhere near the city (a zone digit mistyped: EPSG:4513, zone 25
at 75°E, for Jining at 116.6°E) was accepted by `profile create` and `profile apply`: every
area was then 42 % too large (the probe of session 19: 1,077,352 m² for the sample's
760,351). The scale factor where the city lies is computed here independently (the
Transverse Mercator series k = 1 + (Δλ·cos φ)²/2 + …, Δλ from the zone's central meridian)."""

from __future__ import annotations

import dataclasses
import math
import os

import pytest

from cim.errors import ConfigError
from loaders.divisions import check_zone, load_districts
from tests.conftest import run_cli


def _k(lon: float, lat: float, central: float) -> float:
    d = math.radians(lon - central) * math.cos(math.radians(lat))
    return 1 + d * d / 2 + d ** 4 / 24 * (5 - 4 * math.tan(math.radians(lat)) ** 2)


def test_a_zone_far_from_the_city_is_refused_naming_the_right_one(jining_profile, tmp_path):
    assert _k(116.6, 35.4, 75) - 1 > 0.01 > _k(116.6, 35.4, 117) - 1  # (by construction)
    p = run_cli(["profile", "create", "--name", "济宁市", "--admin-code", "370800",
                 "--crs", "EPSG:4513", "--boundary", str(jining_profile.boundaries),
                 "--out", str(tmp_path / "p.yaml")], dict(os.environ))
    assert p.returncode == 2, p.stderr
    assert "field 'storage_crs': storage CRS EPSG:4513 does not fit the city at 116." \
        in p.stderr and "zone there is 39" in p.stderr and "EPSG:4527" in p.stderr
    assert not (tmp_path / "p.yaml").exists()
    wrong = dataclasses.replace(jining_profile, storage_crs="EPSG:4513")
    with pytest.raises(ConfigError, match="does not fit the city"):
        load_districts("host=/nonexistent dbname=none", wrong)


@pytest.mark.parametrize("crs", ["EPSG:4527", "EPSG:4526", "EPSG:4528", "EPSG:4549"])
def test_the_citys_zone_and_its_neighbours_are_taken(jining_profile, crs):
    """A neighbouring 3° zone (central meridian 114° or 120°E) or the 6° zone is off by far
    less than 1 % at Jining: a city on a zone's edge keeps its choice."""
    check_zone(crs, jining_profile.boundaries)
