"""One reading of the CGCS2000 zone prefix: the file's zone (cim.crs.detect_gk_from_eastings)
and the rows a survey load names as of another zone (loaders.pipes.survey) both come from
cim.crs.gk_zones_of_eastings."""
import numpy as np
import pytest

from cim import crs as cimcrs
from cim.errors import InputError


def test_each_easting_carries_its_zone_in_its_millions():
    e = [39_512_345.6, 25_000_000.0, 45_999_999.9, 46_000_000.0, 24_999_999.9,
         512_345.6, 116.6, float("nan")]
    # by construction: ⌊e/10⁶⌋ inside [25e6, 46e6), else no zone (0)
    assert cimcrs.gk_zones_of_eastings(e).tolist() == [39, 25, 45, 0, 0, 0, 0, 0]


def test_the_file_zone_and_the_zones_named_are_the_same_reading():
    e = np.array([39_500_000.0] * 5 + [40_500_000.0] + [512_345.0])
    with pytest.raises(InputError) as exc:
        cimcrs.detect_gk_from_eastings(e)
    # zone 39 five rows, zone 40 one row; the six-digit easting belongs to no zone
    assert "zone 39 (5 rows)" in exc.value.message
    assert "zone 40 (1 rows)" in exc.value.message
    assert cimcrs.detect_gk_from_eastings(e[:5]) == 4527  # EPSG:4527 = zone 39, prefixed
