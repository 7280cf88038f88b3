"""A project delivered as a ``.zip`` is read by ``loaders.project.read_project`` itself (the
room that reads project files; ``cim check`` only calls it): its one project, read with the
loaders' prechecks and encoding detection (a truncated ``.shp`` in the zip is refused as one
outside it), named ``/vsizip/ZIP/MEMBER`` in its source and errors — never by the scratch
folder it was unpacked to, which is gone after — and checksummed as the zip delivered.

Files are written here with pyogrio and zipped with ``zipfile``; expected values are the
files' own (SHA-256 of the zip's bytes, the names given)."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box

from cim.errors import InputError
from loaders.project import MAX_UNPACKED_BYTES, read_project

SRID = 4527
SITE = box(39_500_000, 3_920_000, 39_500_100, 3_920_100)
B1 = box(39_500_010, 3_920_010, 39_500_030, 3_920_040)


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """Where the zip is unpacked (tempfile's folder for this test): empty again after."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _layers(out: Path, driver: str, suffix: str = "") -> None:
    for layer, g, attrs in (("用地红线", SITE, {"名称": "site"}),
                            ("建筑", B1, {"名称": "1号楼", "地上层数": 10, "建筑高度": 30.0})):
        gdf = gpd.GeoDataFrame([attrs], geometry=[g], crs=SRID)
        if driver == "GPKG":
            pyogrio.write_dataframe(gdf, out, layer=layer, driver="GPKG")
        else:
            pyogrio.write_dataframe(gdf, out / f"{layer}{suffix}", encoding="GBK")


def test_a_zipped_geopackage_is_read_as_its_member(tmp_path, scratch):
    _layers(tmp_path / "p.gpkg", "GPKG")
    z = tmp_path / "delivery.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(tmp_path / "p.gpkg", "项目/汇景苑.gpkg")
        zf.writestr("项目/说明.txt", "read me")
    pf = read_project(z)
    assert pf.source == f"/vsizip/{z.resolve()}/项目/汇景苑.gpkg"
    assert pf.path == z and pf.sha256 == hashlib.sha256(z.read_bytes()).hexdigest()
    assert sorted((r["layer"], r["properties"]["名称"]) for r in pf.records) == \
        [("建筑", "1号楼"), ("用地红线", "site")]
    assert pf.crs.to_epsg() == SRID
    assert pf.notes[:2] == [f"read /vsizip/{z.resolve()}/项目/汇景苑.gpkg, the zip's one "
                            "project", "not read from the zip: 项目/说明.txt"]
    assert list(scratch.iterdir()) == []  # the scratch folder is removed once read


def test_zipped_shapefiles_are_one_project_with_their_encoding(tmp_path, scratch):
    folder = tmp_path / "shp"
    folder.mkdir()
    _layers(folder, "ESRI Shapefile", ".shp")
    for cpg in folder.glob("*.cpg"):  # the encoding is detected from the .dbf's bytes
        cpg.unlink()
    z = tmp_path / "shp.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"汇景苑/{f.name}")
    pf = read_project(z)
    assert pf.source == f"/vsizip/{z.resolve()}/汇景苑"
    assert {r["properties"]["名称"] for r in pf.records} == {"1号楼", "site"}
    assert list(scratch.iterdir()) == []


def test_a_truncated_shapefile_in_a_zip_is_refused_naming_the_member(tmp_path, scratch):
    """The loaders' prechecks read the member as a real file (what GDAL's /vsizip/ alone
    would not give them): a .shp cut short is refused, named inside the zip."""
    folder = tmp_path / "shp"
    folder.mkdir()
    _layers(folder, "ESRI Shapefile", ".shp")
    shp = folder / "建筑.shp"
    shp.write_bytes(shp.read_bytes()[:-16])
    z = tmp_path / "cut.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)
    with pytest.raises(InputError, match="truncated") as exc:
        read_project(z)
    assert exc.value.path == f"/vsizip/{z.resolve()}/建筑.shp", exc.value.path
    assert str(scratch) not in str(exc.value)
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("case", ["bad_member", "damaged", "two", "none"])
def test_bad_zips_are_bad_input_naming_the_file(tmp_path, scratch, case):
    z = tmp_path / f"{case}.zip"
    if case == "damaged":
        z.write_bytes(b"PK\x03\x04 this is no zip")
        want, path = "not a readable zip", str(z)
    else:
        with zipfile.ZipFile(z, "w") as zf:
            if case == "bad_member":
                zf.writestr("项目.gpkg", b"this is no GeoPackage")
            elif case == "two":
                zf.writestr("方案一.geojson", "{}")
                zf.writestr("方案二/方案二.dxf", "0\nEOF\n")
            else:
                zf.writestr("说明.txt", "read me")
        want, path = {"bad_member": ("GDAL cannot read it",
                                     f"/vsizip/{z.resolve()}/项目.gpkg"),
                      "two": ("2 possible projects: 方案一.geojson; 方案二/方案二.dxf", str(z)),
                      "none": ("holds no project", str(z))}[case]
    with pytest.raises(InputError, match=want) as exc:
        read_project(z)
    assert exc.value.path == path
    assert str(scratch) not in str(exc.value)
    assert list(scratch.iterdir()) == []


def test_a_member_too_large_to_be_a_project_is_refused_unread(tmp_path, scratch, monkeypatch):
    """The bound on what a zip unpacks to (a zip bomb) holds in the loader: nothing is
    written."""
    import loaders.project as project

    monkeypatch.setattr(project, "MAX_UNPACKED_BYTES", 1000)
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("建筑.geojson", " " * 5000)
    with pytest.raises(InputError, match="unpacks to more than"):
        read_project(z)
    assert list(scratch.iterdir()) == []
    assert MAX_UNPACKED_BYTES == 2 << 30
