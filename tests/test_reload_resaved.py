"""A delivery re-saved in another format — a GeoPackage written to CSV, a survey's CSV tables
saved from Excel — spells its values by the format's types (GDAL reads a CSV's fields as
text; Excel keeps numbers as numbers): the same features, so a reload gives none of them a
new version (:func:`loaders.jsonb.same_sql`). A value that really changed still does."""

from __future__ import annotations

import json

import pyogrio
import pytest
from psycopg import sql

from loaders.buildings import load_buildings
from loaders.jsonb import same_sql
from tests.conftest import SAMPLE_BUILDINGS


@pytest.mark.parametrize(("a", "b", "same"), [
    ({"a": 1}, {"a": "1"}, True), ({"a": 3915200}, {"a": "3915200.0"}, True),
    ({"a": "1e3"}, {"a": 1000}, True), ({"a": -0.5}, {"a": "-0.5"}, True),
    ({"a": 1}, {"a": 1.0}, True), ({"a": None}, {"a": None}, True), ({}, {}, True),
    ({"a": "1.20"}, {"a": "1.2"}, False),  # two texts compare as texts
    ({"a": "007"}, {"a": 7}, False), ({"a": "+1"}, {"a": 1}, False),
    ({"a": " 1"}, {"a": 1}, False), ({"a": 2}, {"a": "1"}, False),
    ({"a": True}, {"a": "true"}, False), ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": 1, "b": None}, {"a": 1}, False), ({"a": "x"}, {"a": "y"}, False),
    # texts beyond what numeric holds: equal ones are equal, the others are no numbers
    ({"a": "1e200000", "b": 1}, {"a": "1e200000", "b": "1"}, True),
    ({"a": "1e-200000"}, {"a": 5}, False), ({"a": "1" * 300}, {"a": 1}, False),
    ({"a": {"x": 1}}, {"a": {"x": "1"}}, False),  # inside an object: as jsonb compares
    # thousands grouped as the loaders read them (1,234 is 1234); not a decimal comma
    ({"a": 1234}, {"a": "1,234"}, True), ({"a": "-1,234.5"}, {"a": -1234.5}, True),
    ({"a": "1,23"}, {"a": 123}, False), ({"a": "0,500"}, {"a": 500}, False),
    ({"a": "1,234"}, {"a": "1234"}, False)])  # two texts compare as texts
def test_attrs_equal_as_the_same_values(db, a, b, same):
    q = sql.SQL("SELECT {}").format(same_sql(sql.SQL("%(a)s::jsonb"), sql.SQL("%(b)s::jsonb")))
    for x, y in ((a, b), (b, a)):
        assert db.scalar(q, {"a": json.dumps(x), "b": json.dumps(y)}) is same


def test_buildings_resaved_as_csv_stay_unchanged(fresh_db, tmp_path):
    """An integer field no column holds (kept in attrs as 0, 1, …) comes back from the CSV as
    text: nothing changes; an edited value in the CSV is one new version."""
    gdf = pyogrio.read_dataframe(SAMPLE_BUILDINGS, encoding="GBK", max_features=200)
    gdf["楼栋序号"] = range(len(gdf))
    gpkg = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gdf, gpkg)

    def load(path, **kw):
        return load_buildings(fresh_db.conninfo, fresh_db.profile, path, batch_size=100,
                              processes=0, dataset="b", **kw)

    assert load(gpkg).loaded == 200
    csv = tmp_path / "b.csv"
    pyogrio.write_dataframe(gdf, csv, layer_options={"GEOMETRY": "AS_WKT"})
    assert pyogrio.read_dataframe(csv)["楼栋序号"].iloc[3] == "3"  # premise: text in the CSV
    r = load(csv, crs="EPSG:4527")
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 200)
    gdf.loc[3, "楼栋序号"] = 1000
    csv.unlink()
    pyogrio.write_dataframe(gdf, csv, layer_options={"GEOMETRY": "AS_WKT"})
    r = load(csv, crs="EPSG:4527")
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 199)
    assert fresh_db.scalar("SELECT attrs->>'楼栋序号' FROM buildings WHERE valid_to IS NULL "
                           "AND attrs->>'楼栋序号' = '1000'") == "1000"


def test_a_component_census_resaved_as_csv_stays_unchanged(fresh_db, tmp_path):
    """The census's integer id field, kept in attrs as delivered, comes back as text."""
    from cim.config import PROJECT_ROOT
    from loaders.components import load_components

    src = PROJECT_ROOT / "data_samples" / "jining" / "components" / "components_points.shp"
    gdf = pyogrio.read_dataframe(src, encoding="GBK", max_features=150)
    gdf["编号"] = range(1, len(gdf) + 1)
    gpkg = tmp_path / "c.gpkg"
    pyogrio.write_dataframe(gdf, gpkg)

    def load(path, **kw):
        return load_components(fresh_db.conninfo, fresh_db.profile, path, processes=0,
                               dataset="c", **kw)

    first = load(gpkg)
    assert first.loaded > 100
    csv = tmp_path / "c.csv"
    pyogrio.write_dataframe(gdf, csv, layer_options={"GEOMETRY": "AS_WKT"})
    r = load(csv, crs="EPSG:4527")
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, first.loaded)


def test_a_pipe_survey_saved_from_csv_to_excel_stays_unchanged(fresh_db, tmp_path):
    """Coordinates and depths kept as typed ("3915200.0" in the CSV) are numbers in Excel."""
    from loaders.pipes.load import load_pipes_files
    from tests.test_pipes import _survey

    pts, segs = _survey()

    def files(where, ext):
        where.mkdir(exist_ok=True)
        out = [where / f"给水管线点.{ext}", where / f"给水管线段.{ext}"]
        for frame, path in zip((pts, segs), out):
            if ext == "csv":
                frame.to_csv(path, index=False, encoding="utf-8")
            else:
                frame.to_excel(path, index=False)
        return out

    def load(paths):
        return load_pipes_files(fresh_db.conninfo, fresh_db.profile, paths, dataset="s")[0]

    first = load(files(tmp_path / "csv", "csv"))
    assert first.loaded == 9
    r = load(files(tmp_path / "xlsx", "xlsx"))
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 9)
