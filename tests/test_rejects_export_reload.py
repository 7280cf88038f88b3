"""README's fix-and-reload loop: `cim rejects BATCH --export FILE`, fix the rows, `cim load …
FILE`. The export puts its own columns first (cim_row, cim_reason, cim_field, cim_message);
loaded again they were kept in the features' attrs, and the next delivery of the same features
(without them) then gave every one a new version. Expected by construction: the fixed rows
load with the delivered attributes only, and the same rows delivered again without the
export's columns are unchanged."""

from __future__ import annotations

import json

import geopandas as gpd

from loaders.sources.read import export_fields
from tests.conftest import SAMPLES, run_cli, scratch_db


def test_a_fixed_export_loads_without_the_exports_columns(jining_profile, tmp_path):
    with scratch_db("rejreload", jining_profile) as d:
        env = d.env()
        shp = SAMPLES / "components" / "components_points.shp"
        rep = json.loads(run_cli(["load", "components", str(shp), "--json"], env,
                                 check=True).stdout)
        out = tmp_path / "rej.gpkg"
        run_cli(["rejects", str(rep["batch_id"]), "--export", str(out)], env, check=True)
        g = gpd.read_file(out)
        assert {"cim_row", "cim_reason", "cim_field", "cim_message"} <= set(g.columns)
        g = g[g["cim_reason"] == "unknown_class"].copy()
        assert len(g) > 0
        g.loc[:, "部件小类"] = "上水井盖"  # the fix: a subclass of the dictionary
        fixed = tmp_path / "fixed.gpkg"
        g.to_file(fixed)
        first = json.loads(run_cli(["load", "components", str(fixed), "--dataset",
                                    "components_points", "--json"], env, check=True).stdout)
        assert first["loaded"] == len(g), first
        assert d.rows("SELECT attrs FROM components WHERE valid_to IS NULL AND "
                      "(attrs ?| array['cim_row', 'cim_reason', 'cim_field', "
                      "'cim_message', 'cim_dataset'])") == []
        clean = tmp_path / "clean.gpkg"
        g.drop(columns=["cim_row", "cim_reason", "cim_field", "cim_message",
                        "cim_dataset"]).to_file(clean)
        again = json.loads(run_cli(["load", "components", str(clean), "--dataset",
                                    "components_points", "--json"], env, check=True).stdout)
        assert again["updated"] == 0 and again["unchanged"] == len(g), again


def test_only_the_four_columns_of_one_export_are_left_out():
    assert export_fields(["cim_row", "名称"]) == ()  # a delivery's own cim_row
    assert export_fields(["cim_row", "cim_reason", "cim_field", "cim_message", "名称"]) == (
        "cim_row", "cim_reason", "cim_field", "cim_message")
    # a delivery with its own cim_ columns was exported under _cim_
    both = ["_cim_row", "_cim_reason", "_cim_field", "_cim_message",
            "cim_row", "cim_reason", "cim_field", "cim_message"]
    assert export_fields(both) == tuple(both[:4])
