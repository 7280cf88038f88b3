"""The served app under hostile and odd requests, its database role, its OpenAPI document and
its conformance declaration (issue 8: least privilege, conformance, hostile requests).

Every hostile request must get a 4xx with a message, never a 5xx or a stack trace. Expected
answers come from the session database (SQL) or from the request's own construction.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlparse

import psycopg
import pytest
import requests

from cim.db.engine import drop_database
from cim.db.roles import DEFAULT_READER
from services.openapi import external_refs
from tests.conftest import make_db, server_url, start_api

ITEMS = "/collections/buildings/items"
POLY = "POLYGON((116.60 35.34, 116.62 35.34, 116.62 35.36, 116.60 35.36, 116.60 35.34))"


def _raw_get(base: str, target: str, method: str = "GET", body: bytes | None = None):
    """The request exactly as written (no client-side normalisation of ``..`` or quoting)."""
    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Accept", "application/json")
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body is not None:
            try:
                conn.send(body)
            except OSError:  # the server answered (413) and closed before the body was read
                pass
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _q(**params) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in params.items())


HOSTILE = [
    # malformed, non-finite and impossible bboxes
    f"{ITEMS}?f=json&bbox=1,2,3",
    f"{ITEMS}?f=json&bbox=a,b,c,d",
    f"{ITEMS}?f=json&bbox=1,2,3,nan",
    f"{ITEMS}?f=json&bbox=1,2,inf,4",
    f"{ITEMS}?f=json&bbox=-Infinity,2,3,4",
    f"{ITEMS}?f=json&bbox=1e400,2,3,4",
    f"{ITEMS}?f=json&bbox=116.7,35.4,116.6,35.3",
    f"{ITEMS}?f=html&bbox=1,2,3,nan",  # pygeoapi's HTML pages get the same checks
    f"{ITEMS}?f=json&bbox=1,2,3,4&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/999999",
    # unknown CRSs
    f"{ITEMS}?f=json&crs=EPSG:99999",
    f"{ITEMS}?f=json&crs=http://www.opengis.net/def/crs/EPSG/0/3857",
    f"{ITEMS}/xyz?f=json&crs=urn:nonsense",
    # SQL-like property names
    f"{ITEMS}?" + _q(f="json", properties="name;DROP TABLE buildings"),
    f"{ITEMS}?" + _q(f="json", sortby="height;DELETE FROM buildings"),
    f"{ITEMS}?" + _q(f="json", sortby='-"height"'),
    f"{ITEMS}?" + _q(**{"f": "json", "height' OR '1'='1": "1"}),
    f"{ITEMS}?" + _q(f="json", filter="\"name'; DROP TABLE buildings; --\" = 'x'",
                     **{"filter-lang": "cql2-text"}),
    f"{ITEMS}?" + _q(f="json", filter='"height;drop" > 1'),
    # broken CQL2, with and without filter-lang (without: the ECQL fallback to pygeoapi)
    f"{ITEMS}?" + _q(f="json", filter="height >>> 5", **{"filter-lang": "cql2-text"}),
    f"{ITEMS}?" + _q(f="json", filter="height >>> 5"),
    f"{ITEMS}?" + _q(f="json", filter='{"op": "=", "args": [', **{"filter-lang": "cql2-json"}),
    f"{ITEMS}?" + _q(f="json", filter='{"op": "drop", "args": []}',
                     **{"filter-lang": "cql2-json"}),
    f"{ITEMS}?" + _q(f="json", filter="INTERSECTS(geometry, POLYGON((1 1, 2 2"),
    f"{ITEMS}?" + _q(f="json", filter="BBOX(nosuch, 1, 2, 3, 4)"),
    f"{ITEMS}?" + _q(f="json", filter="INTERSECTS(nosuch, POINT(1 2))"),
    f"{ITEMS}?" + _q(f="json", filter="height > 1", **{"filter-lang": "sql"}),
    f"{ITEMS}?" + _q(f="html", filter="height >>> 5"),
    # unknown filter-crs
    f"{ITEMS}?" + _q(f="json", filter=f"S_INTERSECTS(geometry, {POLY})",
                     **{"filter-lang": "cql2-text", "filter-crs": "urn:nonsense"}),
    f"{ITEMS}?" + _q(f="json", filter="height > 1", **{"filter-crs": "EPSG:99999"}),
    # huge offsets and limits that are not numbers
    f"{ITEMS}?f=json&offset=99999999999999999999999",
    f"{ITEMS}?f=json&offset=100000001",
    f"{ITEMS}?f=html&offset=100000001",
    f"{ITEMS}?f=json&limit=1000000000000000000000000000000",
    f"{ITEMS}?f=json&limit=-1",
    f"{ITEMS}?f=json&cursor=-1",
    # datetime garbage
    f"{ITEMS}?f=json&datetime=garbage",
    f"{ITEMS}?f=json&datetime=2020-13-45",
    f"{ITEMS}?f=json&datetime=2020-01-01/2020-02-01/2020-03-01",
    f"{ITEMS}?f=html&datetime=yesterday",
    # item ids
    f"{ITEMS}/%00?f=json",
    f"{ITEMS}/{quote(chr(39) + ' OR 1=1 --', safe='')}?f=json",
    f"{ITEMS}/{'9' * 5000}?f=json",
    f"{ITEMS}/..%2F..%2Fetc%2Fpasswd?f=json",
    # paths with ../
    "/collections/../../etc/passwd",
    f"{ITEMS}/../../../../etc/passwd",
    "/static/../../../../etc/passwd",
    "/schemas/../../../../etc/passwd",
    "/collections/buildings%2F..%2F..%2Fsecret/items?f=json",
    # unknown parameters outside the items path
    "/?ooga=booga", "/conformance?ooga=booga", "/collections?ooga=booga",
    "/collections/buildings?ooga=booga", "/openapi?ooga=booga",
    f"{ITEMS}/xyz?ooga=booga&f=json", f"{ITEMS}/xyz?ooga=booga&f=html",
    # unknown things
    "/collections/nosuch/items?f=json",
    "/collections/" + quote("x'; DROP TABLE buildings; --", safe="") + "/items?f=json",
    f"{ITEMS}?f=exe",
    # a request line over gunicorn's limit (CQL2 filter of 20,000 characters)
    f"{ITEMS}?f=json&filter=" + "a" * 20_000,
]


@pytest.mark.parametrize("target", HOSTILE, ids=lambda t: t[:70])
def test_hostile_request_is_a_4xx_with_a_message(api, target):
    status, body = _raw_get(api, target)
    assert 400 <= status < 500, (target[:200], status, body[:300])
    assert body.strip(), "an error needs a message"
    assert "Traceback" not in body and 'File "' not in body
    if body.lstrip().startswith("{"):
        assert json.loads(body).get("description"), body[:300]


def test_huge_request_body_is_413(api):
    status, body = _raw_get(api, "/processes/hello-world/execution", "POST",
                            b"{" + b" " * 2_000_000 + b"}")
    assert status == 413, (status, body[:300])


def test_huge_chunked_body_is_413_not_cut(api):
    """A body sent chunked (no Content-Length) over the limit is a 413 as any other: it was cut
    at the limit and its valid JSON refused as "not JSON"; one under the limit is read whole."""
    big = json.dumps({"inputs": {"polygon": "x" * 2_000_000}}).encode()

    def chunks(data):
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    r = requests.post(f"{api}/processes/aoi/execution", data=chunks(big),
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert r.json()["code"] == "PayloadTooLarge", r.text[:300]  # the platform's, with its limit
    assert "request body over" in r.json()["description"], r.text[:300]
    small = json.dumps({"inputs": {"bbox": [116.60, 35.34, 116.62, 35.36],
                                   "layers": ["buildings"], "note": " " * 100_000}}).encode()
    r = requests.post(f"{api}/processes/aoi/execution", data=chunks(small),
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 400, (r.status_code, r.text[:300])  # read whole: its input named
    assert "note" in r.json()["description"], r.text[:300]


def test_huge_limit_is_clamped_and_the_api_still_answers(api, db):
    """limit above the maximum is reduced (OGC API Features), not refused."""
    r = requests.get(f"{api}{ITEMS}", params={"f": "json", "limit": "100000000"}, timeout=60)
    assert r.status_code == 200
    total = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    assert r.json()["numberReturned"] == total  # all 1,500 < the maximum of 10,000


# -- least privilege -----------------------------------------------------------------------
def test_served_connections_are_the_read_only_role(api, db):
    """Both the platform's items pool and pygeoapi's provider log in as cim_reader."""
    assert requests.get(f"{api}{ITEMS}?f=json&limit=2", timeout=60).status_code == 200
    assert requests.get(f"{api}{ITEMS}?f=html&limit=2", timeout=60).status_code == 200
    rows = db.rows("SELECT application_name, usename FROM pg_stat_activity "
                   "WHERE datname = current_database() AND application_name LIKE 'cim-serve%%'")
    assert {a for a, _ in rows} >= {"cim-serve", "cim-serve-pygeoapi"}, rows
    assert {u for _, u in rows} == {DEFAULT_READER}, rows


@pytest.fixture(scope="module")
def slow_api(jining_profile, tmp_path_factory):
    """A server of its own whose reader has a 1 s statement_timeout in this database only."""
    from loaders.buildings import load_buildings
    from tests.conftest import SAMPLE_BUILDINGS

    d = make_db("slow", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    with psycopg.connect(d.conninfo, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE {DEFAULT_READER} IN DATABASE "{d.name}" '
                     "SET statement_timeout = '1s'")
    proc, base = start_api(d.url, jining_profile, tmp_path_factory.mktemp("slow"))
    try:
        yield base, d
    finally:
        proc.terminate()
        proc.wait(10)
        drop_database(server_url(), d.name)


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_statement_timeout_is_a_503_with_a_message(slow_api, fmt):
    """A query the serving role's statement_timeout cancels (here: it waits for a lock held
    by another session) is the server's load, 503, on the platform's and pygeoapi's paths."""
    base, d = slow_api
    with psycopg.connect(d.conninfo) as conn:
        conn.execute("LOCK TABLE buildings IN ACCESS EXCLUSIVE MODE")
        r = requests.get(f"{base}{ITEMS}", params={"f": fmt, "limit": 5}, timeout=60)
        conn.rollback()
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert "too long" in r.text and "Traceback" not in r.text
    ok = requests.get(f"{base}{ITEMS}", params={"f": fmt, "limit": 5}, timeout=60)
    assert ok.status_code == 200  # the lock is gone: the same request works again


