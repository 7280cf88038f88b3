"""A DXF written by GDAL's own DXF writer (ogr2ogr) holds UTF-8 text under an ANSI_1252
header: GDAL decoded it as CP1252, a layer 上水井盖 read as 'ä¸Šæ°´äº•ç›–' — the component
class unknown. Read as UTF-8 when the header names a single-byte code page and every byte
above ASCII is valid UTF-8 (and only then). Expected names by construction."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from loaders.sources.read import iter_batches, open_source
from tests.conftest import run_cli, scratch_db

pytestmark = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="needs GDAL's ogr2ogr")


def _dxf(tmp_path, x: float, y: float):
    src = tmp_path / "in.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"Layer": "上水井盖", "Text": "甲"},
         "geometry": {"type": "Point", "coordinates": [x, y]}}]}), encoding="utf-8")
    out = tmp_path / "部件.dxf"
    subprocess.run(["ogr2ogr", "-f", "DXF", str(out), str(src)], check=True,
                   capture_output=True)
    assert b"ANSI_1252" in out.read_bytes()[:20000]
    return out


def test_a_gdal_written_dxf_reads_its_chinese_layer_names(tmp_path):
    src = open_source(_dxf(tmp_path, 39460255.0, 3918255.0))
    batch = next(b for b in iter_batches(src) if b is not None)
    assert list(batch.columns["Layer"]) == ["上水井盖"]
    assert any("UTF-8" in n for n in src.notes), src.notes


def test_a_cp1252_dxf_is_read_in_its_code_page(tmp_path):
    path = _dxf(tmp_path, 39460255.0, 3918255.0)
    data = path.read_bytes().replace("上水井盖".encode(), "Café".encode("cp1252"))
    path.write_bytes(data)
    src = open_source(path)
    batch = next(b for b in iter_batches(src) if b is not None)
    assert list(batch.columns["Layer"]) == ["Café"]


def test_the_cli_loads_the_dxf_component_class(jining_profile, tmp_path):
    with scratch_db("src13dxf", jining_profile) as d:
        path = _dxf(tmp_path, d.x0, d.y0)
        mapping = tmp_path / "map.yaml"
        mapping.write_text("class: Layer\n", encoding="utf-8")
        proc = run_cli(["load", "components", str(path), "--mapping", str(mapping),
                        "--crs", "EPSG:4527", "--json"], d.env())
        assert proc.returncode == 0, proc.stderr
        assert d.rows("SELECT subclass_code FROM components") == [("0101",)]
