"""``cim check --encoding``: a Shapefile project's .dbf text in the encoding the user gives.

A GBK .dbf delivered without a .cpg is read in the encoding detected from its bytes; values
such as 住宅 (GBK D7A1 D5AC) are valid UTF-8 too (סլ), so a file holding only such text is
read as UTF-8 and its names and uses come out as mojibake. The loaders' remedy is
``--encoding GBK``, and the reader's error advised it, but ``cim check`` had no such option.
A GeoJSON is UTF-8 (RFC 7946): for one in GBK the advice is to save it as UTF-8, --encoding
being for a .dbf only.
"""

from __future__ import annotations

import json

import numpy as np
import shapely
from pyogrio.raw import write

from tests import approval_fixture
from tests.approval_fixture import SRID, X0, Y0
from tests.conftest import run_cli

adb = approval_fixture.adb


def _write(folder, name, geom, fields, values):
    """A Shapefile written by GDAL in GBK, its .cpg removed (as delivered without one)."""
    write(str(folder / f"{name}.shp"), shapely.to_wkb(np.array([geom], dtype=object)),
          values, fields=fields, geometry_type="Polygon", crs=f"EPSG:{SRID}",
          driver="ESRI Shapefile", encoding="GBK")
    (folder / f"{name}.cpg").unlink(missing_ok=True)


def _gbk_project(tmp_path):
    folder = tmp_path / "项目"
    folder.mkdir()
    _write(folder, "site", shapely.box(X0, Y0, X0 + 100, Y0 + 100), ["name"],
           [np.array(["S"], dtype=object)])
    _write(folder, "building", shapely.box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30),
           ["name", "use", "floors", "height"],
           [np.array(["住宅楼"], dtype=object), np.array(["住宅"], dtype=object),
            np.array([3], dtype=np.int32), np.array([10.0])])
    dbf = (folder / "building.dbf").read_bytes()
    # the premise: GBK bytes, no .cpg, and those bytes decode as UTF-8 as well
    assert "住宅楼".encode("gbk") in dbf and not (folder / "building.cpg").exists()
    assert "住宅楼".encode("gbk").decode("utf-8") != "住宅楼"
    return folder


def _buildings(proc):
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["project"]["buildings"]


def test_encoding_gbk_reads_a_gbk_dbf_without_cpg(adb, tmp_path):
    folder = _gbk_project(tmp_path)
    got = _buildings(run_cli(["check", str(folder), "--encoding", "GBK", "--json",
                              "--no-record"], adb.env()))
    assert [(b["name"], b["use"]) for b in got] == [("住宅楼", "住宅")]
    # without it the bytes are read as the UTF-8 they also are: why the option is needed
    without = _buildings(run_cli(["check", str(folder), "--json", "--no-record"], adb.env()))
    assert without[0]["name"] == "住宅楼".encode("gbk").decode("utf-8")


def test_encoding_reaches_a_zipped_shapefile_project(adb, tmp_path):
    import zipfile

    folder = _gbk_project(tmp_path)
    zpath = tmp_path / "p.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"项目/{f.name}")
    got = _buildings(run_cli(["check", str(zpath), "--encoding", "GBK", "--json",
                              "--no-record"], adb.env()))
    assert [(b["name"], b["use"]) for b in got] == [("住宅楼", "住宅")]


def test_a_gbk_geojson_is_told_to_be_saved_as_utf8(adb, tmp_path):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "site", "名称": "地块"},
         "geometry": shapely.geometry.mapping(shapely.box(X0, Y0, X0 + 100, Y0 + 100))}]}
    path = tmp_path / "p.geojson"
    path.write_bytes(json.dumps(fc, ensure_ascii=False).encode("gbk"))
    proc = run_cli(["check", str(path), "--crs", f"EPSG:{SRID}", "--no-record"], adb.env())
    assert proc.returncode == 2, proc.stderr
    assert "save it as UTF-8" in proc.stderr and "give the encoding with --encoding" \
        not in proc.stderr, proc.stderr
