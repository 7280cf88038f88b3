"""Which appurtenances isolate is the city's pipe_features.csv's to say (its ``isolates``
column): a city that named its valves 闸阀 got no valve to close and every pipe cut off by a
burst, the names 阀门/阀门井 being written in code. A copy made before the column keeps those
two names. A line of three segments by hand: S -a- V -b- W -c- K, V and W valves (闸阀)."""

from __future__ import annotations

import csv
import io

import psycopg
import pytest
import yaml

from cim.profile import DICTIONARY_DIR, load_profile
from tests.conftest import drop_database, make_db, server_url
from tests.test_net_network import _pt, _seg

NODES = {"S": (0, 0), "V": (100, 0), "W": (200, 0), "K": (300, 0)}


@pytest.fixture(scope="module")
def line(jining_profile):
    d = make_db("net_isolating", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        for k, xy in NODES.items():
            _pt(conn, k, "01", xy, app="闸阀" if k in "VW" else None)
        for code, (a, b) in {"a": "SV", "b": "VW", "c": "WK"}.items():
            _seg(conn, code, "01", NODES[a], NODES[b], a, b)
    yield d
    drop_database(server_url(), d.name)


def _city(tmp_path, jining_profile, with_column: bool):
    rows = list(csv.DictReader(io.StringIO(
        (DICTIONARY_DIR / "pipe_features.csv").read_text(encoding="utf-8"))))
    for r in rows:  # the city calls its water valves 闸阀 (阀门 an alias)
        if (r["class"], r["kind"], r["name"]) == ("01", "附属物", "阀门"):
            r["name"], r["aliases"] = "闸阀", "阀门|阀"
    fields = list(rows[0])
    if not with_column:
        fields.remove("isolates")
    out = io.StringIO()
    w = csv.DictWriter(out, fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    f = tmp_path / "pipe_features.csv"
    f.write_text(out.getvalue(), encoding="utf-8")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    raw["boundaries"], raw["grid"] = str(jining_profile.boundaries), str(jining_profile.grid)
    raw["dictionaries"] = {"pipe_features": str(f)}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_profile(path)


def test_the_citys_valve_name_isolates(line, tmp_path, jining_profile):
    from layers.query.isolation import isolate

    # the platform's dictionary: 闸阀 is an alias of 阀门, not a stored name that isolates
    r = isolate(line.conninfo, "b")
    assert (r["valves"], r["isolated_segments"]) == ([], ["a", "b", "c"])
    city = _city(tmp_path, jining_profile, with_column=True)
    r = isolate(line.conninfo, "b", profile=city)
    assert (r["valves"], r["isolated_segments"]) == (["V", "W"], ["b"])


def test_a_copy_without_the_column_keeps_the_two_names(tmp_path, jining_profile):
    from layers.query.valves import isolating_appurtenances

    city = _city(tmp_path, jining_profile, with_column=False)
    assert isolating_appurtenances(city, "01") == ("阀门", "阀门井")
    assert isolating_appurtenances(None, "01") == ("阀门", "阀门井")
    assert isolating_appurtenances(None, "02") == ()  # drainage: no valve shuts a sewer
