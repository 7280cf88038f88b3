"""Numbers that are no numbers, and answers without end, refused before the database sees them.

A NaN radius passed every "> 0" check (NaN compares false) and crashed the database server in
``ST_Buffer`` (signal 11: every database of the cluster went into recovery); infinity, a Z of
1e400, a CRS PROJ cannot relate were internal errors (500); an empty district code answered
0 features; ``near`` of a 10^9 m distance answered millions of pairs.

No test here sends a NaN that could reach the database: each refusal is checked where it is
made (the JSON body, the click option, the area), so a regression fails the test without
taking the session's cluster down.
"""

from __future__ import annotations

import json
import math
import os

import pytest
import requests
import shapely

from cim.errors import InputError
from tests.conftest import run_cli, start_api


def _post(api: str, pid: str, body: str) -> requests.Response:
    return requests.post(f"{api}/processes/{pid}/execution", data=body.encode(),
                         headers={"Content-Type": "application/json"}, timeout=60)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_body_with_a_non_finite_number_is_400(api, value):
    # in a bbox, whose own check would refuse it too: never a radius, should both fail
    r = _post(api, "aoi", '{"inputs": {"bbox": [116.5, 35.2, 116.8, ' + value + '], '
              '"layers": ["buildings"]}}')
    assert r.status_code == 400, r.text[:300]
    msg = r.json()["description"]
    assert f"inputs.bbox[3] is {value}" in msg and "finite" in msg, msg
    # the server and its database still answer
    ok = _post(api, "aoi", '{"inputs": {"point": [116.6, 35.35], "radius": 50, '
               '"layers": ["buildings"]}}')
    assert ok.status_code == 200, ok.text[:300]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_the_one_body_reader_refuses_non_finite_numbers(text):
    from services.json_body import read_json

    with pytest.raises(InputError, match="numbers must be finite") as exc:
        read_json('{"a": [1, {"b": ' + text + '}]}')
    assert exc.value.field == "a[1].b" and text in str(exc.value)
    with pytest.raises(InputError, match="numbers must be finite") as exc:
        read_json(text)
    assert exc.value.field == "body"
    assert read_json('{"a": 1e308, "b": -2.5, "c": 10}') == {"a": 1e308, "b": -2.5, "c": 10}


@pytest.mark.parametrize("radius", [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e308, 2.1e7])
def test_an_area_radius_must_be_a_finite_positive_number(radius):
    """… and at most the Earth's half circumference: 1e308 overflowed the circle's geometry
    (112 facilities answered for 127)."""
    from layers.query.area import Area

    with pytest.raises(InputError, match="radius") as e:
        Area(point=(116.6, 35.35), radius=radius).storage_sql(4527)
    assert e.value.field == "radius"


def test_a_finite_radius_composes(db):
    from layers.query.area import Area

    g, params = Area(point=(116.6, 35.35), radius=50.0).storage_sql(4527)
    assert params[-1] == pytest.approx(50.0 / math.cos(math.pi / 128))


@pytest.mark.parametrize("args", [
    ["query", "aoi", "--point", "116.6,35.35", "--radius", "nan"],
    ["query", "aoi", "--point", "116.6,35.35", "--radius", "inf"],
    ["query", "near", "buildings", "pipe_segments", "--distance", "nan"],
])
def test_cli_float_options_refuse_nan_and_infinity(db, args):
    p = run_cli(args, {**os.environ, "CIM_DATABASE_URL": db.url})
    assert p.returncode == 2, p.stdout + p.stderr
    assert "is not a finite number" in p.stderr, p.stderr


