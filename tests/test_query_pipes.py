"""Cross-section and clearances on hand-built pipes whose answers are known by construction.

The pipes are inserted directly (the loaders are not the point) into a database of the test's
own, in the storage CRS EPSG:4527 (easting first in the geometries). Expected offsets come from
shapely on the same coordinates, elevations and gaps from hand arithmetic written beside each
fixture; nothing is computed by the code under test.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import psycopg
import pyproj
import pytest
import shapely

from tests.conftest import drop_database, make_db, run_cli, server_url

E0, N0 = 39_480_000.0, 3_920_000.0  # section fixture origin (storage CRS, easting/northing)
EC, NC = E0 + 1000.0, N0  # clearance fixtures start here, 100 m apart


def _seg(conn, code, cls, coords, *, d=None, w=None, h=None, sd=None, ed=None, se=None,
         ee=None, flags=(), sp=None, ep=None, burial=None, size=None):
    names = {"01": "给水", "02": "排水", "03": "燃气", "05": "电力", "06": "通信"}
    line = shapely.LineString(coords)
    conn.execute(
        "INSERT INTO pipe_segments (code, flags, pipe_class, class_name, subclass_code, "
        "subclass_name, feature_code, start_point_code, end_point_code, start_depth, "
        "end_depth, start_elevation, end_elevation, diameter_mm, width_mm, height_mm, "
        "burial, size_text, material, geom) VALUES (%s, %s, %s, %s, '00', NULL, '5' || "
        "%s || '0010' || '00', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'PE', "
        "ST_GeomFromWKB(%s, 4527))",
        (code, list(flags), cls, names[cls], cls[1], sp or f"{code}-s", ep or f"{code}-e",
         sd, ed, se, ee, d, w, h, burial, size, shapely.to_wkb(line)))


def _point(conn, code, xyz, ground):
    conn.execute(
        "INSERT INTO pipe_points (code, point_no, pipe_class, class_name, subclass_code, "
        "feature_code, ground_elevation, geom) VALUES (%s, %s, '03', '燃气', '00', "
        "'53002100', %s, ST_GeomFromWKB(%s, 4527))",
        (code, code, ground, shapely.to_wkb(shapely.Point(xyz))))


def _building(conn, code, poly):
    conn.execute("INSERT INTO buildings (code, geom) VALUES (%s, ST_Multi(ST_GeomFromWKB(%s, "
                 "4527)))", (code, shapely.to_wkb(poly)))


@pytest.fixture(scope="module")
def qdb(jining_profile):
    d = make_db("qpipes", jining_profile, apply_profile=False)
    with psycopg.connect(d.conninfo) as conn:
        # -- cross-section: the line runs east from (E0, N0) to (E0 + 40, N0) -------------
        # S1 water DN300 (top): N-S at E0+10, z 35.0 → 34.0, depth 1.2 → 1.4
        _seg(conn, "S1", "01", [(E0 + 10, N0 - 20, 35.0), (E0 + 10, N0 + 20, 34.0)], d=300,
             sd=1.2, ed=1.4, se=35.0, ee=34.0, size="DN300")
        # S2 drain box 1000×800 (invert): diagonal, crosses at E0+30 halfway, z 33 → 32
        _seg(conn, "S2", "02", [(E0 + 25, N0 - 10, 33.0), (E0 + 35, N0 + 10, 32.0)], w=1000,
             h=800, sd=2.0, ed=2.5, se=33.0, ee=32.0, size="1000×800")
        # S3 gas DN100 without depths: ground from its end points (36.0 and 37.0)
        _seg(conn, "S3", "03", [(E0 + 20, N0 - 30, 35.5), (E0 + 20, N0 + 10, 35.1)], d=100,
             se=35.5, ee=35.1, sp="S3-p1", ep="S3-p2")
        _point(conn, "S3-p1", (E0 + 20, N0 - 30, 35.5), 36.0)
        _point(conn, "S3-p2", (E0 + 20, N0 + 10, 35.1), 37.0)
        # S4 telecom from a GIS file without Z (no_z, Z = 0): elevations from the columns
        _seg(conn, "S4", "06", [(E0 + 5, N0 - 10, 0.0), (E0 + 5, N0 + 10, 0.0)], d=110,
             flags=["no_z"], se=35.0, ee=35.4, sd=0.8, ed=0.8)
        # S5 passes beside the line's end: not crossed
        _seg(conn, "S5", "01", [(E0 + 45, N0 - 10, 35.0), (E0 + 45, N0 + 10, 35.0)], d=200)
        # along LINE_ALONG (east from (E0, N0 + 200) to (E0 + 40, N0 + 200)): SR lies on it
        # from x=30 back to x=20 (digitised west-bound, z 31.0 → 30.0), SF from x=5 to x=12
        # (east-bound, z 30.5 → 31.2): each met where its shared stretch begins along the line
        _seg(conn, "SR", "01", [(E0 + 30, N0 + 200, 31.0), (E0 + 20, N0 + 200, 30.0)], d=200)
        _seg(conn, "SF", "01", [(E0 + 5, N0 + 200, 30.5), (E0 + 12, N0 + 200, 31.2)], d=200)
        # -- vertical clearances (water–water 0.15, drain–water 0.40) ----------------------
        x, y = EC, NC
        # V1 DN200 top 35.0 (bottom 34.8) over V2 DN100 top 34.70: gap 0.10 → flagged
        _seg(conn, "V1", "01", [(x - 10, y, 35.0), (x + 10, y, 35.0)], d=200)
        _seg(conn, "V2", "01", [(x, y - 10, 34.7), (x, y + 10, 34.7)], d=100)
        x += 100  # V3 DN200 top 35.0 over V4 DN100 top 34.60: gap 0.20 → not flagged
        _seg(conn, "V3", "01", [(x - 10, y, 35.0), (x + 10, y, 35.0)], d=200)
        _seg(conn, "V4", "01", [(x, y - 10, 34.6), (x, y + 10, 34.6)], d=100)
        x += 100  # V5 drain DN400 invert 35.5 over V6 water DN200 top 35.2: gap 0.30 < 0.40
        _seg(conn, "V5", "02", [(x - 10, y, 35.5), (x + 10, y, 35.5)], d=400)
        _seg(conn, "V6", "01", [(x, y - 10, 35.2), (x, y + 10, 35.2)], d=200)
        x += 100  # V7, V8 share an end point: one network's joint, no crossing
        _seg(conn, "V7", "01", [(x - 10, y, 35.0), (x, y, 35.0)], d=200, ep="J1")
        _seg(conn, "V8", "01", [(x, y, 35.0), (x, y + 10, 35.0)], d=200, sp="J1")
        x += 100  # V9 without any elevation (no_z, no columns) crosses V10: unchecked
        _seg(conn, "V9", "01", [(x - 10, y, 0.0), (x + 10, y, 0.0)], d=200, flags=["no_z"])
        _seg(conn, "V10", "01", [(x, y - 10, 35.0), (x, y + 10, 35.0)], d=200)
        # -- horizontal: buildings and a water main d ≤ 200 (1.0 m), d > 200 (3.0 m) -------
        x += 100  # H1 DN150 axis 0.875 m from B1: outer wall 0.8 m → flagged
        _building(conn, "B1", shapely.box(x, y, x + 10, y + 10))
        _seg(conn, "H1", "01", [(x - 0.875, y, 35.0), (x - 0.875, y + 10, 35.0)], d=150)
        x += 100  # H2 DN150 axis 1.275 m from B2: outer wall 1.2 m → not flagged
        _building(conn, "B2", shapely.box(x, y, x + 10, y + 10))
        _seg(conn, "H2", "01", [(x - 1.275, y, 35.0), (x - 1.275, y + 10, 35.0)], d=150)
        x += 100  # H3 DN300 axis 2.15 m from B3: outer wall 2.0 m < 3.0 → flagged
        _building(conn, "B3", shapely.box(x, y, x + 10, y + 10))
        _seg(conn, "H3", "01", [(x - 2.15, y, 35.0), (x - 2.15, y + 10, 35.0)], d=300)
        x += 100  # H4 sewer DN400 beside H5 water DN300 (1.5 m): axes 1.55 m → wall 1.2 m
        _seg(conn, "H4", "02", [(x, y, 33.0), (x, y + 20, 33.0)], d=400)
        _seg(conn, "H5", "01", [(x + 1.55, y, 35.0), (x + 1.55, y + 20, 35.0)], d=300)
        x += 100  # H6 / H7 the same at axes 1.95 m → wall 1.6 m: not flagged
        _seg(conn, "H6", "02", [(x, y, 33.0), (x, y + 20, 33.0)], d=400)
        _seg(conn, "H7", "01", [(x + 1.95, y, 35.0), (x + 1.95, y + 20, 35.0)], d=300)
        # -- vertical along a shared stretch: pipes one above the other in plan --------------
        x += 100  # O1 water DN200 top 35.45 → 34.90 (bottom 35.25 → 34.70) over O2 drain DN400
        # invert 34.4 flat (top 34.8) for 20 m: gap 0.45 at the stretch's start, −0.10 (the
        # sections collide) at its end
        _seg(conn, "O1", "01", [(x, y, 35.45), (x + 20, y, 34.90)], d=200)
        _seg(conn, "O2", "02", [(x - 5, y, 34.4), (x + 25, y, 34.4)], d=400)
        x += 100  # O3 dips at its middle vertex: bottom 35.25, 34.75, 35.25 over O4 (as O2):
        # gap 0.45 at both ends of the stretch, −0.05 at the vertex
        _seg(conn, "O3", "01", [(x, y, 35.45), (x + 10, y, 34.95), (x + 20, y, 35.45)], d=200)
        _seg(conn, "O4", "02", [(x - 5, y, 34.4), (x + 25, y, 34.4)], d=400)
        x += 100  # O5 water DN200 top 35.6 → 34.0 passes down through O6 water DN100 top 34.8
        # flat: 0.6 clear above it at the start, 0.7 below at the end; where their centres
        # meet the sections overlap by (0.2 + 0.1) / 2: −0.15
        _seg(conn, "O5", "01", [(x, y, 35.6), (x + 20, y, 34.0)], d=200)
        _seg(conn, "O6", "01", [(x - 5, y, 34.8), (x + 25, y, 34.8)], d=100)
        # -- horizontal, pipes that meet in plan ----------------------------------------------
        x += 100  # P2 drain DN400 crosses P1 water DN300 (vertically 2.3 m apart: fine), then
        # runs 0.8 m beside it, axis to axis, for 28 m: wall to wall 0.8 − 0.35 = 0.45 < 1.5
        _seg(conn, "P1", "01", [(x, y, 35.0), (x + 40, y, 35.0)], d=300)
        _seg(conn, "P2", "02", [(x + 5, y - 5, 32.0), (x + 12, y + 0.8, 32.0),
                                (x + 40, y + 0.8, 32.0)], d=400)
        x += 100  # P4 drain DN400 crosses P3 water DN300 at right angles: nothing beside it
        _seg(conn, "P3", "01", [(x, y, 35.0), (x + 20, y, 35.0)], d=300)
        _seg(conn, "P4", "02", [(x + 10, y - 10, 32.0), (x + 10, y + 10, 32.0)], d=400)
    yield d
    drop_database(server_url(), d.name)


LINE = shapely.LineString([(E0, N0), (E0 + 40, N0)])


def _expected_section():
    """(code, offset, pipe_elev, ground, depth) by hand; offsets from shapely."""
    def off(x, y):
        return LINE.project(shapely.Point(x, y))
    return [("S4", off(E0 + 5, N0), 35.2, 36.0, 0.8),  # f 0.5: 35.0→35.4; grounds 35.8→36.2
            ("S1", off(E0 + 10, N0), 34.5, 35.8, 1.3),  # f 0.5; grounds 36.2 → 35.4
            ("S3", off(E0 + 20, N0), 35.2, 36.75, 1.55),  # f 0.75: 35.5−0.3; 36 → 37 points
            ("S2", off(E0 + 30, N0), 32.5, 34.75, 2.25)]  # f 0.5; grounds 35.0 → 34.5


def _check_rows(rows, tol=1e-3):
    exp = _expected_section()
    assert [r["segment_code"] for r in rows] == [e[0] for e in exp]
    for r, (_, off, elev, ground, depth) in zip(rows, exp):
        assert r["offset_m"] == pytest.approx(off, abs=tol)
        assert r["pipe_elev"] == pytest.approx(elev, abs=1e-3)
        assert r["ground_elev"] == pytest.approx(ground, abs=1e-3)
        assert r["depth"] == pytest.approx(depth, abs=1e-3)


def _storage_wkt(line):
    """The line in EPSG:4527's authority order (northing first)."""
    return shapely.to_wkt(shapely.transform(line, lambda c: c[:, ::-1]))


