"""A city's copy of a CSV dictionary must keep the platform's key and name columns: a copy
whose header was translated (编码,名称 for code,name) made every reader of it fail on a missing
column — ``cim load buildings`` with such a building_use.csv ended in "internal error:
KeyError: 'code'". Now the load is refused before it starts, naming the file, the missing
columns and the header to keep; a copy without the optional columns (aliases, English
names) still loads, and so does one saved by Excel (UTF-8 with a BOM, or GBK)."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest

from cim.profile import DICTIONARY_DIR, load_profile
from tests.conftest import run_cli

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "jining"


def _profile(tmp_path: Path, csv_bytes: bytes) -> Path:
    f = tmp_path / "城市用途.csv"
    f.write_bytes(csv_bytes)
    text = (SAMPLE / "profile.yaml").read_text(encoding="utf-8")
    text = text.replace("boundaries: boundaries.gpkg", f"boundaries: {SAMPLE / 'boundaries.gpkg'}")
    text = text.replace("grid: grid_cells.gpkg", f"grid: {SAMPLE / 'grid_cells.gpkg'}")
    text = text.replace("dictionaries: {}", f"dictionaries: {{building_use: '{f}'}}")
    p = tmp_path / "profile.yaml"
    p.write_text(text, encoding="utf-8")
    return p


TRANSLATED = "编码,名称,英文名,别名,住宅\n01,住宅,residential,,是\n99,其他,other,,\n"


def test_translated_header_refused_naming_the_file(tmp_path, fresh_db):
    prof = _profile(tmp_path, TRANSLATED.encode("utf-8"))
    shp = SAMPLE / "buildings" / "buildings_survey.shp"
    p = run_cli(["--profile", str(prof), "load", "buildings", str(shp)], fresh_db.env())
    assert p.returncode != 0
    err = p.stderr
    assert "internal error" not in err, err
    assert str(tmp_path / "城市用途.csv") in err, err
    assert "no column code, name" in err, err
    platform = (DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8").splitlines()[0]
    assert platform in err, err  # the header to keep, as the platform's file has it


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_copy_with_the_key_and_name_columns_loads(tmp_path, fresh_db, encoding):
    """Only code and name kept (no aliases, English names, residential), saved by Excel: the
    sample's buildings load, their uses looked up in the city's copy."""
    rows = (DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8").splitlines()
    head = rows[0].split(",")
    ci, ni = head.index("code"), head.index("name")
    kept = ["code,name"] + [f"{r.split(',')[ci]},{r.split(',')[ni]}" for r in rows[1:] if r]
    prof = _profile(tmp_path, ("\n".join(kept) + "\n").encode(encoding))
    assert load_profile(prof).dictionary("building_use")[0].keys() == {"code", "name"}
    shp = SAMPLE / "buildings" / "buildings_survey.shp"
    p = run_cli(["--profile", str(prof), "load", "buildings", str(shp), "--json"],
                fresh_db.env())
    assert p.returncode == 0, p.stdout + p.stderr
    assert f'"read": {len(pyogrio.read_dataframe(shp))}' in p.stdout, p.stdout