# -- the OpenAPI document and the conformance declaration ----------------------------------
def test_served_openapi_is_self_contained_valid_and_lists_the_platform_parameters(api):
    from openapi_spec_validator import validate

    doc = requests.get(f"{api}/openapi?f=json", timeout=60).json()
    assert external_refs(doc) == []
    validate(doc)  # offline: every $ref is local

    def name(p):
        if "$ref" in p:
            node = doc
            for part in p["$ref"].lstrip("#/").split("/"):
                node = node[part]
            return node["name"]
        return p["name"]

    params = {name(p) for p in doc["paths"][ITEMS]["get"]["parameters"]}
    assert {"bbox", "bbox-crs", "crs", "limit", "offset", "cursor", "filter", "filter-lang",
            "filter-crs", "resulttype", "sortby", "properties"} <= params
    assert "vendorSpecificParameters" not in params  # unknown parameters are a 400


CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
# one filter per declared CQL2 class, with its SQL over the session database
CQL2_EXAMPLES = {
    "basic-cql2": ("height > 50 AND NOT (use_name = '住宅') OR name IS NULL",
                   "(height > 50 AND NOT (use_name = '住宅')) OR name IS NULL"),
    "advanced-comparison-operators": (
        "height BETWEEN 10 AND 40 AND use_name IN ('办公', '住宅') AND name LIKE '%楼%'",
        "height BETWEEN 10 AND 40 AND use_name IN ('办公', '住宅') AND name LIKE '%楼%'"),
    "basic-spatial-functions": (
        "S_INTERSECTS(geometry, BBOX(116.60, 35.34, 116.62, 35.36))",
        "ST_Intersects(geom, ST_Transform(ST_Segmentize(ST_MakeEnvelope(116.60, 35.34, "
        "116.62, 35.36, 4490), 0.0005), 4527))"),
    "spatial-functions": (
        f"S_WITHIN(geometry, {POLY})",
        "ST_Within(geom, ST_Transform(ST_Segmentize(ST_GeomFromText("
        f"'{POLY}', 4490), 0.0005), 4527))"),
}


def test_conformance_declares_only_what_is_served(api, db):
    declared = set(requests.get(f"{api}/conformance?f=json", timeout=60).json()["conformsTo"])
    assert not any("ogcapi-features-4" in c or "ogcapi-features-5" in c for c in declared)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in declared
    cql2 = {c[len(CQL2):] for c in declared if c.startswith(CQL2)}
    # nothing of CQL2 the compiler does not implement
    assert not cql2 & {"case-insensitive-comparison", "accent-insensitive-comparison",
                       "temporal-functions", "array-functions", "property-property",
                       "functions", "arithmetic"}
    assert {"cql2-text", "cql2-json"} <= cql2
    for cls, (text, where) in CQL2_EXAMPLES.items():
        assert cls in cql2
        expected = {c for c, in db.rows(
            f"SELECT code FROM buildings WHERE valid_to IS NULL AND ({where})".replace("%", "%%"))}
        r = requests.get(f"{api}{ITEMS}", params={"f": "json", "limit": 10000, "filter": text,
                                                  "filter-lang": "cql2-text"}, timeout=60)
        assert r.status_code == 200, (cls, r.text[:300])
        assert {f["id"] for f in r.json()["features"]} == expected, cls
        assert expected, cls  # a class whose example selects nothing proves nothing
