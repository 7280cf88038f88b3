"""The sample projects of data_samples/projects/ on the sample district as `make demo` loads
it (buildings, pipes, planning): the passing one passes, the other breaks exactly the rules
its README lists."""

from __future__ import annotations

import json

import pytest

from cim.config import PROJECT_ROOT
from tests.conftest import make_db, run_cli, server_url

J = PROJECT_ROOT / "data_samples" / "jining"
P = PROJECT_ROOT / "data_samples" / "projects"


@pytest.fixture(scope="module")
def district(jining_profile):
    from cim.db.engine import drop_database

    d = make_db("apdistrict", jining_profile)
    for args in (["load", "buildings", str(J / "buildings" / "buildings_survey.shp")],
                 ["load", "pipes", str(J / "pipes")],
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
