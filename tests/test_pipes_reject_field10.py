"""A pipe point without a class or a position reaches the writer where a city's QA rules make
``missing_value`` a warning (pipe_qa_rules.yaml: "A city may copy this file, change …
severities"); its reject named no field ("the point has no class or position"), where every
other reject of the writer names the delivered column. Now: the class column as the table
has it, or the X/Y columns."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from cim.profile import DICTIONARY_DIR, load_profile
from loaders.pipes.load import load_pipes_files
from tests.conftest import scratch_db

E0, N0 = 39_464_200.0, 3_915_200.0  # inside 任城区 (EPSG:4527)


@pytest.fixture(scope="module")
def city(jining_profile, tmp_path_factory):
    d = tmp_path_factory.mktemp("city10")
    rules = (DICTIONARY_DIR / "pipe_qa_rules.yaml").read_text(encoding="utf-8")
    lenient = rules.replace("  - id: missing_value\n    severity: error",
                            "  - id: missing_value\n    severity: warning")
    assert lenient != rules
    (d / "qa.yaml").write_text(lenient, encoding="utf-8")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):  # relative to the sample profile's folder
        raw[key] = str((jining_profile.path.parent / raw[key]).resolve())
    raw["dictionaries"] = {**(raw.get("dictionaries") or {}), "pipe_qa_rules": "qa.yaml"}
    (d / "profile.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_profile(d / "profile.yaml")


@pytest.fixture(scope="module")
def pdb(city):
    with scratch_db("pipes10", city) as d:
        yield d


def test_a_point_without_position_or_class_names_its_columns(pdb, tmp_path):
    n = 5
    pts = pd.DataFrame({
        "物探点号": [f"JS{i:03d}" for i in range(1, n + 1)] + ["JS099"],
        "类别": ["给水"] * n + [None],  # JS099: blank class, and no segment uses it
        "特征": ["预留口"] + ["直线点"] * (n - 2) + ["预留口", "直线点"],
        "X坐标": [N0 + i * 30 for i in range(n)] + [N0],
        "Y坐标": [E0 + i * 5.0 for i in range(n)] + [E0 + 100],
        "地面高程": [36.0] * (n + 1)})
    pts.loc[4, "X坐标"] = None  # JS005: no X (row 6 of the file)
    segs = pd.DataFrame({
        "起始点号": pts["物探点号"][:4].to_list(), "终止点号": pts["物探点号"][1:5].to_list(),
        "类别": ["给水"] * 4, "起点埋深": [1.2] * 4, "终点埋深": [1.2] * 4,
        "材质": ["PE"] * 4, "管径": ["DN160"] * 4})
    pts.to_csv(tmp_path / "管线点.csv", index=False)
    segs.to_csv(tmp_path / "管线段.csv", index=False)
    r, _qa = load_pipes_files(pdb.conninfo, pdb.profile,
                              [tmp_path / "管线点.csv", tmp_path / "管线段.csv"])
    assert r.read == r.loaded + r.rejected
    got = {(row, reason, field, msg) for row, reason, field, msg in pdb.rows(
        "SELECT row_number, reason, field, message FROM load_rejects WHERE batch_id = %s "
        "AND reason = 'missing_value'", (r.batch_id,))}
    assert got == {(6, "missing_value", "X坐标/Y坐标", "管线点.csv row 6: the point has no position"),
                   (7, "missing_value", "类别", "管线点.csv row 7: the point has no class")}
