"""`cim risk assess` names the points added by hand that lie on an asset their type is no
longer on (issue 12c): a 0402 井盖缺失破损 point put on a 化粪池 while risk_types.csv said
nothing of what 0402 is on (a city's copy with 0402's asset_where blank, as it was) stayed
unnoticed once asset_where said 井盖. The assessment keeps it (a person placed it) and lists
it — ``misplaced_manual`` and a note naming the point, its asset and the asset's subclass —;
a 0402 point on a 燃气井盖 is not named. Written by the real CLI with two profiles."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import shapely
from shapely.geometry import Point

from cim.profile import DICTIONARY_DIR
from tests.conftest import run_cli
from tests.risk_fixture import X0, Y0

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "jining"


def _old_profile(tmp_path: Path) -> Path:
    """The Jining profile with a risk_types.csv whose 0402 has no asset_where."""
    lines = (DICTIONARY_DIR / "risk_types.csv").read_text(encoding="utf-8").splitlines()
    old = [",".join(ln.split(",")[:5] + ["", "部件 01 公用设施 井盖", "manual"])
           if ln.startswith("0402,") else ln for ln in lines]
    assert old != lines
    types = tmp_path / "risk_types.csv"
    types.write_text("\n".join(old) + "\n", encoding="utf-8")
    text = (SAMPLE / "profile.yaml").read_text(encoding="utf-8")
    text = text.replace("boundaries: boundaries.gpkg", f"boundaries: {SAMPLE / 'boundaries.gpkg'}")
    text = text.replace("grid: grid_cells.gpkg", f"grid: {SAMPLE / 'grid_cells.gpkg'}")
    assert "dictionaries: {}" in text
    text = text.replace("dictionaries: {}", f"dictionaries: {{risk_types: '{types}'}}")
    p = tmp_path / "profile.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_assess_names_manual_points_on_assets_their_type_is_not_on(fresh_db, tmp_path):
    d = fresh_db
    with psycopg.connect(d.conninfo) as conn:
        for code, x, sub, name in (("SEPTIC", 2530, "0302", "化粪池"),
                                   ("COVER", 2600, "0111", "燃气井盖")):
            conn.execute(
                "INSERT INTO components (code, subclass_code, subclass_name, major_code, "
                "state, owner_name, district_code, grid_code, geom) VALUES (%s, %s, %s, "
                "left(%s, 2), '破损', '物业公司', '370811', '370811001001001', "
                "ST_GeomFromWKB(%s, 4527))",
                (code, sub, name, sub, shapely.to_wkb(Point(X0 + x, Y0 + 2010))))
    old = _old_profile(tmp_path)
    added = {}
    for asset in ("SEPTIC", "COVER"):  # both accepted by the old file
        p = run_cli(["--profile", str(old), "risk", "add", "--type", "0402", "--asset", asset,
                     "--json"], d.env(), check=True)
        added[asset] = json.loads(p.stdout)["code"]
    # the current file refuses the septic tank (so the point could only come from before)
    p = run_cli(["risk", "add", "--type", "0402", "--asset", "SEPTIC"], d.env())
    assert p.returncode == 3, p.stderr

    p = run_cli(["risk", "assess", "--json"], d.env(), check=True)
    out = json.loads(p.stdout)
    assert out["misplaced_manual"] == [{
        "code": added["SEPTIC"], "risk_type_code": "0402", "asset_layer": "components",
        "asset_code": "SEPTIC", "asset": {"subclass_code": "0302"}}]
    note = [n for n in out["notes"] if "added by hand lie on an asset" in n]
    assert len(note) == 1 and note[0].startswith("1 points") \
        and f"{added['SEPTIC']} (0402 on SEPTIC, subclass_code 0302)" in note[0], out["notes"]
    assert added["COVER"] not in note[0]
    # kept: both points are still current
    assert d.rows("SELECT code FROM risk_points WHERE valid_to IS NULL ORDER BY code") == \
        sorted([(added["SEPTIC"],), (added["COVER"],)])
    # the text output says it too
    p = run_cli(["risk", "assess"], d.env(), check=True)
    assert "note: 1 points added by hand lie on an asset" in p.stdout and "SEPTIC" in p.stdout