def test_section_known_offsets_and_elevations(qdb):
    from layers.query.section import section

    res = section(qdb.conninfo, _storage_wkt(LINE), "EPSG:4527", qdb.profile)
    _check_rows(res["rows"])
    assert res["length_m"] == pytest.approx(40.0)
    s1 = res["rows"][1]
    assert (s1["class_name"], s1["size"], s1["material"]) == ("给水", "DN300", "PE")
    assert res["rows"][3]["elev_ref"] == "invert"


def test_section_along_a_pipe_meets_it_where_the_shared_stretch_begins(qdb):
    from layers.query.section import section

    line = shapely.LineString([(E0, N0 + 200), (E0 + 40, N0 + 200)])
    rows = section(qdb.conninfo, _storage_wkt(line), "EPSG:4527", qdb.profile)["rows"]
    got = [(r["segment_code"], r["offset_m"], r["pipe_elev"]) for r in rows]
    # SF from x=5 (its start, z 30.5); SR from x=20 (its end, z 30.0), not its start at x=30
    assert got == [("SF", pytest.approx(5.0), pytest.approx(30.5, abs=1e-3)),
                   ("SR", pytest.approx(20.0), pytest.approx(30.0, abs=1e-3))]


def test_section_line_in_crs84(qdb):
    from layers.query.section import section

    t = pyproj.Transformer.from_crs(4527, 4490, always_xy=True)
    lonlat = shapely.LineString([t.transform(x, y) for x, y in LINE.coords])
    res = section(qdb.conninfo, shapely.to_wkt(lonlat, rounding_precision=12), None,
                  qdb.profile)
    _check_rows(res["rows"], tol=0.01)


