"""管网老化率: a pipe whose year built is after the check year has no age in it. It was
counted as a known pipe that is not aged (age −36), lowering the rate (a helper's probe).

By construction (tests/health_fixture.py, check year 2026, lives 02: 50 a, 03: 30 a): aged
S1 100 m + S3 50 m over known S1 + S2 200 m + S3 = 350 m; S5, 02, built 2062 (a typo), 400 m,
counts with the unknown years: 150 / 350, not 150 / 750."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import LineString

from layers.health.compute import compute
from tests import health_fixture as hf
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health import _by_unit, _ind


def test_a_year_built_after_the_check_year_is_no_known_age(city):
    s5 = LineString([(300, 100), (700, 100)])
    with psycopg.connect(city.conninfo) as conn:
        conn.execute(
            "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code,"
            " feature_code, start_point_code, end_point_code, year_built, length_m,"
            " district_code, geom) VALUES ('S5', '02', '02', '02', '54000000', 'a', 'b', 2062,"
            " %s, %s, ST_Force3D(ST_GeomFromWKB(%s, 4527)))", (s5.length, hf.D1, hf._wkb(s5)))
    aging = _by_unit(_ind(compute(city.conninfo, 2026, city.profile, store=False),
                          "pipe_aging_rate"))
    assert aging[hf.D1]["value"] == pytest.approx(100 * 150 / 350, abs=1e-5)
    assert aging[hf.D1]["detail"]["by_class"]["02"]["unknown_year_m"] == pytest.approx(400)
    assert aging[hf.D1]["detail"]["by_class"]["02"]["known_m"] == pytest.approx(300)
    assert "year_built_unknown" in aging[hf.D1]["flags"]
