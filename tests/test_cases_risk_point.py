"""A case reported on a risk point (the risk list's 赋码确责: each point is assigned a
responsible unit, 责任单位) proposes that unit for dispatch: the proposal read only a
component's 主管/权属/养护 columns, which a risk point has not, and fell back to the
category's default unit, sending the case past the unit the risk list made responsible."""

from __future__ import annotations

import psycopg
import pytest

from layers.cases import store
from tests.conftest import scratch_db


@pytest.fixture(scope="module")
def sdb(jining_profile):
    with scratch_db("cases_risk", jining_profile) as d:
        yield d


def test_case_on_a_risk_point_proposes_its_responsible_unit(sdb):
    import pyproj

    from layers.risk.config import load_config
    from layers.risk.manual import add_point

    # a manual risk point at the big cell's centre (given as CRS84 longitude, latitude),
    # 责任单位 区住建局
    lon, lat = pyproj.Transformer.from_crs(f"EPSG:{sdb.profile.srid}", "OGC:CRS84",
                                           always_xy=True).transform(sdb.x0, sdb.y0)
    risk = add_point(sdb.conninfo, load_config(sdb.profile), "0301", point=(lon, lat),
                     unit="区住建局")
    assert risk["responsible_unit"] == "区住建局"
    with psycopg.connect(sdb.conninfo) as conn:
        # 0202 道路破损塌陷: unit_fields 养护;权属;主管, default 市政设施管理处
        c = store.open_case(conn, source="巡查上报", category_code="0202", actor="insp",
                            role="监督员", asset_code=risk["code"])
        assert (c["asset_layer"], c["asset_code"]) == ("risk_points", risk["code"])
        assert (c["unit"], c["unit_basis"]) == ("区住建局", "主管")
        # a category that names no unit field keeps its default unit
        e = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                            role="监督员", asset_code=risk["code"])
        assert (e["unit"], e["unit_basis"]) == ("环卫处", "category")
        conn.rollback()
