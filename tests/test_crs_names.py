"""CRS84 by every name clients send, one test for the whole platform (cim.crs.is_crs84): the
query library, CQL2's filter-crs and the OGC API's crs/bbox-crs each had their own list, and
they differed — the URN refused by the items path, bare CRS84 by filter-crs, any name merely
containing 'CRS84' taken by the provider."""

from __future__ import annotations

import pytest

from cim.crs import CGCS2000_GEOG, is_crs84

FORMS = ["CRS84", "crs84", "OGC:CRS84", " OGC:CRS84 ", "OGC:CRS84h",
         "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
         "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
         "http://www.opengis.net/def/crs/OGC/1.3/CRS84/",
         "http://www.opengis.net/def/crs/OGC/0/CRS84h",
         "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84"]
NOT = ["EPSG:4326", "EPSG:4490", "urn:ogc:def:crs:EPSG::4326",
       "http://www.opengis.net/def/crs/EPSG/0/4326", "CRS84x", "notCRS84", "EPSG:4527 CRS84",
       "http://example.com/CRS84", "", 4326]


@pytest.mark.parametrize("name", FORMS)
def test_every_form_of_crs84_is_crs84_everywhere(name):
    from cim.cql2.compile import filter_crs_of
    from layers.query.common import query_geometry
    from layers.query.sqlparts import out_srid
    from services.items_query import crs_info
    from services.providers import _crs_of

    assert is_crs84(name)
    assert filter_crs_of(name, 4527) == (CGCS2000_GEOG, False, True)
    info = crs_info(name, 4527)
    assert (info.srid, info.north_first, info.geographic) == (CGCS2000_GEOG, False, True)
    assert _crs_of(name, 4527) == (CGCS2000_GEOG, False, True)
    assert out_srid(name, 4527) == CGCS2000_GEOG
    # a lon/lat point given in it is lon/lat (not refused, not swapped)
    g = query_geometry("POINT (116.6 35.4)", name, 4527)
    assert g.srid == CGCS2000_GEOG


@pytest.mark.parametrize("name", NOT)
def test_other_names_are_not_crs84(name):
    from services.providers import _crs_of

    assert not is_crs84(name)
    if name in ("EPSG:4527 CRS84", "http://example.com/CRS84"):
        # the provider took any name containing CRS84 for it
        with pytest.raises(Exception, match="bbox-crs"):
            _crs_of(name, 4527)


def test_the_query_library_uses_the_one_crs_module():
    """The CRS logic lives in cim.crs, not a second copy in the query library."""
    import cim.crs
    import layers.query.common as common
    import layers.query.coord_checks as checks

    for name in ("is_crs84", "crs_arg", "is_lonlat", "densified"):
        assert getattr(common, name) is getattr(cim.crs, name), name
    for name in ("written_axis_order", "axis_is_northing_first", "storage_domain"):
        assert getattr(checks, name) is getattr(cim.crs, name), name
