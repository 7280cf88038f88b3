"""A DXF entity GDAL skips without a word (a tower drawn as a 3DSOLID or a MESH on 建筑) is
refused by the approval check naming its type, layer and handle — left out, the project passed
its FAR and density without the tower; a block inserted on 建筑 holding one is refused too,
a block never inserted is no part of the drawing. A layout's (paper space) entity is left out
with a note, never taken for a building. Real DXF text, read by GDAL through
``loaders.project.read_project`` and checked by ``build_project``."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from cim.errors import InputError
from layers.approval.project import build_project
from loaders.dxf_entities import unread_entities
from loaders.project import read_project
from tests.approval_fixture import SRID, to_storage

SITE = box(0, 0, 100, 100)
BUILDING = box(10, 10, 40, 50)
GREEN = box(10, 60, 90, 90)


def _poly(layer: str, g, paper: bool = False) -> list[str]:
    pts = list(to_storage(g).exterior.coords)[:-1]
    out = ["0", "LWPOLYLINE", "5", "1F0", "8", layer] + (["67", "1"] if paper else [])
    out += ["90", str(len(pts)), "70", "1"]
    for x, y in pts:
        out += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
    return out


def _solid(kind: str, layer: str, handle: str) -> list[str]:
    return ["0", kind, "5", handle, "8", layer, "100", "AcDbEntity", "100",
            "AcDbModelerGeometry", "70", "1", "1", "ACIS data"]


def _dxf(tmp_path, extra: list[str], blocks: list[str] = ()) -> str:
    out = ["0", "SECTION", "2", "HEADER", "9", "$ACADVER", "1", "AC1021", "9", "$DWGCODEPAGE",
           "3", "ANSI_936", "9", "$INSUNITS", "70", "6", "0", "ENDSEC"]
    if blocks:
        out += ["0", "SECTION", "2", "BLOCKS", *blocks, "0", "ENDSEC"]
    out += ["0", "SECTION", "2", "ENTITIES", *_poly("用地红线", SITE), *_poly("绿地", GREEN),
            *_poly("建筑", BUILDING), *extra, "0", "ENDSEC", "0", "EOF"]
    path = tmp_path / "p.dxf"
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("gbk"))
    return str(path)


def _project(path: str):
    pf = read_project(path)
    return pf, build_project(pf.records, source=path, name="p", crs=f"EPSG:{SRID}",
                             storage_srid=SRID)


@pytest.mark.parametrize("kind", ["3DSOLID", "MESH", "REGION"])
def test_a_solid_on_the_building_layer_is_refused_naming_it(tmp_path, kind):
    path = _dxf(tmp_path, _solid(kind, "建筑", "2A7"))
    with pytest.raises(InputError) as e:
        _project(path)
    msg = str(e.value)
    assert f"a {kind} entity (handle 2A7)" in msg and "'建筑'" in msg and "FLATSHOT" in msg


def test_a_block_inserted_on_the_building_layer_holding_a_solid_is_refused(tmp_path):
    block = ["0", "BLOCK", "5", "30", "8", "0", "2", "塔楼", "70", "0", "10", "0", "20", "0",
             "30", "0", "3", "塔楼", *_solid("3DSOLID", "0", "3B"), "0", "ENDBLK", "8", "0"]
    unused = ["0", "BLOCK", "5", "40", "8", "0", "2", "UNUSED", "70", "0", "10", "0", "20", "0",
              "30", "0", "3", "UNUSED", *_solid("3DSOLID", "0", "4C"), "0", "ENDBLK", "8", "0"]
    c = to_storage(SITE).centroid
    insert = ["0", "INSERT", "5", "50", "8", "建筑", "2", "塔楼", "10", f"{c.x:.3f}", "20",
              f"{c.y:.3f}", "30", "0"]
    path = _dxf(tmp_path, insert, block + unused)
    got = unread_entities(path)
    # the block's entity on layer 0 is drawn on the INSERT's layer; the unused block is none
    assert [(u.type, u.layer, u.handle, u.block) for u in got] == [
        ("3DSOLID", "建筑", "3B", "塔楼")]
    with pytest.raises(InputError, match="in block '塔楼'"):
        _project(path)


def test_paper_space_is_left_out_with_a_note(tmp_path):
    frame = box(-500, -500, 500, 500)  # a layout's frame on 建筑: read, it would be a building
    pf, project = _project(_dxf(tmp_path, _poly("建筑", frame, paper=True)))
    assert len(project.buildings) == 1
    assert project.buildings[0].footprint.area == pytest.approx(BUILDING.area, rel=1e-6)
    assert any("paper space" in n and n.startswith("1 entity") for n in pf.notes)


def test_a_drawing_without_unread_entities_has_none(tmp_path):
    pf, project = _project(_dxf(tmp_path, []))
    assert unread_entities(pf.path) == [] and len(project.buildings) == 1
    assert not any("paper space" in n for n in pf.notes)


def test_on_a_layer_of_no_role_it_is_a_note(tmp_path):
    """An image underlay (底图) or a proxy on a layer of no role is noted, not refused: a layer
    holding nothing GDAL reads was no part of the check before, and stays none."""
    path = _dxf(tmp_path, _solid("IMAGE", "底图", "7C"))
    pf, project = _project(path)
    assert len(project.buildings) == 1
    assert any("'底图'" in n and "IMAGE entity (handle 7C)" in n for n in project.notes)


def test_what_gdal_reads_is_not_listed(tmp_path):
    """WIPEOUT, HELIX, XLINE and RAY are read by GDAL (3.12): none is an unread entity."""
    ents = [x for k, h in (("WIPEOUT", "81"), ("HELIX", "82"), ("XLINE", "83"), ("RAY", "84"))
            for x in _solid(k, "图框", h)]
    assert unread_entities(_dxf(tmp_path, ents)) == []


def test_a_crs_told_from_the_coordinates_is_said(tmp_path):
    """A DXF declares no CRS: the one the coordinates' size suggests is taken — and said, so
    a drawing on a city's own grid is not checked kilometres away without a word."""
    pf = read_project(_dxf(tmp_path, []))
    assert pf.crs is None
    p = build_project(pf.records, source="p", name="p", crs=None, storage_srid=SRID)
    assert any("assumed from the coordinates" in n and "--crs" in n for n in p.notes), p.notes
    given = build_project(pf.records, source="p", name="p", crs=f"EPSG:{SRID}",
                          storage_srid=SRID)
    assert not any("assumed" in n for n in given.notes)


