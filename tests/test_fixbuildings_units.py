"""A CityGML measuredHeight's unit of measure (every 3D City DB export writes one a row):
each distinct unit is looked up once, the heights scaled in NumPy (the uom column was made
Python objects and looked up a row); an EPSG unit code goes by its name, else by its size
among field_units.yaml's units (EPSG 1025 millimetre and 9036 kilometre were refused though
field_units.yaml converts mm and km). Expected factors: EPSG's own (pyproj's units map)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyproj
import pytest

from cim.config import DEFAULT_PROFILE
from cim.profile import load_profile
from loaders.buildings import HeightUnits, _height_in_metres


@pytest.fixture(scope="module")
def units():
    return HeightUnits(load_profile(DEFAULT_PROFILE))


@pytest.mark.parametrize("code", ["1025", "9036", "1033", "9001", "9002"])
def test_an_epsg_length_unit_field_units_knows_converts(units, code):
    epsg = {u.code: u for u in pyproj.get_units_map(auth_name="EPSG").values()}[code]
    assert units.factor(f"urn:ogc:def:uom:EPSG::{code}") == pytest.approx(epsg.conv_factor,
                                                                          rel=1e-12)


def test_the_us_survey_foot_stays_unknown(units):
    assert units.factor("urn:ogc:def:uom:EPSG::9003") is None


def test_each_distinct_unit_is_looked_up_once(units, monkeypatch):
    calls = []
    factor = HeightUnits.factor
    monkeypatch.setattr(HeightUnits, "factor", lambda self, u: calls.append(u) or factor(self, u))
    n = 3000
    raw = pa.array(np.tile([12000.0, 9.0, 3.0], n // 3))
    uoms = pa.array(np.tile(np.array(["mm", "urn:ogc:def:uom:UCUM::m", "furlong"],
                                     dtype=object), n // 3))
    out, bad = _height_in_metres(raw, uoms, units)
    assert len(calls) <= 3
    assert list(out[:3]) == [12.0, 9.0, None]
    assert sorted(bad) == list(range(2, n, 3))
    assert "'furlong'" in bad[2]
