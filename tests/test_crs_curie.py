"""A safe CURIE names a CRS wherever a CRS URI goes (OGC API Features part 2: ``crs``,
``bbox-crs``, ``filter-crs``): ``filter-crs=[EPSG:4527]`` was refused as an unknown CRS while
``crs=[EPSG:4527]`` was read (the OGC API unwrapped it by a rule of its own)."""

from __future__ import annotations

import pyproj
import pytest

from cim.cql2.compile import filter_crs_of
from cim.crs import is_crs84, parse_crs
from cim.errors import InputError


@pytest.mark.parametrize("name", ["[EPSG:4527]", " [EPSG:4527] ", "EPSG:4527",
                                  "http://www.opengis.net/def/crs/EPSG/0/4527"])
def test_a_curie_is_the_crs_it_names(name):
    assert parse_crs(name).equals(pyproj.CRS.from_epsg(4527))
    # Gauss-Krüger of CGCS2000: northing first, projected
    assert filter_crs_of(name, 4527) == (4527, True, False)


def test_crs84_as_a_curie():
    assert is_crs84("[OGC:CRS84]") and not is_crs84("[EPSG:4527]")
    assert filter_crs_of("[OGC:CRS84]", 4527) == (4490, False, True)


@pytest.mark.parametrize("name", ["[]", "[EPSG:99999999]", "[EPSG:4527", "[[EPSG:4527]]"])
def test_what_is_no_crs_stays_refused(name):
    with pytest.raises(InputError, match="unknown coordinate reference system"):
        parse_crs(name)
