"""The sample projects of data_samples/projects/ on the sample district as `make demo` loads
it (buildings, pipes, planning): the passing one passes, the other breaks exactly the rules
its README lists, the pipe-clearance one only the clearance from the old water main (the
second pipe delivery, data_samples/jining/pipes_gis/); and the README's reason why no parcel
breaks only a clearance from the survey pipes, recomputed from the delivered files."""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pyogrio
import pytest
import requests
import shapely

from cim.config import PROJECT_ROOT
from tests.conftest import make_db, run_cli, server_url, start_api

J = PROJECT_ROOT / "data_samples" / "jining"
P = PROJECT_ROOT / "data_samples" / "projects"
OLD_MAIN = J / "pipes_gis" / "old_water_main.gpkg"


@pytest.fixture(scope="module")
def district(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("apdistrict", jining_profile)
    for args in (["load", "buildings", str(J / "buildings" / "buildings_survey.shp")],
                 ["load", "pipes", str(J / "pipes")],
                 ["load", "pipes", "--lines", f"{OLD_MAIN}:pipes", "--points",
                  f"{OLD_MAIN}:nodes", "--class", "给水", "--dataset", "old_water_main"],
                 *[["load", "planning", str(J / "planning" / "planning.gpkg"), "--layer", ly]
                   for ly in ("parcels", "control_lines", "height_zones")]):
        run_cli([*args, "--quiet"], d.env(), check=True)
    yield d
    drop_database(server_url(), d.name)


def test_the_passing_sample_passes(district):
    proc = run_cli(["check", str(P / "passes.gpkg"), "--json", "--no-record"], district.env())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    res = json.loads(proc.stdout)
    assert res["summary"]["status"] == "pass"
    assert {r["status"] for r in res["results"]} <= {"pass", "not_applicable"}
    far = next(r for r in res["results"] if r["id"] == "far")
    assert far["required"] == 2.5 and far["items"][0]["what"] == "parcel RC-1317"


def test_the_several_rules_sample_breaks_what_its_readme_says(district):
    proc = run_cli(["check", str(P / "breaks_several.geojson"), "--json", "--no-record"],
                   district.env())
    assert proc.returncode == 1, proc.stderr
    res = json.loads(proc.stdout)
    failed = {r["id"] for r in res["results"] if r["status"] == "fail"}
    assert failed == {"setback_site", "height_parcel", "far", "green_ratio",
                      "existing_buildings", "building_spacing"}
    readme = (P / "README.md").read_text(encoding="utf-8")
    assert all(f"`{rid}`" in readme for rid in failed)
    assert res["summary"]["counts"]["needs_review"] == 0


def test_the_pipe_clearance_sample_breaks_only_the_old_mains_clearance(district):
    """pipe_clearance.dxf on parcel RC-0324: every other rule passes or does not apply; the
    measured clearance is the footprints' distance to the old main's centre lines minus half
    its diameter, computed here from the DXF and the GeoPackage."""
    dxf = P / "pipe_clearance.dxf"
    proc = run_cli(["check", str(dxf), "--json", "--no-record"], district.env())
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    res = json.loads(proc.stdout)
    status = {r["id"]: r["status"] for r in res["results"]}
    assert [k for k, v in status.items() if v == "fail"] == ["pipe_clearance"], status
    assert set(status.values()) <= {"pass", "not_applicable", "fail"}, status
    for rid in ("setback_road", "setback_site", "height_parcel", "far", "density",
                "green_ratio", "building_spacing", "existing_buildings", "inside_site"):
        assert status.get(rid) == "pass", (rid, status)
    assert [b["name"] for b in res["project"]["buildings"]] == ["1号楼", "2号楼"]
    ents = pyogrio.read_dataframe(dxf)  # GDAL recodes the GBK drawing ($DWGCODEPAGE)
    rings = ents[ents["Layer"] == "建筑"].geometry
    footprints = [shapely.Polygon(g.coords) for g in rings if g.geom_type == "LineString"]
    assert len(footprints) == 2
    main = pyogrio.read_dataframe(OLD_MAIN, layer="pipes")
    radius = float(re.findall(r"[0-9.]+", main["管径"].iloc[0])[0]) / 2000.0
    want = min(f.distance(g) for f in footprints for g in main.geometry) - radius
    assert want == pytest.approx(1.5, abs=0.01)
    rule = next(r for r in res["results"] if r["id"] == "pipe_clearance")
    assert rule["measured"] == pytest.approx(want, abs=1e-3)
    assert rule["required"] == 3.0
    readme = (P / "README.md").read_text(encoding="utf-8")
    assert "`pipe_clearance.dxf`" in readme and "RC-0324" in readme


CLASS_CODE = {"给水": "01", "雨水": "02", "污水": "02", "燃气": "03", "热力": "04"}


def _survey_pipes() -> list[tuple[str, shapely.LineString, float]]:
    """(class, centre line, outer width m) of every surveyed segment of a class with a GB 50289
    building clearance, straight from the delivered tables (X is the northing)."""
    book = PROJECT_ROOT / "data_samples" / "jining" / "pipes" / "管线普查成果表.xlsx"
    tables = []
    for cls in ("给水", "燃气", "雨水", "污水"):
        pts = pd.read_excel(book, sheet_name=f"{cls}管线点", header=None, skiprows=2)
        segs = pd.read_excel(book, sheet_name=f"{cls}管线段", header=None, skiprows=2)
        tables.append((cls, pts, 1, segs, 0, 1, 8))
    pts = pd.read_csv(J / "pipes" / "热力_管线点成果表.csv", encoding="gbk", header=None,
                      skiprows=1)
    segs = pd.read_csv(J / "pipes" / "热力_管线段成果表.csv", encoding="gbk", header=None,
                       skiprows=1)
    tables.append(("热力", pts, 1, segs, 0, 1, 8))
    out = []
    for cls, pts, idc, segs, a, b, dcol in tables:
        xy = {}
        for row in pts.itertuples(index=False):
            try:  # title, header and signature rows have no coordinates
                xy[row[idc]] = (float(row[5]), float(row[4]))
            except (TypeError, ValueError):
                continue
        for row in segs.itertuples(index=False):
            if row[a] in xy and row[b] in xy:
                d = re.findall(r"[0-9.]+", str(row[dcol]))
                out.append((cls, shapely.LineString([xy[row[a]], xy[row[b]]]),
                            float(d[0]) / 1000.0 if d else 0.0))
    return out


def test_no_sample_parcel_can_break_only_a_pipe_clearance():
    """Why pipe_clearance.dxf needs the old water main (README.md): on every sample parcel, the
    ground a building may take while keeping the parcel's road setback stays farther from every
    pipe of the street survey (data_samples/jining/pipes/; the old-main delivery in pipes_gis/
    is the deliberate exception) than the largest GB 50289 building clearance of its class —
    of the pressure classes its gas mains were surveyed in (all 中压: not 次高压's 13.5 m).
    Computed from the delivered files with shapely."""
    rules = pd.read_csv(PROJECT_ROOT / "cim" / "dictionaries" / "pipe_clearances.csv",
                        dtype=str)
    rules = rules[(rules["kind"] == "horizontal") & (rules["a"] == "building")]
    gas = pd.read_excel(PROJECT_ROOT / "data_samples" / "jining" / "pipes" / "管线普查成果表.xlsx",
                        sheet_name="燃气管线段", header=None, skiprows=2)[9]
    pressures = {f"pressure={p}" for p in gas.dropna().astype(str)}
    assert pressures == {"pressure=中压"}  # premise: the sample survey's gas mains
    when = rules["b_when"].fillna("")
    rules = rules[~when.str.startswith("pressure=") | when.isin(pressures)]
    largest = rules.assign(m=rules["required_m"].astype(float)).groupby("b")["m"].max()
    plan = J / "planning" / "planning.gpkg"
    lines = pyogrio.read_dataframe(plan, layer="control_lines")
    red = lines[lines["控制线类型"] == "道路红线"]
    red = shapely.union_all([g.buffer(w / 2, cap_style="flat")
                             for g, w in zip(red.geometry, red["红线宽度"])])
    pipes = _survey_pipes()
    assert {c for c, _, _ in pipes} == set(CLASS_CODE) and len(pipes) > 1000
    tree = shapely.STRtree([g for _, g, _ in pipes])
    parcels = pyogrio.read_dataframe(plan, layer="parcels")
    worst = []
    for code, g, setback in zip(parcels["地块编码"], parcels.geometry, parcels["退道路红线"]):
        if setback != setback:  # no road setback: nothing may be built (留白, water)
            continue
        ground = g.difference(red.buffer(float(setback)))
        for k in tree.query(ground, predicate="dwithin", distance=15.0):
            cls, line, width = pipes[k]
            slack = ground.distance(line) - width / 2 - largest[CLASS_CODE[cls]]
            worst.append((round(slack, 2), code, cls))
    assert worst, "no pipe within 15 m of any parcel's buildable ground"
    assert min(worst)[0] > 0, min(worst)
    readme = (P / "README.md").read_text(encoding="utf-8")
    assert f"stays {min(worst)[0]:.2f} m beyond" in readme, min(worst)


# -- the same check over HTTP: the OGC API process approval-check on the served app ---------
# what may differ between `cim check --json` and the process: the record id and the times;
# and project.source, which is the file's path for the CLI and the name for a posted project
VOLATILE = ("record_id", "checked_at", "seconds")


@pytest.fixture(scope="module")
def served(district, tmp_path_factory):
    """`cim serve`'s app on the district, as shipped: the read-only role and no writer."""
    from services.processes import WRITER_URL_ENV

    saved = os.environ.pop(WRITER_URL_ENV, None)
    try:
        proc, base = start_api(district.url, district.profile,
                               tmp_path_factory.mktemp("apserve"))
    finally:
        if saved is not None:
            os.environ[WRITER_URL_ENV] = saved
    yield base
    proc.terminate()
    proc.wait(10)


def _post(base, inputs):
    return requests.post(f"{base}/processes/approval-check/execution",
                         json={"inputs": inputs}, timeout=120)


def _comparable(res: dict) -> dict:
    out = {k: v for k, v in res.items() if k not in VOLATILE}
    out["project"] = {k: v for k, v in res["project"].items()
                      if k not in ("source", "file_sha256")}  # a posted project is no file
    return out


def test_the_process_answers_over_http_with_the_clis_result(district, served):
    path = P / "breaks_several.geojson"
    fc = json.loads(path.read_text(encoding="utf-8"))
    assert all("role" in f["properties"] for f in fc["features"])
    r = _post(served, {"project": fc, "name": "breaks_several"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    http = r.json()
    proc = run_cli(["check", str(path), "--json", "--no-record"], district.env())
    assert proc.returncode == 1, proc.stderr
    cli = json.loads(proc.stdout)
    assert _comparable(http) == _comparable(cli)
    # a real answer on both sides: the six failures the sample's README lists
    assert sum(x["status"] == "fail" for x in http["results"]) == 6
    assert http["project"]["source"] == "breaks_several"


def test_a_check_over_http_is_recorded_by_the_read_only_server(district, served):
    """The server has no writer (no CIM_PROCESS_WRITER_URL): it records as cim_reader, which
    may INSERT into approval_checks only (cim.db.roles)."""
    fc = json.loads((P / "breaks_several.geojson").read_text(encoding="utf-8"))
    http = _post(served, {"project": fc, "name": "recorded over HTTP"}).json()
    rid = http["record_id"]
    assert isinstance(rid, int), http.get("record_id")
    listed = json.loads(run_cli(["checks", "--json"], district.env(), check=True).stdout)
    row = next(c for c in listed if c["id"] == rid)
    assert (row["project"], row["status"], row["file_sha256"]) == \
        ("recorded over HTTP", "fail", None)
    assert row["counts"] == http["summary"]["counts"]
    stored = district.scalar("SELECT result FROM approval_checks WHERE id = %s", (rid,))
    assert stored["results"] == http["results"]


@pytest.mark.parametrize("inputs,words", [
    ({"project": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.6, 35.4]},
         "properties": {"role": "tower"}}]}}, ["properties.role", "tower"]),
    ({"project": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.6, 35.4]},
         "properties": {"role": "building", "height": -3}}]}}, ["height"]),
    ({"project": {"type": "FeatureCollection", "features": []}}, ["no features"]),
    ({}, ["missing required input", "'project'"]),
    ({"project": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "site"}, "geometry": {
            "type": "Polygon", "coordinates": [[[116.6, 35.4], [116.601, 35.4],
                                                [116.601, 35.401], [116.6, 35.4]]]}}]}},
     ["no proposed building"]),
    ({"project": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "building"}, "geometry": {
            "type": "LineString", "coordinates": [[116.6, 35.4], [116.601, 35.4]]}}]}},
     ["layer 'features', feature 1, field 'geometry'", "LineString", "no site boundary"]),
    ({"project": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "site"}, "geometry": {
            "type": "Polygon", "coordinates": [[[116.6, 35.4], [116.601, 35.4],
                                                [116.601, 35.401], [116.6, 35.4]]]}}]},
      "crs": "EPSG:999999"}, ["999999"]),
])
def test_bad_projects_over_http_are_400_with_a_message(served, inputs, words):
    r = _post(served, inputs)
    assert r.status_code == 400, r.text
    msg = r.json()["description"]
    assert msg.startswith("approval-check:"), msg
    for w in words:
        assert w in msg, msg
    assert "Traceback" not in r.text
