"""Every layer's flags (标记) read in Chinese (session 16): the web map's feature info and the
health report showed a building's ``height_below_storeys``, a pipe's ``reverse_slope``, a
district's ``no_population_of_year`` as written; only a sensor's flags had words.

The flags a loader, a check or a computation can write are found here by reading the source
(its syntax tree: every string put into a list of flags) and the pipe survey's QA rules, not
by asking the code that labels them; the expected words are read from value_labels.yaml and
layers.csv with PyYAML and csv."""

from __future__ import annotations

import ast
import csv
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from cim.profile import DICTIONARY_DIR
from layers.health.report import health_labels
from layers.styles.info_formats import flag_labels, info_formats
from tests.conftest import run_cli
from tests.health_fixture import city_db  # noqa: F401 - fixture `city`
from tests.test_health12_flags import _retire
from tests.test_maps_probe10 import browser  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parent.parent
WORDS = yaml.safe_load((DICTIONARY_DIR / "value_labels.yaml").read_text(encoding="utf-8"))


def _module_strings(tree: ast.AST) -> dict[str, str]:
    return {n.targets[0].id: n.value.value for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)}


def _written_flags() -> set[str]:
    """Strings appended or added to a name or item called *flag*, or a flags list extended by
    a list literal; a module constant in their place counts by its value; ``f"{f}_unmapped"``
    and ``f"no_{table}"`` are returned as patterns (their fields are listed by the tests)."""
    files = [p for d in ("loaders", "layers", "services") for p in (ROOT / d).rglob("*.py")]
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in files}
    consts: dict[str, str] = {}
    for tree in trees.values():
        consts.update(_module_strings(tree))
    out: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name) and "FLAG" in node.targets[0].id \
                    and isinstance(node.value, ast.Constant):  # OVERDUE_FLAG, alarm's FLAG
                out.add(node.value.value)
            vals: list[ast.AST] = []
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and "flag" in ast.unparse(node.targets[0]).lower():
                # flags = [] if … else ["not_residential"]
                vals = [e for lst in ast.walk(node.value) if isinstance(lst, ast.List)
                        for e in lst.elts]
            elif isinstance(node, ast.Call) and node.args \
                    and isinstance(node.args[0], ast.Constant | ast.JoinedStr) \
                    and "array_append(flags" in ast.unparse(node.args[0]):
                # SQL adding a flag: the constants among its parameters
                vals = [n for a in node.args[1:] for n in ast.walk(a) if isinstance(n, ast.Name)]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("append", "add") \
                    and "flag" in ast.unparse(node.func.value).lower():
                vals = list(node.args)
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) \
                    and "flag" in ast.unparse(node.left).lower() \
                    and isinstance(node.right, ast.List):
                vals = list(node.right.elts)
            elif isinstance(node, ast.keyword) and node.arg == "flags" \
                    and isinstance(node.value, ast.Set):  # Part(None, flags={"no_roads"})
                vals = list(node.value.elts)
            elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("by_district") \
                    and len(node.args) == 4:  # its fourth: the flag of a district without rows
                vals = [node.args[3]]
            for v in vals:
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    out.add(v.value)
                elif isinstance(v, ast.Name) and v.id in consts:
                    out.add(consts[v.id])
                elif isinstance(v, ast.JoinedStr):
                    out.add(ast.unparse(v))
    return out


def test_the_scan_finds_the_flags_it_must(jining_profile):
    """The scan itself: flags known to be written (each read in its module here) are found."""
    found = _written_flags()
    for flag in ("height_below_storeys", "ring_closed", "land_use_mixed", "unattached",
                 "position_from_asset", "no_roads", "no_pipe_segments", "straight_line"):
        assert flag in found, flag


def test_every_flag_written_has_its_word(jining_profile):
    formats = info_formats(jining_profile)
    shared = formats["flags"]
    found = _written_flags()
    fields = yaml.safe_load((DICTIONARY_DIR / "component_values.yaml")
                            .read_text(encoding="utf-8"))
    patterns = {f for f in found if f.startswith("f'") or f.startswith('f"')}
    assert patterns == {"f'{f}_unmapped'", "f'no_{table}'"}, patterns
    flags = (found - patterns) | {f"{f}_unmapped" for f in fields}
    # the planning tables' limits read by assumption (loaders.planning_values: the flag is
    # the variable `assumed` the parser returns)
    src = (ROOT / "loaders" / "planning_values.py").read_text(encoding="utf-8")
    flags |= set(re.findall(r'^[A-Z_]+ = "([a-z_]+)"  # ', src, re.M)) - {"m"}
    rules = yaml.safe_load((DICTIONARY_DIR / "pipe_qa_rules.yaml").read_text(encoding="utf-8"))
    flags |= {r["id"] for r in rules["rules"] if r["severity"] == "warning"}
    prefixes = {f for f in flags if f.endswith(":")}  # alarm:<code> on a risk point
    assert prefixes == {"alarm:"}, prefixes
    assert set(formats["flag_prefixes"]) == prefixes and all(
        re.search(r"[\u4e00-\u9fff]", w) for w in formats["flag_prefixes"].values())
    flags -= prefixes
    missing = sorted(f for f in flags if f not in shared)
    assert not missing, missing
    assert {"percent_assumed", "fraction_assumed", "limit_not_required", "state_unmapped",
            "orphan_point", "z_differs_from_ground", "not_residential", "escalated_after_close",
            "overdue", "ground_derived", "ground_from_z"} <= flags
    assert flag_labels(formats, "cases")["overdue"] == WORDS["flags"]["overdue"]
    titles = _titles()
    for f in flags:  # the file's word, else a health no_<layer>'s: 无 and the layer's title
        word = WORDS["flags"].get(f) or (f"无{titles[f[3:]]}" if f[3:] in titles else None)
        assert shared[f] == word and re.search(r"[\u4e00-\u9fff]", shared[f]), f


