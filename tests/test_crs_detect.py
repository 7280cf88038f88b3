"""The CRS a delivery's eastings tell: one row typed in degrees among zone-prefixed eastings
is that row's problem, not the file's; two zones are refused with each zone's rows counted;
degrees under a projected CRS get the geographic CRS as the hint. Values by construction."""

from __future__ import annotations

import numpy as np
import pytest

from cim.crs import check_gk_consistency, detect_gk_from_eastings, parse_crs
from cim.errors import InputError


def test_a_row_of_no_zone_is_left_to_its_row():
    e = np.array([39_464_788.4, 39_463_983.6, 116.58, 39_464_541.1])
    assert detect_gk_from_eastings(e, 4527) == 4527  # zone 39, prefixed


def test_two_zones_are_counted():
    e = np.array([39_464_788.4, 39_463_983.6, 40_464_541.1])
    with pytest.raises(InputError) as exc:
        detect_gk_from_eastings(e, 4527)
    assert "zone 39 (2 rows), zone 40 (1 rows)" in str(exc.value)


def test_degrees_get_the_geographic_crs_as_hint():
    msg = check_gk_consistency(parse_crs("EPSG:4527"), np.array([116.58, 116.59]))
    assert msg is not None and "EPSG:4490" in msg and "4548" not in msg
