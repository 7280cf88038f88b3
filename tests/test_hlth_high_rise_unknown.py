"""80 m 以上新建住宅: homes the count cannot judge are flagged, not taken as low or old. A
residential building of the year with no height (floors only) counted as not over 80 m: the
district read 0, met, with nothing said (a helper's probe).

By construction: H300 built 2026, no height (height_unknown); H550 95 m, no year built
(year_built_unknown); H590 85 m built 2026 (counted); H800 no height, built 2010 (outside the
one-year window: not flagged)."""

from __future__ import annotations

import psycopg

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind


def test_homes_without_height_or_year_are_flagged(city):
    with psycopg.connect(city.conninfo) as conn:
        for code, height, year in (("H300", None, 2026), ("H550", 95, None),
                                   ("H590", 85, 2026), ("H800", None, 2010)):
            conn.execute("UPDATE buildings SET height = %s, year_built = %s WHERE code = %s",
                         (height, year, code))
    high = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                         "new_high_rise_residential"))
    assert high[hf.D1]["value"] == 1
    assert high[hf.D1]["flags"] == ["height_unknown", "year_built_unknown"]
    assert (high[hf.D1]["detail"]["height_unknown"],
            high[hf.D1]["detail"]["year_built_unknown"]) == (1, 1)
    assert high[hf.D2]["flags"] == [] and high[hf.D2]["value"] == 0
    assert high["city"]["flags"] == ["height_unknown", "year_built_unknown"]
