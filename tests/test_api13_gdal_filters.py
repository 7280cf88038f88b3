"""GDAL's OAPIF driver (3.6: ogr2ogr, ogrinfo, QGIS's OGR layers) filters on the server.

GDAL 3.6 sends an OGR SQL ``-where`` to the server only when the OpenAPI document's items
``filter-lang`` parameter lists ``cql-text`` (ogroapifdriver.cpp, GetQueryableAttributes: "CQL
text detected"); otherwise it downloads every feature of the layer and filters them itself
(a planner filtering a million footprints fetched a million). The platform listed only
``cql2-text`` and ``cql2-json``, and a ``filter-lang=cql-text`` request went to pygeoapi's
ECQL parser, which refused ``NOT (…)`` and compared a timestamp with a quoted time as text (a
500); GDAL writes dates as ``'2020-06-01T'``. Each case runs the real ``ogr2ogr`` against the
real app over HTTP with ``CPL_DEBUG=ON``: the filter went to the server (its URL carries it,
GDAL says nothing of client-side evaluation) and the features copied are exactly those an
SQL query of the database selects."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest
import requests

from tests.conftest import start_api

OGR2OGR = shutil.which("ogr2ogr")
pytestmark = pytest.mark.skipif(OGR2OGR is None, reason="GDAL's ogr2ogr is not installed")

# (layer, OGR SQL as a planner types it, the same selection in SQL on the current features)
CASES = [
    ("buildings", "height > 50 AND use_name = '办公'", "height > 50 AND use_name = '办公'"),
    ("buildings", "NOT (height > 20)", "NOT (height > 20)"),
    ("buildings", "name IS NULL", "name IS NULL"),
    ("buildings", "name LIKE '创业_厦%'", "name LIKE '创业_厦%'"),
    ("buildings", "name ILIKE '%大厦%' OR floors_above >= 30",
     "name ILIKE '%大厦%' OR floors_above >= 30"),
    ("buildings", "NOT (name ILIKE '%大厦%')", "NOT (name ILIKE '%大厦%')"),
    ("buildings", "height BETWEEN 20 AND 30", "height BETWEEN 20 AND 30"),
    ("buildings", "valid_from > '2020/01/01 00:00:00' AND height > 50",
     "valid_from > TIMESTAMPTZ '2020-01-01 00:00:00+00' AND height > 50"),
    ("components", "initial_date > '2020-06-01'", "initial_date > DATE '2020-06-01'"),
]


def _ogr2ogr(api: str, layer: str, where: str, out, page_size: int | None) -> str:
    args = [OGR2OGR, "-f", "GPKG", str(out), f"OAPIF:{api}", layer, "-where", where]
    if page_size:
        args += ["-oo", f"PAGE_SIZE={page_size}"]
    env = {**os.environ, "CPL_DEBUG": "ON", "GDAL_HTTP_TIMEOUT": "120"}
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def _codes(gpkg, layer: str) -> set[str]:
    with sqlite3.connect(gpkg) as conn:
        return {r[0] for r in conn.execute(f'SELECT code FROM "{layer}"')}


def test_the_items_filter_lang_lists_what_gdal_looks_for(api):
    doc = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=60).json()
    for layer in ("buildings", "components", "cases"):
        params = doc["paths"][f"/collections/{layer}/items"]["get"]["parameters"]
        refs = [p["$ref"].rsplit("/", 1)[1] for p in params if "$ref" in p]
        assert "filter-lang" in refs, (layer, refs)
    enum = doc["components"]["parameters"]["filter-lang"]["schema"]["enum"]
    assert "cql-text" in enum, enum


@pytest.mark.parametrize("layer,where,sql", CASES, ids=[w for _, w, _ in CASES])
def test_ogr2ogr_where_is_filtered_by_the_server(api, db, tmp_path, layer, where, sql):
    expected = {r[0] for r in db.rows(
        f"SELECT code FROM {layer} WHERE valid_to IS NULL AND ({sql})".replace("%", "%%"))}
    assert expected, (layer, sql)  # premise: the case selects something …
    assert db.scalar(f"SELECT count(*) FROM {layer} WHERE valid_to IS NULL") > len(expected)
    out = tmp_path / "out.gpkg"
    debug = _ogr2ogr(api, layer, where, out, page_size=500)
    assert "evaluated on client side" not in debug, debug[-2000:]
    assert "filter-lang=cql-text" in debug, debug[-2000:]  # the request GDAL sent
    assert _codes(out, layer) == expected


def test_a_filtered_layer_pages_at_gdals_default_page_size(api, db, tmp_path):
    """GDAL's default page of 10 features: the filter stays on every next link."""
    where = "height > 50 AND use_name = '办公'"
    expected = {r[0] for r in db.rows(
        f"SELECT code FROM buildings WHERE valid_to IS NULL AND {where}")}
    assert len(expected) > 20  # premise: three pages or more
    out = tmp_path / "out.gpkg"
    debug = _ogr2ogr(api, "buildings", where, out, page_size=None)
    fetched = [line for line in debug.splitlines()
               if "Fetch(" in line and "/collections/buildings/items" in line
               and "filter=" in line]
    assert len(fetched) >= 3, debug[-2000:]
    assert _codes(out, "buildings") == expected


