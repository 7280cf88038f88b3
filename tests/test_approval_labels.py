"""A DXF project's building labels (TEXT, MTEXT, a block's ATTRIBs) as the approval check reads
them: real DXF files written as Chinese CAD writes them (GBK, ANSI_936), read by
``loaders.project.read_project`` and checked by the real check; every expected number is
computed here from the drawn geometry."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from cim.errors import InputError
from layers.approval.check import check
from layers.approval.project import build_project
from loaders.project import read_project
from tests import approval_fixture
from tests.approval_fixture import PARCELS, SRID, to_storage

adb = approval_fixture.adb  # the hand-drawn planning situation, a database per module

SITE = box(0, 0, 100, 100)  # parcel A: FAR <= 2.0
BUILDING = box(10, 10, 40, 50)  # 1200 m²: 2 floors FAR 0.24, 30 floors FAR 3.6
GREEN = box(10, 60, 90, 90)


def _poly(layer: str, g) -> list[str]:
    pts = list(to_storage(g).exterior.coords)[:-1]
    out = ["0", "LWPOLYLINE", "8", layer, "90", str(len(pts)), "70", "1"]
    for x, y in pts:
        out += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
    return out


def _text(s: str, dx: float = 0.0, kind: str = "TEXT") -> list[str]:
    c = to_storage(BUILDING).centroid
    return ["0", kind, "8", "建筑", "10", f"{c.x + dx:.3f}", "20", f"{c.y + dx:.3f}", "30",
            "0.0", "40", "2.5", "1", s]


def _insert_with_attribs(values: dict[str, str]) -> tuple[list[str], list[str]]:
    """A block (its outline on layer 0, an ATTDEF per tag) and its INSERT on 建筑 with one
    ATTRIB per tag: GDAL hands each ATTRIB's value alone as a Text."""
    c = to_storage(BUILDING).centroid
    local = [(x - c.x, y - c.y) for x, y in list(to_storage(BUILDING).exterior.coords)[:-1]]
    blk = ["0", "BLOCK", "8", "0", "2", "B1", "70", "2", "10", "0.0", "20", "0.0", "30", "0.0",
           "3", "B1", "0", "LWPOLYLINE", "8", "0", "90", str(len(local)), "70", "1"]
    for x, y in local:
        blk += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
    for tag in values:
        blk += ["0", "ATTDEF", "8", "0", "10", "0", "20", "0", "30", "0", "40", "2.5", "1", "",
                "3", tag, "2", tag, "70", "0"]
    blk += ["0", "ENDBLK", "8", "0"]
    ins = ["0", "INSERT", "8", "建筑", "66", "1", "2", "B1", "10", f"{c.x:.3f}", "20",
           f"{c.y:.3f}", "30", "0.0"]
    for i, (tag, v) in enumerate(values.items()):
        ins += ["0", "ATTRIB", "8", "建筑", "10", f"{c.x + 2 * i:.3f}", "20", f"{c.y + 2 * i:.3f}",
                "30", "0", "40", "2.5", "1", v, "2", tag, "70", "0"]
    ins += ["0", "SEQEND", "8", "建筑"]
    return blk, ins


def _dxf(tmp_path, labels: list[list[str]], blocks: list[list[str]] = (),
         building: bool = True) -> str:
    out = ["0", "SECTION", "2", "HEADER", "9", "$ACADVER", "1", "AC1021", "9", "$DWGCODEPAGE",
           "3", "ANSI_936", "9", "$INSUNITS", "70", "6", "0", "ENDSEC"]
    if blocks:
        out += ["0", "SECTION", "2", "BLOCKS"] + [x for b in blocks for x in b] + ["0", "ENDSEC"]
    out += ["0", "SECTION", "2", "ENTITIES"] + _poly("用地红线", SITE) + _poly("绿地", GREEN)
    if building:
        out += _poly("建筑", BUILDING)
    for e in labels:
        out += e
    out += ["0", "ENDSEC", "0", "EOF"]
    path = tmp_path / "p.dxf"
    path.write_bytes(("\r\n".join(out) + "\r\n").encode("gbk"))
    return str(path)


def _project(path: str):
    pf = read_project(path)
    return build_project(pf.records, source=path, name="labels", crs=f"EPSG:{SRID}",
                         storage_srid=SRID)


def _far(adb, project) -> tuple[str, float]:
    res = check(adb.conninfo, project, adb.profile)[0]
    far = next(r for r in res["results"] if r["id"] == "far")
    return far["status"], far["measured"]


def test_two_labels_that_disagree_are_an_input_problem_naming_both(adb, tmp_path):
    path = _dxf(tmp_path, [_text("名称=3号楼;地上层数=2"),
                           _text("地上层数=30;建筑高度=90", dx=3)])
    with pytest.raises(InputError) as e:
        _project(path)
    msg = str(e.value)
    assert "'名称=3号楼;地上层数=2'" in msg and "'地上层数=30;建筑高度=90'" in msg
    assert "disagree" in msg and "floors_above" in msg


@pytest.mark.parametrize("second", ["地上层数=30", "30F", "层数=30;建筑高度=90"])
def test_the_same_value_twice_is_fine_and_30_floors_fail_the_far(adb, tmp_path, second):
    p = _project(_dxf(tmp_path, [_text("名称=3号楼;地上层数=30;建筑高度=90"),
                                 _text(second, dx=3)]))
    (b,) = p.buildings
    assert (b.label, b.floors_above, b.height) == ("3号楼", 30, 90.0)
    far_limit = PARCELS["PA"][2]
    expected = 30 * BUILDING.area / SITE.area
    assert expected > far_limit
    status, measured = _far(adb, p)
    assert status == "fail" and measured == pytest.approx(expected, abs=1e-3)


