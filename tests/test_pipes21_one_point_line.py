"""A GIS pipe network holding a line of one point (a degenerate CAD line: GDAL reads it, GEOS
refuses it): it was rejected as "the feature has no geometry", the delivered line gone from
the reject. Now a ``bad_value`` of its geometry keeping GDAL's WKT, as every other loader's reject
(tests/test_rejects20_one_point_line.py). The GeoPackage written by GDAL (ogr2ogr from CSV WKT);
coordinates by construction."""

from __future__ import annotations

import subprocess

from loaders.pipes.load import load_pipes_files

E, N = 39_460_300, 3_917_200  # inside the sample district (EPSG:4527)


def test_a_one_point_line_in_a_gis_network_is_kept_in_its_reject(fresh_db, tmp_path):
    src = tmp_path / "pipes.csv"
    src.write_text("WKT,管段编号,管径\n"
                   f'"LINESTRING ({E} {N},{E + 30} {N})",P1,300\n'
                   f'"LINESTRING ({E + 30} {N})",P2,300\n'
                   f'"LINESTRING ({E + 30} {N},{E + 60} {N})",P3,300\n', encoding="utf-8")
    gpkg = tmp_path / "net.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(gpkg), str(src), "-oo",
                    "GEOM_POSSIBLE_NAMES=WKT", "-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs",
                    "EPSG:4527", "-nln", "pipes"], check=True, capture_output=True)
    r, _qa = load_pipes_files(fresh_db.conninfo, fresh_db.profile, lines=f"{gpkg}:pipes",
                              class_opt="给水", dataset="one_point")
    assert (r.rejected, r.loaded >= 2) == (1, True), r.text()
    ((row, reason, field, message, wkt),) = fresh_db.rows(
        "SELECT row_number, reason, field, message, geom_wkt FROM load_rejects "
        "WHERE batch_id = %s", (r.batch_id,))
    # the pipe loaders' reason for a geometry they cannot use (a point where a line is due)
    assert (row, reason, field) == (2, "bad_value", "geometry")
    assert "no usable geometry" in message and "no geometry" not in message.replace(
        "no usable geometry", "")
    assert wkt == f"LINESTRING ({E + 30} {N})"
    assert fresh_db.rows("SELECT count(*) FROM pipe_segments WHERE batch_id = %s",
                         (r.batch_id,)) == [(2,)]
