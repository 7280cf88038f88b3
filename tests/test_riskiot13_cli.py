"""`cim risk add --asset` given a blank cell (review 13): it said "no feature has code " —
an empty name at the end of the line — where a blank --unit or --measure says it is blank.
Refused before any database is reached."""

from __future__ import annotations

import pytest

from cim.errors import InputError
from layers.risk.config import load_config
from layers.risk.manual import add_point


@pytest.mark.parametrize("blank", ["", " ", "\t　"])
def test_a_blank_asset_is_named_blank(jining_profile, blank):
    cfg = load_config(jining_profile)
    with pytest.raises(InputError) as err:
        add_point("host=/nonexistent dbname=none", cfg, "0202", asset=blank, unit="市政")
    assert err.value.field == "--asset" and "is blank" in str(err.value)
