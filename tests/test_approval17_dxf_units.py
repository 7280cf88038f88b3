"""A CAD drawing in millimetres ($INSUNITS 4), its coordinates CGCS2000 ones × 1000: the check
said "no CRS can be detected; pass --crs", and with --crs "cannot be placed … wrong --crs?",
nothing of its unit. Now a hint names the header's unit and the scale. A hint only: many
drawings keep a millimetre template's header over metres. DXF written here by hand."""

from __future__ import annotations

from tests.conftest import run_cli

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527), metres


def _poly(layer: str, x0: float, y0: float, size: float) -> list[str]:
    pts = [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size)]
    out = ["0", "LWPOLYLINE", "8", layer, "90", "4", "70", "1"]
    for x, y in pts:
        out += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
    return out


def _dxf(path, unit: int, scale: float) -> None:
    out = ["0", "SECTION", "2", "HEADER", "9", "$ACADVER", "1", "AC1021", "9", "$INSUNITS",
           "70", str(unit), "0", "ENDSEC", "0", "SECTION", "2", "ENTITIES"]
    out += _poly("site", E * scale, N * scale, 100 * scale)
    out += _poly("building", (E + 20) * scale, (N + 20) * scale, 20 * scale)
    out += ["0", "ENDSEC", "0", "EOF"]
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("utf-8"))


def test_a_drawing_in_millimetres_is_told_by_its_unit(fresh_db, tmp_path):
    mm = tmp_path / "mm.dxf"
    _dxf(mm, 4, 1000.0)
    for extra in ([], ["--crs", "EPSG:4527"]):
        out = run_cli(["check", str(mm), "--no-record", *extra], fresh_db.env())
        assert out.returncode == 2, out.stderr
        assert "hint: the drawing's header says its unit is millimetres" in out.stderr, \
            out.stderr
        assert "scale the drawing by 0.001" in out.stderr
    metres = tmp_path / "m.dxf"  # a millimetre template's header over metres: no hint
    _dxf(metres, 4, 1.0)
    out = run_cli(["check", str(metres), "--no-record"], fresh_db.env())
    assert out.returncode in (0, 1) and "hint:" not in out.stderr, out.stderr


def test_a_mistyped_crs_gets_no_unit_hint(fresh_db, tmp_path):
    metres = tmp_path / "m.dxf"
    _dxf(metres, 4, 1.0)
    out = run_cli(["check", str(metres), "--no-record", "--crs", "EPSG:99999"],
                  fresh_db.env())
    assert out.returncode == 2 and "hint:" not in out.stderr, out.stderr
