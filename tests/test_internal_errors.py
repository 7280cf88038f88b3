"""Bugs are not bad input (issue 7, defect 6).

A programming error inside a reader used to come out as "input error" (exit 3), because broad
``except Exception`` blocks turned everything into InputError, and the area check skipped
itself on any error. Now only the exceptions that mean a damaged input become InputError; a bug
is reported as ``internal error: … (details: LOG)`` with exit 1, its traceback in the log file.
The bugs are injected in-process (monkeypatch) into the real readers, run through the real CLI
entry point against a real PostGIS.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import sys
from pathlib import Path

import pyproj
import pytest

from cim.errors import InputError, OutOfAreaError
from tests.conftest import REAL, SAMPLE_BUILDINGS, SAMPLES

BAD = Path(__file__).resolve().parent / "data" / "bad"


def _run_main(monkeypatch, capsys, args: list[str], env: dict[str, str] | None = None):
    """`cim ARGS` in this process (so that injected bugs apply): (exit code, stdout, stderr)."""
    from cim import cli

    monkeypatch.setattr(sys, "argv", ["cim", *args])
    # the database and profile for this call only (restored before the fixtures' teardown,
    # which finds the server through the same variables)
    keys = ("CIM_DATABASE_URL", "CIM_PROFILE")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: v for k, v in (env or {}).items() if k in keys})
    try:
        with pytest.raises(SystemExit) as ex:
            cli.main()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = capsys.readouterr()
    code = ex.value.code if isinstance(ex.value.code, int) else 0 if ex.value.code is None else 1
    # the bug's traceback holds the load's frames (and their connections): let them go, so
    # that the test database can be dropped
    ex.value.__context__ = None
    del ex
    gc.collect()
    return code, out.out, out.err


def _assert_internal_error(code: int, err: str, log_dir: Path, exc_name: str, text: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    m = re.fullmatch(rf"internal error: {exc_name}: .*\(details: (.+)\)", lines[0])
    assert m, lines[0]
    log = Path(m.group(1))
    assert log.parent == log_dir and re.fullmatch(r"cim-\d{8}-\d{6}(-\d+)?\.log", log.name)
    body = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in body
    assert f"{exc_name}: " in body and text in body
    assert "input error" not in err and not err.startswith("error:")


@pytest.fixture()
def log_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "logs"
    monkeypatch.setenv("CIM_LOG_DIR", str(d))
    return d


def _bug(exc: BaseException):
    def run(*a, **k):
        raise exc
    return run


def test_a_bug_while_opening_a_source_is_an_internal_error(monkeypatch, capsys, log_dir,
                                                           fresh_db):
    from loaders.sources import read

    monkeypatch.setattr(read.pyogrio, "read_info", _bug(TypeError("injected: bad argument")))
    code, out, err = _run_main(monkeypatch, capsys,
                               ["load", "buildings", str(SAMPLE_BUILDINGS)], fresh_db.env())
    _assert_internal_error(code, err, log_dir, "TypeError", "injected: bad argument")
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0


def test_a_bug_while_reading_features_is_an_internal_error(monkeypatch, capsys, log_dir,
                                                           fresh_db):
    from loaders.sources import batch

    monkeypatch.setattr(batch, "faces_wkb", _bug(KeyError("injected")))
    code, out, err = _run_main(monkeypatch, capsys,
                               ["load", "buildings", str(SAMPLE_BUILDINGS)], fresh_db.env())
    _assert_internal_error(code, err, log_dir, "KeyError", "injected")
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0
    assert fresh_db.rows("SELECT status FROM load_batches WHERE layer = 'buildings'") == \
        [("failed",)]


def test_a_bug_in_the_area_check_is_an_internal_error_not_out_of_area(monkeypatch, capsys,
                                                                      log_dir, fresh_db):
    from loaders.engine import pipeline

    monkeypatch.setattr(pipeline.cimcrs, "transformer", _bug(TypeError("injected transform")))
    code, out, err = _run_main(monkeypatch, capsys,
                               ["load", "buildings", str(SAMPLE_BUILDINGS)], fresh_db.env())
    _assert_internal_error(code, err, log_dir, "TypeError", "injected transform")
    assert fresh_db.scalar("SELECT count(*) FROM buildings") == 0


def test_a_bug_in_the_survey_table_reader_is_an_internal_error(monkeypatch, capsys, log_dir,
                                                               jining_profile):
    from loaders.sources import tables

    monkeypatch.setattr(tables, "_grid_to_table", _bug(TypeError("injected header bug")))
    code, out, err = _run_main(monkeypatch, capsys,
                               ["qa", "pipes", str(SAMPLES / "pipes" / "管线普查成果表.xlsx")],
                               {"CIM_PROFILE": str(jining_profile.path)})
    _assert_internal_error(code, err, log_dir, "TypeError", "injected header bug")


def test_bad_input_still_exits_3_with_one_line_and_no_log(monkeypatch, capsys, log_dir,
                                                          tmp_path, jining_profile):
    broken = tmp_path / "管线点成果表.xlsx"
    broken.write_bytes((SAMPLES / "pipes" / "管线普查成果表.xlsx").read_bytes()[:3000])
    code, out, err = _run_main(monkeypatch, capsys, ["qa", "pipes", str(broken)],
                               {"CIM_PROFILE": str(jining_profile.path)})
    assert code == 3, err
    assert err.startswith("error: ") and broken.name in err and len(err.strip().splitlines()) == 1
    assert not log_dir.exists()


def test_no_log_can_be_written_still_shows_the_traceback(monkeypatch, capsys, tmp_path):
    from cim import cli

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CIM_LOG_DIR", str(blocker / "logs"))
    monkeypatch.setattr(cli.cli, "main", _bug(KeyError("a bug")))
    with pytest.raises(SystemExit) as ex:
        cli.main()
    assert ex.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'a bug'" in err
    assert err.strip().splitlines()[-1].startswith("internal error: KeyError: 'a bug' (no log")


# -- the area check runs or fails; it never skips itself ---------------------------------------
JINING_AREA = (39_460_000.0, 3_910_000.0, 39_470_000.0, 3_920_000.0)  # around the samples
FAR_AREA = (38_400_000.0, 2_500_000.0, 38_410_000.0, 2_510_000.0)  # same CRS, 1,400 km off


def test_area_check_runs_on_a_source_with_non_finite_coordinates():
    """Its GDAL extent is inf; the finite features still place it (they lie in Jining)."""
    from loaders.engine.area import check_area
    from loaders.sources.read import open_source

    src = open_source(BAD / "nan_inf_coords.gpkg")
    crs = pyproj.CRS.from_epsg(4527)
    check_area(src, crs, 4527, JINING_AREA)
    with pytest.raises(OutOfAreaError, match="nan_inf_coords.gpkg.*outside"):
        check_area(src, crs, 4527, FAR_AREA)


def test_area_check_runs_on_citygml_solids(tmp_path):
    """CityGML LOD1 is read through a converted copy; the check reads that same copy."""
    from loaders.engine.area import check_area
    from loaders.sources.read import open_source

    real = REAL / "potsdam_lod1.gml"
    if not real.exists():
        pytest.skip(f"real third-party data {real} is absent")
    shutil.copy2(real, tmp_path / real.name)
    src = open_source(tmp_path / real.name)
    assert src.read_path is not None
    crs = pyproj.CRS.from_epsg(25833)
    # Potsdam is about 368,000 E / 5,808,000 N in EPSG:25833
    check_area(src, crs, 25833, (360_000.0, 5_800_000.0, 380_000.0, 5_820_000.0))
    with pytest.raises(OutOfAreaError, match="outside"):
        check_area(src, crs, 25833, (500_000.0, 5_000_000.0, 510_000.0, 5_010_000.0))


def test_area_check_fails_loudly_when_gdal_cannot_give_the_extent(tmp_path):
    from loaders.engine.area import check_area
    from loaders.sources.read import open_source

    f = tmp_path / "b.gml"
    shutil.copy2(BAD / "gml_plain.gml", f)
    src = open_source(f)
    f.write_bytes(b"<broken")  # replaced after opening: GDAL cannot read it any more
    with pytest.raises(InputError, match="b.gml"):
        check_area(src, pyproj.CRS.from_epsg(4527), 4527, JINING_AREA)
