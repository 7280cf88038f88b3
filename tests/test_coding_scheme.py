"""The scheme reads an 18-digit code only with a feature layer's code, and names a class kept
as its major one (cases: case_categories.csv's 0101 … under 01)."""

from __future__ import annotations

import pytest

from cim.coding.scheme import decode
from cim.errors import CodeError


@pytest.mark.parametrize("code", ["370811000100000001", "370811000000000001"])
def test_an_18_digit_code_with_layer_code_00_is_no_feature(jining_profile, code):
    """00 is the layer code of districts, grid cells and components (layers.csv), whose codes
    have 6–16 digits: it was read as an admin_divisions feature."""
    with pytest.raises(CodeError, match="layer code 00 is no feature layer"):
        decode(code, jining_profile)


def test_a_case_code_names_its_major_class(jining_profile):
    d = decode("370811930100000007", jining_profile)
    assert (d.layer, d.class_code, d.class_name, d.serial) == ("cases", "01", "公用设施", 7)
    d = decode("370811810100000001", jining_profile)  # a dictionary of 2-digit codes as before
    assert (d.layer, d.class_name) == ("buildings", "住宅")