def test_section_needs_a_linestring(qdb):
    from cim.errors import InputError
    from layers.query.section import section

    with pytest.raises(InputError, match="LineString"):
        section(qdb.conninfo, "POINT(116.6 35.4)", None, qdb.profile)


def test_section_cli_drawings(qdb, tmp_path):
    svg, png, gj = tmp_path / "s.svg", tmp_path / "s.png", tmp_path / "s.geojson"
    p = run_cli(["query", "section", "--line", _storage_wkt(LINE), "--crs", "EPSG:4527",
                 "--svg", str(svg), "--png", str(png), "--geojson", str(gj), "--json"],
                qdb.env(), check=True)
    res = json.loads(p.stdout)
    _check_rows(res["rows"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    feats = json.loads(gj.read_text())["features"]
    assert [f["properties"]["segment_code"] for f in feats] == ["S4", "S1", "S3", "S2"]
    # the drawing: each pipe in its class colour (pipe_classes.csv), at its offset
    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.parse(svg).getroot()
    shapes = root.findall("s:ellipse", ns) + [r for r in root.findall("s:rect", ns)
                                               if r.get("stroke") not in (None, "black")]
    colour = {"#00ffff": "S1", "#4c3926": "S2", "#ff00ff": "S3", "#00ff00": "S4"}
    from layers.query.drawing import LEFT, WIDTH
    for el in shapes:
        code = colour[el.get("stroke")]
        cx = float(el.get("cx") or float(el.get("x")) + float(el.get("width")) / 2)
        off = [e[1] for e in _expected_section() if e[0] == code][0]
        assert (cx - LEFT) / WIDTH * 40.0 == pytest.approx(off, abs=0.1)
    assert sorted(colour[e.get("stroke")] for e in shapes) == ["S1", "S2", "S3", "S4"]
    assert root.findall("s:polyline", ns), "no ground line"


def _pairs(res):
    return {(r["a_code"], r["b_code"], r["kind"]): r for r in res["rows"]}


def test_vertical_clearance(qdb):
    from layers.query.clearance import clearance

    res = clearance(qdb.conninfo, kind="vertical", profile=qdb.profile)
    got = {k: r for k, r in _pairs(res).items() if k[0].startswith("V")}
    assert set(got) == {("V1", "V2", "vertical"), ("V5", "V6", "vertical")}
    assert got[("V1", "V2", "vertical")]["clearance_m"] == pytest.approx(0.10)
    assert got[("V1", "V2", "vertical")]["required_m"] == 0.15
    assert got[("V5", "V6", "vertical")]["clearance_m"] == pytest.approx(0.30)
    assert got[("V5", "V6", "vertical")]["required_m"] == 0.40
    assert res["unchecked"] == 1  # V9 × V10


def test_vertical_clearance_along_a_shared_stretch_is_its_worst(qdb):
    from layers.query.clearance import clearance

    res = clearance(qdb.conninfo, kind="vertical", profile=qdb.profile)
    got = {k[:2]: (r["clearance_m"], r["required_m"]) for k, r in _pairs(res).items()
           if k[0].startswith("O")}
    assert got == {("O1", "O2"): (pytest.approx(-0.10), 0.40),
                   ("O3", "O4"): (pytest.approx(-0.05), 0.40),
                   ("O5", "O6"): (pytest.approx(-0.15), 0.15)}
    assert [r["a_code"] for r in res["rows"]].count("O1") == 1  # one row a stretch


def test_horizontal_clearance(qdb):
    from layers.query.clearance import clearance

    res = clearance(qdb.conninfo, kind="horizontal", profile=qdb.profile)
    got = _pairs(res)
    assert set(got) == {("H1", "B1", "horizontal"), ("H3", "B3", "horizontal"),
                        ("H4", "H5", "horizontal"), ("P1", "P2", "horizontal")}
    # a pipe that crosses another and then runs beside it (P3 × P4, a plain crossing: no row)
    assert got[("P1", "P2", "horizontal")]["clearance_m"] == pytest.approx(0.45)
    assert got[("P1", "P2", "horizontal")]["required_m"] == 1.5
    assert got[("H1", "B1", "horizontal")]["clearance_m"] == pytest.approx(0.8)
    assert got[("H1", "B1", "horizontal")]["required_m"] == 1.0
    assert got[("H3", "B3", "horizontal")]["clearance_m"] == pytest.approx(2.0)
    assert got[("H3", "B3", "horizontal")]["required_m"] == 3.0
    assert got[("H4", "H5", "horizontal")]["clearance_m"] == pytest.approx(1.2)
    assert got[("H4", "H5", "horizontal")]["required_m"] == 1.5
    assert got[("H4", "H5", "horizontal")]["verified"] is False


def test_clearance_cli_area_and_geojson(qdb, tmp_path):
    # a box around V1 × V2 only, in the storage CRS (northing first)
    bbox = f"{NC - 50},{EC - 50},{NC + 50},{EC + 50}"
    gj = tmp_path / "c.geojson"
    p = run_cli(["query", "clearance", "--bbox", bbox, "--crs", "EPSG:4527", "--geojson",
                 str(gj), "--out-crs", "EPSG:4527", "--json"], qdb.env(), check=True)
    res = json.loads(p.stdout)
    assert [(r["a_code"], r["b_code"]) for r in res["rows"]] == [("V1", "V2")]
    feat = json.loads(gj.read_text())["features"][0]
    assert feat["geometry"]["coordinates"][:2] == pytest.approx([EC, NC])


def test_clearance_rules_file_errors(tmp_path, jining_profile):
    from dataclasses import replace

    from cim.errors import ConfigError
    from layers.query.clearance_rules import load_rules

    bad = tmp_path / "clear.csv"
    bad.write_text("kind,a,a_when,b,b_when,required_m,verified,source\n"
                   "vertical,01,,01,,0.15,yes,x\nvertical,01,size>3,02,,0.4,no,y\n",
                   encoding="utf-8")
    prof = replace(jining_profile, dictionaries={**jining_profile.dictionaries,
                                                 "pipe_clearances": bad})
    with pytest.raises(ConfigError) as e:
        load_rules(prof)
    assert e.value.row == 3 and e.value.field == "a_when"


def test_processes_answer_like_the_library(qdb, monkeypatch):
    from layers.query import clearance as cl
    from layers.query import section as se

    monkeypatch.setenv("CIM_PROFILE", str(qdb.profile.path))
    res = cl.PROCESS["run"](qdb.conninfo, {"bbox": [NC - 50, EC - 50, NC + 50, EC + 50],
                                          "crs": "EPSG:4527", "kind": "vertical"})
    assert [(r["a_code"], r["b_code"]) for r in res["rows"]] == [("V1", "V2")]
    res = se.PROCESS["run"](qdb.conninfo, {"line": _storage_wkt(LINE), "crs": "EPSG:4527"})
    _check_rows(res["rows"])


def test_png_without_cjk_font_falls_back_to_english(qdb, tmp_path, monkeypatch):
    from layers.query import drawing
    from layers.query.section import section, write_drawings

    res = section(qdb.conninfo, _storage_wkt(LINE), "EPSG:4527", qdb.profile)
    monkeypatch.setattr(drawing, "cjk_font", lambda: None)
    warnings = write_drawings(res, png=tmp_path / "s.png", profile=qdb.profile)
    assert warnings and "CJK" in warnings[0]
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    from layers.query.pipes import class_facts

    labels = [p.label for p in drawing.pipes_of(res, class_facts(qdb.profile), english=True)]
    assert labels[1] == "Water supply DN300 ▽34.50"  # S1, name_en of pipe_classes.csv
