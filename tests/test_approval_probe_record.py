"""A filed approval check says what it was checked with: the rules files (path, SHA-256) and,
per layer, the features read, the load batches they come from (file, SHA-256, when) and the
layer's latest load — in the JSON, in the record (approval_checks) and in the HTML report,
from the CLI and over HTTP alike. Before, the record named the rules file's path only: a
reload of the plan after the check left nothing to tell which plan a filed check stood for.
Expected values: the files' SHA-256 by hashlib, the batch ids from load_batches, the parcels
under the site by shapely from the delivered files."""

from __future__ import annotations

import hashlib
import json
import os

import pyogrio
import pytest
import requests
import shapely
import shapely.geometry

from cim.config import PROJECT_ROOT
from tests.conftest import make_db, run_cli, server_url, start_api

J = PROJECT_ROOT / "data_samples" / "jining"
PLANNING = J / "planning" / "planning.gpkg"
PASSES = PROJECT_ROOT / "data_samples" / "projects" / "passes.gpkg"
RULES = PROJECT_ROOT / "cim" / "dictionaries" / "approval_rules.yaml"
CLEARANCES = PROJECT_ROOT / "cim" / "dictionaries" / "pipe_clearances.csv"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def plan_db(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("aprecord", jining_profile)
    for ly in ("parcels", "control_lines", "height_zones"):
        run_cli(["load", "planning", str(PLANNING), "--layer", ly, "--quiet"], d.env(),
                check=True)
    yield d
    drop_database(server_url(), d.name)


def _parcels_under_site() -> int:
    site = shapely.union_all(pyogrio.read_dataframe(PASSES, layer="用地红线").geometry.values)
    parcels = pyogrio.read_dataframe(PLANNING, layer="parcels").geometry.values
    return int(sum(p.distance(site) == 0 for p in parcels))  # ST_DWithin(…, 0)


def _batch(db, layer: str) -> int:
    return db.scalar("SELECT max(id) FROM load_batches WHERE layer = %s AND status = "
                     "'succeeded'", (layer,))


def test_the_record_and_report_name_the_rules_and_the_data_versions(plan_db, tmp_path):
    html = tmp_path / "r.html"
    proc = run_cli(["check", str(PASSES), "--json", "--report", str(html)], plan_db.env())
    assert proc.returncode in (0, 1), proc.stderr
    res = json.loads(proc.stdout)
    assert res["rules"]["approval_rules"]["sha256"] == _sha(RULES)
    assert res["rules"]["pipe_clearances"]["sha256"] == _sha(CLEARANCES)
    data = {d["layer"]: d for d in res["data"]}
    parcels = data["planning_parcels"]
    pid = _batch(plan_db, "planning_parcels")
    assert parcels["features_read"] == _parcels_under_site() >= 1
    assert [(b["id"], b["sha256"]) for b in parcels["batches"]] == [(pid, _sha(PLANNING))]
    assert parcels["latest_load"]["id"] == pid
    # nothing loaded into buildings and pipes: no batch, said so
    assert data["buildings"]["latest_load"] is None and data["buildings"]["batches"] == []
    stored = plan_db.scalar("SELECT result FROM approval_checks WHERE id = %s",
                            (res["record_id"],))
    assert stored["data"] == res["data"] and stored["rules"] == res["rules"]
    report = html.read_text(encoding="utf-8")
    filed = plan_db.scalar("SELECT report_html FROM approval_checks WHERE id = %s",
                           (res["record_id"],))
    for text in (report, filed):
        assert f"#{pid} " in text and _sha(PLANNING) in text and _sha(RULES) in text


def test_the_report_names_the_project_files_checksum(plan_db, tmp_path):
    html = tmp_path / "r.html"
    res = json.loads(run_cli(["check", str(PASSES), "--json", "--report", str(html)],
                             plan_db.env()).stdout)
    assert res["project"]["file_sha256"] == _sha(PASSES)
    filed = plan_db.scalar("SELECT report_html FROM approval_checks WHERE id = %s",
                           (res["record_id"],))
    for text in (html.read_text(encoding="utf-8"), filed):
        assert _sha(PASSES) in text


def test_a_reload_after_the_check_is_told_by_the_latest_load(plan_db, tmp_path):
    before = json.loads(run_cli(["check", str(PASSES), "--json", "--no-record"],
                                plan_db.env()).stdout)
    # the plan delivered again under another name: a new batch of the layer
    copy = tmp_path / "planning_v2.gpkg"
    copy.write_bytes(PLANNING.read_bytes())
    run_cli(["load", "planning", str(copy), "--layer", "height_zones", "--quiet"],
            plan_db.env(), check=True)
    after = json.loads(run_cli(["check", str(PASSES), "--json", "--no-record"],
                               plan_db.env()).stdout)
    zones = [{d["layer"]: d for d in r["data"]}["height_zones"] for r in (before, after)]
    assert zones[1]["latest_load"]["id"] == _batch(plan_db, "height_zones") > \
        zones[0]["latest_load"]["id"]
    assert zones[1]["latest_load"]["file"] == str(copy)


def test_the_process_over_http_names_the_same_data(plan_db, tmp_path):
    from services.processes import WRITER_URL_ENV

    saved = os.environ.pop(WRITER_URL_ENV, None)
    try:
        proc, base = start_api(plan_db.url, plan_db.profile, tmp_path)
    finally:
        if saved is not None:
            os.environ[WRITER_URL_ENV] = saved
    try:
        feats = []
        for layer, role in (("用地红线", "site"), ("建筑", "building"), ("绿地", "green")):
            gdf = pyogrio.read_dataframe(PASSES, layer=layer).to_crs("OGC:CRS84")
            for f in json.loads(gdf.to_json())["features"]:
                f["properties"]["role"] = role
                feats.append(f)
        r = requests.post(f"{base}/processes/approval-check/execution", timeout=120,
                          json={"inputs": {"project": {"type": "FeatureCollection",
                                                       "features": feats}, "name": "p"}})
        assert r.status_code == 200, r.text
        http = r.json()
        cli = json.loads(run_cli(["check", str(PASSES), "--json", "--no-record"],
                                 plan_db.env()).stdout)
        assert http["data"] == cli["data"] and http["rules"] == cli["rules"]
        assert http["project"]["file_sha256"] is None
        assert {d["layer"]: d for d in http["data"]}["planning_parcels"]["batches"][0][
            "sha256"] == _sha(PLANNING)
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_site_across_two_districts_says_how_much_lies_in_each(plan_db, tmp_path):
    """A project on parcel RC-0414, which the 任城区/微山县 boundary crosses."""
    x0, y0 = 39460408.615, 3913682.053
    site = shapely.box(x0 + 60, y0 + 20, x0 + 300, y0 + 220)
    fc = {"type": "FeatureCollection",
          "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4527"}},
          "features": [{"type": "Feature", "properties": {"role": role, **attrs},
                        "geometry": shapely.geometry.mapping(g)} for role, g, attrs in (
              ("site", site, {}),
              ("building", shapely.box(x0 + 80, y0 + 40, x0 + 110, y0 + 70),
               {"name": "1号楼", "floors_above": 12, "height": 36.0}))]}
    path = tmp_path / "two.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    res = json.loads(run_cli(["check", str(path), "--json", "--no-record"],
                             plan_db.env()).stdout)
    districts = pyogrio.read_dataframe(J / "boundaries.gpkg").to_crs(4527)
    expected = {c: g.intersection(site).area for c, g in zip(districts["code"],
                                                             districts.geometry)}
    expected = {c: a for c, a in expected.items() if a > 0}
    assert len(expected) == 2
    got = {d["code"]: d["site_area_m2"] for d in res["project"]["districts"]}
    assert got == {c: pytest.approx(a, abs=0.01) for c, a in expected.items()}
    assert any("the site lies in 2 districts" in n for n in res["project"]["notes"])


def test_a_relative_path_is_filed_absolute(plan_db):
    rel = PASSES.relative_to(PROJECT_ROOT)  # the CLI runs in PROJECT_ROOT
    res = json.loads(run_cli(["check", str(rel), "--json", "--no-record"],
                             plan_db.env()).stdout)
    assert res["project"]["source"] == str(PASSES) and res["project"]["name"] == "passes"
