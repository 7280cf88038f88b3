"""A rejects export reloaded with a row rejected for repeating another row's id, its id not
changed: the reload took it as a change of the feature the other row had loaded — its name
and footprint became that code's current version, and the real building left the layer,
told only as "changed 1". Now it is rejected again, naming the id field; a new id loads it
as a new feature; a blanked cim_reason lets it replace the feature, as the message says.
Deliveries written here; expected values by construction."""

from __future__ import annotations

import json

import geopandas as gpd
import shapely

from tests.conftest import run_cli, scratch_db

E, N = 39_460_300.0, 3_917_200.0  # inside the sample district (EPSG:4527)


def _delivery(path):
    rows = [{"编号": f"JZ{k:03d}", "建筑名称": f"楼{k}", "地上层数": 3} for k in range(1, 6)]
    rows.append({"编号": "JZ003", "建筑名称": "创业大厦W座", "地上层数": 9})  # row 7: repeats
    geoms = [shapely.box(E + 40 * k, N, E + 40 * k + 20, N + 20) for k in range(1, 7)]
    gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4527").to_file(path, layer="楼")
    return path


def _refused_again(d, env, kind: str, batch_id: int, tmp_path, table: str, key: str, before):
    """Each export format of batch ``batch_id`` loaded again unchanged: its row rejected again
    as duplicate_source_id naming 编号, the current feature of ``key`` as ``before``."""
    for fmt in ("csv", "gpkg"):
        out = tmp_path / f"rej.{fmt}"
        run_cli(["rejects", str(batch_id), "--export", str(out)], env, check=True)
        again = json.loads(run_cli(["load", kind, str(out), "--json"], env, check=True).stdout)
        assert (again["loaded"], again["rejected"]) == (0, 1), again
        (r,) = json.loads(run_cli(["rejects", str(again["batch_id"]), "--json"], env,
                                  check=True).stdout)
        assert (r["reason"], r["field"]) == ("duplicate_source_id", "编号"), r
        assert "still the id of a current feature" in r["message"], r
        assert d.rows(f"SELECT code, name, ST_AsText(geom) FROM {table} "
                      "WHERE valid_to IS NULL AND source_key = %s", (key,)) == before


def test_an_unfixed_repeated_id_is_rejected_again(jining_profile, tmp_path):
    with scratch_db("rep17", jining_profile) as d:
        env = d.env()
        src = _delivery(tmp_path / "survey.gpkg")
        rep = json.loads(run_cli(["load", "buildings", str(src), "--json"], env,
                                 check=True).stdout)
        assert (rep["loaded"], rep["rejected"]) == (5, 1), rep
        before = d.rows("SELECT code, name, ST_AsText(geom) FROM buildings "
                        "WHERE valid_to IS NULL AND source_key = 'survey:JZ003'")
        assert [r[1] for r in before] == ["楼3"]
        _refused_again(d, env, "buildings", rep["batch_id"], tmp_path, "buildings",
                       "survey:JZ003", before)

        g = gpd.read_file(tmp_path / "rej.gpkg")
        g.loc[:, "编号"] = "JZ006"  # the fix: its own id
        g.to_file(tmp_path / "fixed.gpkg")
        fixed = json.loads(run_cli(["load", "buildings", str(tmp_path / "fixed.gpkg"),
                                    "--json"], env, check=True).stdout)
        assert (fixed["inserted"], fixed["rejected"]) == (1, 0), fixed
        assert d.rows("SELECT name FROM buildings WHERE valid_to IS NULL AND "
                      "source_key = 'survey:JZ006'") == [("创业大厦W座",)]

        g = gpd.read_file(tmp_path / "rej.gpkg")
        g.loc[:, "cim_reason"] = None  # as the message says: it replaces that feature
        g.to_file(tmp_path / "replaces.gpkg")
        took = json.loads(run_cli(["load", "buildings", str(tmp_path / "replaces.gpkg"),
                                   "--json"], env, check=True).stdout)
        assert took["updated"] == 1, took
        assert d.rows("SELECT name FROM buildings WHERE valid_to IS NULL AND "
                      "source_key = 'survey:JZ003'") == [("创业大厦W座",)]


def test_the_staged_layers_reject_an_unfixed_repeated_id_again(jining_profile, tmp_path):
    """Green spaces, roads, facilities and planning are written by the staged merge, which
    had no such rule: the exported duplicate took over the first row's feature, told as
    "changed 1" (probe of session 19, roads and parcels)."""
    with scratch_db("rep19", jining_profile) as d:
        env = d.env()
        rows = [{"编号": "G1", "名称": "一号公园", "绿地类型": "社区公园"},
                {"编号": "G2", "名称": "二号公园", "绿地类型": "社区公园"},
                {"编号": "G1", "名称": "重复公园", "绿地类型": "游园"}]  # row 4: repeats G1
        geoms = [shapely.box(E + 60 * k, N, E + 60 * k + 40, N + 40) for k in range(3)]
        src = tmp_path / "绿地.gpkg"
        gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4527").to_file(src, layer="绿地")
        rep = json.loads(run_cli(["load", "green", str(src), "--json"], env,
                                 check=True).stdout)
        assert (rep["loaded"], rep["rejected"]) == (2, 1), rep
        before = d.rows("SELECT code, name, ST_AsText(geom) FROM green_spaces "
                        "WHERE valid_to IS NULL AND source_key = '绿地:G1'")
        assert [r[1] for r in before] == ["一号公园"]
        _refused_again(d, env, "green", rep["batch_id"], tmp_path, "green_spaces",
                       "绿地:G1", before)
        g = gpd.read_file(tmp_path / "rej.gpkg")
        g.loc[:, "cim_reason"] = None  # as the message says: it replaces that feature
        g.to_file(tmp_path / "replaces.gpkg")
        took = json.loads(run_cli(["load", "green", str(tmp_path / "replaces.gpkg"),
                                   "--json"], env, check=True).stdout)
        assert took["updated"] == 1, took
        assert d.rows("SELECT name FROM green_spaces WHERE valid_to IS NULL AND "
                      "source_key = '绿地:G1'") == [("重复公园",)]
