"""City profiles: the sample profile, and `cim profile create` for another city."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
import shapely
import yaml

from cim.errors import ConfigError
from cim.profile import load_profile
from tests.conftest import run_cli


def test_sample_profile_is_jining(jining_profile):
    p = jining_profile
    assert (p.city_name, p.city_code, p.srid) == ("济宁市", "370800", 4527)
    assert p.district_name("370811") == "任城区"
    assert p.boundaries.exists() and p.grid.exists()


def test_cli_creates_a_profile_for_another_city(tmp_path, db):
    # 泰安市 泰山区/岱岳区 in CGCS2000 zone 39 by central meridian (EPSG:4548)
    gdf = gpd.GeoDataFrame(
        {"XZQDM": ["370902", "370911"], "XZQMC": ["泰山区", "岱岳区"]},
        geometry=[shapely.box(600000, 4000000, 610000, 4010000),
                  shapely.box(610000, 4000000, 620000, 4010000)], crs="EPSG:4548")
    pyogrio.write_dataframe(gdf, tmp_path / "taian.gpkg")
    out = tmp_path / "taian" / "profile.yaml"
    p = run_cli(["profile", "create", "--name", "泰安市", "--admin-code", "370900", "--crs",
                 "EPSG:4548", "--boundary", str(tmp_path / "taian.gpkg"), "--out", str(out)],
                db.env(), check=True)
    assert "2 districts" in p.stdout
    prof = load_profile(out)
    assert prof.srid == 4548 and [d.name for d in prof.districts] == ["泰山区", "岱岳区"]
    assert prof.boundaries == (tmp_path / "taian.gpkg").resolve()
    raw = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert raw["city"] == {"name": "泰安市", "admin_code": "370900"}


def test_profile_rejects_a_geographic_storage_crs(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("city: {name: X, admin_code: '370800'}\nstorage_crs: EPSG:4490\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError, match="projected"):
        load_profile(f)


def test_bad_profile_errors_name_the_file(tmp_path, db):
    f = tmp_path / "broken.yaml"
    f.write_text("city: [unclosed\n", encoding="utf-8")
    env = db.env()
    env["CIM_PROFILE"] = str(f)
    p = run_cli(["profile", "show"], env)
    assert p.returncode == 2 and "broken.yaml" in p.stderr and "Traceback" not in p.stderr