def test_ogrinfo_counts_a_filtered_layer_in_one_request(api, db):
    """GDAL 3.6 counts a filtered layer with ``resultType=hits`` when the OpenAPI document
    lists that parameter (SupportsResultTypeHits); otherwise ``ogrinfo -so -where`` fetched
    every matching feature, ten a request, to count them."""
    where = "NOT (height > 20)"
    expected = db.scalar(f"SELECT count(*) FROM buildings WHERE valid_to IS NULL AND {where}")
    assert expected > 100  # premise: more than ten pages of GDAL's default size
    env = {**os.environ, "CPL_DEBUG": "ON", "GDAL_HTTP_TIMEOUT": "120"}
    proc = subprocess.run([shutil.which("ogrinfo") or "ogrinfo", "-ro", "-so", "-where", where,
                           f"OAPIF:{api}", "buildings"], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Feature Count: {expected}" in proc.stdout, proc.stdout[-2000:]
    fetched = [line for line in proc.stderr.splitlines()
               if "Fetch(" in line and "/collections/buildings/items" in line]
    assert any("resultType=hits" in line for line in fetched), proc.stderr[-2000:]
    assert len(fetched) <= 3, fetched


def test_ogrinfo_reads_one_feature_by_its_id(api, db):
    """``-where "id = '…'"`` is GDAL's request of one feature: it appends ``/{id}`` to the
    collection's GeoJSON items link, which was ``…/items?f=json`` (``…/items?f=json/3708…``:
    a 400 "Invalid format requested")."""
    code, name = db.rows("SELECT code, name FROM buildings WHERE valid_to IS NULL "
                         "AND name IS NOT NULL ORDER BY code LIMIT 1")[0]
    links = requests.get(f"{api}/collections/buildings", timeout=60).json()["links"]
    items = [lk["href"] for lk in links
             if lk["rel"] == "items" and lk["type"] == "application/geo+json"]
    assert items == [f"{api}/collections/buildings/items"], items
    env = {**os.environ, "CPL_DEBUG": "ON", "GDAL_HTTP_TIMEOUT": "120"}
    proc = subprocess.run([shutil.which("ogrinfo") or "ogrinfo", "-ro", "-q", "-where",
                           f"id = '{code}'", f"OAPIF:{api}", "buildings"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert "ERROR" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout.count("OGRFeature(buildings)") == 1, proc.stdout[-2000:]
    assert f"name (String) = {name}" in proc.stdout
    assert f"/collections/buildings/items/{code})" in proc.stderr  # the one GET of it


def test_ogrinfo_counts_a_layer_past_the_count_cap_in_one_request(db, tmp_path):
    """A layer of more features than ``CIM_COUNT_CAP`` has no ``numberMatched`` on its pages
    (README: omitted above the cap), so GDAL's ``ogrinfo -so`` counted it by downloading
    every feature, a million footprints ten a request; with ``resultType`` listed it asks
    the count once."""
    expected = db.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NULL")
    proc, base = start_api(db.url, db.profile, tmp_path, count_cap=100)
    try:
        assert expected > 100  # premise: past the cap
        env = {**os.environ, "CPL_DEBUG": "ON", "GDAL_HTTP_TIMEOUT": "120"}
        run = subprocess.run([shutil.which("ogrinfo") or "ogrinfo", "-ro", "-so",
                              f"OAPIF:{base}", "buildings"], env=env, capture_output=True,
                             text=True, timeout=900)
    finally:
        proc.terminate()
        proc.wait(10)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Feature Count: {expected}" in run.stdout, run.stdout[-2000:]
    fetched = [line for line in run.stderr.splitlines()
               if "Fetch(" in line and "/collections/buildings/items" in line]
    assert len(fetched) <= 3, fetched
