"""A filed approval check is evidence (session 21's probe of the approval staff's record): it
keeps the project as checked (footprints, green, demolitions — the record kept the site and the
attributes only; an HTTP check kept nothing of its project), how it came and who ran it, it
cannot be changed or deleted (but for its report filed with it once), a clerk finds it again
(by project, by date, by id: its report and its project written out), a name is one line of
text (a line break forged a line in the listing), and a report the disk does not take leaves
the record with its report and says its id. Expected values come from the hand-drawn
situation (tests/approval_fixture.py) and shapely on the file written here."""

from __future__ import annotations

import json

import geopandas as gpd
import psycopg
import pytest
import shapely

from tests import approval_fixture
from tests.approval_fixture import SRID, to_storage
from tests.conftest import run_cli
from tests.test_approval import B1, B2, GREEN, SITE_A, _write_gpkg

adb = approval_fixture.adb


@pytest.fixture(scope="module")
def filed(adb, tmp_path_factory):
    """`cim check` of a passing GeoPackage by 张三, with its report: (id, file, report)."""
    tmp = tmp_path_factory.mktemp("ap21")
    gpkg = tmp / "滨河花园 一期.gpkg"
    _write_gpkg(gpkg, {"用地红线": [(SITE_A, {"名称": "site"})],
                       "建筑": [(B1, {"名称": "1号楼", "地上层数": 10, "建筑高度": 30.0}),
                              (B2, {"名称": "2号楼", "地上层数": 10, "建筑高度": 30.0})],
                       "绿地": [(GREEN, {"名称": "g"})]})
    html = tmp / "r.html"
    p = run_cli(["check", str(gpkg), "--by", "张三", "--report", str(html)], adb.env())
    assert p.returncode == 0, p.stdout + p.stderr
    line = next(x for x in p.stdout.splitlines() if x.startswith("recorded as check "))
    return int(line.split()[3]), gpkg, html


def _row(adb, check_id: int) -> dict:
    with psycopg.connect(adb.conninfo) as conn:
        cur = conn.execute("SELECT * FROM approval_checks WHERE id = %s", (check_id,))
        cols = [c.name for c in cur.description]
        return dict(zip(cols, cur.fetchone(), strict=True))


def test_the_record_keeps_the_project_as_checked_and_who_ran_it(adb, filed, tmp_path):
    check_id, gpkg, _ = filed
    row = _row(adb, check_id)
    assert (row["channel"], row["operator"], row["project"]) == ("cli", "张三", "滨河花园 一期")
    feats = row["input"]["features"]
    assert row["input"]["crs"]["properties"]["name"] == f"urn:ogc:def:crs:EPSG::{SRID}"
    assert sorted(f["properties"]["role"] for f in feats) == \
        ["building", "building", "green", "site"]
    # the footprints as the file has them (shapely on what was written, in the storage CRS)
    got = gpd.GeoDataFrame.from_features(feats)
    for role, want in (("site", [SITE_A]), ("building", [B1, B2]), ("green", [GREEN])):
        areas = sorted(got[got["role"] == role].geometry.area)
        assert areas == pytest.approx(sorted(to_storage(g).area for g in want), abs=1e-6)
        bounds = got[got["role"] == role].geometry.total_bounds
        assert list(bounds) == pytest.approx(
            list(shapely.union_all([to_storage(g) for g in want]).bounds), abs=1e-6)
    # written out and checked again: the same answer, rule by rule
    out = tmp_path / "as_checked.geojson"
    p = run_cli(["checks", "--id", str(check_id), "--input", str(out)], adb.env())
    assert p.returncode == 0, p.stderr
    again = run_cli(["check", str(out), "--no-record", "--json"], adb.env())
    first = _row(adb, check_id)["result"]
    assert again.returncode == 0, again.stderr
    assert [(r["id"], r["status"], r["measured"]) for r in json.loads(again.stdout)["results"]] \
        == [(r["id"], r["status"], r["measured"]) for r in first["results"]]


def test_a_filed_record_is_not_changed_nor_deleted(adb, filed):
    check_id, _, _ = filed
    for stmt in ("UPDATE approval_checks SET status = 'fail' WHERE id = %s",
                 "UPDATE approval_checks SET report_html = 'forged' WHERE id = %s",
                 "DELETE FROM approval_checks WHERE id = %s"):
        with psycopg.connect(adb.conninfo) as conn:  # the owner (here a superuser) too
            with pytest.raises(psycopg.errors.RaiseException, match="filed evidence"):
                conn.execute(stmt, (check_id,))
    with psycopg.connect(adb.conninfo) as conn, \
            pytest.raises(psycopg.errors.RaiseException, match="filed evidence"):
        conn.execute("TRUNCATE approval_checks")
    assert _row(adb, check_id)["status"] == "pass"


def test_a_clerk_finds_it_again(adb, filed, tmp_path):
    check_id, _, html = filed
    listed = json.loads(run_cli(["checks", "--project", "滨河", "--json"], adb.env(),
                                check=True).stdout)
    assert check_id in [r["id"] for r in listed]
    assert all("滨河" in r["project"] for r in listed)
    later = json.loads(run_cli(["checks", "--since", "2999-01-01", "--json"], adb.env(),
                               check=True).stdout)
    assert later == []
    text = run_cli(["checks", "--project", "滨河"], adb.env(), check=True).stdout
    assert "[cli 张三 sha256 " in text
    report = tmp_path / "again.html"
    run_cli(["checks", "--id", str(check_id), "--report", str(report)], adb.env(), check=True)
    assert report.read_text(encoding="utf-8") == html.read_text(encoding="utf-8")
    missing = run_cli(["checks", "--id", "999999999"], adb.env())
    assert missing.returncode != 0 and "no approval check 999999999" in missing.stderr


@pytest.mark.parametrize("name", ["x\n   42 2026-01-01 09:00:00+08:00 pass  重点项目A", "   "])
def test_a_name_is_one_line_of_text(adb, filed, name):
    _, gpkg, _ = filed
    p = run_cli(["check", str(gpkg), "--name", name], adb.env())
    assert p.returncode == 2, p.stdout + p.stderr
    assert "project name" in p.stderr and "internal error" not in p.stderr


def test_an_operator_of_two_lines_is_a_bad_option_before_the_check(adb, filed):
    _, gpkg, _ = filed
    before = adb.scalar("SELECT count(*) FROM approval_checks")
    p = run_cli(["check", str(gpkg), "--by", "张三\n   42 forged"], adb.env())
    assert p.returncode == 2 and "--by" in p.stderr and "control character" in p.stderr, \
        p.stdout + p.stderr
    assert adb.scalar("SELECT count(*) FROM approval_checks") == before


def test_a_report_the_disk_does_not_take_keeps_the_record_and_says_its_id(adb, filed):
    _, gpkg, _ = filed
    p = run_cli(["check", str(gpkg), "--report", "/dev/full"], adb.env())
    assert p.returncode == 2, p.stdout + p.stderr
    assert "cannot write the report /dev/full" in p.stderr and "internal error" not in p.stderr
    check_id = int(p.stderr.split("recorded as ")[1].split()[0])
    assert _row(adb, check_id)["report_html"]