def _titles() -> dict[str, str]:
    with open(DICTIONARY_DIR / "layers.csv", encoding="utf-8") as fh:
        return {r["layer"]: r["name_zh"] for r in csv.DictReader(fh)}


def test_a_health_flag_no_layer_reads_as_the_layers_title(jining_profile):
    titles = _titles()
    words = info_formats(jining_profile)["flags"]
    for layer in ("roads", "pipe_segments", "components", "buildings"):
        assert words[f"no_{layer}"] == f"无{titles[layer]}", layer


def _platform_copy() -> dict:
    return yaml.safe_load((DICTIONARY_DIR / "value_labels.yaml").read_text(encoding="utf-8"))


def _formats_of_city_copy(profile, folder, own: dict) -> dict:
    """info_formats of the profile with ``own`` as the city's copy of value_labels.yaml."""
    path = folder / "value_labels.yaml"
    path.write_text(yaml.safe_dump(own, allow_unicode=True), encoding="utf-8")
    return info_formats(replace(profile, dictionaries={**profile.dictionaries,
                                                       "value_labels": path}))


def test_a_layers_own_word_wins_over_the_shared_one(jining_profile, tmp_path):
    own = _platform_copy()
    own["values"]["buildings"] = {"flags": {"use_missing": "未填用途"}}
    own["flags"]["ring_closed"] = "已闭合"
    formats = _formats_of_city_copy(jining_profile, tmp_path, own)
    assert flag_labels(formats, "buildings")["use_missing"] == "未填用途"
    assert flag_labels(formats, "components")["use_missing"] == WORDS["flags"]["use_missing"]
    assert flag_labels(formats, "pipe_points")["ring_closed"] == "已闭合"


def test_the_style_sends_the_shared_words_once(api):
    """The style's cim:info carries them once, not in each of its layers."""
    import requests

    style = requests.get(f"{api}/styles/onemap?f=mapbox", timeout=60).json()
    info = style["metadata"]["cim:info"]
    assert info["flags"]["height_below_storeys"] == WORDS["flags"]["height_below_storeys"]
    assert "flags" not in info["values"].get("buildings", {})


def test_the_health_report_prints_flags_in_their_words(city, tmp_path):  # noqa: F811
    """Buildings retired: every coverage's district is flagged no_buildings (by construction:
    tests/test_health12_flags.py); the report's flags column reads 无建筑物, not the flag."""
    title = _titles()["buildings"]
    _retire(city, "true")
    out = tmp_path / "report.html"
    run_cli(["health", "compute", "--year", "2026", "--report", str(out)], city.env(),
            check=True)
    html = out.read_text(encoding="utf-8")
    assert f"无{title}" in html
    assert "no_buildings" not in html
    assert health_labels(city.profile)["flags"]["no_buildings"] == f"无{title}"


def test_the_map_shows_a_pipes_and_a_buildings_flags_in_words(browser, api, db):  # noqa: F811
    """In real headless Chromium: the feature info's 标记 of sample rows that carry flags
    (the samples' pipe survey holds QA warnings, their buildings a repaired footprint)."""
    from tests.test_infolabels13 import info_rows
    from tests.test_webmap import open_map

    driver, _ = browser
    open_map(driver, api)
    checked = 0
    for layer in ("pipe_segments", "pipe_points", "buildings"):
        rows = db.rows(f"SELECT code, flags FROM {layer} WHERE valid_to IS NULL AND "
                       "cardinality(flags) > 0 ORDER BY code LIMIT 1")
        if not rows:
            continue
        code, flags = rows[0]
        shown = info_rows(driver, code)["标记"]
        assert shown == "、".join(WORDS["flags"][f] for f in flags), (layer, shown, flags)
        checked += 1
    assert checked >= 2, "the samples hold no flagged pipe or building"


def test_a_citys_copy_without_the_flags_takes_the_platforms_words(jining_profile, tmp_path):
    """A city's copy made before the flags had words (no `flags` section) shows them in the
    platform's words, not as written (review 16)."""
    own = _platform_copy()
    del own["flags"], own["flag_prefixes"]
    formats = _formats_of_city_copy(jining_profile, tmp_path, own)
    assert flag_labels(formats, "sensors")["position_from_asset"] == "位置取自设施"
    assert formats["flag_prefixes"] == WORDS["flag_prefixes"]


def test_a_risk_points_alarm_flag_reads_as_the_word_and_the_code(browser, api, db):  # noqa: F811
    from tests.test_infolabels13 import info_rows
    from tests.test_webmap import open_map

    """A sample risk point given an alarm's flag as layers.risk.alarm writes it (taken off
    again after): 告警 and the code, not alarm:<code>."""
    rows = db.rows("SELECT code FROM risk_points WHERE valid_to IS NULL ORDER BY code LIMIT 1")
    if not rows:
        pytest.skip("the samples hold no risk point")
    code, flag = rows[0][0], "alarm:370811920100000042"
    db.rows("UPDATE risk_points SET flags = array_append(flags, %s) WHERE code = %s "
            "AND valid_to IS NULL RETURNING 1", (flag, code))
    try:
        driver, _ = browser
        open_map(driver, api)
        shown = info_rows(driver, code)["标记"]
        assert f"{WORDS['flag_prefixes']['alarm:']} 370811920100000042" in shown, shown
        assert "alarm:" not in shown, shown
    finally:
        db.rows("UPDATE risk_points SET flags = array_remove(flags, %s) WHERE code = %s "
                "RETURNING 1", (flag, code))
