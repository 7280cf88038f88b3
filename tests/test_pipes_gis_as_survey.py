"""A GIS network given to the pipe commands as survey tables (`cim qa pipes net.gpkg` without
--lines): its line layer was read as a segment table, its nodes (no X/Y columns) skipped, and
the QA reported every segment's two ends as missing points — 20 errors for a network with
none. The command says what the file is and which option reads it."""

from __future__ import annotations

import os

from tests.conftest import SAMPLES, run_cli


def test_a_gis_network_as_survey_tables_names_lines():
    gpkg = SAMPLES / "pipes_gis" / "old_water_main.gpkg"
    env = dict(os.environ)
    p = run_cli(["qa", "pipes", str(gpkg)], env)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "--lines" in p.stderr and "old_water_main.gpkg:pipes (LineString" in p.stderr
    assert "missing_point" not in p.stdout
    ok = run_cli(["qa", "pipes", "--lines", f"{gpkg}:pipes"], env)
    assert ok.returncode == 0 and "0 errors" in ok.stdout, ok.stdout + ok.stderr
