"""A pipe network's line layer delivered as a WKT CSV: its findings and rejects named the
feature's index (row 1 for the first feature, under the header), and after an empty line
one row more short — the GIS reader numbered rows `i + 1` where every other reader numbers
them as a spreadsheet shows them (header = row 1). The CSV is the sample network written by
GDAL (ogr2ogr -f CSV), one depth made unreadable and an empty line added; the expected row
is counted on the lines written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import SAMPLES, run_cli

pytestmark = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="needs GDAL's ogr2ogr")


def test_a_wkt_csv_line_layer_names_the_row_a_spreadsheet_shows(tmp_path):
    raw = tmp_path / "raw.csv"
    subprocess.run(["ogr2ogr", "-f", "CSV", str(raw), str(SAMPLES / "pipes_gis" /
                    "old_water_main.gpkg"), "pipes", "-lco", "GEOMETRY=AS_WKT"],
                   check=True, capture_output=True)
    lines = raw.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("WKT,管段编号") and ",JSG004," in lines[4]
    head, start_depth, end_depth, owner = lines[4].rsplit(",", 3)
    lines[4] = ",".join([head, "abc", end_depth, owner])  # JSG004's 起点埋深
    # header row 1, JSG001 row 2, JSG002 row 3, an empty row 4, JSG003 row 5, JSG004 row 6
    path = tmp_path / "管线.csv"
    path.write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n", encoding="utf-8")
    p = run_cli(["qa", "pipes", "--lines", str(path), "--class", "JS", "--json"],
                dict(os.environ))
    out = json.loads(p.stdout)
    [finding] = out["findings"]
    assert (finding["rule"], finding["field"], finding["ids"][0]) == (
        "bad_value", "起点埋深", "JSG004")
    assert finding["row"] == 6, finding
