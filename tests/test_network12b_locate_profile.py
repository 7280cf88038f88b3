"""The library calls ``trace`` and ``isolate`` with a profile say when a replaced code ended
on that profile's clock: they located the code without it, so the configured profile's clock
(China's) was read whatever profile the caller handed them.

The pipe's last version ended at 2026-03-01 02:30 UTC (set below): in New York (EST, UTC−5)
2026-02-28 21:30−05:00.
"""

from __future__ import annotations

import psycopg
import pytest
import shapely

from cim.errors import InputError
from tests.conftest import drop_database, make_db, server_url
from tests.test_network12_locate_clock import E0, ENDED_UTC, N0, _profile_in


@pytest.fixture(scope="module")
def old(jining_profile):
    d = make_db("net12b_clock", jining_profile, apply_profile=False)
    line = shapely.LineString([(E0, N0, 0.0), (E0 + 50, N0, 0.0)])
    with psycopg.connect(d.conninfo) as conn:
        for cls, code in (("01", "gone_w"), ("02", "gone_d")):
            conn.execute(
                "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
                "feature_code, start_point_code, end_point_code, geom, valid_to) VALUES "
                "(%s, %s, 'x', '00', '51001000', 'a', 'b', ST_GeomFromWKB(%s, 4527), %s)",
                (code, cls, shapely.to_wkb(line), ENDED_UTC))
            conn.execute("INSERT INTO code_registry (code, layer, source_key) "
                         "VALUES (%s, 'pipe_segments', %s)", (code, code))
    yield d
    drop_database(server_url(), d.name)


def test_trace_and_isolate_say_the_end_on_the_clock_of_the_profile_given(
        old, jining_profile, tmp_path):
    from cim.profile import load_profile
    from layers.query.isolation import isolate
    from layers.query.trace import trace

    ny = load_profile(_profile_in("America/New_York", jining_profile, tmp_path))
    with pytest.raises(InputError, match="ended 2026-02-28 21:30-05:00"):
        trace(old.conninfo, "gone_d", "down", profile=ny)
    with pytest.raises(InputError, match="ended 2026-02-28 21:30-05:00"):
        isolate(old.conninfo, "gone_w", profile=ny)