def test_one_text_giving_a_key_twice_with_two_values_is_a_problem(tmp_path):
    with pytest.raises(InputError, match="disagree on floors_above"):
        _project(_dxf(tmp_path, [_text("地上层数=2;层数=30")]))


def test_mtext_line_breaks_separate_the_pairs(adb, tmp_path):
    p = _project(_dxf(tmp_path, [_text(r"名称=3号楼\P地上层数=18\P建筑高度=54", kind="MTEXT")]))
    (b,) = p.buildings
    assert (b.label, b.floors_above, b.height) == ("3号楼", 18, 54.0)
    assert p.notes == []
    status, measured = _far(adb, p)
    assert measured == pytest.approx(18 * BUILDING.area / SITE.area, abs=1e-3)


@pytest.mark.parametrize("labels, floors, height", [
    (["18F"], 18, None),
    (["18层"], 18, None),
    (["H=54.0m", "层数=18"], 18, 54.0),
    (["H=54"], None, 54.0),
    (["h=54 米"], None, 54.0),
])
def test_common_label_forms_are_read(tmp_path, labels, floors, height):
    p = _project(_dxf(tmp_path, [_text(s, dx=2 * i) for i, s in enumerate(labels)]))
    (b,) = p.buildings
    assert (b.floors_above, b.height) == (floors, height)
    assert p.notes == []


def test_labels_not_understood_are_named_in_the_notes(adb, tmp_path):
    blk, ins = _insert_with_attribs({"地上层数": "18", "建筑高度": "54"})
    p = _project(_dxf(tmp_path, [ins, _text("名称=3号楼;备注=示意", dx=5)], blocks=[blk],
                      building=False))
    (b,) = p.buildings  # the block's outline
    assert (b.label, b.floors_above, b.height) == ("3号楼", None, None)
    notes = "\n".join(p.notes)
    for part in ("'18'", "'54'", "'备注=示意'"):
        assert part in notes
    assert notes.count("not understood") == 3 and "3号楼" in notes
    res = check(adb.conninfo, p, adb.profile)[0]
    assert res["project"]["notes"] == p.notes
    # and the report staff file says so too
    from layers.approval.report import render_html

    page = render_html(res, None)
    assert "Reading notes" in page and "&#x27;备注=示意&#x27;" in page


@pytest.mark.parametrize("label, field, value", [
    ("建筑高度=54000mm", "建筑高度", "54000mm"),
    ("建筑高度=54mm", "建筑高度", "54mm"),
    ("建筑高度=54m米", "建筑高度", "54m米"),
    ("地上层数=18FF", "地上层数", "18FF"),
    ("地上层数=18m", "地上层数", "18m"),
])
def test_a_unit_is_read_strictly(tmp_path, label, field, value):
    with pytest.raises(InputError) as e:
        _project(_dxf(tmp_path, [_text("名称=3号楼;" + label)]))
    assert f"field '{field}'" in str(e.value) and f"'{value}'" in str(e.value)


def test_a_metre_sign_on_a_height_is_read(tmp_path):
    p = _project(_dxf(tmp_path, [_text("名称=3号楼;地上层数=18层;建筑高度=54.5m")]))
    (b,) = p.buildings
    assert (b.floors_above, b.height) == (18, 54.5)


def _hatch(layer: str, g) -> list[str]:
    """A solid HATCH over ``g`` (one closed polyline boundary), as CAD fills a building."""
    pts = list(to_storage(g).exterior.coords)[:-1]
    out = ["0", "HATCH", "8", layer, "10", "0.0", "20", "0.0", "30", "0.0", "210", "0.0",
           "220", "0.0", "230", "1.0", "2", "SOLID", "70", "1", "71", "0", "91", "1", "92", "2",
           "72", "0", "73", "1", "93", str(len(pts))]
    for x, y in pts:
        out += ["10", f"{x:.3f}", "20", f"{y:.3f}"]
    return out + ["97", "0", "75", "0", "76", "1", "98", "0"]


@pytest.mark.parametrize("label", [True, False])
def test_a_hatched_building_is_one_building(adb, tmp_path, label):
    """The outline hatched on the building layer is two polygons of one outline: read once
    (it was two buildings, 0 m apart, their floor area counted twice; with a label, the label
    'lay in 2 outlines')."""
    path = _dxf(tmp_path, [_hatch("建筑", BUILDING)]
                + ([_text("名称=1号楼;地上层数=2;建筑高度=8")] if label else []))
    p = _project(path)
    assert len(p.buildings) == 1 and p.buildings[0].footprint.area == pytest.approx(1200.0)
    assert any("read once" in n for n in p.notes), p.notes
    if label:
        assert _far(adb, p) == ("pass", pytest.approx(2 * BUILDING.area / SITE.area))
        res = check(adb.conninfo, p, adb.profile)[0]
        sp = next(r for r in res["results"] if r["id"] == "building_spacing")
        # one building: no pair of the project's own (the fixture's existing neighbours are
        # checked since the spacing looks at them too)
        assert sp["items"] and all("existing" in i for i in sp["items"]), sp


def test_one_outline_drawn_twice_with_other_attributes_is_a_problem_naming_both():
    from layers.approval.project import records_from_geojson
    from tests.approval_fixture import collection, feature

    fc = collection(feature("site", SITE), feature("building", BUILDING, name="A", height=20),
                    feature("building", BUILDING, name="A", height=90))
    with pytest.raises(InputError, match="feature 3.*same outline as feature 2"):
        build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    fc["features"][2]["properties"]["height"] = 20  # the same copy twice: read once
    p = build_project(records_from_geojson(fc), source="t", name="t", crs=f"EPSG:{SRID}",
                      storage_srid=SRID)
    assert [b.height for b in p.buildings] == [20.0]
