"""The CJJ 61 feature dictionary (特征 / 附属物, ``pipe_features.csv``): a clean surveyors'
delivery written with the names surveyors use raises no QA finding, and every alias resolves
to the feature of its canonical name."""

from __future__ import annotations

import csv
import json
import os

import pandas as pd
import pytest

from cim.config import PROJECT_ROOT
from loaders.pipes.dictionaries import PipeDictionaries
from tests.conftest import run_cli

FEATURES_CSV = PROJECT_ROOT / "cim" / "dictionaries" / "pipe_features.csv"
E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527)
STEP = 20.0  # m between survey points
DIRECTIONS = [(0.0, 1.0), (0.0, -1.0), (0.6, 0.8), (-0.6, 0.8)]  # of the i-th branch

# A hand-made network per class: the main line's points (特征 or 附属物: "f:" / "a:"), and
# branches leaving a main-line point sideways (tip first for gravity flow into the main).
# Names are the ones surveyors write, canonical and aliases alike.
NETWORKS = {
    "给水": dict(prefix="JS", gravity=False, main=[
        "f:盖堵", "f:直线点", "a:阀门", "f:三通", "f:弯头", "f:变径", "a:水表", "a:排气阀",
        "f:四通", "f:变材", "a:消火栓", "f:拐点", "f:转折点", "a:阀门井", "f:堵头"],
        branches={3: [["a:消防栓"]], 8: [["a:排污阀"], ["f:预留口"]]},
        size_change=5, material_change=9),
    "雨水": dict(prefix="YS", gravity=True, main=[
        "a:雨水井", "a:雨水井", "a:检查井", "a:窨井", "a:阴井", "a:井盖", "a:沉淀池",
        "a:跌水井", "f:出水口"],
        branches={1: [["a:雨篦"]], 2: [["a:雨水箅"]], 3: [["a:雨水口"]], 4: [["f:进水口"]]}),
    "污水": dict(prefix="WS", gravity=True, main=[
        "a:化粪池", "a:污水井", "a:污水井", "a:检修井", "a:沉泥井", "a:窨井", "a:出水口"],
        branches={2: [["a:化粪池"]]}),
    "合流": dict(prefix="HS", gravity=True, main=["a:检查井", "a:雨水井", "a:污水井",
                                                  "a:溢流井", "a:泵站", "f:出水口"],
                 branches={1: [["a:雨篦子"]]}),
    "燃气": dict(prefix="RQ", gravity=False, main=[
        "f:盖堵", "a:阀门", "f:直线点", "a:凝水缸", "f:三通", "a:阀门井", "f:变深", "f:弯头",
        "a:调压箱", "f:预留口"],
        branches={4: [["a:调压站"]]}, depth_change=6),
    "热力": dict(prefix="RL", gravity=False, main=[
        "f:盖堵", "a:阀门", "a:检修井", "a:补偿器", "a:排气阀", "a:疏水阀", "a:排潮孔",
        "f:三通", "f:盖堵"],
        branches={7: [["a:排污阀"]]}),
    "电力": dict(prefix="DL", gravity=False, main=[
        "f:出地", "a:人孔", "a:手孔", "a:接线箱", "f:四通", "a:分支箱", "a:变压器"],
        branches={4: [["a:手井"], ["f:出地"]]}),
    "通信": dict(prefix="TX", gravity=False, main=[
        "f:出地", "a:人孔", "a:手孔", "f:多通", "a:交接箱", "a:通信交接箱", "f:预留口"],
        branches={3: [["a:分线盒"], ["f:进楼"], ["f:入户"]]}),
    "工业": dict(prefix="GY", gravity=False, main=["f:盖堵", "a:阀门", "f:三通", "a:凝水缸",
                                                  "f:盖堵"],
                 branches={2: [["a:排气阀"]]}),
    "其他": dict(prefix="QT", gravity=False, main=["a:出入口", "a:人孔", "a:通风口",
                                                  "a:投料口"], branches={}),
}