def test_an_infinite_height_in_a_query_geometry_is_400(api):
    # a Z of 1e400 is read as infinity: GEOS refused it (500); inside a polygon it made every
    # layer's count 0
    poly = "POLYGON Z ((116.5 35.2 0, 116.8 35.2 1e400, 116.8 35.5 0, 116.5 35.2 0))"
    r = requests.post(f"{api}/processes/aoi/execution", json={"inputs": {
        "polygon": poly, "layers": ["buildings"]}}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert "finite" in r.json()["description"] and "inf" in r.json()["description"]
    r = requests.get(f"{api}/map/api/section", params={
        "line": "LINESTRING(116.60 35.35 1e400, 116.62 35.35 1)"}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert "finite" in r.text


def test_check_finite_reads_the_heights():
    from layers.query.coord_checks import check_finite

    check_finite(shapely.Point(1, 2, 3), "p")  # finite
    with pytest.raises(InputError, match=r"\(1, 2, inf\)"):
        check_finite(shapely.Point(1, 2, math.inf), "p")
    with pytest.raises(InputError, match=r"\(nan, 2\)"):
        check_finite(shapely.Point(math.nan, 2), "p")


def test_a_crs_proj_cannot_relate_is_400(api):
    r = requests.post(f"{api}/processes/aoi/execution", json={"inputs": {
        "bbox": [0, 0, 1, 1], "crs": "+proj=longlat +a=1", "layers": ["buildings"]}},
        timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert "no transformation from '+proj=longlat +a=1'" in r.json()["description"]


@pytest.mark.parametrize("key", ["district", "grid", "code"])
def test_an_empty_area_code_is_refused_not_zero_features(api, key):
    r = requests.post(f"{api}/processes/aoi/execution", json={"inputs": {
        key: "", "layers": ["buildings"]}}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert "has code ''" in r.json()["description"], r.text[:300]


def _pairs_within(db, metres: float) -> int:
    import psycopg

    with psycopg.connect(db.conninfo) as conn:
        return conn.execute(
            "SELECT count(*) FROM buildings a JOIN buildings b ON a.code < b.code "
            "AND ST_Distance(a.geom, b.geom) <= %s WHERE a.valid_to IS NULL "
            "AND b.valid_to IS NULL", (metres,)).fetchone()[0]


def test_a_served_answer_stops_at_its_row_limit(db, tmp_path, monkeypatch):
    monkeypatch.setenv("CIM_PROCESS_MAX_ROWS", "1000")
    proc, base = start_api(db.url, db.profile, tmp_path)
    try:
        body = {"inputs": {"a": "buildings", "b": "buildings", "distance": 1e7}}
        r = requests.post(f"{base}/processes/near/execution", json=body, timeout=120)
        assert r.status_code == 400, r.text[:300]
        assert "more than 1,000 pairs" in r.json()["description"]
        r = requests.post(f"{base}/processes/aoi/execution", json={"inputs": {
            "layers": ["buildings"], "features": True}}, timeout=120)
        assert r.status_code == 400, r.text[:300]
        assert "more than 1,000 features of buildings" in r.json()["description"]
        # within the limit, the answer is whole
        body["inputs"].update(a="admin_divisions", b="admin_divisions")
        r = requests.post(f"{base}/processes/near/execution", json=body, timeout=120)
        assert r.status_code == 200, r.text[:300]
    finally:
        proc.terminate()
        proc.wait(10)
    # the command line has no limit: every pair
    pairs = _pairs_within(db, 60.0)
    assert pairs > 1000
    p = run_cli(["query", "near", "buildings", "buildings", "--distance", "60", "--json"],
                {**os.environ, "CIM_DATABASE_URL": db.url})
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["rows"]) == pairs


def test_a_radius_that_overflows_once_widened_is_refused():
    from layers.query.area import Area

    with pytest.raises(InputError, match="radius"):
        Area(point=(116.6, 35.35), radius=1.7976931348623157e308).storage_sql(4527)


@pytest.mark.parametrize("raw,want", [("5000", 5000), ("1_000", 1000), ("100k", 100_000),
                                      ("²", 100_000),
                                      ("0", 100_000), ("-3", 100_000), ("", 100_000)])
def test_the_row_limit_setting(monkeypatch, raw, want):
    from layers.query.common import _max_rows_setting

    monkeypatch.setenv("CIM_PROCESS_MAX_ROWS", raw)
    assert _max_rows_setting() == want


@pytest.mark.parametrize("module,call", [
    ("layers.approval.config", lambda m, v: m._number({"search_m": v}, "search_m",
                                                       __import__("pathlib").Path("a.yaml"))),
    ("layers.iot.thresholds", lambda m, v: m._num(v, __import__("pathlib").Path("iot.yaml"),
                                                   "readings.max_ahead_s")),
    ("layers.risk.config", lambda m, v: m._num(v, __import__("pathlib").Path("r.yaml"),
                                                "consequence.radius_m")),
])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_city_file_number_must_be_finite(module, call, value):
    import importlib

    from cim.errors import ConfigError

    with pytest.raises(ConfigError, match="finite"):
        call(importlib.import_module(module), value)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_health_setting_must_be_finite(value):
    from layers.health.params import check_settings

    with pytest.raises(ValueError, match="finite"):
        check_settings({"district_gap_m": value})


@pytest.mark.parametrize("body,field", [
    ('{"\\u0000": 1}', "body"), ('{"a": {"b": ["x\\u0000"]}}', "a.b[0]"),
    ('{"a": "\\udce9"}', "a"), ('{"a": "\\uDCE9"}', "a")])
def test_nul_and_half_characters_are_named_wherever_they_are(body, field):
    from services.json_body import read_json

    with pytest.raises(InputError) as exc:
        read_json(body.encode())
    assert exc.value.field == field


def test_escaped_characters_that_are_whole_pass():
    from services.json_body import read_json

    assert read_json(b'{"a": "\\ud83d\\ude00 \\u4e2d"}') == {"a": "\U0001F600 中"}


@pytest.mark.parametrize("raw,field", [
    (b'{"a": "\xed\xb3\xa9"}', "a"),                      # a surrogate's own UTF-8 bytes
    (b'{"\xed\xa0\x80": 1}', "body"),                      # ... in a key
    ('{"a": ["\\u0000"]}'.encode("utf-16-le"), "a[0]"),    # UTF-16 text of an escaped NUL
    ('{"a": "x\u0000"}'.encode("utf-32"), "body"),           # a raw NUL: no JSON at all
    (('{"r": 1' + "0" * 400 + "}").encode(), "r"),            # an integer past a double
])
def test_what_the_fast_path_could_miss_is_still_named(raw, field):
    """The review of the body reader's fast path: json decodes UTF-16/-32 and passes
    surrogates, so a NUL or half a character need not be an ASCII escape in the bytes."""
    from services.json_body import read_json

    with pytest.raises(InputError) as exc:
        read_json(raw)
    assert exc.value.field == field
