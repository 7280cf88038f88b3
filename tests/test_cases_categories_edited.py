"""A city edits case_categories.csv while cases are open: a case whose category has left the
file goes on through the loop as it was opened (its time limit, its unit), where every action
on it was a 400 "unknown case category" naming a field nobody had given."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from layers.cases import categories, store, workflow
from layers.cases.auth import User
from tests.conftest import scratch_db

UTC = dt.UTC
T0 = dt.datetime(2001, 8, 1, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def sdb(jining_profile):
    with scratch_db("cases_cats", jining_profile) as d:
        yield d


def test_a_case_of_a_removed_category_goes_on(sdb, tmp_path, monkeypatch):
    s = uuid.uuid4().hex[:6]
    acc, disp = User(f"acc-{s}", "受理员"), User(f"disp-{s}", "派遣员")
    with psycopg.connect(sdb.conninfo) as conn:
        g = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL").fetchone()[0]
        # 0601 违规户外广告: 72 h, 城管执法局 (the platform's file)
        c = store.open_case(conn, source="巡查上报", category_code="0601", actor="insp",
                            role="监督员", grid_code=g, reported_at=T0)
        # the city's file without the 0601 row
        lines = categories.CATEGORIES_FILE.read_text(encoding="utf-8").splitlines()
        edited = tmp_path / "case_categories.csv"
        edited.write_text("\n".join(x for x in lines if not x.startswith("0601,")) + "\n",
                          encoding="utf-8")
        original = categories.load_categories
        monkeypatch.setattr(categories, "load_categories", lambda path=edited: original(edited))
        assert "0601" not in categories.load_categories()
        out = workflow.act(conn, c["code"], "register", acc, at=T0 + dt.timedelta(hours=1))
        assert out["deadline"] == T0 + dt.timedelta(hours=73)  # 72 h as opened
        out = workflow.act(conn, c["code"], "dispatch", disp, at=T0 + dt.timedelta(hours=2))
        assert (out["state"], out["unit"], out["category_code"]) == ("派遣", "城管执法局", "0601")
        conn.rollback()
