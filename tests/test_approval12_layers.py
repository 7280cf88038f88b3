"""A DXF site plan keeps its drawing furniture on layers of their own (图框, 文字, 标注 …): every
entity on a layer of no role was an input problem of its own line — a frame and a
thousand dimension lines made a thousand lines of the same message. Features of no role are
still refused (a building on a misnamed layer left out would pass the FAR), one line a layer
naming its feature count and first rows. Real DXF written as Chinese CAD writes it (GBK)."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from cim.errors import InputError
from layers.approval.project import build_project
from loaders.project import read_project
from tests.approval_fixture import SRID, to_storage

N_DIMENSIONS = 40


def _poly(layer: str, g) -> list[str]:
    pts = list(to_storage(g).exterior.coords)[:-1]
    out = ["0", "LWPOLYLINE", "8", layer, "90", str(len(pts)), "70", "1"]
    for x, y in pts:
        out += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
    return out


def _line(layer: str, i: int) -> list[str]:
    a, b = to_storage(box(i, -10, i + 1, -9)).exterior.coords[:2]
    return ["0", "LINE", "8", layer, "10", f"{a[0]:.3f}", "20", f"{a[1]:.3f}", "11",
            f"{b[0]:.3f}", "21", f"{b[1]:.3f}"]


def test_entities_of_no_role_are_one_problem_a_layer(tmp_path):
    out = ["0", "SECTION", "2", "HEADER", "9", "$ACADVER", "1", "AC1021", "9",
           "$DWGCODEPAGE", "3", "ANSI_936", "0", "ENDSEC", "0", "SECTION", "2", "ENTITIES"]
    out += _poly("用地红线", box(0, 0, 100, 100)) + _poly("建筑", box(20, 20, 40, 40))
    out += _poly("图框", box(-50, -50, 150, 150))
    for i in range(N_DIMENSIONS):
        out += _line("标注", i)
    out += ["0", "ENDSEC", "0", "EOF"]
    path = tmp_path / "p.dxf"
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("gbk"))
    pf = read_project(path)
    with pytest.raises(InputError) as e:
        build_project(pf.records, source=str(path), name="p", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    lines = str(e.value).splitlines()
    frame = [ln for ln in lines if "layer '图框'" in ln]
    dims = [ln for ln in lines if "layer '标注'" in ln]
    assert len(frame) == 1 and len(dims) == 1, lines
    assert "feature 3" in frame[0] and "no role" in frame[0], frame
    assert f"{N_DIMENSIONS} features" in dims[0] and "features 4, 5, 6" in dims[0], dims
    assert len(lines) == 3, lines  # the head and one line a layer
