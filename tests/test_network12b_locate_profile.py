"""The library calls ``trace`` and ``isolate`` with a profile say when a replaced code ended
on that profile's clock: they located the code without it, so the configured profile's clock
(China's) was read whatever profile the caller handed them.

The pipe's last version ended at 2026-03-01 02:30 UTC (set below): in New York (EST, UTC−5)
2026-02-28 21:30−05:00.
"""

from __future__ import annotations

import pytest

from cim.errors import InputError
from tests.test_network12_locate_clock import _profile_in, old_code  # noqa: F401 (fixture)


def test_trace_and_isolate_say_the_end_on_the_clock_of_the_profile_given(
        old_code, jining_profile, tmp_path):  # noqa: F811 (the fixture)
    from cim.profile import load_profile
    from layers.query.isolation import isolate
    from layers.query.trace import trace

    ny = load_profile(_profile_in("America/New_York", jining_profile, tmp_path))
    with pytest.raises(InputError, match="ended 2026-02-28 21:30-05:00"):
        trace(old_code.conninfo, "gone_d", "down", profile=ny)
    with pytest.raises(InputError, match="ended 2026-02-28 21:30-05:00"):
        isolate(old_code.conninfo, "gone_w", profile=ny)
