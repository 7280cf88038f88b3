"""`cim query trace|isolate` of a code a later load replaced: the time its last version ended
is said on the clock of the profile the command runs with (``--profile FILE``), not on the
configured profile's.

The pipe's last version ended at 2026-03-01 02:30 UTC (set below): in New York (EST, UTC−5,
no daylight saving on that date) that is 2026-02-28 21:30−05:00; in China 10:30+08:00.
"""

from __future__ import annotations

import psycopg
import pytest
import shapely
import yaml

from tests.conftest import drop_database, make_db, run_cli, server_url

E0, N0 = 39_480_000.0, 3_920_000.0
ENDED_UTC = "2026-03-01 02:30+00"


@pytest.fixture(scope="module")
def old_code(jining_profile):
    d = make_db("net12_clock", jining_profile, apply_profile=False)
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


def _profile_in(zone: str, base, tmp_path):
    """A copy of the sample profile on another clock (its files by absolute path)."""
    raw = yaml.safe_load(base.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):
        if raw.get(key):
            raw[key] = str((base.path.parent / raw[key]).resolve())
    raw["timezone"] = zone
    out = tmp_path / "city_ny.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return out


@pytest.mark.parametrize("args", [["query", "isolate", "gone_w"],
                                  ["query", "trace", "gone_d"]])
def test_old_code_ended_on_the_clock_of_the_profile_given(old_code, jining_profile, tmp_path,
                                                          args):
    ny = _profile_in("America/New_York", jining_profile, tmp_path)
    proc = run_cli(["--profile", str(ny), *args], old_code.env())  # CIM_PROFILE: the sample's
    assert proc.returncode == 3, proc.stderr
    assert "is no longer current: its last version ended 2026-02-28 21:30-05:00" in proc.stderr
    # the option after the command's name too
    proc = run_cli([*args, "--profile", str(ny)], old_code.env())
    assert "ended 2026-02-28 21:30-05:00" in proc.stderr, proc.stderr
    # without --profile: the configured (sample) profile's clock, China's
    proc = run_cli(args, old_code.env())
    assert "ended 2026-03-01 10:30+08:00" in proc.stderr, proc.stderr


def test_locate_takes_the_profile_in_use(old_code, jining_profile, tmp_path):
    """The library call with a profile says the time on its clock (the OGC processes pass
    none: the configured profile's)."""
    from cim.errors import InputError
    from cim.profile import load_profile
    from layers.query.network_locate import _locate

    ny = load_profile(_profile_in("America/New_York", jining_profile, tmp_path))
    with psycopg.connect(old_code.conninfo) as conn:
        with pytest.raises(InputError, match="ended 2026-02-28 21:30-05:00"):
            _locate(conn, "gone_w", ny)
