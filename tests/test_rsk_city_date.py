"""A risk point's deadline counts from the city's date, not the server's: on a server kept in
UTC the deadlines of a Chinese city were a day early from 00:00 to 08:00 local time. By
construction the server runs 12 h behind UTC (TZ=Etc/GMT+12) and the city 14 h ahead
(profile ``timezone: Etc/GMT-14``): their dates always differ, so the deadline tells which
one it counted from."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, load_profile
from tests.conftest import SAMPLES, run_cli

X0, Y0 = 39_463_600.0, 3_913_100.0  # in 任城区


def _profile(tmp_path, zone: str):
    raw = yaml.safe_load((SAMPLES / "profile.yaml").read_text(encoding="utf-8"))
    raw["boundaries"] = str(SAMPLES / raw["boundaries"])
    raw["grid"] = str(SAMPLES / raw["grid"])
    raw["timezone"] = zone
    f = tmp_path / "profile.yaml"
    f.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return f


def test_a_deadline_counts_from_the_citys_date(fresh_db, tmp_path):
    env = {**fresh_db.env(), "CIM_PROFILE": str(_profile(tmp_path, "Etc/GMT-14")),
           "TZ": "Etc/GMT+12"}
    before = dt.datetime.now(dt.timezone(dt.timedelta(hours=14))).date()
    out = json.loads(run_cli(["risk", "add", "--type", "0301", "--point", f"{Y0},{X0}",
                              "--crs", "EPSG:4527", "--likelihood", "2", "--unit", "区住建局", "--json"],
                             env,
                             check=True).stdout)
    after = dt.datetime.now(dt.timezone(dt.timedelta(hours=14))).date()
    levels = yaml.safe_load((DICTIONARY_DIR / "risk_matrix.yaml").read_text(
        encoding="utf-8"))["levels"]
    days = dt.timedelta(days=levels[out["level"]]["deadline_days"])
    deadline = fresh_db.scalar("SELECT deadline FROM risk_points WHERE code = %s AND "
                               "valid_to IS NULL", (out["code"],))
    assert deadline in (before + days, after + days), (deadline, before, days)


def test_an_unknown_zone_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        load_profile(_profile(tmp_path, "Mars/Olympus"))
