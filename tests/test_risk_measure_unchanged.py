"""``cim risk measure`` repeating what the point already says made a new version of it each
time (a progress report sent twice, a unit's system resending the status): ``cim history``
filled with versions that differ in nothing. Only a change versions the point.

Expected version counts by construction: one rule point (the gas pipe G1 of test_risk's
rules), then one version per command that changes something."""

from __future__ import annotations

import json

import psycopg
import shapely
from shapely.geometry import LineString

from tests.conftest import run_cli
from tests.test_risk import MATRIX, RULES, _points, storage


def _versions(d, code: str) -> int:
    return d.scalar("SELECT count(*) FROM risk_points WHERE code = %s", (code,))


def test_only_a_change_versions_the_point(fresh_db, tmp_path):
    d = fresh_db
    with psycopg.connect(d.conninfo) as conn:
        conn.execute(
            "INSERT INTO pipe_segments (code, pipe_class, class_name, subclass_code, "
            "feature_code, start_point_code, end_point_code, material_code, year_built, "
            "pressure, status_code, owner, geom) VALUES ('G1', '03', '燃气', '03', '53000000', "
            "'a', 'b', 'ZT', 1980, '中压', '0', '燃气公司', ST_Force3D(ST_GeomFromWKB(%s, "
            "4527), 30))", (shapely.to_wkb(storage(LineString([(0, 0), (100, 0)]))),))
    (tmp_path / "r.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "m.yaml").write_text(MATRIX, encoding="utf-8")
    cfg = ["--rules", str(tmp_path / "r.yaml"), "--matrix", str(tmp_path / "m.yaml")]
    run_cli(["risk", "assess", "--year", "2026", *cfg], d.env(), check=True)
    code = _points(d.conninfo)["G1"]["code"]
    assert _versions(d, code) == 1

    def measure(*args: str) -> dict:
        proc = run_cli(["risk", "measure", code, *args, "--json"], d.env(), check=True)
        return json.loads(proc.stdout)

    first = measure("--status", "落实中", "--deadline", "2027-01-31", "--measure", "专项整治")
    assert _versions(d, code) == 2 and first.get("changed") is True
    valid_from = d.scalar("SELECT valid_from FROM risk_points WHERE code = %s AND "
                          "valid_to IS NULL", (code,))
    # the same report again, whole or in part: nothing changes, no version
    for args in (("--status", "落实中", "--deadline", "2027-01-31", "--measure", "专项整治"),
                 ("--status", "落实中"), ("--deadline", "2027-01-31"),
                 ("--unit", "燃气公司")):  # the unit the rule took from the pipe's owner
        r = measure(*args)
        assert _versions(d, code) == 2, args
        assert r["changed"] is False, args
        assert (r["measure_status"], r["deadline"], r["measure"], r["measure_unit"]) == (
            "落实中", "2027-01-31", "专项整治", "燃气公司")
    assert d.scalar("SELECT valid_from FROM risk_points WHERE code = %s AND "
                    "valid_to IS NULL", (code,)) == valid_from
    text = run_cli(["risk", "measure", code, "--status", "落实中"], d.env(), check=True)
    assert "unchanged" in text.stdout
    # a real change still versions it, and a bad status still changes nothing
    assert measure("--status", "已落实")["changed"] is True and _versions(d, code) == 3
    bad = run_cli(["risk", "measure", code, "--status", "没有"], d.env())
    assert bad.returncode == 3 and "没有" in bad.stderr and _versions(d, code) == 3