def _network(cls: str, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Point and segment tables of one class, correct by construction: 20 m segments, one
    depth per point (two at a 变深 point), gravity lines falling 0.05 m per segment towards
    the main line's end, tees and crosses joining 3 and 4 segments, size/material changing
    only at 变径/变材."""
    net = NETWORKS[cls]
    n0 = N0 + k * 300.0
    pts: list[dict] = []
    depth: dict[str, float] = {}
    lower = 0.5  # m deeper after the 变深 point (depth_change): its two segments differ there

    def point(no: str, name: str, x: float, y: float, d: float) -> None:
        kind, value = name.split(":")
        pts.append({"物探点号": no, "特征": value if kind == "f" else None,
                    "附属物": value if kind == "a" else None,
                    "X": y, "Y": x, "地面高程": 36.0})  # X = northing, Y = easting
        depth[no] = d

    main = []
    for i, name in enumerate(net["main"]):
        no = f"{net['prefix']}{i + 1:03d}"
        point(no, name, E0 + i * STEP, n0, 1.5 + 0.05 * i if net["gravity"] else 1.2)
        main.append(no)
    dd: dict[str, tuple[float, float]] = {}  # (end depth, start depth) at a 变深 point
    segs, kept = [], []  # (start, end, size, material); size/material per main segment
    size, material = "DN300", "PE"
    for i in range(len(main) - 1):
        if i == net.get("size_change"):
            size = "DN200"
        if i == net.get("material_change"):
            material = "球墨铸铁"
        if i == net.get("depth_change"):
            for no in main[i:]:
                depth[no] += lower
            dd[main[i]] = (depth[main[i]] - lower, depth[main[i]])
        segs.append((main[i], main[i + 1], size, material))
        kept.append((size, material))
    j = 0
    for at, chains in net["branches"].items():
        s, m = kept[min(at, len(kept) - 1)]
        for side, chain in enumerate(chains):
            dx, dy = DIRECTIONS[side]
            prev = main[at]
            for step, name in enumerate(chain, start=1):
                j += 1
                no = f"{net['prefix']}B{j:02d}"
                point(no, name, E0 + at * STEP + dx * step * STEP, n0 + dy * step * STEP,
                      1.0 if net["gravity"] else 1.2)
                segs.append((no, prev, s, m) if net["gravity"] else (prev, no, s, m))
                prev = no
    seg = pd.DataFrame([{"起始点号": a, "终止点号": b, "起点埋深": dd.get(a, (0, depth[a]))[1],
                         "终点埋深": dd.get(b, (depth[b],))[0], "材质": m, "管径": s}
                        for a, b, s, m in segs])
    return pd.DataFrame(pts), seg


def test_a_clean_survey_of_every_class_raises_no_finding(jining_profile, tmp_path):
    expected_points = expected_segments = 0
    with pd.ExcelWriter(tmp_path / "管线普查成果表.xlsx") as xw:
        for k, cls in enumerate(NETWORKS):
            pts, segs = _network(cls, k)
            expected_points += len(pts)
            expected_segments += len(segs)
            if k % 2 == 0:  # half the classes in the workbook, half as CSV files
                pts.to_excel(xw, sheet_name=f"{cls}管线点", index=False)
                segs.to_excel(xw, sheet_name=f"{cls}管线段", index=False)
            else:
                pts.to_csv(tmp_path / f"{cls}_管线点成果表.csv", index=False, encoding="gbk")
                segs.to_csv(tmp_path / f"{cls}_管线段成果表.csv", index=False, encoding="gbk")
    env = {**os.environ, "CIM_PROFILE": str(jining_profile.path)}
    out = run_cli(["qa", "pipes", str(tmp_path), "--json"], env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["findings"] == []
    assert (data["points"], data["segments"]) == (expected_points, expected_segments)


def test_sizes_and_depths_typed_full_width_read_as_their_ascii_twins(jining_profile, tmp_path):
    """A survey typed partly in an IME's full-width mode (ＤＮ３００, １．５, as Excel keeps what
    was typed): the same network as its ASCII twin, no size change found where none is."""
    pts, segs = _network("给水", 0)
    wide = str.maketrans("0123456789.DN", "０１２３４５６７８９．ＤＮ")
    odd = segs.index % 2 == 1
    segs["管径"] = segs["管径"].astype(object)
    segs.loc[odd, "管径"] = [v.translate(wide) for v in segs.loc[odd, "管径"]]
    segs["起点埋深"] = segs["起点埋深"].astype(object)
    segs.loc[odd, "起点埋深"] = [f"{v:.2f}".translate(wide) for v in segs.loc[odd, "起点埋深"]]
    pts.to_csv(tmp_path / "给水_管线点成果表.csv", index=False, encoding="utf-8")
    segs.to_csv(tmp_path / "给水_管线段成果表.csv", index=False, encoding="utf-8")
    assert "ＤＮ" in (tmp_path / "给水_管线段成果表.csv").read_text(encoding="utf-8")
    env = {**os.environ, "CIM_PROFILE": str(jining_profile.path)}
    out = run_cli(["qa", "pipes", str(tmp_path), "--json"], env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["findings"] == []
    assert (data["points"], data["segments"]) == (len(pts), len(segs))


def _feature_rows() -> list[dict[str, str]]:
    with open(FEATURES_CSV, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("class_name", ["给水", "雨水", "污水", "雨污合流", "燃气", "热力", "电力",
                                        "通信", "工业", "综合管沟"])
def test_every_alias_resolves_to_its_canonical_feature(jining_profile, class_name):
    dicts = PipeDictionaries(jining_profile)
    pc = dicts.find_class(class_name)
    rows = [r for r in _feature_rows() if r["class"] in ("*", pc.code)]
    assert rows
    codes: dict[tuple[str, str], str] = {}
    for r in rows:
        canonical = dicts.feature(pc, r["kind"], r["name"])
        assert canonical is not None and canonical.name == r["name"], r
        # one name per code within the class (a class row never reuses a '*' sequence)
        assert codes.setdefault((r["kind"], r["seq"]), r["name"]) == r["name"], r
        for alias in filter(None, r["aliases"].split("|")):
            hit = dicts.feature(pc, r["kind"], alias)
            assert hit == canonical, (class_name, alias, hit, canonical)
            # spelled with spaces or full width, it is the same name
            assert dicts.feature(pc, r["kind"], f" {alias[0]} {alias[1:]}\u3000") == canonical
