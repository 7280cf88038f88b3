"""A curved feature rejected (a CURVEPOLYGON whose hole crosses its shell) keeps the geometry
GDAL straightened — the platform stores no curves — and its reject says so
(``curve_linearized``): the export of it held a polygon of 4° steps and nothing told the
surveyor that the arc had been replaced. A GeoPackage written by GDAL (ogr2ogr from WKT)."""

from __future__ import annotations

import subprocess

from loaders.buildings import load_buildings


def test_a_rejected_curve_says_it_was_straightened(fresh_db, tmp_path):
    _cell, x, y = fresh_db.big_cell()
    x, y = round(x), round(y)
    good = f"POLYGON (({x} {y},{x + 20} {y},{x + 20} {y + 20},{x} {y + 20},{x} {y}))"
    # a circle of radius 10 around (x+50, y+10) with a square hole crossing its edge
    cx, cy = x + 50, y + 10
    bad = (f"CURVEPOLYGON (CIRCULARSTRING ({cx - 10} {cy},{cx + 10} {cy},{cx - 10} {cy}),"
           f"({cx + 5} {cy - 3},{cx + 15} {cy - 3},{cx + 15} {cy + 3},{cx + 5} {cy + 3},"
           f"{cx + 5} {cy - 3}))")
    src = tmp_path / "b.csv"
    src.write_text(f'WKT,编号\n"{good}",B1\n"{bad}",B2\n', encoding="utf-8")
    gpkg = tmp_path / "b.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(gpkg), str(src), "-oo",
                    "GEOM_POSSIBLE_NAMES=WKT", "-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs",
                    "EPSG:4527", "-nlt", "GEOMETRY", "-nln", "b"], check=True,
                   capture_output=True)
    r = load_buildings(fresh_db.conninfo, fresh_db.profile, gpkg)
    assert (r.read, r.loaded, r.rejected) == (2, 1, 1), r.text()
    ((row, reason, message, wkt),) = fresh_db.rows(
        "SELECT row_number, reason, message, geom_wkt FROM load_rejects WHERE batch_id = %s",
        (r.batch_id,))
    assert (row, reason) == (2, "invalid_geometry")
    assert "curve_linearized" in message, message
    assert wkt.startswith("POLYGON") and wkt.count(",") > 40  # the arc in many steps
