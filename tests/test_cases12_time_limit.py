"""A case registered after the city changed its category's time limit in case_categories.csv
gets its deadline from the limit in force at 立案 — and keeps that limit as its own
``time_limit_h``: it kept the limit of the report's day, so the case read "4 h" beside a
deadline 8 h after its 立案 (the list, the map and the OGC API show both)."""

from __future__ import annotations

import datetime as dt
import uuid

from layers.cases import categories, store, workflow
from layers.cases.auth import User
from tests.cases_fixture import case_fixtures

T0 = dt.datetime(2001, 9, 1, 8, tzinfo=dt.UTC)
sdb, conn = case_fixtures("cases12_limit")


def test_registration_keeps_the_limit_it_counts_the_deadline_with(conn, tmp_path,
                                                                  monkeypatch):
    acc = User(f"acc-{uuid.uuid4().hex[:6]}", "受理员")
    # 0501 暴露垃圾: 4 h in the platform's file
    c = store.open_case(conn, source="巡查上报", category_code="0501", actor="insp",
                        role="监督员", grid_code=conn.execute(
                            "SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                        ).fetchone()[0], reported_at=T0)
    assert c["time_limit_h"] == 4
    # the city gives 0501 8 h before the case is registered
    lines = categories.CATEGORIES_FILE.read_text(encoding="utf-8").splitlines()
    edited = tmp_path / "case_categories.csv"
    edited.write_text("\n".join(x.replace("0501,事件,05,市容环境,暴露垃圾,4,",
                                          "0501,事件,05,市容环境,暴露垃圾,8,")
                                for x in lines) + "\n", encoding="utf-8")
    original = categories.load_categories
    monkeypatch.setattr(categories, "load_categories", lambda path=edited: original(edited))
    assert categories.category("0501").time_limit_h == 8
    out = workflow.act(conn, c["code"], "register", acc, at=T0 + dt.timedelta(hours=1))
    assert out["deadline"] == T0 + dt.timedelta(hours=9)
    assert out["time_limit_h"] == 8