def test_a_curved_outline_is_noted_as_straightened(tmp_path):
    """A CURVEPOLYGON building (a GeoPackage from a GIS) is read as GDAL straightens it — and
    noted, as every loader flags it (curve_linearized): its area and distances a little
    short of the arc's."""
    import subprocess

    s = to_storage(SITE)
    x0, y0 = s.bounds[0], s.bounds[1]
    site = f"POLYGON (({x0} {y0},{x0 + 100} {y0},{x0 + 100} {y0 + 100},{x0} {y0 + 100},{x0} {y0}))"
    cx, cy = x0 + 50, y0 + 50
    tower = f"CURVEPOLYGON (CIRCULARSTRING ({cx - 10} {cy},{cx + 10} {cy},{cx - 10} {cy}))"
    gpkg = tmp_path / "p.gpkg"
    for layer, wkt in (("用地红线", site), ("建筑", tower)):
        src = tmp_path / f"{layer}.csv"
        src.write_text(f'WKT,名称\n"{wkt}",{layer}\n', encoding="utf-8")
        subprocess.run(["ogr2ogr", "-f", "GPKG", *(["-update"] if gpkg.exists() else []),
                        str(gpkg), str(src), "-oo", "GEOM_POSSIBLE_NAMES=WKT", "-oo",
                        "KEEP_GEOM_COLUMNS=NO", "-a_srs", f"EPSG:{SRID}", "-nlt", "GEOMETRY",
                        "-nln", layer], check=True, capture_output=True)
    pf, p = _project(str(gpkg))
    (b,) = p.buildings
    assert 0.99 * 314.159 < b.footprint.area < 314.16  # the chords inside the arc
    assert any("建筑 feature 1" in n and "curve_linearized" in n for n in p.notes), p.notes


@pytest.mark.parametrize("layer", ["围墙", "建筑", "地下室"])
def test_a_gbk_layer_is_named_as_gdal_names_it(tmp_path, layer):
    """The file's code page (ANSI_936) decides every name at once: 围墙's GBK bytes are valid
    UTF-8 too, and read line by line as UTF-8 they were 'Χǽ' — not the layer GDAL names."""
    import pyogrio
    from shapely.geometry import box as _box

    path = _dxf(tmp_path, _solid("3DSOLID", layer, "2B") + _poly(layer, _box(0, 0, 5, 5)))
    assert layer in set(pyogrio.read_dataframe(path)["Layer"])
    assert [u.layer for u in unread_entities(path)] == [layer]
