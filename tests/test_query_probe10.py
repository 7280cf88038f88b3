"""The query CLI on the real QWAT water network (../shared/data/real/qwat_network.gpkg), loaded
as a GIS engineer loads it: its pipes are LineStringZ at Z 0 everywhere, which the loader
flags ``no_z`` — a network delivered without heights. Expected crossings come from the source
file read by GDAL, projected with pyproj and cut with shapely, independently of the library.
"""

from __future__ import annotations

import re

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from loaders.pipes.load import load_pipes_files
from tests.conftest import make_db, profile_around, real_file, run_cli, server_url
from tests.test_pipes_real import MAPPING


@pytest.fixture(scope="module")
def qwat10(tmp_path_factory):
    from cim.db.engine import drop_database

    src = real_file("qwat_network.gpkg")
    d = tmp_path_factory.mktemp("qwat10")
    profile = profile_around(src, "pipes", d, name="QWAT (probe 10)", admin_code="990600")
    (d / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    db = make_db("qryp10", profile)
    load_pipes_files(db.conninfo, profile, None, lines=f"{src}:pipes", points=f"{src}:nodes",
                     valves=f"{src}:valves", mapping=d / "mapping.yaml", dataset="qwat")
    db.src, db.dir = src, d
    yield db
    drop_database(server_url(), db.name)


def _section_line(db) -> tuple[shapely.LineString, set[int]]:
    """A line across the network (EPSG:2056, easting first) and the ids of the loaded pipes it
    crosses by the source file, chosen so that no crossing is within 5 cm of a pipe's end or
    of the line's ends, where a millimetre of reprojection could decide."""
    pipes = pyogrio.read_dataframe(db.src, layer="pipes")
    loaded = {int(k) for (k,) in db.rows(
        "SELECT split_part(source_key, ':', 3) FROM pipe_segments WHERE valid_to IS NULL")}
    pipes = pipes[pipes["id"].isin(loaded)]
    to_ch = Transformer.from_crs(21781, 2056, always_xy=True)
    geoms = np.array([shapely.transform(shapely.force_2d(g), lambda c: np.column_stack(
        to_ch.transform(c[:, 0], c[:, 1]))) for g in pipes.geometry])
    ids = pipes["id"].to_numpy()
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    for k in range(20):
        t = 0.3 + 0.02 * k
        cx, cy = x0 + t * (x1 - x0), y0 + (1 - t) * (y1 - y0)
        line = shapely.LineString([(cx - 400, cy - 150), (cx + 450, cy + 200)])
        hit = shapely.intersects(geoms, line)
        near = shapely.dwithin(geoms, line, 0.05)
        ends = shapely.union_all([shapely.Point(c) for g in geoms[near]
                                  for c in (g.coords[0], g.coords[-1])] +
                                 [shapely.Point(line.coords[0]), shapely.Point(line.coords[-1])])
        cuts = shapely.intersection(geoms[hit], line)
        if (hit == near).all() and hit.sum() >= 5 and \
                shapely.distance(shapely.union_all(cuts), ends) > 0.05:
            return line, {int(i) for i in ids[hit]}
    pytest.skip("no line across the network without a crossing at a pipe's end")


def test_section_drawing_marks_crossings_without_elevation(qwat10, tmp_path):
    """A section across a network delivered without heights drew an empty frame: rows without
    elevation were left out of the SVG and PNG without a word. Each crossing is now drawn at
    its offset (a dashed line, its label saying 高程未知), and a warning counts them."""
    db = qwat10
    line, want = _section_line(db)
    code_of = {int(k): c for k, c in db.rows(
        "SELECT split_part(source_key, ':', 3)::int, code FROM pipe_segments "
        "WHERE valid_to IS NULL")}
    svg, png = tmp_path / "s.svg", tmp_path / "s.png"
    r = run_cli(["query", "section", "--line", line.wkt, "--crs", "EPSG:2056", "--svg",
                 str(svg), "--png", str(png), "--json"], db.env())
    assert r.returncode == 0, r.stderr
    text = svg.read_text(encoding="utf-8")
    drawn = re.findall(r'data-code="([^"]+)"', text)
    assert sorted(drawn) == sorted(code_of[i] for i in want)  # each crossing once
    assert text.count("高程未知") == len(want)
    assert f"{len(want)} 处无高程" in text
    assert f"{len(want)} of {len(want)} crossings have no elevation" in r.stderr
    assert png.stat().st_size > 0


@pytest.mark.parametrize("option", ["--geojson", "--svg"])
def test_an_output_file_in_no_folder_is_refused_before_the_query(qwat10, tmp_path, option):
    """``--geojson``/``--svg`` naming a folder that does not exist was found after the query,
    as an internal error with a traceback in a crash log; now a bad option (exit 2) naming
    the option and the folder, and nothing is written."""
    db = qwat10
    code = db.rows("SELECT code FROM pipe_segments WHERE valid_to IS NULL ORDER BY code "
                   "LIMIT 1")[0][0]
    missing = tmp_path / "no such folder"
    out = missing / ("x.geojson" if option == "--geojson" else "x.svg")
    if option == "--geojson":
        args = ["query", "isolate", code, "--geojson", str(out)]
    else:
        x, y = shapely.get_coordinates(shapely.from_wkb(bytes(db.rows(
            "SELECT ST_AsBinary(ST_Force2D(geom)) FROM pipe_segments WHERE code = %s",
            (code,))[0][0])))[0]
        args = ["query", "section", "--line", f"LINESTRING({x - 20} {y - 20},{x + 20} {y + 20})",
                "--crs", "EPSG:2056", "--svg", str(out)]
    env = db.env()
    env["CIM_LOG_DIR"] = str(tmp_path / "logs")
    r = run_cli(args, env)
    assert r.returncode == 2, r.stderr
    assert option in r.stderr and str(missing) in r.stderr
    assert "internal error" not in r.stderr
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").iterdir())
    assert not missing.exists()
