"""``cim check --report/--pdf`` naming a file in a folder that does not exist: the check ran,
and then writing the report was an internal error (FileNotFoundError, exit 1, a traceback
log) and the check was not recorded; the PDF's was Chromium's own lines after the work. Such
an option is a bad option now (exit 2, click's usage error naming it), found before the
project is read, as every other command's output file (layers.query.cli.output_file) —
nothing recorded."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import box

from tests import approval_fixture
from tests.approval_fixture import SRID, collection, feature
from tests.conftest import run_cli

adb = approval_fixture.adb


def _project(tmp_path):
    fc = collection(feature("site", box(0, 0, 100, 100)),
                    feature("building", box(10, 10, 30, 30), 名称="1号楼", 地上层数=3,
                            建筑高度=10))
    fc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{SRID}"}}
    path = tmp_path / "p.geojson"
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("option, name", [("--report", "r.html"), ("--pdf", "r.pdf")])
def test_an_output_file_in_no_folder_is_refused_before_the_check(adb, tmp_path, option,
                                                                   name):
    before = adb.scalar("SELECT count(*) FROM approval_checks")
    out = tmp_path / "no such folder" / name
    proc = run_cli(["check", str(_project(tmp_path)), option, str(out)], adb.env())
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]  # click's usage
    assert len(err) == 1 and option in err[0] and str(out.parent) in err[0], proc.stderr
    assert "internal error" not in proc.stderr and proc.stdout == ""
    assert adb.scalar("SELECT count(*) FROM approval_checks") == before
    assert not out.parent.exists()


def test_an_output_file_that_is_a_folder_is_refused(adb, tmp_path):
    proc = run_cli(["check", str(_project(tmp_path)), "--report", str(tmp_path),
                    "--no-record"], adb.env())
    assert proc.returncode == 2 and "is a folder" in proc.stderr, proc.stderr


def test_a_report_in_a_folder_that_exists_is_written(adb, tmp_path):
    out = tmp_path / "r.html"
    proc = run_cli(["check", str(_project(tmp_path)), "--report", str(out), "--no-record"],
                   adb.env())
    assert proc.returncode in (0, 1), proc.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_filed_report_names_its_record(adb, tmp_path):
    """A filed report named no record: the staff who file it could find the check in
    ``cim checks`` by time and checksum only. It names its record's id now, and the record
    keeps the very report written."""
    out = tmp_path / "r.html"
    proc = run_cli(["check", str(_project(tmp_path)), "--report", str(out), "--json"],
                   adb.env())
    rid = json.loads(proc.stdout)["record_id"]
    assert rid == adb.scalar("SELECT max(id) FROM approval_checks")
    text = out.read_text(encoding="utf-8")
    assert f"记录号 record #{rid}" in text
    assert adb.scalar("SELECT report_html FROM approval_checks WHERE id = %s", (rid,)) == text


def test_a_report_not_recorded_names_no_record(adb, tmp_path):
    out = tmp_path / "r.html"
    run_cli(["check", str(_project(tmp_path)), "--report", str(out), "--no-record"], adb.env())
    assert "记录号" not in out.read_text(encoding="utf-8")
