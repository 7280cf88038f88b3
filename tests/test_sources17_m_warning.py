"""pyogrio's own warning for a file of M geometries ("Measured (M) geometry types are not
supported …", a UserWarning) printed in Python's warning format, three lines with its source
line, where every reading warning is `warning: FILE: message` on one line (README). A
Shapefile of XYZM lines written here with GDAL."""

from __future__ import annotations

import subprocess

from tests.conftest import SAMPLES, run_cli


def test_an_m_geometry_warning_is_one_line_naming_the_file(fresh_db, tmp_path):
    shp = tmp_path / "roads_zm.shp"
    subprocess.run(["ogr2ogr", "-f", "ESRI Shapefile", str(shp),
                    str(SAMPLES / "base" / "roads.gpkg"), "-dim", "XYZM", "-lco", "ENCODING=UTF-8"],
                   check=True, capture_output=True)
    out = run_cli(["load", "roads", str(shp), "--quiet"], fresh_db.env())
    assert out.returncode == 0, out.stderr
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert lines and all(x.startswith(f"warning: {shp}: ") for x in lines), lines
    assert any("Measured (M)" in x for x in lines), lines
